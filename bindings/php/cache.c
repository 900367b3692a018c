/*
 * cache.c - the APCu-compatible functions that read and write: fetch,
 * store, add, inc, dec, cas, exists, delete, entry.  Each has APCu's
 * signature, results and warnings (apcu_ renamed shmkv_), on the table
 * the ini settings name; README.md lists where shmkv must differ.
 */
#include "php_shmkv.h"

#include <errno.h>
#include <unistd.h>

#define KEY(s) ZSTR_VAL(s), ZSTR_LEN(s)

static bool fetch_one(shmkv *db, zend_string *key, zval *out)
{
    return shmkv_php_ok(shmkv_php_fetch(db, KEY(key), out));
}

/* {{{ shmkv_fetch(array|string $key, &$success = null): mixed */
PHP_FUNCTION(shmkv_fetch)
{
    zval *key, *success = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 2)
        Z_PARAM_ZVAL(key)
        Z_PARAM_OPTIONAL
        Z_PARAM_ZVAL(success)
    ZEND_PARSE_PARAMETERS_END();

    shmkv *db = shmkv_php_db();
    bool found;
    if (Z_TYPE_P(key) == IS_ARRAY) {
        zval *k;
        array_init(return_value);
        ZEND_HASH_FOREACH_VAL(Z_ARRVAL_P(key), k) {
            ZVAL_DEREF(k);
            zval v;
            if (Z_TYPE_P(k) != IS_STRING)
                php_error_docref(NULL, E_WARNING, "shmkv_fetch() expects a string or array of strings.");
            else if (db && fetch_one(db, Z_STR_P(k), &v))
                zend_hash_update(Z_ARRVAL_P(return_value), Z_STR_P(k), &v);
        } ZEND_HASH_FOREACH_END();
        found = true; /* an array always succeeds, as with APCu */
    } else {
        zend_string *k = zval_try_get_string(key);
        if (!k)
            RETURN_THROWS();
        found = db && fetch_one(db, k, return_value);
        zend_string_release(k);
    }
    if (success)
        ZEND_TRY_ASSIGN_REF_BOOL(success, found);
    if (!found)
        RETURN_FALSE;
}
/* }}} */

/* APCu stores a pair with a negative ttl already expired: it replaces the
 * key (so the key is then absent), or for add fails if the key is
 * present. */
static int store_expired(shmkv *db, zend_string *key, bool exclusive)
{
    uint64_t left;
    if (exclusive)
        return shmkv_ttl(db, KEY(key), &left) == 0 ? -EEXIST : 0;
    int rc = shmkv_del(db, KEY(key));
    return rc == -ENOENT ? 0 : rc;
}

static bool store_one(shmkv *db, zend_string *key, zval *val, zend_long ttl, bool exclusive)
{
    shmkv_php_bytes b;
    if (!shmkv_php_encode(val, &b))
        return false;
    int rc;
    if (ttl < 0) {
        rc = store_expired(db, key, exclusive);
    } else {
        shmkv_put_opts o = {.flags = exclusive ? SHMKV_IF_ABSENT : 0, .ttl_ms = shmkv_php_ttl_ms(ttl)};
        rc = shmkv_put_ex(db, KEY(key), b.p, b.n, &o);
    }
    shmkv_php_bytes_free(&b);
    return shmkv_php_ok(rc);
}

/* store and add: a key and a value, or an array of them (then the result
 * is an array of the keys that failed, each => -1). */
