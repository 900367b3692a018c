--TEST--
shmkv: Shmkv\Table's lists: push, pop, popMany, move, llen, lrange at both ends; elements stored as values; wrong kinds, bad arguments, read-only tables and caches
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
$name = sys_get_temp_dir() . '/shmkv-phpt-lists-' . getmypid();
$t = new Shmkv\Table($name, ['max_bytes' => 4 << 20]);
var_dump(Shmkv\Table::HEAD, Shmkv\Table::TAIL);
foreach (['push', 'pushMany', 'pop', 'popMany', 'move', 'llen', 'lrange'] as $m) {
    $r = new ReflectionMethod('Shmkv\Table', $m);
    echo $m, '(', implode(', ', array_map(fn($p) => $p->getType() . ' $' . $p->getName()
        . ($p->isOptional() ? ' = ' . ($p->isDefaultValueConstant() ? $p->getDefaultValueConstantName()
                                                                    : var_export($p->getDefaultValue(), true)) : ''),
        $r->getParameters())), '): ', $r->getReturnType(), "\n";
}

echo "-- push and pop at both ends; elements are stored as values are\n";
$t->push('q', 'b');
$t->push('q', 'a', Shmkv\Table::HEAD);
$t->pushMany('q', [7, '42', ['x' => 1.5], null, false, "\x01\x02", '']);
var_dump($t->llen('q'), array_map(fn($v) => is_string($v) ? bin2hex($v) : $v, $t->lrange('q')));
var_dump($t->pop('q'), $t->pop('q', 0, Shmkv\Table::TAIL), $t->popMany('q', 3), $t->popMany('q', 2, 0, Shmkv\Table::TAIL) === ["\x01\x02", false]);
var_dump($t->popMany('q', 100), $t->pop('q'), $t->pop('q', default: 'empty'), $t->popMany('q', 5), $t->pop('absent'), $t->llen('absent'));
$t->pushMany('h', ['1st', '2nd', '3rd'], Shmkv\Table::HEAD);   // reversed, as one at a time
$t->pushMany('h', []);
var_dump($t->lrange('h'));

echo "-- elements of every size\n";
$sizes = [0, 1, 4095, 4096, 4097, 70000, 300000];
$t->pushMany('big', array_map(fn($n) => str_repeat('s', $n), $sizes));
$ok = true;
foreach ($sizes as $n) $ok = $ok && $t->pop('big') === str_repeat('s', $n);
$many = array_merge([str_repeat('x', 200000), 'y', str_repeat('z', 70000), 'w'], array_fill(0, 100, str_repeat('v', 1000)));
$t->pushMany('big', $many);
$got = [];
while ($t->llen('big')) {
    $batch = $t->popMany('big', 50);
    $ok = $ok && count($batch) > 0;
    $got = array_merge($got, $batch);
}
var_dump($ok, $got === $many);

echo "-- lrange: from the head, negative from the tail, nothing removed\n";
$t->pushMany('r', range(0, 9));
foreach ([[0, -1], [2, 4], [-3, -1], [-100, 1], [8, 2], [10, 20], [0, PHP_INT_MAX], [PHP_INT_MIN, 0]] as [$a, $b])
    echo "$a..$b: ", implode(',', $t->lrange('r', $a, $b)), "\n";
echo "7..: ", implode(',', $t->lrange('r', 7)), "\n";
var_dump($t->llen('r'));

echo "-- move\n";
$t->pushMany('src', ['a', 'b', 'c']);
var_dump($t->move('src', 'dst'), $t->move('src', 'dst', 0, Shmkv\Table::TAIL, Shmkv\Table::HEAD), $t->lrange('dst'));
var_dump($t->move('dst', 'dst'), $t->lrange('dst'));     // a rotation
var_dump($t->move('src', 'src', 0, Shmkv\Table::HEAD, Shmkv\Table::HEAD), $t->lrange('src'));
$t->pop('src');
var_dump($t->move('src', 'dst'), $t->move('absent', 'dst2', default: false), $t->llen('dst2'));

