--TEST--
shmkv: delete (a key, an array, an iterator) and exists (a key, an array), with APCu's results and warnings
--INI--
shmkv.table=shmkv-phpt-delete
--FILE--
<?php
shmkv_clear_cache();
shmkv_store(['a' => 1, 'b' => 2, 'c' => 3, '7' => 7, 'user:1' => 'x', 'user:2' => 'y', 'other' => 'z']);
echo "-- exists\n";
var_dump(shmkv_exists('a'), shmkv_exists('nope'), shmkv_exists(7));
var_dump(shmkv_exists(['a', 'nope', 'c']));
var_dump(shmkv_exists(['a', 1]));
try { shmkv_exists(new stdClass); } catch (Error $e) { echo $e->getMessage(), "\n"; }

echo "-- delete\n";
var_dump(shmkv_delete('a'), shmkv_delete('a'), shmkv_exists('a'));
var_dump(shmkv_delete(['b', 'nope', 7, 'c']));                 // the keys not deleted
var_dump(shmkv_exists(['b', 'c', '7']));
var_dump(shmkv_delete(1.5), shmkv_delete(new stdClass));
var_dump(shmkv_delete(new ShmkvIterator('/^user:/')), shmkv_exists(['user:1', 'user:2', 'other', '7']));
var_dump(shmkv_delete(new ShmkvIterator(prefix: 'oth')), shmkv_exists('other'));
// an iterator deletes from where it stands
shmkv_store(['p1' => 1, 'p2' => 2, 'p3' => 3]);
$it = new ShmkvIterator(prefix: 'p', chunk_size: 1);
$it->rewind();
$first = $it->key();
$it->next();
var_dump(shmkv_delete($it), shmkv_exists(['p1', 'p2', 'p3']) === [$first => true]);
var_dump(shmkv_delete(''));
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-delete'); ?>
--EXPECTF--
-- exists
bool(true)
bool(false)
bool(true)
array(2) {
  ["a"]=>
  bool(true)
  ["c"]=>
  bool(true)
}

Warning: shmkv_exists(): shmkv_exists() expects a string or array of strings. in %s on line %d
array(1) {
  ["a"]=>
  bool(true)
}
Object of class stdClass could not be converted to string
-- delete
bool(true)
bool(false)
bool(false)

Warning: shmkv_delete(): shmkv_delete() expects a string, array of strings, or ShmkvIterator instance in %s on line %d
array(2) {
  [0]=>
  string(4) "nope"
  [1]=>
  int(7)
}
array(1) {
  ["7"]=>
  bool(true)
}

Warning: shmkv_delete(): shmkv_delete() expects a string, array of strings, or ShmkvIterator instance in %s on line %d

Warning: shmkv_delete(): shmkv_delete() object argument must be instance of ShmkvIterator. in %s on line %d
bool(false)
bool(false)
bool(true)
array(2) {
  ["other"]=>
  bool(true)
  ["7"]=>
  bool(true)
}
bool(true)
bool(false)
bool(true)
bool(true)
bool(false)