static void store(INTERNAL_FUNCTION_PARAMETERS, bool exclusive)
{
    zval *key, *val = NULL;
    zend_long ttl = 0;
    ZEND_PARSE_PARAMETERS_START(1, 3)
        Z_PARAM_ZVAL(key)
        Z_PARAM_OPTIONAL
        Z_PARAM_ZVAL(val)
        Z_PARAM_LONG(ttl)
    ZEND_PARSE_PARAMETERS_END();

    shmkv *db = shmkv_php_db();
    if (Z_TYPE_P(key) == IS_ARRAY) {
        zend_string *k;
        zend_ulong idx;
        zval *v, failed;
        ZVAL_LONG(&failed, -1);
        array_init(return_value);
        ZEND_HASH_FOREACH_KEY_VAL(Z_ARRVAL_P(key), idx, k, v) {
            k = k ? zend_string_copy(k) : zend_long_to_str((zend_long)idx);
            ZVAL_DEREF(v);
            if (!db || !store_one(db, k, v, ttl, exclusive))
                zend_symtable_update(Z_ARRVAL_P(return_value), k, &failed);
            zend_string_release(k);
            if (EG(exception))
                break;
        } ZEND_HASH_FOREACH_END();
        return;
    }
    if (Z_TYPE_P(key) != IS_STRING) {
        php_error_docref(NULL, E_WARNING,
                         "shmkv_store expects key parameter to be a string or an array of key/value pairs.");
        RETURN_FALSE;
    }
    RETURN_BOOL(val && db && store_one(db, Z_STR_P(key), val, ttl, exclusive));
}

/* {{{ shmkv_store(array|string $key, mixed $value = UNKNOWN, int $ttl = 0): array|bool */
PHP_FUNCTION(shmkv_store)
{
    store(INTERNAL_FUNCTION_PARAM_PASSTHRU, false);
}
/* }}} */

/* {{{ shmkv_add(array|string $key, mixed $value = UNKNOWN, int $ttl = 0): array|bool */
PHP_FUNCTION(shmkv_add)
{
    store(INTERNAL_FUNCTION_PARAM_PASSTHRU, true);
}
/* }}} */

/* inc and dec: shmkv_incr on the decimal text, so other programs'
 * counters and these are one.  An absent key starts at 0 with lifetime
 * ttl; a value that is not an integer fails, as with APCu (which has no
 * overflow check: here a result beyond int64 fails instead of wrapping). */
static void incr(INTERNAL_FUNCTION_PARAMETERS, bool down)
{
    zend_string *key;
    zend_long step = 1, ttl = 0;
    zval *success = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 4)
        Z_PARAM_STR(key)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(step)
        Z_PARAM_ZVAL(success)
        Z_PARAM_LONG(ttl)
    ZEND_PARSE_PARAMETERS_END();

    shmkv *db = shmkv_php_db();
    int64_t delta, result = 0;
    uint64_t left;
    int rc;
    if (!db)
        rc = -ENOENT;
    else if (down && __builtin_sub_overflow((int64_t)0, (int64_t)step, &delta))
        rc = -ERANGE;
    else if (ttl >= 0)
        rc = shmkv_incr(db, KEY(key), down ? delta : step, shmkv_php_ttl_ms(ttl), &result);
    else if ((rc = shmkv_ttl(db, KEY(key), &left)) == 0)
        /* APCu creates a missing key already expired, and fails: only an
         * existing one counts (were it deleted meanwhile, the one created
         * lives a millisecond) */
        rc = shmkv_incr(db, KEY(key), down ? delta : step, 1, &result);
    bool ok = shmkv_php_ok(rc);
    if (success)
        ZEND_TRY_ASSIGN_REF_BOOL(success, ok);
    if (!ok)
        RETURN_FALSE;
    RETURN_LONG(result);
}

/* {{{ shmkv_inc(string $key, int $step = 1, &$success = null, int $ttl = 0): int|false */
PHP_FUNCTION(shmkv_inc)
{
    incr(INTERNAL_FUNCTION_PARAM_PASSTHRU, false);
}
/* }}} */

/* {{{ shmkv_dec(string $key, int $step = 1, &$success = null, int $ttl = 0): int|false */
PHP_FUNCTION(shmkv_dec)
{
    incr(INTERNAL_FUNCTION_PARAM_PASSTHRU, true);
}
/* }}} */

/* {{{ shmkv_cas(string $key, int $old, int $new): bool
 * Only an integer key holding $old changes (keeping its lifetime); a
 * missing key or any other value fails. */
