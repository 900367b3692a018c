--TEST--
shmkv: inc, dec and cas: APCu's results and &$success, on the counters shmkv_incr keeps
--INI--
shmkv.table=shmkv-phpt-inc-cas
--FILE--
<?php
shmkv_clear_cache();
echo "-- inc, dec\n";
var_dump(shmkv_inc('n'), shmkv_inc('n'), shmkv_inc('n', 10, $ok), $ok);   // an absent key starts at 0
var_dump(shmkv_dec('n', 2, $ok), $ok, shmkv_dec('n', -3), shmkv_fetch('n'));
var_dump(shmkv_dec('d'), shmkv_fetch('d'));
shmkv_store('s', 'abc');
shmkv_store('f', 1.5);
shmkv_store('numeric-string', '42');
shmkv_store('arr', [1]);
foreach (['s', 'f', 'numeric-string', 'arr'] as $k) {        // not an integer: false, unchanged
    var_dump(shmkv_inc($k, 1, $ok), $ok);
    var_dump(shmkv_fetch($k) === ['s' => 'abc', 'f' => 1.5, 'numeric-string' => '42', 'arr' => [1]][$k]);
}
shmkv_store('max', PHP_INT_MAX);
var_dump(shmkv_inc('max', 1, $ok), $ok, shmkv_fetch('max'));  // shmkv refuses to wrap around
shmkv_store('min', PHP_INT_MIN);
var_dump(shmkv_dec('min', 1, $ok), $ok, shmkv_dec('n', PHP_INT_MIN, $ok), $ok);
var_dump(shmkv_inc('min', PHP_INT_MAX), shmkv_inc('z', 0), shmkv_fetch('z'));
// the success reference is assigned even when it held something else
$ok = 'not a bool';
shmkv_inc('n', 1, $ok);
var_dump($ok);
// the counter is what shmkv_incr keeps: a Table on the same file sees and counts it too
$t = new Shmkv\Table(ini_get('shmkv.table'));
var_dump($t->incr('n', 100), shmkv_inc('n'), $t->get('n'));

echo "-- cas\n";
var_dump(shmkv_cas('absent', 0, 1), shmkv_exists('absent'));   // missing: false, not created
var_dump(shmkv_cas('s', 0, 1), shmkv_cas('numeric-string', 42, 43), shmkv_fetch('numeric-string'));
shmkv_store('c', 5);
var_dump(shmkv_cas('c', 4, 9), shmkv_fetch('c'));                // differs: unchanged
var_dump(shmkv_cas('c', 5, 9), shmkv_fetch('c'));
var_dump(shmkv_cas('c', 9, PHP_INT_MIN), shmkv_fetch('c'), shmkv_cas('c', PHP_INT_MIN, -1), shmkv_fetch('c'));
var_dump(shmkv_cas('', 0, 1));
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-inc-cas'); ?>
--EXPECT--
-- inc, dec
int(1)
int(2)
int(12)
bool(true)
int(10)
bool(true)
int(13)
int(13)
int(-1)
int(-1)
bool(false)
bool(false)
bool(true)
bool(false)
bool(false)
bool(true)
bool(false)
bool(false)
bool(true)
bool(false)
bool(false)
bool(true)
bool(false)
bool(false)
int(9223372036854775807)
bool(false)
bool(false)
bool(false)
bool(false)
int(-1)
int(0)
int(0)
bool(true)
int(114)
int(115)
int(115)
-- cas
bool(false)
bool(false)
bool(false)
bool(false)
string(2) "42"
bool(false)
int(5)
bool(true)
int(9)
bool(true)
int(-9223372036854775808)
bool(true)
int(-1)
bool(false)
