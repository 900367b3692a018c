--TEST--
shmkv: ini settings: enabled, cache or store mode, max_bytes, mode, a table that cannot be opened, bad values
--FILE--
<?php
// each case in a PHP of its own, with its own settings
function php(string $settings, string $code): void
{
    $cmd = escapeshellarg(PHP_BINARY) . ' -n -d display_errors=1 -d display_startup_errors=1 -d error_reporting=-1'
         . ' -d extension_dir=' . escapeshellarg(ini_get('extension_dir')) . ' -d extension=shmkv ' . $settings
         . ' -r ' . escapeshellarg($code) . ' 2>&1';
    foreach (explode("\n", (string)shell_exec($cmd)) as $line)
        if ($line !== '') echo $line, "\n";
}
$dir = sys_get_temp_dir() . '/shmkv-phpt-ini-' . getmypid();
mkdir($dir);

echo "-- disabled: every function fails quietly, no table is made\n";
php("-d shmkv.enabled=0 -d shmkv.table=$dir/off", '
    var_dump(shmkv_enabled(), shmkv_store("a", 1), shmkv_fetch("a", $ok), $ok, shmkv_inc("n"), shmkv_exists("a"),
             shmkv_delete("a"), shmkv_add(["a" => 1]), shmkv_entry("e", fn() => 1), shmkv_key_info("a"), shmkv_clear_cache());
    try { new ShmkvIterator(); } catch (Error $e) { echo $e->getMessage(), "\n"; }
    var_dump(shmkv_cache_info());');
var_dump(file_exists("$dir/off"));

echo "-- a table that cannot be opened: one warning a request\n";
php("-d shmkv.table=$dir/missing/t", 'var_dump(shmkv_enabled(), shmkv_store("a", 1), shmkv_fetch("a"));');

echo "-- store mode: full is full, and says so\n";
php("-d shmkv.cache=0 -d shmkv.max_bytes=256K -d shmkv.table=$dir/store", '
    for ($i = 0; shmkv_store("k$i", str_repeat("x", 1000)); $i++);
    var_dump($i > 100, shmkv_fetch("k0") === str_repeat("x", 1000), (new Shmkv\Table(ini_get("shmkv.table")))->stats()["cache"]);');

echo "-- cache mode: a write never fails, it evicts\n";
php("-d shmkv.max_bytes=256K -d shmkv.table=$dir/cache", '
    for ($i = 0, $ok = true; $i < 2000; $i++) $ok = $ok && shmkv_store("k$i", str_repeat("x", 1000));
    $info = shmkv_cache_info(true);
    var_dump($ok, shmkv_fetch("k1999") === str_repeat("x", 1000), $info["expunges"] > 0, $info["num_entries"] < 2000);');

echo "-- mode\n";
php("-d shmkv.mode=0640 -d shmkv.table=$dir/mode", 'shmkv_store("a", 1);');
printf("%o\n", fileperms("$dir/mode") & 0777);

echo "-- bad values are refused at startup, the defaults stay\n";
php('-d shmkv.max_bytes=1K -d shmkv.mode=999 -d shmkv.entry_lease_ms=0', '
    echo ini_get("shmkv.max_bytes"), " ", ini_get("shmkv.mode"), " ", ini_get("shmkv.entry_lease_ms"), "\n";');
php('-d shmkv.entry_lease_ms=100', 'var_dump(ini_set("shmkv.entry_lease_ms", "-5"), ini_set("shmkv.entry_lease_ms", "250"), ini_get("shmkv.entry_lease_ms"));');

foreach (['store', 'cache', 'mode'] as $t) Shmkv\Table::unlink("$dir/$t");
var_dump(rmdir($dir));
?>
--EXPECTF--
-- disabled: every function fails quietly, no table is made
bool(false)
bool(false)
bool(false)
bool(false)
bool(false)
bool(false)
bool(false)
array(1) {
  ["a"]=>
  int(-1)
}
NULL
NULL
bool(true)
shmkv must be enabled to use ShmkvIterator
Warning: shmkv_cache_info(): No shmkv info available.  Perhaps shmkv is not enabled? Check shmkv.enabled in your ini file in Command line code on line %d
bool(false)
bool(false)
-- a table that cannot be opened: one warning a request
Warning: shmkv_store(): Cannot open the shmkv table "%s/missing/t": no such key or table in Command line code on line 1
bool(false)
bool(false)
bool(false)
-- store mode: full is full, and says so
Warning: shmkv_store(): table full: max_bytes reached or file system full in Command line code on line 2
bool(true)
bool(true)
int(0)
-- cache mode: a write never fails, it evicts
bool(true)
bool(true)
bool(true)
bool(true)
-- mode
640
-- bad values are refused at startup, the defaults stay
Warning: PHP Startup: shmkv.max_bytes must be at least 256K in Unknown on line 0
Warning: PHP Startup: shmkv.mode must be octal permission bits, such as 0660 in Unknown on line 0
Warning: PHP Startup: shmkv.entry_lease_ms must be a positive number of milliseconds in Unknown on line 0
64M 0600 10000
Warning: ini_set(): shmkv.entry_lease_ms must be a positive number of milliseconds in Command line code on line 1
bool(false)
string(3) "100"
string(3) "250"
bool(true)
