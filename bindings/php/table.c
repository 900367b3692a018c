/*
 * table.c - the object API: Shmkv\Table, any table by name or path with
 * the library's own operations, and Shmkv\Exception for its errors.
 *
 * Values are stored as the APCu functions store them (value.c), so both
 * APIs, the C API and the other bindings share tables.  Lifetimes are in
 * seconds, as floats (0.25 is 250 ms; 0 never expires).  A miss or a
 * condition not met is a return value (the default, false, null); any
 * other failure throws Shmkv\Exception, its code the errno.  The methods
 * on lists are lists.c's.
 */
#include "php_shmkv.h"

#include "ext/spl/spl_exceptions.h"
#include "zend_exceptions.h"
#include "zend_interfaces.h"

#include <errno.h>
#include <math.h>

zend_class_entry *shmkv_exception_ce;
static zend_class_entry *table_ce;
static zend_object_handlers table_handlers;

typedef struct table {
    shmkv *db;
    zend_object std;
} table;

static table *table_of(zend_object *o)
{
    return (table *)((char *)o - XtOffsetOf(table, std));
}

/* The library's message, and words of our own for the codes it leaves
 * to strerror or that come from here. */
static const char *message(int rc)
{
    switch (rc) {
    case -EDOM:   return "the value is not an integer";
    case -ERANGE: return "the result would overflow a 64-bit integer";
    case -EILSEQ: return "a stored value does not unserialize";
    default:      return shmkv_strerror(rc);
    }
}

void shmkv_php_throw(int rc, const char *what)
{
    zend_throw_exception_ex(shmkv_exception_ce, -rc, "%s: %s", what, message(rc));
}

shmkv *shmkv_php_this_db(zval *this_ptr)
{
    shmkv *db = table_of(Z_OBJ_P(this_ptr))->db;
    if (!db)
        zend_throw_error(NULL, "Shmkv\\Table is not open");
    return db;
}

bool shmkv_php_check(int rc, int miss)
{
    if (rc == 0)
        return true;
    if (rc != miss && !EG(exception)) {
        char what[128];
        snprintf(what, sizeof what, "%s::%s()", get_active_class_name(NULL), get_active_function_name());
        shmkv_php_throw(rc, what);
    }
    return false;
}

static zend_object *table_create(zend_class_entry *ce)
{
    table *t = zend_object_alloc(sizeof(table), ce);
    return shmkv_php_object_init(&t->std, ce, &table_handlers);
}

static void table_free(zend_object *o)
{
    shmkv_close(table_of(o)->db); /* the table itself stays */
    zend_object_std_dtor(o);
}

/* Seconds (float) to milliseconds: 0 never expires; a positive lifetime
 * is at least 1 ms; a negative one is an error (-1 returned). */
static int64_t ttl_ms(double ttl, uint32_t arg)
{
    if (!(ttl >= 0)) {
        zend_argument_value_error(arg, "must be a lifetime in seconds, 0 or greater");
        return -1;
    }
    double ms = ceil(ttl * 1000.0);
    return ms >= (double)SHMKV_TTL_MAX ? (int64_t)SHMKV_TTL_MAX : (int64_t)ms;
}

/* ---- construction ---- */

static bool option_flag(zval *v, unsigned bit, unsigned *flags)
{
    if (zend_is_true(v))
        *flags |= bit;
    else
        *flags &= ~bit;
    return true;
}

/* One entry of the options array into o; false (ValueError thrown) for an
 * unknown name. */
