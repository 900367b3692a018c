--TEST--
shmkv: ttl in seconds: 0 never expires, a lifetime ends on time, a negative one at once; add over an expired key
--INI--
shmkv.table=shmkv-phpt-ttl
--FILE--
<?php
shmkv_clear_cache();
var_dump(shmkv_store('forever', 'f', 0), shmkv_store('short', 's', 1), shmkv_store(['batch' => 'b'], null, 1));
var_dump(shmkv_add('short-add', 'a', 1), shmkv_inc('short-counter', 1, $ok, 1));
var_dump(shmkv_key_info('short')['ttl'], shmkv_key_info('forever')['ttl']);
var_dump(shmkv_fetch(['forever', 'short', 'batch', 'short-add', 'short-counter']));
// an existing counter keeps its lifetime; cas keeps it too
var_dump(shmkv_inc('short-counter', 1, $ok, 100), shmkv_key_info('short-counter')['ttl']);
shmkv_store('cas', 5, 1);
var_dump(shmkv_cas('cas', 5, 6), shmkv_key_info('cas')['ttl']);
usleep(1100000);
var_dump(shmkv_fetch(['forever', 'short', 'batch', 'short-add', 'short-counter', 'cas']));
var_dump(shmkv_exists('short'), shmkv_key_info('short'), shmkv_delete('short'));
var_dump(shmkv_add('short', 'again'), shmkv_fetch('short'));   // expired counts as absent
var_dump(shmkv_inc('short-counter', 1, $ok), $ok);              // starts again from 0

echo "-- negative ttl: stored already expired\n";
var_dump(shmkv_store('neg', 1, -1), shmkv_fetch('neg', $ok), $ok);
var_dump(shmkv_store('forever', 'x', -1), shmkv_exists('forever'));   // replaces, so the key is gone
shmkv_store('present', 1);
var_dump(shmkv_add('present', 2, -1), shmkv_fetch('present'));       // present: add fails
var_dump(shmkv_add('absent', 2, -1), shmkv_exists('absent'));        // succeeds, and it is gone
var_dump(shmkv_inc('new-neg', 1, $ok, -1), $ok, shmkv_exists('new-neg'));
var_dump(shmkv_inc('present', 1, $ok, -1), $ok);                     // an existing counter counts
var_dump(shmkv_store('huge', 'h', PHP_INT_MAX), shmkv_fetch('huge'));
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-ttl'); ?>
--EXPECT--
bool(true)
bool(true)
array(0) {
}
bool(true)
int(1)
int(1)
int(0)
array(5) {
  ["forever"]=>
  string(1) "f"
  ["short"]=>
  string(1) "s"
  ["batch"]=>
  string(1) "b"
  ["short-add"]=>
  string(1) "a"
  ["short-counter"]=>
  int(1)
}
int(2)
int(1)
bool(true)
int(1)
array(1) {
  ["forever"]=>
  string(1) "f"
}
bool(false)
NULL
bool(false)
bool(true)
string(5) "again"
int(1)
bool(true)
-- negative ttl: stored already expired
bool(true)
bool(false)
bool(false)
bool(true)
bool(false)
bool(false)
int(1)
bool(true)
bool(false)
bool(false)
bool(false)
bool(false)
int(2)
bool(true)
bool(true)
string(1) "h"
