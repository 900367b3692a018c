--TEST--
shmkv: loads with APCu's function signatures (apcu_ renamed shmkv_), ShmkvIterator, constants, ini defaults
--FILE--
<?php
function signature(ReflectionFunctionAbstract $r): string
{
    $ps = [];
    foreach ($r->getParameters() as $x) {
        $d = '';
        if ($x->isOptional())
            $d = ' = ' . ($x->isDefaultValueAvailable()
                ? ($x->isDefaultValueConstant() ? $x->getDefaultValueConstantName() : var_export($x->getDefaultValue(), true))
                : '?');
        $ps[] = ($x->hasType() ? $x->getType() . ' ' : '') . ($x->isPassedByReference() ? '&' : '') . '$' . $x->getName() . $d;
    }
    return $r->getName() . '(' . implode(', ', $ps) . '): ' . $r->getReturnType();
}
foreach (['clear_cache', 'cache_info', 'key_info', 'sma_info', 'enabled', 'store', 'add', 'inc', 'dec',
          'cas', 'fetch', 'exists', 'delete', 'entry'] as $f)
    echo signature(new ReflectionFunction("shmkv_$f")), "\n";
foreach ((new ReflectionClass('ShmkvIterator'))->getMethods() as $m)
    echo signature($m), "\n";
var_dump((new ReflectionClass('ShmkvIterator'))->implementsInterface('Iterator'));
var_dump(SHMKV_ITER_ALL, SHMKV_ITER_VALUE, SHMKV_ITER_TTL, SHMKV_LIST_ACTIVE, SHMKV_LIST_DELETED);
foreach (['enabled', 'table', 'max_bytes', 'cache', 'mode'] as $i)
    echo "shmkv.$i=", ini_get("shmkv.$i"), "\n";
var_dump(is_subclass_of('Shmkv\Exception', 'RuntimeException'));
var_dump((new ReflectionClass('Shmkv\Table'))->implementsInterface('IteratorAggregate'));
?>
--EXPECT--
shmkv_clear_cache(): bool
shmkv_cache_info(bool $limited = false): array|false
shmkv_key_info(string $key): ?array
shmkv_sma_info(bool $limited = false): array|false
shmkv_enabled(): bool
shmkv_store($key, mixed $value = ?, int $ttl = 0): array|bool
shmkv_add($key, mixed $value = ?, int $ttl = 0): array|bool
shmkv_inc(string $key, int $step = 1, &$success = NULL, int $ttl = 0): int|false
shmkv_dec(string $key, int $step = 1, &$success = NULL, int $ttl = 0): int|false
shmkv_cas(string $key, int $old, int $new): bool
shmkv_fetch($key, &$success = NULL): mixed
shmkv_exists($key): array|bool
shmkv_delete($key): array|bool
shmkv_entry(string $key, callable $callback, int $ttl = 0): mixed
__construct($search = NULL, int $format = SHMKV_ITER_ALL, int $chunk_size = 0, int $list = SHMKV_LIST_ACTIVE, ?string $prefix = NULL): 
rewind(): void
next(): void
valid(): bool
key(): string|int
current(): mixed
getTotalHits(): int
getTotalSize(): int
getTotalCount(): int
bool(true)
int(4294967295)
int(4)
int(1024)
int(1)
int(2)
shmkv.enabled=1
shmkv.table=shmkv-php
shmkv.max_bytes=64M
shmkv.cache=1
shmkv.mode=0600
bool(true)
bool(true)