static bool apply_option(zend_string *name, zval *v, shmkv_options *o)
{
    static const struct { const char *name; unsigned bit; } flags[] = {
        {"create", SHMKV_CREATE}, {"exclusive", SHMKV_EXCL}, {"readonly", SHMKV_RDONLY},
        {"stats", SHMKV_STATS}, {"cache", SHMKV_CACHE},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (zend_string_equals_cstr(name, flags[i].name, strlen(flags[i].name)))
            return option_flag(v, flags[i].bit, &o->flags);
    if (zend_string_equals_literal(name, "max_bytes"))
        o->max_bytes = (uint64_t)zval_get_long(v);
    else if (zend_string_equals_literal(name, "mode"))
        o->mode = (unsigned)zval_get_long(v);
    else if (zend_string_equals_literal(name, "expected_keys"))
        o->expected_keys = (uint64_t)zval_get_long(v);
    else {
        zend_argument_value_error(2, "has an unknown option \"%s\"", ZSTR_VAL(name));
        return false;
    }
    return true;
}

/* {{{ Shmkv\Table::__construct(string $name, array $options = [])
 * options: create (default true), exclusive, readonly, cache, stats,
 * max_bytes, mode, expected_keys: shmkv_options, by name. */
PHP_METHOD(Shmkv_Table, __construct)
{
    zend_string *name;
    HashTable *options = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 2)
        Z_PARAM_PATH_STR(name)
        Z_PARAM_OPTIONAL
        Z_PARAM_ARRAY_HT(options)
    ZEND_PARSE_PARAMETERS_END();

    table *t = table_of(Z_OBJ_P(ZEND_THIS));
    if (t->db) {
        zend_throw_error(NULL, "Shmkv\\Table is already open");
        RETURN_THROWS();
    }
    shmkv_options o = {.flags = SHMKV_CREATE};
    zend_string *k;
    zval *v;
    if (options) {
        ZEND_HASH_FOREACH_STR_KEY_VAL(options, k, v) {
            if (!k) {
                zend_argument_value_error(2, "must be an array of options by name");
                RETURN_THROWS();
            }
            if (!apply_option(k, v, &o))
                RETURN_THROWS();
        } ZEND_HASH_FOREACH_END();
    }
    int rc = shmkv_open(ZSTR_VAL(name), &o, &t->db);
    if (rc) {
        char *what;
        zend_spprintf(&what, 0, "Cannot open \"%s\"", ZSTR_VAL(name));
        shmkv_php_throw(rc, what);
        efree(what);
    }
}
/* }}} */

/* {{{ Shmkv\Table::unlink(string $name): bool  (false: there was none) */
PHP_METHOD(Shmkv_Table, unlink)
{
    zend_string *name;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_PATH_STR(name)
    ZEND_PARSE_PARAMETERS_END();
    RETURN_BOOL(shmkv_php_check(shmkv_unlink(ZSTR_VAL(name)), -ENOENT));
}
/* }}} */

/* ---- reads ---- */

/* {{{ Shmkv\Table::get(string $key, mixed $default = null): mixed */
PHP_METHOD(Shmkv_Table, get)
{
    zend_string *key;
    zval *def = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 2)
        Z_PARAM_STR(key)
        Z_PARAM_OPTIONAL
        Z_PARAM_ZVAL(def)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    if (!shmkv_php_check(shmkv_php_fetch(db, ZSTR_VAL(key), ZSTR_LEN(key), return_value), -ENOENT) && def &&
        !EG(exception))
        RETURN_COPY(def);
}
/* }}} */

/* {{{ Shmkv\Table::getMany(array $keys): array  (key => value of those found) */
PHP_METHOD(Shmkv_Table, getMany)
{
    HashTable *keys;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_ARRAY_HT(keys)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    zval *k, v;
    array_init(return_value);
    ZEND_HASH_FOREACH_VAL(keys, k) {
        zend_string *s = zval_try_get_string(k);
        if (!s)
            RETURN_THROWS();
        bool found = shmkv_php_check(shmkv_php_fetch(db, ZSTR_VAL(s), ZSTR_LEN(s), &v), -ENOENT);
        if (found)
            zend_symtable_update(Z_ARRVAL_P(return_value), s, &v);
        zend_string_release(s);
        if (EG(exception))
            RETURN_THROWS();
    } ZEND_HASH_FOREACH_END();
}
/* }}} */

/* {{{ Shmkv\Table::ttl(string $key): ?float  (seconds left, 0.0 never; null absent) */
PHP_METHOD(Shmkv_Table, ttl)
{
    zend_string *key;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(key)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    uint64_t ms;
    if (!shmkv_php_check(shmkv_ttl(db, ZSTR_VAL(key), ZSTR_LEN(key), &ms), -ENOENT))
        RETURN_NULL();
    RETURN_DOUBLE((double)ms / 1000.0);
}
/* }}} */

/* ---- writes ---- */

/* A resource cannot be stored: a TypeError here, where APCu's functions
 * warn. */
static bool storable(zval *val, uint32_t arg)
{
    if (Z_TYPE_P(val) != IS_RESOURCE && !(Z_ISREF_P(val) && Z_TYPE_P(Z_REFVAL_P(val)) == IS_RESOURCE))
        return true;
    zend_argument_type_error(arg, "must not be a resource");
    return false;
}

/* set, add, replace: one put_ex with its condition; false when the
 * condition fails (miss names that result). */
