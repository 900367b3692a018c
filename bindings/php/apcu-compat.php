<?php
/*
 * apcu-compat.php - APCu's functions, class and constants on the shmkv
 * extension, for applications written for APCu (a Symfony or Laravel
 * cache adapter, say) that should run on shmkv unchanged.
 *
 * Load it once before the application uses APCu: require it from the
 * bootstrap, list it in composer.json's "autoload": {"files": [...]}, or
 * set auto_prepend_file.  It defines nothing when APCu itself is loaded
 * (or its functions exist already), so it is safe to load everywhere.
 * Every apcu_* function is its shmkv_* twin with the same signature and
 * results; APCUIterator is ShmkvIterator; APC_ITER_* and APC_LIST_* are
 * the SHMKV_ITER_* and SHMKV_LIST_* values, which are APCu's.
 */

// Declared inside the if, so that they exist only when it holds: PHP binds
// a file's top-level functions and classes before its first statement runs.
if (extension_loaded('shmkv') && !function_exists('apcu_fetch') && !class_exists('APCUIterator', false)) {
    foreach (['TYPE', 'KEY', 'VALUE', 'NUM_HITS', 'MTIME', 'CTIME', 'DTIME', 'ATIME', 'REFCOUNT', 'MEM_SIZE',
              'TTL', 'NONE', 'ALL'] as $shmkv_compat_name) {
        define("APC_ITER_$shmkv_compat_name", constant("SHMKV_ITER_$shmkv_compat_name"));
    }
    unset($shmkv_compat_name); // required from inside a function, it would stay in its scope
    define('APC_LIST_ACTIVE', SHMKV_LIST_ACTIVE);
    define('APC_LIST_DELETED', SHMKV_LIST_DELETED);

    class APCUIterator extends ShmkvIterator
    {
    }

    function apcu_clear_cache(): bool
    {
        return shmkv_clear_cache();
    }

    function apcu_cache_info(bool $limited = false): array|false
    {
        return shmkv_cache_info($limited);
    }

    function apcu_key_info(string $key): ?array
    {
        return shmkv_key_info($key);
    }

    function apcu_sma_info(bool $limited = false): array|false
    {
        return shmkv_sma_info($limited);
    }

    function apcu_enabled(): bool
    {
        return shmkv_enabled();
    }

    /* $value has no default in APCu: a key given alone stores nothing. */
    function apcu_store($key, mixed $value = null, int $ttl = 0): array|bool
    {
        return func_num_args() < 2 ? shmkv_store($key) : shmkv_store($key, $value, $ttl);
    }

    function apcu_add($key, mixed $value = null, int $ttl = 0): array|bool
    {
        return func_num_args() < 2 ? shmkv_add($key) : shmkv_add($key, $value, $ttl);
    }

    function apcu_inc(string $key, int $step = 1, &$success = null, int $ttl = 0): int|false
    {
        return shmkv_inc($key, $step, $success, $ttl);
    }

    function apcu_dec(string $key, int $step = 1, &$success = null, int $ttl = 0): int|false
    {
        return shmkv_dec($key, $step, $success, $ttl);
    }

    function apcu_cas(string $key, int $old, int $new): bool
    {
        return shmkv_cas($key, $old, $new);
    }

    function apcu_fetch($key, &$success = null): mixed
    {
        return shmkv_fetch($key, $success);
    }

    function apcu_exists($key): array|bool
    {
        return shmkv_exists($key);
    }

    function apcu_delete($key): array|bool
    {
        return shmkv_delete($key);
    }

    function apcu_entry(string $key, callable $callback, int $ttl = 0): mixed
    {
        return shmkv_entry($key, $callback, $ttl);
    }
}