PHP_FUNCTION(shmkv_cas)
{
    zend_string *key;
    zend_long old, new;
    ZEND_PARSE_PARAMETERS_START(3, 3)
        Z_PARAM_STR(key)
        Z_PARAM_LONG(old)
        Z_PARAM_LONG(new)
    ZEND_PARSE_PARAMETERS_END();

    shmkv *db = shmkv_php_db();
    if (!db)
        RETURN_FALSE;
    char was[24], now[24];
    int wn = snprintf(was, sizeof was, ZEND_LONG_FMT, old);
    int nn = snprintf(now, sizeof now, ZEND_LONG_FMT, new);
    shmkv_put_opts o = {.flags = SHMKV_IF_EQUAL | SHMKV_KEEP_TTL, .expected = was, .elen = (size_t)wn};
    RETURN_BOOL(shmkv_php_ok(shmkv_put_ex(db, KEY(key), now, (size_t)nn, &o)));
}
/* }}} */

/* A key holding a list (Shmkv\Table::push) exists too. */
static bool exists_one(shmkv *db, zend_string *key)
{
    uint64_t left;
    int rc = db ? shmkv_ttl(db, KEY(key), &left) : -ENOENT;
    return rc == -EMEDIUMTYPE || shmkv_php_ok(rc);
}

/* {{{ shmkv_exists(array|string $key): array|bool */
PHP_FUNCTION(shmkv_exists)
{
    zval *key;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_ZVAL(key)
    ZEND_PARSE_PARAMETERS_END();

    shmkv *db = shmkv_php_db();
    if (Z_TYPE_P(key) == IS_ARRAY) {
        zval *k, yes;
        ZVAL_TRUE(&yes);
        array_init(return_value);
        ZEND_HASH_FOREACH_VAL(Z_ARRVAL_P(key), k) {
            ZVAL_DEREF(k);
            if (Z_TYPE_P(k) != IS_STRING)
                php_error_docref(NULL, E_WARNING, "shmkv_exists() expects a string or array of strings.");
            else if (exists_one(db, Z_STR_P(k)))
                zend_hash_update(Z_ARRVAL_P(return_value), Z_STR_P(k), &yes);
        } ZEND_HASH_FOREACH_END();
        return;
    }
    zend_string *k = zval_try_get_string(key);
    if (!k)
        RETURN_THROWS();
    RETVAL_BOOL(exists_one(db, k));
    zend_string_release(k);
}
/* }}} */

static bool delete_one(shmkv *db, zend_string *key)
{
    return db && shmkv_php_ok(shmkv_del(db, KEY(key)));
}

#define DELETE_EXPECTS "shmkv_delete() expects a string, array of strings, or ShmkvIterator instance"

/* {{{ shmkv_delete(ShmkvIterator|array|string $key): array|bool
 * An array gives back the keys it could not delete. */
PHP_FUNCTION(shmkv_delete)
{
    zval *keys;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_ZVAL(keys)
    ZEND_PARSE_PARAMETERS_END();

    shmkv *db = shmkv_php_db();
    switch (Z_TYPE_P(keys)) {
    case IS_STRING:
        RETURN_BOOL(delete_one(db, Z_STR_P(keys)));
    case IS_ARRAY: {
        zval *k;
        array_init(return_value);
        ZEND_HASH_FOREACH_VAL(Z_ARRVAL_P(keys), k) {
            ZVAL_DEREF(k);
            bool is_str = Z_TYPE_P(k) == IS_STRING;
            if (!is_str)
                php_error_docref(NULL, E_WARNING, DELETE_EXPECTS);
            if (!is_str || !delete_one(db, Z_STR_P(k))) {
                Z_TRY_ADDREF_P(k);
                add_next_index_zval(return_value, k);
            }
        } ZEND_HASH_FOREACH_END();
        return;
    }
    case IS_OBJECT:
        if (instanceof_function(Z_OBJCE_P(keys), shmkv_iterator_ce))
            RETURN_BOOL(shmkv_php_iterator_delete(keys));
        php_error_docref(NULL, E_WARNING, "shmkv_delete() object argument must be instance of ShmkvIterator.");
        RETURN_FALSE;
    default:
        php_error_docref(NULL, E_WARNING, DELETE_EXPECTS);
        RETURN_FALSE;
    }
}
/* }}} */

/* ---- entry: leases instead of APCu's global write lock ---- */

