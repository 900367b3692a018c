<?php
/*
 * worker.php - one FPM request of the benchmark.  ?do=fill stores the keys;
 * ?do=ready&run=R says how many requests of round R are waiting; ?do=go
 * releases them; ?do=run&op=OP&n=N&run=R waits for the release, runs OP N
 * times and prints when it started and ended (hrtime, ns: one clock for
 * every process), or an error.  The rendezvous
 * goes through the cache under test itself (prefix p).
 */
require __DIR__ . '/ops.php';
$p = $_GET['p'];
$run = 'run:' . ($_GET['run'] ?? '');
switch ($_GET['do']) {
case 'fill':
    ($p . 'clear_cache')();
    bench_fill($p);
    echo 'filled';
    break;
case 'ready':
    echo (int)($p . 'fetch')("$run:ready");
    break;
case 'go':
    ($p . 'store')("$run:go", 1);
    echo 'go';
    break;
case 'run':
    $f = bench_compile($p, $_GET['op']);
    $n = (int)$_GET['n'];
    $f(100); // warm up
    ($p . 'inc')("$run:ready");
    for ($t = 0; !($p . 'exists')("$run:go") && $t < 100000; $t++)
        usleep(100);
    $start = hrtime(true);
    $ok = $f($n);
    $end = hrtime(true);
    echo $ok == $n ? "$start $end" : "error: $ok of $n calls succeeded";
    break;
}
