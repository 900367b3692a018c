--TEST--
shmkv: Shmkv\NearCache on phpredis against a real redis-server and agent: fills and hits, invalidation, no agent, untracked keys, OPT_PREFIX, errors, a lease lost to a write, fills racing writes
--FILE--
<?php
// phpredis is php8.2-redis (make test-php installs it), loaded here with
// shmkv in a PHP of its own (near.inc), as 016 does with APCu; the agent
// is build/shmkv-redis (make redis-agent).
$dir = PHP_EXTENSION_DIR;
if (!is_file("$dir/redis.so"))
    die("phpredis is missing: apt-get install php8.2-redis\n");
$php = escapeshellarg(PHP_BINARY) . ' -n -d display_errors=1';
foreach (['igbinary', 'msgpack', 'redis'] as $ext) // phpredis needs its serializers loaded first
    if (is_file("$dir/$ext.so"))
        $php .= ' -d extension=' . escapeshellarg("$dir/$ext.so");
$php .= ' -d extension_dir=' . escapeshellarg(ini_get('extension_dir')) . ' -d extension=shmkv';
passthru("$php " . escapeshellarg(__DIR__ . '/near.inc') . ' 2>&1');
?>
--EXPECT--
fill_then_hit: ok
agent_max_ttl: ok
write_is_invalidated: ok
agent_stopped: ok
keys_not_cached: ok
key_prefix: ok
redis_errors: ok
bad_arguments: ok
lease_lost_to_write: ok
fills_racing_writes: ok
