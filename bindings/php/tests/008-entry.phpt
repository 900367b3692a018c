--TEST--
shmkv: entry runs the generator once while concurrent callers wait; a failed or killed generator holds nobody up
--INI--
shmkv.table=shmkv-phpt-entry
shmkv.entry_lease_ms=1500
--FILE--
<?php
shmkv_clear_cache();
echo "-- one caller\n";
var_dump(shmkv_entry('e', fn($k) => "made for $k", 100), shmkv_key_info('e')['ttl']);
var_dump(shmkv_entry('e', fn($k) => 'not called'));
var_dump(shmkv_entry('arr', fn() => [1, 2]), shmkv_fetch('arr'));
var_dump(shmkv_entry('neg', fn() => 'not kept', -1), shmkv_exists('neg'));
var_dump(shmkv_entry('res', fn() => STDIN), shmkv_exists('res'));

echo "-- a generator that throws stores nothing and holds nobody up\n";
$t = microtime(true);
try { shmkv_entry('boom', function () { throw new RuntimeException('boom'); }); }
catch (RuntimeException $e) { echo $e->getMessage(), "\n"; }
var_dump(shmkv_exists('boom'), shmkv_entry('boom', fn() => 'second try'), microtime(true) - $t < 0.5);

echo "-- concurrent callers: the generator runs once\n";
$slow = function ($k) { shmkv_inc('calls'); usleep(300000); return "value of $k"; };
$children = [];
for ($i = 0; $i < 6; $i++) {
    $pid = pcntl_fork();
    if ($pid === 0) {
        shmkv_store("result:$i", shmkv_entry('shared', $slow));
        exit(0);
    }
    $children[] = $pid;
}
$mine = shmkv_entry('shared', $slow);
foreach ($children as $pid) pcntl_waitpid($pid, $status);
$results = shmkv_fetch(array_map(fn($i) => "result:$i", range(0, 5)));
var_dump(shmkv_fetch('calls'), $mine, array_unique(array_values($results)), count($results));

echo "-- a holder killed mid-generation delays the others by the lease at most\n";
$pid = pcntl_fork();
if ($pid === 0) {
    shmkv_entry('orphan', function () { shmkv_store('holder', getmypid()); sleep(30); return 'never'; });
    exit(0);
}
while (!shmkv_exists('holder')) usleep(1000);
exec('kill -KILL ' . shmkv_fetch('holder'));
pcntl_waitpid($pid, $status);
var_dump(pcntl_wifsignaled($status));
$t = microtime(true);
var_dump(shmkv_entry('orphan', fn() => 'rescued'), shmkv_fetch('orphan'));
$waited = microtime(true) - $t;
var_dump($waited < 3.0);   // the lease (1.5 s) lapsed, it did not wait for the 30 s generator

echo "-- exit() inside the generator voids the lease (else the next caller would wait 20 s)\n";
ini_set('shmkv.entry_lease_ms', '20000');
$pid = pcntl_fork();
if ($pid === 0) {
    shmkv_entry('exited', function () { exit(0); });
    exit(1);
}
pcntl_waitpid($pid, $status);
$t = microtime(true);
var_dump(shmkv_entry('exited', fn() => 'after exit'), microtime(true) - $t < 0.5);

echo "-- so does a fatal error (max_execution_time) inside it\n";
$pid = pcntl_fork();
if ($pid === 0) {
    ini_set('display_errors', '0'); // the fatal error is the child's, not the test's
    set_time_limit(1);
    shmkv_entry('fatal', function () { for (;;); });
    exit(0);
}
pcntl_waitpid($pid, $status);
$t = microtime(true);
var_dump(pcntl_wexitstatus($status), shmkv_entry('fatal', fn() => 'after fatal'), microtime(true) - $t < 0.5);
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-entry'); ?>
--EXPECTF--
-- one caller
string(10) "made for e"
int(100)
string(10) "made for e"
array(2) {
  [0]=>
  int(1)
  [1]=>
  int(2)
}
array(2) {
  [0]=>
  int(1)
  [1]=>
  int(2)
}
string(8) "not kept"
bool(false)

Warning: shmkv_entry(): Cannot store resources in shmkv cache in %s on line %d
resource(%d) of type (stream)
bool(false)
-- a generator that throws stores nothing and holds nobody up
boom
bool(false)
string(10) "second try"
bool(true)
-- concurrent callers: the generator runs once
int(1)
string(15) "value of shared"
array(1) {
  [0]=>
  string(15) "value of shared"
}
int(6)
-- a holder killed mid-generation delays the others by the lease at most
bool(true)
string(7) "rescued"
string(7) "rescued"
bool(true)
-- exit() inside the generator voids the lease (else the next caller would wait 20 s)
string(10) "after exit"
bool(true)
-- so does a fatal error (max_execution_time) inside it
int(255)
string(11) "after fatal"
bool(true)