static void put(INTERNAL_FUNCTION_PARAMETERS, unsigned cond, int miss)
{
    zend_string *key;
    zval *val;
    double ttl = 0;
    ZEND_PARSE_PARAMETERS_START(2, 3)
        Z_PARAM_STR(key)
        Z_PARAM_ZVAL(val)
        Z_PARAM_OPTIONAL
        Z_PARAM_DOUBLE(ttl)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    int64_t ms = ttl_ms(ttl, 3);
    shmkv_php_bytes b;
    if (ms < 0 || !storable(val, 2) || !shmkv_php_encode(val, &b))
        RETURN_THROWS();
    shmkv_put_opts o = {.flags = cond, .ttl_ms = (uint64_t)ms};
    int rc = shmkv_put_ex(db, ZSTR_VAL(key), ZSTR_LEN(key), b.p, b.n, &o);
    shmkv_php_bytes_free(&b);
    RETURN_BOOL(shmkv_php_check(rc, miss));
}

/* {{{ Shmkv\Table::set(string $key, mixed $value, float $ttl = 0): void */
PHP_METHOD(Shmkv_Table, set)
{
    put(INTERNAL_FUNCTION_PARAM_PASSTHRU, 0, 0);
    if (!EG(exception))
        RETVAL_NULL();
}
/* }}} */

/* {{{ Shmkv\Table::add(string $key, mixed $value, float $ttl = 0): bool  (false: present) */
PHP_METHOD(Shmkv_Table, add)
{
    put(INTERNAL_FUNCTION_PARAM_PASSTHRU, SHMKV_IF_ABSENT, -EEXIST);
}
/* }}} */

/* {{{ Shmkv\Table::replace(string $key, mixed $value, float $ttl = 0): bool  (false: absent) */
PHP_METHOD(Shmkv_Table, replace)
{
    put(INTERNAL_FUNCTION_PARAM_PASSTHRU, SHMKV_IF_PRESENT, -ENOENT);
}
/* }}} */

/* {{{ Shmkv\Table::setMany(array $values, float $ttl = 0): void
 * One shmkv_put_many; each pair is its own atomic put.  Throws for the
 * first pair that failed, once all were tried. */
PHP_METHOD(Shmkv_Table, setMany)
{
    HashTable *values;
    double ttl = 0;
    ZEND_PARSE_PARAMETERS_START(1, 2)
        Z_PARAM_ARRAY_HT(values)
        Z_PARAM_OPTIONAL
        Z_PARAM_DOUBLE(ttl)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    int64_t ms = ttl_ms(ttl, 2);
    if (ms < 0)
        RETURN_THROWS();
    uint32_t n = zend_hash_num_elements(values), i = 0;
    shmkv_pair *pairs = safe_emalloc(n ? n : 1, sizeof *pairs, 0);
    shmkv_php_bytes *bytes = safe_emalloc(n ? n : 1, sizeof *bytes, 0);
    zend_string **keys = safe_emalloc(n ? n : 1, sizeof *keys, 0);
    zend_string *k;
    zend_ulong idx;
    zval *v;
    ZEND_HASH_FOREACH_KEY_VAL(values, idx, k, v) {
        if (!storable(v, 1) || !shmkv_php_encode(v, &bytes[i]))
            break;
        keys[i] = k ? zend_string_copy(k) : zend_long_to_str((zend_long)idx);
        pairs[i] = (shmkv_pair){ZSTR_VAL(keys[i]), ZSTR_LEN(keys[i]), bytes[i].p, bytes[i].n, (uint64_t)ms, 0};
        i++;
    } ZEND_HASH_FOREACH_END();
    if (i == n)
        shmkv_put_many(db, pairs, n);
    for (uint32_t j = 0; j < i; j++) {
        if (i == n && pairs[j].rc && !EG(exception)) {
            char *what;
            zend_spprintf(&what, 0, "Shmkv\\Table::setMany(), key \"%s\"", ZSTR_VAL(keys[j]));
            shmkv_php_throw(pairs[j].rc, what);
            efree(what);
        }
        zend_string_release(keys[j]);
        shmkv_php_bytes_free(&bytes[j]);
    }
    efree(pairs);
    efree(bytes);
    efree(keys);
}
/* }}} */

/* {{{ Shmkv\Table::delete(string $key): bool  (false: absent) */
PHP_METHOD(Shmkv_Table, delete)
{
    zend_string *key;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(key)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    RETURN_BOOL(shmkv_php_check(shmkv_del(db, ZSTR_VAL(key), ZSTR_LEN(key)), -ENOENT));
}
/* }}} */

