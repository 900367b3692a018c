--TEST--
shmkv: cache_info, sma_info and key_info have APCu's keys and types; clear_cache empties the table
--INI--
shmkv.table=shmkv-phpt-info
shmkv.max_bytes=8M
--FILE--
<?php
shmkv_clear_cache();
$before = shmkv_cache_info(true);
shmkv_store(['a' => 'x', 'b' => [1, 2]]);
shmkv_store('t', 'y', 50);
shmkv_fetch('a');
shmkv_fetch('nope');
$info = shmkv_cache_info();
foreach ($info as $k => $v) echo "$k: ", gettype($v), "\n";
var_dump($info['num_entries'], $info['num_hits'] - $before['num_hits'], $info['num_misses'] - $before['num_misses'],
         $info['num_inserts'] - $before['num_inserts'], $info['memory_type']);
usort($info['cache_list'], fn($x, $y) => strcmp($x['info'], $y['info']));
var_dump($info['cache_list'][0], array_column($info['cache_list'], 'ttl', 'info'));
var_dump(array_keys(shmkv_cache_info(true)) == array_diff(array_keys($info), ['cache_list', 'deleted_list', 'slot_distribution']));

echo "-- sma_info\n";
$sma = shmkv_sma_info();
var_dump($sma['num_seg'], $sma['seg_size'], $sma['avail_mem'] > 0 && $sma['avail_mem'] < $sma['seg_size'], $sma['block_lists']);
var_dump(array_keys(shmkv_sma_info(true)));

echo "-- key_info\n";
var_dump(shmkv_key_info('t'), shmkv_key_info('nope'));

echo "-- clear_cache\n";
var_dump(shmkv_clear_cache(), shmkv_cache_info(true)['num_entries'], shmkv_fetch('a'));
try { shmkv_cache_info('x', 1); } catch (ArgumentCountError $e) { echo $e->getMessage(), "\n"; }
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-info'); ?>
--EXPECT--
num_slots: integer
ttl: integer
num_hits: double
num_misses: double
num_inserts: double
num_entries: integer
expunges: integer
start_time: integer
mem_size: double
memory_type: string
cache_list: array
deleted_list: array
slot_distribution: array
int(3)
float(1)
float(1)
float(3)
string(4) "mmap"
array(9) {
  ["info"]=>
  string(1) "a"
  ["ttl"]=>
  int(0)
  ["num_hits"]=>
  float(0)
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
  int(2)
}
array(3) {
  ["a"]=>
  int(0)
  ["b"]=>
  int(0)
  ["t"]=>
  int(50)
}
bool(true)
-- sma_info
int(1)
float(8388608)
bool(true)
array(1) {
  [0]=>
  array(0) {
  }
}
array(3) {
  [0]=>
  string(7) "num_seg"
  [1]=>
  string(8) "seg_size"
  [2]=>
  string(9) "avail_mem"
}
-- key_info
array(7) {
  ["hits"]=>
  int(0)
  ["access_time"]=>
  int(0)
  ["mtime"]=>
  int(0)
  ["creation_time"]=>
  int(0)
  ["deletion_time"]=>
  int(0)
  ["ttl"]=>
  int(50)
  ["refs"]=>
  int(0)
}
NULL
-- clear_cache
bool(true)
int(0)
bool(false)
shmkv_cache_info() expects at most 1 argument, 2 given