echo "-- the table's other methods on lists\n";
$t->set('pair', 'v');
$keys = array_keys(iterator_to_array($t));                // foreach: the pairs only
var_dump($keys, $t->stats()['keys']);                     // lists count as keys
var_dump($t->delete('h'), $t->llen('h'), $t->delete('h'));  // a list goes whole
$t->push('h', 'anew');
var_dump($t->lrange('h'));

echo "-- wrong kind both ways\n";
foreach ([fn() => $t->push('pair', 1), fn() => $t->pushMany('pair', [1]), fn() => $t->pop('pair'),
          fn() => $t->pop('pair', 5), fn() => $t->popMany('pair', 2), fn() => $t->llen('pair'),
          fn() => $t->lrange('pair'), fn() => $t->move('pair', 'h'), fn() => $t->move('h', 'pair'),
          fn() => $t->get('h'), fn() => $t->set('h', 1), fn() => $t->add('h', 1), fn() => $t->replace('h', 1),
          fn() => $t->incr('h'), fn() => $t->append('h', 'x'), fn() => $t->take('h'), fn() => $t->ttl('h'),
          fn() => $t->expire('h', 5), fn() => $t->getMany(['h'])] as $f)
    attempt($f);
var_dump($t->get('pair'), $t->lrange('h'));

echo "-- bad arguments\n";
attempt(fn() => $t->push('q', 1, 2));
attempt(fn() => $t->push('q', STDIN));
attempt(fn() => $t->pushMany('q', ['ok', STDIN]));
attempt(fn() => $t->push('', 1));
attempt(fn() => $t->push(str_repeat('k', 70000), 1));
attempt(fn() => $t->pop('q', 0, -1));
attempt(fn() => $t->popMany('q', 0));
attempt(fn() => $t->popMany('q', -5));
attempt(fn() => $t->move('q', 'd', 0, 3));
attempt(fn() => $t->move('q', 'd', 0, Shmkv\Table::HEAD, 9));
attempt(fn() => $t->move('q', ''));
attempt(fn() => $t->lrange('q', 'x'));
var_dump($t->llen('q'), $t->llen('d'));
var_dump($t->check());

