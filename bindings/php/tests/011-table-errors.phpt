--TEST--
shmkv: Shmkv\Table errors: Shmkv\Exception with the errno and message, ValueError and TypeError for bad arguments
--FILE--
<?php
function attempt(callable $f): void
{
    try {
        var_dump($f());
    } catch (Shmkv\Exception $e) {
        printf("%s(%d): %s\n", get_class($e), $e->getCode(), $e->getMessage());
    } catch (Error $e) {
        printf("%s: %s\n", get_class($e), $e->getMessage());
    }
}
$dir = sys_get_temp_dir() . '/shmkv-phpt-errors-' . getmypid();
mkdir($dir);
$name = "$dir/t";
echo "-- opening\n";
attempt(fn() => new Shmkv\Table("$dir/absent", ['create' => false]));
attempt(fn() => new Shmkv\Table("$dir/nodir/t"));
attempt(fn() => new Shmkv\Table($name, ['max_bytes' => 1000]));
attempt(fn() => new Shmkv\Table($name, ['cache' => true]));
attempt(fn() => new Shmkv\Table($name, ['colour' => 'red']));
attempt(fn() => new Shmkv\Table($name, [1, 2]));
attempt(fn() => new Shmkv\Table(''));
attempt(fn() => new Shmkv\Table("a\0b"));
file_put_contents("$dir/junk", str_repeat('junk', 1000));
attempt(fn() => new Shmkv\Table("$dir/junk"));
$t = new Shmkv\Table($name, ['max_bytes' => 256 << 10]);
attempt(fn() => new Shmkv\Table($name, ['exclusive' => true]));

echo "-- operations\n";
$t->set('text', 'abc');
attempt(fn() => $t->incr('text'));
$t->set('big', PHP_INT_MAX);
attempt(fn() => $t->incr('big'));
attempt(fn() => $t->set('', 'empty key'));
attempt(fn() => $t->get(''));
attempt(fn() => $t->set(str_repeat('k', 70000), 'x'));
attempt(fn() => $t->set('k', str_repeat('v', 300 << 10)));    // more than the whole table
attempt(fn() => $t->set('k', 'v', -1));
attempt(fn() => $t->expire('text', -0.5));
attempt(fn() => $t->set('k', STDIN));
attempt(fn() => $t->setMany(['a' => 1, 'r' => STDIN]));
attempt(fn() => $t->setMany(['ok' => 1, '' => 2]));
var_dump($t->get('ok'));                                       // the others of the batch are stored
attempt(fn() => $t->getMany([new stdClass]));
for ($i = 0; ; $i++) {                                         // a store fills up: ENOSPC
    try { $t->set("fill:$i", str_repeat('x', 1000)); }
    catch (Shmkv\Exception $e) { printf("after %s pairs: %d %s\n", $i > 100 ? 'many' : 'few', $e->getCode(), $e->getMessage()); break; }
}
$t->clear();
$t->set('fill', 'fits again');
var_dump($t->get('fill'));
$r = new Shmkv\Table($name, ['readonly' => true]);
var_dump($r->get('fill'));
attempt(fn() => $r->set('x', 1));
attempt(fn() => $r->delete('fill'));
$t->append('bad', "\x01a:1:{");
attempt(fn() => $t->get('bad'));
attempt(fn() => clone $t);
attempt(fn() => (new ReflectionClass('Shmkv\Table'))->newInstanceWithoutConstructor()->get('x'));
attempt(fn() => $t->__construct($name));
var_dump(Shmkv\Table::unlink($name), Shmkv\Table::unlink("$dir/junk"), rmdir($dir));
attempt(fn() => Shmkv\Table::unlink('/proc/version'));
?>
--EXPECTF--
-- opening
Shmkv\Exception(2): Cannot open "%s/absent": no such key or table
Shmkv\Exception(2): Cannot open "%s/nodir/t": no such key or table
Shmkv\Exception(22): Cannot open "%s/t": invalid argument
Shmkv\Exception(22): Cannot open "%s/t": invalid argument
ValueError: Shmkv\Table::__construct(): Argument #2 ($options) has an unknown option "colour"
ValueError: Shmkv\Table::__construct(): Argument #2 ($options) must be an array of options by name
Shmkv\Exception(22): Cannot open "": invalid argument
ValueError: Shmkv\Table::__construct(): Argument #1 ($name) must not contain any null bytes
Shmkv\Exception(74): Cannot open "%s/junk": not a shmkv table of this format, or the table is corrupt
Shmkv\Exception(17): Cannot open "%s/t": key or table already exists
-- operations
Shmkv\Exception(33): Shmkv\Table::incr(): the value is not an integer
Shmkv\Exception(34): Shmkv\Table::incr(): the result would overflow a 64-bit integer
Shmkv\Exception(22): Shmkv\Table::set(): invalid argument
Shmkv\Exception(22): Shmkv\Table::get(): invalid argument
Shmkv\Exception(7): Shmkv\Table::set(): key or value too long
Shmkv\Exception(7): Shmkv\Table::set(): key or value too long
ValueError: Shmkv\Table::set(): Argument #3 ($ttl) must be a lifetime in seconds, 0 or greater
ValueError: Shmkv\Table::expire(): Argument #2 ($ttl) must be a lifetime in seconds, 0 or greater
TypeError: Shmkv\Table::set(): Argument #2 ($value) must not be a resource
TypeError: Shmkv\Table::setMany(): Argument #1 ($values) must not be a resource
Shmkv\Exception(22): Shmkv\Table::setMany(), key "": invalid argument
int(1)
Error: Object of class stdClass could not be converted to string
after many pairs: 28 Shmkv\Table::set(): table full: max_bytes reached or file system full
string(10) "fits again"
string(10) "fits again"
Shmkv\Exception(30): Shmkv\Table::set(): table opened read-only
Shmkv\Exception(30): Shmkv\Table::delete(): table opened read-only
Shmkv\Exception(84): Shmkv\Table::get(): a stored value does not unserialize
Error: Trying to clone an uncloneable object of class Shmkv\Table
Error: Shmkv\Table is not open
Error: Shmkv\Table is already open
bool(true)
bool(true)
bool(true)
Shmkv\Exception(%d): Shmkv\Table::unlink(): %s
