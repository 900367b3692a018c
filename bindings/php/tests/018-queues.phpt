--TEST--
shmkv: Shmkv\Table's queues across processes: waits time out, are woken by a push from another process or ended by a signal; producers, consumers and movers lose and double nothing
--FILE--
<?php
$name = sys_get_temp_dir() . '/shmkv-phpt-queues-' . getmypid();
$t = new Shmkv\Table($name, ['max_bytes' => 16 << 20]);

// Fork a child running $body; it exits 0 if $body returns true.
function child(callable $body): int
{
    $pid = pcntl_fork();
    if ($pid === 0) {
        $ok = false;
        try { $ok = $body(); } catch (Throwable $e) { fwrite(STDERR, "$e\n"); }
        exit($ok ? 0 : 1);
    }
    return $pid;
}
function failed(array $pids): int
{
    $failed = 0;
    foreach ($pids as $pid) {
        pcntl_waitpid($pid, $status);
        $failed += !pcntl_wifexited($status) || pcntl_wexitstatus($status) != 0;
    }
    return $failed;
}
function took(float $since): float { return microtime(true) - $since; }

echo "-- a wait that times out returns the empty result after about its timeout\n";
foreach ([fn() => $t->pop('q', 0.3), fn() => $t->pop('q', 0.3, default: 'none'), fn() => $t->popMany('q', 3, 0.3),
          fn() => $t->move('q', 'd', 0.3)] as $f) {
    $s = microtime(true);
    var_dump($f());
    $w = took($s);
    var_dump($w >= 0.29 && $w < 2.0);
}
$s = microtime(true);
var_dump($t->pop('q'), took($s) < 0.1);

echo "-- a wait is woken by a push from another process\n";
foreach ([-1, 30.0] as $timeout) {
    $s = microtime(true);
    $pid = child(function () use ($t) { usleep(300000); $t->push('wake', 'pushed'); return true; });
    $v = $t->pop('wake', $timeout);
    $w = took($s);
    var_dump($v, $w >= 0.25 && $w < 5.0, failed([$pid]));
}
$pid = child(function () use ($t) { usleep(200000); $t->pushMany('jobs', ['j1', 'j2']); return true; });
var_dump($t->move('jobs', 'mine', 30), $t->popMany('jobs', 5, 30), failed([$pid]), $t->lrange('mine'));

echo "-- a signal ends a wait early, as it does sleep()\n";
pcntl_async_signals(true);
$seen = 0;
pcntl_signal(SIGUSR1, function () use (&$seen) { $seen++; });
$me = getmypid();
$s = microtime(true);
$pid = child(function () use ($me) { usleep(200000); exec("kill -USR1 $me", $out, $rc); return $rc === 0; });
var_dump($t->pop('never', -1, default: 'interrupted'), took($s) < 3.0, $seen, failed([$pid]));

echo "-- producers and consumers in 6 processes: every job once\n";
$consumers = [];
for ($c = 0; $c < 3; $c++)
    $consumers[] = child(function () use ($t) {
        $got = [];
        while (($job = $t->pop('jobs', 30, default: false)) !== 'stop') {
            if ($job === false) return false;                 // starved
            $got[] = $job;
        }
        if ($got) $t->pushMany('got', $got);
        return true;
    });
$producers = [];
for ($p = 0; $p < 3; $p++)
    $producers[] = child(function () use ($t, $p) {
        for ($i = 0; $i < 1000; $i += 10) $t->pushMany('jobs', array_map(fn($j) => "$p:$j", range($i, $i + 9)));
        return true;
    });
var_dump(failed($producers));
$t->pushMany('jobs', ['stop', 'stop', 'stop']);            // behind every job
var_dump(failed($consumers));
$got = $t->lrange('got');
$expected = [];
for ($p = 0; $p < 3; $p++) for ($j = 0; $j < 1000; $j++) $expected[] = "$p:$j";
sort($got);
sort($expected);
var_dump(count($got), $got === $expected, $t->llen('jobs'));

echo "-- moves from 4 processes at once are exact\n";
$t->pushMany('a', range(0, 2999));
$movers = [];
for ($m = 0; $m < 4; $m++)
    $movers[] = child(function () use ($t, $m) {
        $end = microtime(true) + 1.0;
        for ($moved = 0; microtime(true) < $end;) {
            [$src, $dst] = ($moved + $m) % 2 ? ['b', 'a'] : ['a', 'b'];
            if ($t->move($src, $dst, $moved % 7 ? 0 : 0.005, $m % 2, $moved % 2 ? 0 : 1, false) !== false) $moved++;
            if ($moved % 50 == 0 && $t->move($src, "mine$m", default: false) !== false
                && $t->move("mine$m", $dst, default: false) === false)
                return false;
        }
        return $t->llen("mine$m") === 0;
    });
var_dump(failed($movers));
$all = array_merge($t->lrange('a'), $t->lrange('b'));
sort($all);
var_dump(count($all), $all === range(0, 2999));

echo "-- a waiter killed while it waits takes nothing\n";
$pid = child(function () use ($t) { $t->pop('k', -1); return true; });
usleep(200000);
exec("kill -KILL $pid");
pcntl_waitpid($pid, $status);
$t->push('k', 'still here');
var_dump(pcntl_wifsignaled($status), $t->pop('k', 1), $t->check());
unset($t);
var_dump(Shmkv\Table::unlink($name));
?>
--EXPECT--
-- a wait that times out returns the empty result after about its timeout
NULL
bool(true)
string(4) "none"
bool(true)
array(0) {
}
bool(true)
NULL
bool(true)
NULL
bool(true)
-- a wait is woken by a push from another process
string(6) "pushed"
bool(true)
int(0)
string(6) "pushed"
bool(true)
int(0)
string(2) "j1"
array(1) {
  [0]=>
  string(2) "j2"
}
int(0)
array(1) {
  [0]=>
  string(2) "j1"
}
-- a signal ends a wait early, as it does sleep()
string(11) "interrupted"
bool(true)
int(1)
int(0)
-- producers and consumers in 6 processes: every job once
int(0)
int(0)
int(3000)
bool(true)
int(0)
-- moves from 4 processes at once are exact
int(0)
int(3000)
bool(true)
-- a waiter killed while it waits takes nothing
bool(true)
string(10) "still here"
array(0) {
}
bool(true)
