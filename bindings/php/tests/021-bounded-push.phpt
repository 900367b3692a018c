--TEST--
shmkv: Shmkv\Table's bounded pushes: push and pushMany with $maxLen and $timeout fail at the bound at once or after the timeout, are woken by a pop from another process or ended by a signal, never pass the bound; bad arguments, named arguments, both ends
--FILE--
<?php
function attempt(callable $f): void
{
    try {
        var_dump($f());
    } catch (Shmkv\Exception $e) {
        printf("%s(%d): %s\n", get_class($e), $e->getCode(), $e->getMessage());
    } catch (Error $e) {
        printf("%s: %s\n", get_class($e), $e->getMessage());
    }
}
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

$name = sys_get_temp_dir() . '/shmkv-phpt-bounded-' . getmypid();
$t = new Shmkv\Table($name, ['max_bytes' => 4 << 20]);
foreach (['push', 'pushMany'] as $m) {
    $r = new ReflectionMethod('Shmkv\Table', $m);
    echo $m, '(', implode(', ', array_map(fn($p) => $p->getType() . ' $' . $p->getName()
        . ($p->isOptional() ? ' = ' . ($p->isDefaultValueConstant() ? $p->getDefaultValueConstantName()
                                                                    : var_export($p->getDefaultValue(), true)) : ''),
        $r->getParameters())), '): ', $r->getReturnType(), "\n";
}

echo "-- unbounded pushes return true\n";
var_dump($t->push('u', 1), $t->pushMany('u', [2, 3]), $t->pushMany('u', []), $t->push('u', 4, maxLen: 0, timeout: 5),
         $t->llen('u'));

echo "-- below the bound true, at the bound false at once\n";
var_dump($t->push('q', 'a', Shmkv\Table::TAIL, 3), $t->push('q', ['b' => 2], Shmkv\Table::TAIL, 3),
         $t->push('q', 3, Shmkv\Table::TAIL, 3), $t->llen('q'));
$s = microtime(true);
var_dump($t->push('q', 'd', Shmkv\Table::TAIL, 3), $t->pushMany('q', ['d'], Shmkv\Table::TAIL, 3), took($s) < 0.1);
var_dump($t->push('q', 'd', Shmkv\Table::TAIL, 4), $t->llen('q'), $t->lrange('q'));

echo "-- a wait that times out returns false after about its timeout, nothing pushed\n";
foreach ([fn() => $t->push('q', 'e', Shmkv\Table::TAIL, 4, 0.2), fn() => $t->pushMany('q', ['e', 'f'], maxLen: 5, timeout: 0.2)] as $f) {
    $s = microtime(true);
    $v = $f();
    $w = took($s);
    var_dump($v, $w >= 0.15 && $w < 2.0, $t->llen('q'));
}

echo "-- pushMany: all or nothing against the bound\n";
var_dump($t->pushMany('m', [1, 2, 3], maxLen: 4), $t->pushMany('m', [4, 5], maxLen: 4), $t->llen('m'),
         $t->pushMany('m', [4], maxLen: 4), $t->pushMany('m', [], maxLen: 4), $t->lrange('m'));

echo "-- named arguments, the head\n";
var_dump($t->push('h', 'b', maxLen: 100, timeout: 0.5), $t->push('h', 'a', end: Shmkv\Table::HEAD, maxLen: 2),
         $t->push('h', 'z', maxLen: 2, end: Shmkv\Table::HEAD), $t->pushMany('h', ['x', 'y'], Shmkv\Table::HEAD, maxLen: 4),
         $t->pushMany(values: ['w'], key: 'h', timeout: 0, maxLen: 4, end: Shmkv\Table::HEAD), $t->lrange('h'));

echo "-- a wait for ever is woken by a pop from another process\n";
$t->pushMany('full', ['one', 'two', 'three']);
foreach ([-1, 30.0] as $timeout) {
    $s = microtime(true);
    $pid = child(function () use ($t) { usleep(200000); return $t->pop('full') !== null; });
    $v = $t->push('full', "after $timeout", maxLen: 3, timeout: $timeout);
    $w = took($s);
    var_dump($v, $w >= 0.15 && $w < 5.0, failed([$pid]), $t->llen('full'));
}
var_dump($t->lrange('full'));

echo "-- a producer held back by a slow consumer: in order, never past the bound\n";
$consumer = child(function () use ($t) {
    for ($i = 0; $i < 200; $i++) {
        if ($i % 40 == 0) usleep(50000);                     // the producer fills up and waits
        if ($t->llen('bq') > 5) return false;
        if ($t->pop('bq', 30, default: false) !== $i) return false;
    }
    return true;
});
$over = $waited = 0;
for ($i = 0; $i < 200; $i++) {
    if (!$t->push('bq', $i, maxLen: 5)) {
        $waited++;
        if (!$t->push('bq', $i, maxLen: 5, timeout: -1)) $over++;
    }
    $over += $t->llen('bq') > 5;
}
var_dump(failed([$consumer]), $over, $waited > 0, $t->llen('bq'));