/* {{{ Shmkv\Table::take(string $key, mixed $default = null): mixed  (get and delete, atomically) */
PHP_METHOD(Shmkv_Table, take)
{
    zend_string *key;
    zval *def = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 2)
        Z_PARAM_STR(key)
        Z_PARAM_OPTIONAL
        Z_PARAM_ZVAL(def)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    void *val;
    size_t vlen;
    if (!shmkv_php_check(shmkv_take(db, ZSTR_VAL(key), ZSTR_LEN(key), &val, &vlen), -ENOENT)) {
        if (def && !EG(exception))
            RETURN_COPY(def);
        return;
    }
    bool ok = shmkv_php_decode(val, vlen, return_value);
    free(val);
    if (!ok)
        shmkv_php_check(-EILSEQ, 0);
}
/* }}} */

/* {{{ Shmkv\Table::incr(string $key, int $by = 1, float $ttl = 0): int
 * An absent key counts from 0 and gets the lifetime; throws (EDOM) for a
 * value that is not an integer, (ERANGE) for an overflow. */
PHP_METHOD(Shmkv_Table, incr)
{
    zend_string *key;
    zend_long by = 1;
    double ttl = 0;
    ZEND_PARSE_PARAMETERS_START(1, 3)
        Z_PARAM_STR(key)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(by)
        Z_PARAM_DOUBLE(ttl)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    int64_t ms = ttl_ms(ttl, 3), result;
    if (ms < 0)
        RETURN_THROWS();
    if (shmkv_php_check(shmkv_incr(db, ZSTR_VAL(key), ZSTR_LEN(key), by, (uint64_t)ms, &result), 0))
        RETURN_LONG(result);
}
/* }}} */

/* {{{ Shmkv\Table::append(string $key, string $data): void
 * Appends bytes to the stored bytes (creating the key): a string, or an
 * integer, reads back as the string they make (or an int if the bytes
 * form one).  Not for serialised values (arrays, objects). */
PHP_METHOD(Shmkv_Table, append)
{
    zend_string *key, *data;
    ZEND_PARSE_PARAMETERS_START(2, 2)
        Z_PARAM_STR(key)
        Z_PARAM_STR(data)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    shmkv_php_check(shmkv_append(db, ZSTR_VAL(key), ZSTR_LEN(key), ZSTR_VAL(data), ZSTR_LEN(data)), 0);
}
/* }}} */

/* {{{ Shmkv\Table::expire(string $key, float $ttl): bool  (0 removes the lifetime; false: absent) */
PHP_METHOD(Shmkv_Table, expire)
{
    zend_string *key;
    double ttl;
    ZEND_PARSE_PARAMETERS_START(2, 2)
        Z_PARAM_STR(key)
        Z_PARAM_DOUBLE(ttl)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    int64_t ms = ttl_ms(ttl, 2);
    if (ms < 0)
        RETURN_THROWS();
    RETURN_BOOL(shmkv_php_check(shmkv_expire(db, ZSTR_VAL(key), ZSTR_LEN(key), (uint64_t)ms), -ENOENT));
}
/* }}} */

/* {{{ Shmkv\Table::clear(): void */
PHP_METHOD(Shmkv_Table, clear)
{
    ZEND_PARSE_PARAMETERS_NONE();
    THIS_DB(db);
    shmkv_php_check(shmkv_clear(db), 0);
}
/* }}} */

/* ---- the table as a whole ---- */

/* {{{ Shmkv\Table::stats(): array  (shmkv_stat's fields by name) */
PHP_METHOD(Shmkv_Table, stats)
{
    ZEND_PARSE_PARAMETERS_NONE();
    THIS_DB(db);
    shmkv_stats st;
    if (!shmkv_php_check(shmkv_stat(db, &st), 0))
        RETURN_THROWS();
    array_init(return_value);
#define STAT(f) add_assoc_long(return_value, #f, (zend_long)st.f)
    STAT(keys), STAT(live_bytes), STAT(used_bytes), STAT(max_bytes), STAT(file_bytes);
    STAT(shards), STAT(buckets), STAT(overflow_buckets), STAT(index_bytes), STAT(log_bytes);
    STAT(garbage_bytes), STAT(free_bytes);
    add_assoc_double(return_value, "load_factor", st.load_factor);
    STAT(puts), STAT(dels), STAT(splits), STAT(runs_cleaned), STAT(lock_waits), STAT(lock_recoveries);
    STAT(read_stats), STAT(hits), STAT(misses), STAT(cache), STAT(evictions), STAT(expirations);
    STAT(leases_granted), STAT(leases_filled), STAT(leases_voided);
#undef STAT
}
/* }}} */

