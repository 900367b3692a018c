--TEST--
shmkv: the same calls give the same results and warnings on APCu, on shmkv, and on shmkv through apcu-compat.php
--FILE--
<?php
// APCu is php8.2-apcu (make test-php installs it); loaded here on its own,
// with apc.enable_cli, as the benchmark does.
$apcu = PHP_EXTENSION_DIR . '/apcu.so';
if (!is_file($apcu))
    die("APCu is missing: apt-get install php8.2-apcu\n");
$table = sys_get_temp_dir() . '/shmkv-phpt-differential-' . getmypid();
$php = escapeshellarg(PHP_BINARY) . ' -n -d display_errors=1';
$scenarios = escapeshellarg(__DIR__ . '/apcu-scenarios.inc');
$shmkv = ' -d extension_dir=' . escapeshellarg(ini_get('extension_dir')) . ' -d extension=shmkv -d shmkv.table=' . escapeshellarg($table);
$runs = [
    'apcu' => "$php -d extension=" . escapeshellarg($apcu) . " -d apc.enable_cli=1 $scenarios apcu_",
    'shmkv' => "$php $shmkv $scenarios shmkv_",
    'polyfill' => "$php $shmkv $scenarios apcu_ " . escapeshellarg(__DIR__ . '/../apcu-compat.php'),
];
$out = [];
foreach ($runs as $name => $cmd) {
    $out[$name] = shell_exec("$cmd 2>&1");
    Shmkv\Table::unlink($table);
}
echo 'lines: ', substr_count($out['apcu'], "\n") > 70 ? 'many' : 'few', "\n";
foreach (['shmkv', 'polyfill'] as $name) {
    if ($out[$name] === $out['apcu']) {
        echo "$name: same as APCu\n";
        continue;
    }
    echo "$name differs from APCu:\n";
    $a = explode("\n", $out['apcu']);
    $b = explode("\n", $out[$name]);
    for ($i = 0; $i < max(count($a), count($b)); $i++)
        if (($a[$i] ?? null) !== ($b[$i] ?? null))
            echo "  line $i\n    apcu:  ", $a[$i] ?? '(none)', "\n    $name: ", $b[$i] ?? '(none)', "\n";
}
?>
--EXPECT--
lines: many
shmkv: same as APCu
polyfill: same as APCu
