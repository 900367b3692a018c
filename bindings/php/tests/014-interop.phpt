--TEST--
shmkv: what PHP stores, the shmkv tool (the C API) reads, and the other way: strings as they are, integers as decimal text
--INI--
shmkv.table=shmkv-phpt-interop
--FILE--
<?php
$tool = __DIR__ . '/../../../build/shmkv';
function tool(string $args): string
{
    global $tool;
    exec(escapeshellarg($tool) . " $args 2>&1", $out, $rc);
    return implode("\n", $out) . ($rc ? " (exit $rc)" : '');
}
shmkv_clear_cache();
$t = escapeshellarg('shmkv-phpt-interop');
shmkv_store(['str' => 'hello', 'int' => 41, 'neg' => -5, 'numstr' => '42', 'arr' => ['a' => 1], 'float' => 0.5]);
foreach (['str', 'int', 'neg'] as $k) echo "$k: ", tool("get $t $k"), "\n";
// the tagged ones, in hex: a string that reads as a number, a serialised value
foreach (['numstr', 'arr', 'float'] as $k) echo "$k: ", tool("--hex get $t " . bin2hex($k)), "\n";

echo "-- written by the tool, read by PHP\n";
tool("put $t c:text 'from C'");
tool("put $t c:num 17");
tool("put $t c:zeros 007");
tool("--hex put $t " . bin2hex('c:bin') . ' 0001ff');
var_dump(shmkv_fetch(['c:text', 'c:num', 'c:zeros']));
// a value whose first byte is a tag (0x00: a string follows) reads as what it tags
var_dump(bin2hex(shmkv_fetch('c:bin')));
var_dump(shmkv_inc('c:num', 3), tool("get $t c:num"));
var_dump(shmkv_inc('c:zeros'));          // shmkv_incr takes "007" as 7, as the C API does
tool("put $t c:ttl v --ttl 100000");
var_dump(shmkv_key_info('c:ttl')['ttl']);
shmkv_store('php:ttl', 'v', 50);
$ms = (int)tool("ttl $t php:ttl");
echo $ms > 40000 && $ms <= 50000 ? "ttl in ms: ok\n" : "ttl wrong: $ms\n";
echo tool("check $t"), "\n";
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-interop'); ?>
--EXPECTF--
str: hello
int: 41
neg: -5
numstr: 003432
arr: 01613a313a7b733a313a2261223b693a313b7d
float: 01643a302e353b
-- written by the tool, read by PHP
array(3) {
  ["c:text"]=>
  string(6) "from C"
  ["c:num"]=>
  int(17)
  ["c:zeros"]=>
  string(3) "007"
}
string(4) "01ff"
int(20)
string(2) "20"
int(8)
int(100)
ttl in ms: ok
"shmkv-phpt-interop" is sound: %d keys, %s used
