--TEST--
shmkv: the process's table works across fork: children count exactly and see each other's values
--INI--
shmkv.table=shmkv-phpt-fork
--FILE--
<?php
shmkv_clear_cache();
shmkv_store('from parent', 'p');       // the handle is open before the fork
$children = [];
for ($c = 0; $c < 4; $c++) {
    $pid = pcntl_fork();
    if ($pid === 0) {
        $ok = shmkv_fetch('from parent') === 'p';
        for ($i = 0; $i < 1000; $i++) {
            $ok = $ok && shmkv_inc('n') !== false;
            $ok = $ok && shmkv_store("child:$c:" . ($i % 10), [$c, $i]);
        }
        exit($ok ? 0 : 1);
    }
    $children[] = $pid;
}
$failed = 0;
foreach ($children as $pid) {
    pcntl_waitpid($pid, $status);
    $failed += pcntl_wexitstatus($status) != 0;
}
var_dump($failed, shmkv_fetch('n'), shmkv_fetch('child:3:9'), count(iterator_to_array(new ShmkvIterator('/^child:/'))));
?>
--CLEAN--
<?php Shmkv\Table::unlink('shmkv-phpt-fork'); ?>
--EXPECT--
int(0)
int(4000)
array(2) {
  [0]=>
  int(3)
  [1]=>
  int(999)
}
int(40)
