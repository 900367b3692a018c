--TEST--
shmkv: apcu-compat.php runs code written for APCu unchanged, and stands aside when APCu's functions exist
--FILE--
<?php
function php(string $code): void
{
    $table = sys_get_temp_dir() . '/shmkv-phpt-polyfill-' . getmypid();
    $cmd = escapeshellarg(PHP_BINARY) . ' -n -d display_errors=1 -d extension_dir=' . escapeshellarg(ini_get('extension_dir'))
         . ' -d extension=shmkv -d shmkv.table=' . escapeshellarg($table)
         . ' -r ' . escapeshellarg('require ' . var_export(__DIR__ . '/../apcu-compat.php', true) . ';' . $code) . ' 2>&1';
    echo shell_exec($cmd);
    Shmkv\Table::unlink($table);
}

echo "-- a cache adapter written for APCu, as Symfony's and Laravel's are\n";
php(<<<'CODE'
final class ApcuPool
{
    public function __construct(private string $ns) {}
    public function get(array $ids): array
    {
        $keys = array_map(fn($id) => "$this->ns:$id", $ids);
        $found = apcu_fetch($keys, $ok) ?: [];
        $out = [];
        foreach ($found as $k => $v) $out[substr($k, strlen($this->ns) + 1)] = $v;
        return $out;
    }
    public function save(array $values, int $lifetime): array
    {
        $prefixed = [];
        foreach ($values as $id => $v) $prefixed["$this->ns:$id"] = $v;
        return array_keys(apcu_store($prefixed, null, $lifetime));   // the keys that failed
    }
    public function clear(): bool
    {
        return apcu_delete(new APCUIterator(sprintf('/^%s:/', preg_quote($this->ns, '/')), APC_ITER_NONE));
    }
    public function count(): int
    {
        return (new APCUIterator('/^' . preg_quote($this->ns, '/') . ':/'))->getTotalCount();
    }
}
$pool = new ApcuPool('app');
var_dump(apcu_enabled(), $pool->save(['user.1' => ['name' => 'ann'], 'hits' => 3, 'res' => STDIN], 60));
var_dump($pool->get(['user.1', 'hits', 'absent']), $pool->count());
var_dump(apcu_inc('app:hits', 2, $ok), $ok, apcu_cas('app:hits', 5, 6), apcu_fetch('app:hits'));
var_dump(apcu_add('app:hits', 0), apcu_exists(['app:hits', 'nope']), apcu_key_info('app:hits')['ttl']);
var_dump(apcu_entry('app:computed', fn($k) => strtoupper($k)), apcu_dec('app:hits'));
apcu_store('other', 'kept');
var_dump($pool->clear(), $pool->count(), apcu_fetch('other'));
var_dump(is_array(apcu_cache_info(true)), is_array(apcu_sma_info(true)), apcu_delete(['other']), apcu_clear_cache());
var_dump(APC_ITER_ALL === SHMKV_ITER_ALL, APC_ITER_VALUE, APC_LIST_ACTIVE, new APCUIterator() instanceof ShmkvIterator);
var_dump(apcu_store('x'), (new ReflectionFunction('apcu_inc'))->getParameters()[2]->isPassedByReference());
CODE);

echo "-- APCu's functions exist already: nothing is defined\n";
echo shell_exec(escapeshellarg(PHP_BINARY) . ' -n -d extension_dir=' . escapeshellarg(ini_get('extension_dir'))
    . ' -d extension=shmkv -r ' . escapeshellarg('function apcu_fetch() { return "the real one"; } require '
    . var_export(__DIR__ . '/../apcu-compat.php', true) . '; var_dump(apcu_fetch(), function_exists("apcu_store"), class_exists("APCUIterator"), defined("APC_ITER_ALL"));'));
echo "-- without the extension: nothing either\n";
echo shell_exec(escapeshellarg(PHP_BINARY) . ' -n -r ' . escapeshellarg('require ' . var_export(__DIR__ . '/../apcu-compat.php', true)
    . '; var_dump(function_exists("apcu_fetch"));'));
?>
--EXPECTF--
-- a cache adapter written for APCu, as Symfony's and Laravel's are

Warning: shmkv_store(): Cannot store resources in shmkv cache in %s on line %d
bool(true)
array(1) {
  [0]=>
  string(7) "app:res"
}
array(2) {
  ["user.1"]=>
  array(1) {
    ["name"]=>
    string(3) "ann"
  }
  ["hits"]=>
  int(3)
}
int(2)
int(5)
bool(true)
bool(true)
int(6)
bool(false)
array(1) {
  ["app:hits"]=>
  bool(true)
}
int(60)
string(12) "APP:COMPUTED"
int(5)
bool(true)
int(0)
string(4) "kept"
bool(true)
bool(true)
array(0) {
}
bool(true)
bool(true)
int(4)
int(1)
bool(true)
bool(false)
bool(true)
-- APCu's functions exist already: nothing is defined
string(12) "the real one"
bool(false)
bool(false)
bool(false)
-- without the extension: nothing either
bool(false)
