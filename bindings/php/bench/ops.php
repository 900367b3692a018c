<?php
/*
 * ops.php - the operations the benchmark times, the same for APCu and
 * shmkv: code with X_ for the prefix (apcu_ or shmkv_), compiled into a
 * closure that calls the functions directly, as an application does.
 * Each closure runs an operation $n times over 1000 keys and returns
 * how many calls succeeded.
 */
const BENCH_KEYS = 1000;

function bench_ops(): array
{
    return [
        'fetch string' => '$ok += X_fetch($keys["s"][$i % 1000]) === $str;',
        'fetch array'  => '$ok += X_fetch($keys["a"][$i % 1000]) === $arr;',
        'fetch miss'   => '$ok += X_fetch($keys["m"][$i % 1000]) === false;',
        'store string' => '$ok += X_store($keys["s"][$i % 1000], $str);',
        'store array'  => '$ok += X_store($keys["a"][$i % 1000], $arr);',
        'inc'          => '$ok += X_inc($keys["n"][$i % 1000]) !== false;',
        'inc one key'  => '$ok += X_inc("hot") !== false;',
    ];
}

function bench_values(): array
{
    return [str_repeat('v', 32), ['id' => 42, 'name' => 'ann', 'roles' => ['admin', 'dev'], 'active' => true]];
}

/* The keys of each kind ("s:0" ...), made before the timing. */
function bench_keys(): array
{
    $keys = [];
    foreach (['s', 'a', 'm', 'n'] as $kind)
        for ($i = 0; $i < BENCH_KEYS; $i++)
            $keys[$kind][] = "$kind:$i";
    return $keys;
}

/* The closure for one operation: function (int $n): int. */
function bench_compile(string $prefix, string $op): Closure
{
    [$str, $arr] = bench_values();
    $keys = bench_keys();
    $body = str_replace('X_', $prefix, bench_ops()[$op]);
    return eval("return function (int \$n) use (\$str, \$arr, \$keys): int {
        \$ok = 0;
        for (\$i = 0; \$i < \$n; \$i++) { $body }
        return \$ok;
    };");
}

/* Every key the fetches find, stored before the timing. */
function bench_fill(string $prefix): void
{
    [$str, $arr] = bench_values();
    $store = $prefix . 'store';
    for ($i = 0; $i < BENCH_KEYS; $i++) {
        $store("s:$i", $str);
        $store("a:$i", $arr);
    }
}