/* {{{ Shmkv\Table::check(): array  (the problems shmkv_check found; [] when sound) */
PHP_METHOD(Shmkv_Table, check)
{
    ZEND_PARSE_PARAMETERS_NONE();
    THIS_DB(db);
    char *text = NULL;
    size_t len = 0;
    FILE *report = open_memstream(&text, &len);
    if (!report) {
        shmkv_php_throw(-ENOMEM, "Shmkv\\Table::check");
        RETURN_THROWS();
    }
    int rc = shmkv_check(db, report);
    fclose(report);
    array_init(return_value);
    for (char *line = text, *end = text + len; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
        add_next_index_stringl(return_value, line, n);
        line += n + 1;
    }
    free(text);
    shmkv_php_check(rc, -EBADMSG);
}
/* }}} */

/* {{{ Shmkv\Table::getIterator(): Iterator  (foreach: key => value) */
PHP_METHOD(Shmkv_Table, getIterator)
{
    ZEND_PARSE_PARAMETERS_NONE();
    THIS_DB(db);
    shmkv_php_iterator_for_table(return_value, Z_OBJ_P(ZEND_THIS), db);
}
/* }}} */

/* ---- registration ---- */

ZEND_BEGIN_ARG_INFO_EX(arginfo_construct, 0, 0, 1)
    ZEND_ARG_TYPE_INFO(0, name, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, options, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_unlink, 0, 1, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, name, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_get, 0, 1, IS_MIXED, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, default, IS_MIXED, 0, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_get_many, 0, 1, IS_ARRAY, 0)
    ZEND_ARG_TYPE_INFO(0, keys, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_ttl, 0, 1, IS_DOUBLE, 1)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
ZEND_END_ARG_INFO()

#define KEY_VALUE_TTL                                  \
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)           \
    ZEND_ARG_TYPE_INFO(0, value, IS_MIXED, 0)          \
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_DOUBLE, 0, "0")

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_set, 0, 2, IS_VOID, 0)
    KEY_VALUE_TTL
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_add, 0, 2, _IS_BOOL, 0)
    KEY_VALUE_TTL
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_set_many, 0, 1, IS_VOID, 0)
    ZEND_ARG_TYPE_INFO(0, values, IS_ARRAY, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_DOUBLE, 0, "0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_key_bool, 0, 1, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_incr, 0, 1, IS_LONG, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, by, IS_LONG, 0, "1")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_DOUBLE, 0, "0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_append, 0, 2, IS_VOID, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, data, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_expire, 0, 2, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, ttl, IS_DOUBLE, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_void, 0, 0, IS_VOID, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_array, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_OBJ_INFO_EX(arginfo_get_iterator, 0, 0, Iterator, 0)
ZEND_END_ARG_INFO()

static const zend_function_entry table_methods[] = {
    PHP_ME(Shmkv_Table, __construct, arginfo_construct, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, unlink, arginfo_unlink, ZEND_ACC_PUBLIC | ZEND_ACC_STATIC)
    PHP_ME(Shmkv_Table, get, arginfo_get, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, getMany, arginfo_get_many, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, ttl, arginfo_ttl, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, set, arginfo_set, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, add, arginfo_add, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, replace, arginfo_add, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, setMany, arginfo_set_many, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, delete, arginfo_key_bool, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, take, arginfo_get, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, incr, arginfo_incr, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, append, arginfo_append, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, expire, arginfo_expire, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, clear, arginfo_void, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, stats, arginfo_array, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, check, arginfo_array, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, getIterator, arginfo_get_iterator, ZEND_ACC_PUBLIC)
    PHP_FE_END
};

void shmkv_php_table_minit(void)
{
    zend_class_entry ce;
    INIT_NS_CLASS_ENTRY(ce, "Shmkv", "Exception", NULL);
    shmkv_exception_ce = zend_register_internal_class_ex(&ce, spl_ce_RuntimeException);

    INIT_NS_CLASS_ENTRY(ce, "Shmkv", "Table", table_methods);
    table_ce = zend_register_internal_class(&ce);
    table_ce->create_object = table_create;
    zend_class_implements(table_ce, 1, zend_ce_aggregate);

    memcpy(&table_handlers, zend_get_std_object_handlers(), sizeof table_handlers);
    table_handlers.offset = XtOffsetOf(table, std);
    table_handlers.free_obj = table_free;
    table_handlers.clone_obj = NULL;
    shmkv_php_lists_minit(table_ce);
    shmkv_php_near_minit(table_ce);
}
