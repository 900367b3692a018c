--TEST--
shmkv: every kind of value round-trips, keys and values are binary-safe, the stored bytes are as documented
--INI--
shmkv.table=shmkv-phpt-values
--FILE--
<?php
shmkv_clear_cache();
class Point { public function __construct(public int $x = 0, public ?Point $next = null) {} }
$values = [
    'string' => 'hello', 'empty' => '', 'int' => 42, 'negative' => -7, 'zero' => 0,
    'max' => PHP_INT_MAX, 'min' => PHP_INT_MIN, 'float' => 1.5, 'float-int' => 2.0, 'true' => true,
    'false' => false, 'null' => null, 'array' => [1, 'a' => [2, 3]], 'object' => new Point(1, new Point(2)),
    'int-like string' => '42', 'negative int-like string' => '-7', 'leading zero' => '007', 'minus zero' => '-0',
    'plus' => '+5', 'tag 0 first' => "\0abc", 'tag 1 first' => "\x01x", 'byte 7 first' => "\x07", 'byte 8 first' => "\x08",
    'binary' => "a\0b\xff\n", 'large' => str_repeat('x', 100000), 'large int-like' => str_repeat('9', 25),
];
foreach ($values as $k => $v) {
    if (!shmkv_store($k, $v))
        echo "store $k failed\n";
    $got = shmkv_fetch($k, $ok);
    if (!$ok || $got != $v || gettype($got) !== gettype($v) || (is_scalar($v) && $got !== $v))
        echo "$k: got ", var_export($got, true), "\n";
}
// binary keys
$key = "k\0e\xffy";
var_dump(shmkv_store($key, 'binary key'), shmkv_fetch($key), shmkv_fetch("k"), shmkv_exists("k\0e\xffy"));

// what other programs see: the stored bytes, through a Table on the same file
$t = new Shmkv\Table('shmkv-phpt-values');
$t->set('raw', 'plain');   // a Table stores as the functions do
foreach (['string', 'int', 'negative', 'min', 'int-like string', 'tag 0 first', 'float', 'binary'] as $k) {
    $it = new ShmkvIterator([$k], SHMKV_ITER_MEM_SIZE);
    foreach ($it as $x) echo "$k: ", $x['mem_size'] - strlen($k), " bytes\n";
}
// written by another program: bytes that read as an integer are an int, the rest strings
$t->append('appended', '12');
$t->append('appended', '34');
var_dump(shmkv_fetch('appended'));
$t->append('text', 'ab');
var_dump(shmkv_fetch('text'));
var_dump(shmkv_inc('appended'), $t->get('appended'));
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-values'); ?>
--EXPECT--
bool(true)
string(10) "binary key"
bool(false)
bool(true)
string: 5 bytes
int: 2 bytes
negative: 2 bytes
min: 20 bytes
int-like string: 3 bytes
tag 0 first: 5 bytes
float: 7 bytes
binary: 5 bytes
int(1234)
string(2) "ab"
int(1235)
int(1235)