/* The generator holds the key's lease for at most shmkv.entry_lease_ms
 * (one killed holding it delays the others by at most that), and the
 * others wait for its value as long, napping between looks. */
#define ENTRY_NAP_MIN_US 100
#define ENTRY_NAP_MAX_US 10000

/* The value (0), or a miss with the lease when this caller is to fill it
 * (-ENOENT, *lease non-zero) or when another caller is (*lease 0). */
static int get_leased(shmkv *db, zend_string *key, zval *out, uint64_t *lease)
{
    char stack[4096];
    size_t vlen;
    *lease = 0;
    int rc = shmkv_get_lease(db, KEY(key), stack, sizeof stack, &vlen, (uint64_t)SHMKV_G(entry_lease_ms), lease);
    if (rc == 0)
        return shmkv_php_decode(stack, vlen, out) ? 0 : -EILSEQ;
    if (rc == -ENOBUFS) /* a hit too big for the stack */
        return shmkv_php_fetch(db, KEY(key), out);
    return rc;
}

/* Store what the generator made (val NULL: it failed) under the lease. */
static void fill_lease(shmkv *db, zend_string *key, zval *val, zend_long ttl, uint64_t lease)
{
    shmkv_php_bytes b;
    if (val && ttl >= 0 && shmkv_php_encode(val, &b)) {
        /* -ECANCELED: the key was written meanwhile, and that value wins */
        shmkv_php_ok(shmkv_put_leased(db, KEY(key), b.p, b.n, shmkv_php_ttl_ms(ttl), lease));
        shmkv_php_bytes_free(&b);
    } else {
        shmkv_del(db, KEY(key)); /* voids the lease: nobody waits for it */
    }
}

/* Call callback($key); with a lease, store its value under it, or void
 * the lease if it fails, throws, or ends the request (exit, a fatal
 * error, max_execution_time), so that nobody waits for it in vain. */
static void generate(shmkv *db, zend_string *key, zend_fcall_info *fci, zend_fcall_info_cache *fcc,
                     zend_long ttl, uint64_t lease, zval *out)
{
    zval arg;
    ZVAL_STR_COPY(&arg, key);
    fci->retval = out;
    fci->params = &arg;
    fci->param_count = 1;
    bool ok = false;
    zend_try {
        ok = zend_call_function(fci, fcc) == SUCCESS && !EG(exception);
    } zend_catch {
        if (lease)
            shmkv_del(db, KEY(key));
        zend_bailout();
    } zend_end_try();
    zval_ptr_dtor(&arg);
    if (lease)
        fill_lease(db, key, ok ? out : NULL, ttl, lease);
}

/* {{{ shmkv_entry(string $key, callable $callback, int $ttl = 0): mixed
 * The value of key; if absent, callback($key) computes it once for all
 * concurrent callers (the one given the lease), which wait for it. */
PHP_FUNCTION(shmkv_entry)
{
    zend_string *key;
    zend_fcall_info fci = empty_fcall_info;
    zend_fcall_info_cache fcc = empty_fcall_info_cache;
    zend_long ttl = 0;
    ZEND_PARSE_PARAMETERS_START(2, 3)
        Z_PARAM_STR(key)
        Z_PARAM_FUNC(fci, fcc)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(ttl)
    ZEND_PARSE_PARAMETERS_END();

    shmkv *db = shmkv_php_db();
    if (!db)
        return;
    uint64_t lease = 0, waited = 0, patience = (uint64_t)SHMKV_G(entry_lease_ms) * 1000;
    for (useconds_t nap = ENTRY_NAP_MIN_US;; nap = nap < ENTRY_NAP_MAX_US / 2 ? 2 * nap : ENTRY_NAP_MAX_US) {
        int rc = get_leased(db, key, return_value, &lease);
        if (rc == 0)
            return;
        if (rc != -ENOENT) { /* no lease for this key (an empty one, say): just compute */
            shmkv_php_ok(rc);
            break;
        }
        if (lease || waited >= patience) /* ours to fill, or it never came: compute */
            break;
        usleep(nap); /* another caller holds the lease: its value comes soon */
        waited += nap;
    }
    generate(db, key, &fci, &fcc, ttl, lease, return_value);
}
/* }}} */
