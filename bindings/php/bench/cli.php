<?php
/*
 * cli.php PREFIX N REPEATS - each operation of ops.php N times in a loop,
 * REPEATS times; prints "op<TAB>median ns per call" (a wrong result or a
 * failed call fails the run).
 */
require __DIR__ . '/ops.php';
[, $prefix, $n, $repeats] = $argv;
($prefix . 'clear_cache')();
bench_fill($prefix);
foreach (array_keys(bench_ops()) as $op) {
    $f = bench_compile($prefix, $op);
    $f(1000); // warm up
    $times = [];
    for ($r = 0; $r < $repeats; $r++) {
        $t = hrtime(true);
        $ok = $f((int)$n);
        $times[] = (hrtime(true) - $t) / $n;
        if ($ok != $n)
            exit("$prefix $op: $ok of $n calls succeeded\n");
    }
    sort($times);
    printf("%s\t%.1f\n", $op, $times[intdiv(count($times), 2)]);
}
