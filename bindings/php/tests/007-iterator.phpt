--TEST--
shmkv: ShmkvIterator like APCUIterator: regex, key list or prefix, formats, chunks, totals, errors
--INI--
shmkv.table=shmkv-phpt-iterator
--FILE--
<?php
shmkv_clear_cache();
for ($i = 0; $i < 500; $i++)
    shmkv_store("user:$i", ['id' => $i]);
shmkv_store(['post:1' => 'hello', 'post:2' => 'world', 'count' => 3]);
shmkv_store('ttl', 'x', 100);

function keys(iterable $it): array { $k = []; foreach ($it as $key => $v) $k[] = $key; sort($k); return $k; }

echo "-- search\n";
var_dump(count(keys(new ShmkvIterator())), count(keys(new ShmkvIterator(null))));
var_dump(keys(new ShmkvIterator('/^post:/')));
var_dump(keys(new ShmkvIterator(['count', 'post:2', 'absent'])));
var_dump(count(keys(new ShmkvIterator(prefix: 'user:'))), keys(new ShmkvIterator('/:1$/', prefix: 'post')));
var_dump(keys(new ShmkvIterator('')) == keys(new ShmkvIterator()));   // an empty regex: every key

echo "-- every pair exactly once, in chunks of any size\n";
foreach ([1, 7, 100, 1000] as $chunk) {
    $seen = [];
    foreach (new ShmkvIterator(prefix: 'user:', chunk_size: $chunk) as $k => $v)
        $seen[$k] = ($seen[$k] ?? 0) + 1;
    echo "$chunk: ", count($seen), ' keys, each ', implode(',', array_unique($seen)), " time(s)\n";
}

echo "-- formats\n";
foreach (new ShmkvIterator(['post:1']) as $k => $v) var_dump($k, $v);
foreach (new ShmkvIterator(['ttl'], SHMKV_ITER_KEY | SHMKV_ITER_VALUE | SHMKV_ITER_TTL) as $v) {
    $v['ttl'] = $v['ttl'] > 90 && $v['ttl'] <= 100 ? 'about 100' : $v['ttl'];   // the seconds left
    var_dump($v);
}
foreach (new ShmkvIterator(['count'], SHMKV_ITER_NONE) as $k => $v) var_dump($k, $v);
foreach (new ShmkvIterator(['user:3'], SHMKV_ITER_VALUE) as $v) var_dump($v);

echo "-- totals\n";
$it = new ShmkvIterator('/^post:/');
var_dump($it->getTotalCount(), $it->getTotalSize(), $it->getTotalHits());
var_dump((new ShmkvIterator(prefix: 'user:'))->getTotalCount());

echo "-- manual iteration\n";
$it = new ShmkvIterator(['count']);
var_dump($it->valid(), $it->key(), $it->current()['value']);
$it->next();
var_dump($it->valid());
try { $it->current(); } catch (Error $e) { echo $e->getMessage(), "\n"; }
try { $it->key(); } catch (Error $e) { echo $e->getMessage(), "\n"; }
$it->next();          // past the end: stays there
$it->rewind();
var_dump($it->valid(), $it->key());

echo "-- lists and errors\n";
var_dump(keys(new ShmkvIterator(null, SHMKV_ITER_ALL, 0, SHMKV_LIST_DELETED)));
$it = new ShmkvIterator(null, SHMKV_ITER_ALL, 0, 3);
try { $it->valid(); } catch (Error $e) { echo $e->getMessage(), "\n"; }
try { new ShmkvIterator(null, SHMKV_ITER_ALL, -1); } catch (ValueError $e) { echo $e->getMessage(), "\n"; }
try { new ShmkvIterator('/(/'); } catch (Error $e) { echo $e->getMessage(), "\n"; }
try { clone new ShmkvIterator(); } catch (Error $e) { echo $e->getMessage(), "\n"; }
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-iterator'); ?>
--EXPECTF--
-- search
int(504)
int(504)
array(2) {
  [0]=>
  string(6) "post:1"
  [1]=>
  string(6) "post:2"
}
array(2) {
  [0]=>
  string(5) "count"
  [1]=>
  string(6) "post:2"
}
int(500)
array(1) {
  [0]=>
  string(6) "post:1"
}
bool(true)
-- every pair exactly once, in chunks of any size
1: 500 keys, each 1 time(s)
7: 500 keys, each 1 time(s)
100: 500 keys, each 1 time(s)
1000: 500 keys, each 1 time(s)
-- formats
string(6) "post:1"
array(11) {
  ["type"]=>
  string(4) "user"
  ["key"]=>
  string(6) "post:1"
  ["value"]=>
  string(5) "hello"
  ["num_hits"]=>
  int(0)
  ["mtime"]=>
  int(0)
  ["creation_time"]=>
  int(0)
  ["deletion_time"]=>
  int(0)
  ["access_time"]=>
  int(0)
  ["ref_count"]=>
  int(0)
  ["mem_size"]=>
  int(11)
  ["ttl"]=>
  int(0)
}
array(3) {
  ["key"]=>
  string(3) "ttl"
  ["value"]=>
  string(1) "x"
  ["ttl"]=>
  string(9) "about 100"
}
string(5) "count"
array(0) {
}
array(1) {
  ["value"]=>
  array(1) {
    ["id"]=>
    int(3)
  }
}
-- totals
int(2)
int(22)
int(0)
int(500)
-- manual iteration
bool(true)
string(5) "count"
int(3)
bool(false)
Cannot call current() on invalid iterator
Cannot call key() on invalid iterator
bool(true)
string(5) "count"
-- lists and errors
array(0) {
}

Warning: ShmkvIterator::__construct(): ShmkvIterator invalid list type in %s on line %d
Trying to use uninitialized ShmkvIterator
ShmkvIterator::__construct(): Argument #3 ($chunk_size) must be 0 or greater

Warning: ShmkvIterator::__construct(): Compilation failed: missing closing parenthesis at offset 1 in %s on line %d
Could not compile regular expression: /(/
Trying to clone an uncloneable object of class ShmkvIterator
