--TEST--
shmkv: fetch, store and add with one key or arrays, &$success, and APCu's warnings
--INI--
shmkv.table=shmkv-phpt-fetch-store
--FILE--
<?php
shmkv_clear_cache();
echo "-- fetch\n";
var_dump(shmkv_fetch('absent', $ok), $ok);
var_dump(shmkv_store('a', 1), shmkv_fetch('a', $ok), $ok);
var_dump(shmkv_store('5', 'five'), shmkv_fetch(5));          // a non-string key is converted
var_dump(shmkv_fetch(['a', 'absent', '5'], $ok), $ok);       // the keys found; success anyway
var_dump(shmkv_fetch([], $ok), $ok);
var_dump(shmkv_fetch(['a', 5]));                             // in an array only strings: a warning
try { shmkv_fetch(new stdClass); } catch (Error $e) { echo get_class($e), ': ', $e->getMessage(), "\n"; }

echo "-- store\n";
var_dump(shmkv_store('a', 'one'), shmkv_fetch('a'));         // overwrites
var_dump(shmkv_store('novalue'));                            // a key and no value: nothing to store
var_dump(shmkv_store(['b' => 2, 'c' => [3], 7 => 'seven']));  // [] : nothing failed
var_dump(shmkv_fetch(['b', 'c', '7']));
var_dump(shmkv_store(['d' => 4, 'r' => STDIN]));             // the failed keys => -1
var_dump(shmkv_exists('d'), shmkv_exists('r'));
var_dump(shmkv_store(5, 'x'));                               // a key neither string nor array
var_dump(shmkv_store('', 'empty key'), shmkv_fetch('', $ok), $ok); // shmkv has no empty keys
var_dump(shmkv_store(str_repeat('k', 65536), 'too long a key'));
var_dump(shmkv_store('big', str_repeat('v', 9 << 20)));      // over an eighth of the 64M cache

echo "-- add\n";
var_dump(shmkv_add('a', 'again'), shmkv_fetch('a'));         // present: false, unchanged
var_dump(shmkv_add('e', 'new'), shmkv_fetch('e'));
var_dump(shmkv_add(['e' => 1, 'f' => 6, 'a' => 0]));         // e and a exist
var_dump(shmkv_fetch(['e', 'f', 'a']));
var_dump(shmkv_add('novalue'));

echo "-- unserialize failures\n";
class Fussy { public function __wakeup(): void { throw new RuntimeException('no wakeup'); } }
shmkv_store('fussy', new Fussy);
try { shmkv_fetch('fussy'); } catch (RuntimeException $e) { echo $e->getMessage(), "\n"; }
class Unstorable { public function __serialize(): array { throw new LogicException('no serialize'); } }
try { shmkv_store('u', new Unstorable); } catch (LogicException $e) { echo $e->getMessage(), "\n"; }
var_dump(shmkv_exists('u'));
try { shmkv_store('closure', function () {}); } catch (Exception $e) { echo $e->getMessage(), "\n"; }
(new Shmkv\Table(ini_get('shmkv.table')))->append('broken', "\x01a:1:{");   // a truncated array
var_dump(shmkv_fetch('broken', $ok), $ok);
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-fetch-store'); ?>
--EXPECTF--
-- fetch
bool(false)
bool(false)
bool(true)
int(1)
bool(true)
bool(true)
string(4) "five"
array(2) {
  ["a"]=>
  int(1)
  ["5"]=>
  string(4) "five"
}
bool(true)
array(0) {
}
bool(true)

Warning: shmkv_fetch(): shmkv_fetch() expects a string or array of strings. in %s on line %d
array(1) {
  ["a"]=>
  int(1)
}
Error: Object of class stdClass could not be converted to string
-- store
bool(true)
string(3) "one"
bool(false)
array(0) {
}
array(3) {
  ["b"]=>
  int(2)
  ["c"]=>
  array(1) {
    [0]=>
    int(3)
  }
  ["7"]=>
  string(5) "seven"
}

Warning: shmkv_store(): Cannot store resources in shmkv cache in %s on line %d
array(1) {
  ["r"]=>
  int(-1)
}
bool(true)
bool(false)

Warning: shmkv_store(): shmkv_store expects key parameter to be a string or an array of key/value pairs. in %s on line %d
bool(false)
bool(false)
bool(false)
bool(false)
bool(false)
bool(false)
-- add
bool(false)
string(3) "one"
bool(true)
string(3) "new"
array(2) {
  ["e"]=>
  int(-1)
  ["a"]=>
  int(-1)
}
array(3) {
  ["e"]=>
  string(3) "new"
  ["f"]=>
  int(6)
  ["a"]=>
  string(3) "one"
}
bool(false)
-- unserialize failures
no wakeup
no serialize
bool(false)
Serialization of 'Closure' is not allowed

Warning: shmkv_fetch(): A stored value does not unserialize in %s on line %d
bool(false)
bool(false)