echo "-- a signal ends a wait early, as it does sleep()\n";
pcntl_async_signals(true);
$seen = 0;
pcntl_signal(SIGUSR1, function () use (&$seen) { $seen++; });
$me = getmypid();
$s = microtime(true);
$pid = child(function () use ($me) { usleep(200000); exec("kill -USR1 $me", $out, $rc); return $rc === 0; });
var_dump($t->push('full', 'never', maxLen: 3, timeout: -1), took($s) < 3.0, $seen, failed([$pid]), $t->llen('full'));

echo "-- bad arguments change nothing\n";
attempt(fn() => $t->push('q', 1, maxLen: -1));
attempt(fn() => $t->pushMany('q', [1], Shmkv\Table::TAIL, -5, 1));
attempt(fn() => $t->pushMany('q', [1, 2, 3], maxLen: 2));
attempt(fn() => $t->pushMany('new', [1, 2], maxLen: 1, timeout: -1));
attempt(fn() => $t->push('q', 1, 7, 3));
attempt(fn() => $t->push('q', 1, maxLen: 'x'));
attempt(fn() => $t->push('q', 1, timeout: 'x'));
attempt(fn() => $t->push('q', 1, nope: 1));
attempt(fn() => $t->push('q', STDIN, maxLen: 10));
var_dump($t->llen('q'), $t->llen('new'));

echo "-- the errors of push\n";
$t->set('pair', 'v');
attempt(fn() => $t->push('pair', 1, maxLen: 3));
attempt(fn() => $t->push('', 1, maxLen: 3));
$c = new Shmkv\Table("$name-cache", ['cache' => true, 'max_bytes' => 1 << 20]);
attempt(fn() => $c->push('q', 1, maxLen: 3, timeout: 1));
$r = new Shmkv\Table($name, ['readonly' => true]);
attempt(fn() => $r->pushMany('q', [1], maxLen: 3));
var_dump($t->check());
unset($r, $c, $t);
var_dump(Shmkv\Table::unlink($name), Shmkv\Table::unlink("$name-cache"));
?>
--EXPECT--
push(string $key, mixed $value, int $end = Shmkv\Table::TAIL, int $maxLen = 0, float $timeout = 0): bool
pushMany(string $key, array $values, int $end = Shmkv\Table::TAIL, int $maxLen = 0, float $timeout = 0): bool
-- unbounded pushes return true
bool(true)
bool(true)
bool(true)
bool(true)
int(4)
-- below the bound true, at the bound false at once
bool(true)
bool(true)
bool(true)
int(3)
bool(false)
bool(false)
bool(true)
bool(true)
int(4)
array(4) {
  [0]=>
  string(1) "a"
  [1]=>
  array(1) {
    ["b"]=>
    int(2)
  }
  [2]=>
  int(3)
  [3]=>
  string(1) "d"
}
-- a wait that times out returns false after about its timeout, nothing pushed
bool(false)
bool(true)
int(4)
bool(false)
bool(true)
int(4)
-- pushMany: all or nothing against the bound
bool(true)
bool(false)
int(3)
bool(true)
bool(true)
array(4) {
  [0]=>
  int(1)
  [1]=>
  int(2)
  [2]=>
  int(3)
  [3]=>
  int(4)
}
-- named arguments, the head
bool(true)
bool(true)
bool(false)
bool(true)
bool(false)
array(4) {
  [0]=>
  string(1) "y"
  [1]=>
  string(1) "x"
  [2]=>
  string(1) "a"
  [3]=>
  string(1) "b"
}
-- a wait for ever is woken by a pop from another process
bool(true)
bool(true)
int(0)
int(3)
bool(true)
bool(true)
int(0)
int(3)
array(3) {
  [0]=>
  string(5) "three"
  [1]=>
  string(8) "after -1"
  [2]=>
  string(8) "after 30"
}
-- a producer held back by a slow consumer: in order, never past the bound
int(0)
int(0)
bool(true)
int(0)
-- a signal ends a wait early, as it does sleep()
bool(false)
bool(true)
int(1)
int(0)
int(3)
-- bad arguments change nothing
ValueError: Shmkv\Table::push(): Argument #4 ($maxLen) must be greater than or equal to 0
ValueError: Shmkv\Table::pushMany(): Argument #4 ($maxLen) must be greater than or equal to 0
ValueError: Shmkv\Table::pushMany(): Argument #2 ($values) must hold no more elements than $maxLen (2)
ValueError: Shmkv\Table::pushMany(): Argument #2 ($values) must hold no more elements than $maxLen (1)
ValueError: Shmkv\Table::push(): Argument #3 ($end) must be Shmkv\Table::HEAD or Shmkv\Table::TAIL
TypeError: Shmkv\Table::push(): Argument #4 ($maxLen) must be of type int, string given
TypeError: Shmkv\Table::push(): Argument #5 ($timeout) must be of type float, string given
Error: Unknown named parameter $nope
TypeError: Shmkv\Table::push(): Argument #2 ($value) must not be a resource
int(4)
int(0)
-- the errors of push
Shmkv\Exception(124): Shmkv\Table::push(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(22): Shmkv\Table::push(): invalid argument
Shmkv\Exception(95): Shmkv\Table::push(): not supported by this table (caches hold no lists)
Shmkv\Exception(30): Shmkv\Table::pushMany(): table opened read-only
array(0) {
}
bool(true)
bool(true)
