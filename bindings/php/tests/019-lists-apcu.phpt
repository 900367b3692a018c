--TEST--
shmkv: the APCu functions on a key holding a list: it exists, it is deleted, the rest warn (wrong kind) and change nothing; the iterator skips it
--INI--
shmkv.table=shmkv-phpt-lists-apcu
shmkv.cache=0
--FILE--
<?php
shmkv_clear_cache();                                      // opens the ini table: a store
$t = new Shmkv\Table('shmkv-phpt-lists-apcu', ['create' => false]);
$t->pushMany('list', ['a', 'b']);
shmkv_store('pair', 'p');
var_dump(shmkv_exists('list'), shmkv_exists(['list', 'pair', 'none']));
var_dump(shmkv_fetch('list', $found), $found);
var_dump(shmkv_store('list', 1), shmkv_add('list', 1), shmkv_inc('list'), shmkv_key_info('list'));
var_dump(array_keys(iterator_to_array(new ShmkvIterator())));   // pairs only
var_dump($t->lrange('list'));                             // unchanged
var_dump(shmkv_delete('list'), $t->llen('list'), shmkv_exists('list'));
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-lists-apcu'); ?>
--EXPECTF--
bool(true)
array(2) {
  ["list"]=>
  bool(true)
  ["pair"]=>
  bool(true)
}

Warning: shmkv_fetch(): wrong kind of value: a list where a pair was expected, or the reverse in %s on line %d
bool(false)
bool(false)

Warning: shmkv_store(): wrong kind of value: a list where a pair was expected, or the reverse in %s on line %d

Warning: shmkv_add(): wrong kind of value: a list where a pair was expected, or the reverse in %s on line %d

Warning: shmkv_inc(): wrong kind of value: a list where a pair was expected, or the reverse in %s on line %d
bool(false)
bool(false)
bool(false)
NULL
array(1) {
  [0]=>
  string(4) "pair"
}
array(2) {
  [0]=>
  string(1) "a"
  [1]=>
  string(1) "b"
}
bool(true)
int(0)
bool(false)
