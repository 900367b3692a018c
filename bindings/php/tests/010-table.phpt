--TEST--
shmkv: Shmkv\Table: every method on its own table, foreach, and a second handle on the same file
--FILE--
<?php
$name = sys_get_temp_dir() . '/shmkv-phpt-table-' . getmypid();
$t = new Shmkv\Table($name, ['max_bytes' => 1 << 20, 'stats' => true]);
$t->set('s', 'text');
$t->set('i', 10);
$t->set('a', ['x' => 1.5]);
var_dump($t->get('s'), $t->get('i'), $t->get('a'), $t->get('nope'), $t->get('nope', 'default'));
var_dump($t->add('s', 'other'), $t->add('new', 'n'), $t->replace('nope', 1), $t->replace('new', 'm'), $t->get('new'));
var_dump($t->incr('i'), $t->incr('i', -20), $t->incr('fresh', 5, 0.5), $t->ttl('fresh') > 0.4, $t->ttl('i'), $t->ttl('nope'));
$t->append('s', ' more');
var_dump($t->get('s'), $t->take('s'), $t->take('s'), $t->take('s', 'gone'));
var_dump($t->delete('new'), $t->delete('new'));
$t->setMany(['m1' => 1, 'm2' => 'two', 3 => [3]], 100);
var_dump($t->getMany(['m1', 'm2', '3', 'nope']), $t->ttl('m1') > 99);
var_dump($t->expire('m1', 0), $t->ttl('m1'), $t->expire('nope', 1), $t->expire('m2', 0.05));
usleep(100000);
var_dump($t->get('m2'));

echo "-- foreach\n";
$all = [];
foreach ($t as $k => $v) $all[$k] = $v;
ksort($all);
var_dump($all);
$u = new Shmkv\Table($name, ['create' => false]);   // a second handle on the same file
$u->set('from u', true);
var_dump($t->get('from u'), count(iterator_to_array($t)));
$it = $t->getIterator();
unset($t);                                            // the iterator keeps the table open
var_dump(count(iterator_to_array($it)));

echo "-- stats and check\n";
$st = $u->stats();   // keys counts m2 until a writer reclaims it
var_dump(in_array($st['keys'], [6, 7]), $st['cache'], $st['read_stats'], $st['max_bytes'], is_float($st['load_factor']), count($st));
var_dump($u->check());
$u->clear();
var_dump($u->stats()['keys'], iterator_to_array($u));
var_dump(Shmkv\Table::unlink($name), Shmkv\Table::unlink($name));
var_dump($u->get('m1'), $u->incr('still', 1));            // an open handle works on after unlink
?>
--EXPECT--
string(4) "text"
int(10)
array(1) {
  ["x"]=>
  float(1.5)
}
NULL
string(7) "default"
bool(false)
bool(true)
bool(false)
bool(true)
string(1) "m"
int(11)
int(-9)
int(5)
bool(true)
float(0)
NULL
string(9) "text more"
string(9) "text more"
NULL
string(4) "gone"
bool(true)
bool(false)
array(3) {
  ["m1"]=>
  int(1)
  ["m2"]=>
  string(3) "two"
  [3]=>
  array(1) {
    [0]=>
    int(3)
  }
}
bool(true)
bool(true)
float(0)
bool(false)
bool(true)
NULL
-- foreach
array(5) {
  [3]=>
  array(1) {
    [0]=>
    int(3)
  }
  ["a"]=>
  array(1) {
    ["x"]=>
    float(1.5)
  }
  ["fresh"]=>
  int(5)
  ["i"]=>
  int(-9)
  ["m1"]=>
  int(1)
}
bool(true)
int(6)
int(6)
-- stats and check
bool(true)
int(0)
int(1)
int(1048576)
bool(true)
int(28)
array(0) {
}
int(0)
array(0) {
}
bool(true)
bool(false)
NULL
int(1)