echo "-- read-only tables, caches\n";
$r = new Shmkv\Table($name, ['readonly' => true]);
var_dump($r->llen('h'), $r->lrange('h'));
attempt(fn() => $r->push('h', 1));
attempt(fn() => $r->pop('h'));
attempt(fn() => $r->move('h', 'x'));
$c = new Shmkv\Table("$name-cache", ['cache' => true, 'max_bytes' => 1 << 20]);
attempt(fn() => $c->push('q', 1));
attempt(fn() => $c->pop('q'));
attempt(fn() => $c->popMany('q', 2, 1));
var_dump($c->llen('q'), $c->lrange('q'));
unset($r, $c, $t);
var_dump(Shmkv\Table::unlink($name), Shmkv\Table::unlink("$name-cache"));
?>
--EXPECT--
int(0)
int(1)
push(string $key, mixed $value, int $end = Shmkv\Table::TAIL, int $maxLen = 0, float $timeout = 0): bool
pushMany(string $key, array $values, int $end = Shmkv\Table::TAIL, int $maxLen = 0, float $timeout = 0): bool
pop(string $key, float $timeout = 0, int $end = Shmkv\Table::HEAD, mixed $default = NULL): mixed
popMany(string $key, int $count, float $timeout = 0, int $end = Shmkv\Table::HEAD): array
move(string $src, string $dst, float $timeout = 0, int $from = Shmkv\Table::HEAD, int $to = Shmkv\Table::TAIL, mixed $default = NULL): mixed
llen(string $key): int
lrange(string $key, int $start = 0, int $stop = -1): array
-- push and pop at both ends; elements are stored as values are
int(9)
array(9) {
  [0]=>
  string(2) "61"
  [1]=>
  string(2) "62"
  [2]=>
  int(7)
  [3]=>
  string(4) "3432"
  [4]=>
  array(1) {
    ["x"]=>
    float(1.5)
  }
  [5]=>
  NULL
  [6]=>
  bool(false)
  [7]=>
  string(4) "0102"
  [8]=>
  string(0) ""
}
string(1) "a"
string(0) ""
array(3) {
  [0]=>
  string(1) "b"
  [1]=>
  int(7)
  [2]=>
  string(2) "42"
}
bool(true)
array(2) {
  [0]=>
  array(1) {
    ["x"]=>
    float(1.5)
  }
  [1]=>
  NULL
}
NULL
string(5) "empty"
array(0) {
}
NULL
int(0)
array(3) {
  [0]=>
  string(3) "3rd"
  [1]=>
  string(3) "2nd"
  [2]=>
  string(3) "1st"
}
-- elements of every size
bool(true)
bool(true)
-- lrange: from the head, negative from the tail, nothing removed
0..-1: 0,1,2,3,4,5,6,7,8,9
2..4: 2,3,4
-3..-1: 7,8,9
-100..1: 0,1
8..2: 
10..20: 
0..9223372036854775807: 0,1,2,3,4,5,6,7,8,9
-9223372036854775808..0: 0
7..: 7,8,9
int(10)
-- move
string(1) "a"
string(1) "c"
array(2) {
  [0]=>
  string(1) "c"
  [1]=>
  string(1) "a"
}
string(1) "c"
array(2) {
  [0]=>
  string(1) "a"
  [1]=>
  string(1) "c"
}
string(1) "b"
array(1) {
  [0]=>
  string(1) "b"
}
NULL
bool(false)
int(0)
-- the table's other methods on lists
array(1) {
  [0]=>
  string(4) "pair"
}
int(7)
bool(true)
int(0)
bool(false)
array(1) {
  [0]=>
  string(4) "anew"
}
-- wrong kind both ways
Shmkv\Exception(124): Shmkv\Table::push(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::pushMany(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::pop(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::pop(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::popMany(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::llen(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::lrange(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::move(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::move(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::get(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::set(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::add(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::replace(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::incr(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::append(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::take(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::ttl(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::expire(): wrong kind of value: a list where a pair was expected, or the reverse
Shmkv\Exception(124): Shmkv\Table::getMany(): wrong kind of value: a list where a pair was expected, or the reverse
string(1) "v"
array(1) {
  [0]=>
  string(4) "anew"
}
-- bad arguments
ValueError: Shmkv\Table::push(): Argument #3 ($end) must be Shmkv\Table::HEAD or Shmkv\Table::TAIL
TypeError: Shmkv\Table::push(): Argument #2 ($value) must not be a resource
TypeError: Shmkv\Table::pushMany(): Argument #2 ($values) must not be a resource
Shmkv\Exception(22): Shmkv\Table::push(): invalid argument
Shmkv\Exception(7): Shmkv\Table::push(): key or value too long
ValueError: Shmkv\Table::pop(): Argument #3 ($end) must be Shmkv\Table::HEAD or Shmkv\Table::TAIL
ValueError: Shmkv\Table::popMany(): Argument #2 ($count) must be greater than 0
ValueError: Shmkv\Table::popMany(): Argument #2 ($count) must be greater than 0
ValueError: Shmkv\Table::move(): Argument #4 ($from) must be Shmkv\Table::HEAD or Shmkv\Table::TAIL
ValueError: Shmkv\Table::move(): Argument #5 ($to) must be Shmkv\Table::HEAD or Shmkv\Table::TAIL
Shmkv\Exception(22): Shmkv\Table::move(): invalid argument
TypeError: Shmkv\Table::lrange(): Argument #2 ($start) must be of type int, string given
int(0)
int(0)
array(0) {
}
-- read-only tables, caches
int(1)
array(1) {
  [0]=>
  string(4) "anew"
}
Shmkv\Exception(30): Shmkv\Table::push(): table opened read-only
Shmkv\Exception(30): Shmkv\Table::pop(): table opened read-only
Shmkv\Exception(30): Shmkv\Table::move(): table opened read-only
Shmkv\Exception(95): Shmkv\Table::push(): not supported by this table (caches hold no lists)
Shmkv\Exception(95): Shmkv\Table::pop(): not supported by this table (caches hold no lists)
Shmkv\Exception(95): Shmkv\Table::popMany(): not supported by this table (caches hold no lists)
int(0)
array(0) {
}
bool(true)
bool(true)
