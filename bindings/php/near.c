/*
 * near.c - Shmkv\NearCache: read Redis through the host's near cache
 * (docs/near-cache.md) on the application's phpredis Redis object.
 *
 * One table per host, kept consistent with Redis by one agent
 * (`shmkv-redis sync`, tools/redis), holds copies of Redis's string values
 * for every process of the host, whatever its language: so values are
 * Redis's bytes as they are, not value.c's encoding.  get() is the
 * protocol's near_get step by step:
 *
 *   1. trust the table only while the agent's record (its heartbeat) is there;
 *   2. keys the record's prefixes do not cover go to Redis;
 *   3. a hit is the answer; a miss takes the key's lease (another process's
 *      lease: wait a few ms for its fill, then Redis);
 *   4. with the lease: the record again, then GET and PTTL in one pipeline,
 *      then the store under the lease with Redis's lifetime, capped.  A
 *      write whose invalidation the agent applies in between voids the
 *      lease, so the value read before it is never stored.
 *
 * The record's text is parsed by the agent's own parser (tools/redis/
 * record.c, compiled in by agent_record.c).
 */
#include "php_shmkv.h"

#include "record.h"

#include "zend_exceptions.h"
#include "zend_interfaces.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#define AGENT_KEY "\0shmkv-redis:agent"
#define AGENT_KEY_LEN (sizeof AGENT_KEY - 1)
#define HIT_BUF 4096

enum { FROM_TABLE, FILLED, FROM_REDIS };

static zend_class_entry *near_ce, *table_ce;
static zend_object_handlers near_handlers;

typedef struct near {
    zval table, redis;          /* side by side: get_gc hands both out */
    uint64_t max_ttl_ms, lease_ms, wait_us;
    zend_long counts[3];        /* by FROM_TABLE, FILLED, FROM_REDIS */
    /* the agent's record as last read: its text, and parsed */
    size_t rec_len;
    char rec_text[RECORD_TEXT_MAX];
    struct record rec;
    zend_object std;
} near;

static near *near_of(zend_object *o)
{
    return (near *)((char *)o - XtOffsetOf(near, std));
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the Redis object's methods ---- */

/* $redis->name(args...): its result in ret (to release); false with an
 * exception pending when it threw. */
static bool call(near *n, const char *name, zval *ret, uint32_t argc, zval *arg)
{
    ZVAL_UNDEF(ret);
    zend_call_method(Z_OBJ(n->redis), Z_OBJCE(n->redis), NULL, name, strlen(name), ret, argc, arg, NULL);
    return !EG(exception);
}

/* $redis->name(arg) (arg may be NULL) for its effect only (queuing in a
 * pipeline); false with an exception pending when it threw. */
static bool call_discard(near *n, const char *name, zval *arg)
{
    zval ret;
    bool ok = call(n, name, &ret, arg ? 1 : 0, arg);
    zval_ptr_dtor(&ret);
    return ok;
}

/* GET straight from Redis, storing nothing: string, or false (no such key,
 * or Redis's error: getLastError() says which, as for a plain get). */
static void from_redis(near *n, zval *key, zval *rv)
{
    n->counts[FROM_REDIS]++;
    call(n, "get", rv, 1, key);
}

/* ---- the table ---- */

/* The agent's heartbeat is there (lock-free; counts as no read). */
static bool agent_alive(shmkv *db)
{
    uint64_t left;
    return shmkv_ttl(db, AGENT_KEY, AGENT_KEY_LEN, &left) == 0;
}

/* May k be stored, by the record in the table now (parsed again only when
 * its text changed)? */
static bool may_store(near *n, shmkv *db, const char *k, size_t klen)
{
    char text[RECORD_TEXT_MAX];
    size_t len;
    if (klen > SHMKV_KEY_MAX || shmkv_get(db, AGENT_KEY, AGENT_KEY_LEN, text, sizeof text, &len))
        return false;
    if (len != n->rec_len || memcmp(text, n->rec_text, len)) {
        n->rec_len = 0;
        if (record_parse(text, len, &n->rec))
            return false;
        memcpy(n->rec_text, text, len);
        n->rec_len = len;
    }
    return record_cacheable(&n->rec, k, klen);
}

/* Void the lease (a delete) so that others need not wait it out. */
static void give_up(shmkv *db, const char *k, size_t klen)
{
    shmkv_del(db, k, klen);
}

/* With the key's lease: GET and PTTL in one pipeline, then the leased store. */
static void fill(near *n, shmkv *db, zval *key, const char *k, size_t klen, uint64_t lease, zval *rv)
{
    if (!may_store(n, db, k, klen)) { /* a new agent may track other prefixes */
        give_up(db, k, klen);
        from_redis(n, key, rv);
        return;
    }
    zval answers;
    ZVAL_UNDEF(&answers);
    uint64_t t0 = now_us();
    bool ok = call_discard(n, "pipeline", NULL) && call_discard(n, "get", key) && call_discard(n, "pttl", key) &&
              call(n, "exec", &answers, 0, NULL);
    zval *value = ok && Z_TYPE(answers) == IS_ARRAY ? zend_hash_index_find(Z_ARRVAL(answers), 0) : NULL;
    zval *pttl = value ? zend_hash_index_find(Z_ARRVAL(answers), 1) : NULL;
    int stored = -ECANCELED;
    if (value)
        ZVAL_COPY(rv, value);
    else if (ok)
        ZVAL_FALSE(rv);
    if (value && Z_TYPE_P(value) == IS_STRING) {
        /* the lifetime counts from the store: computed just before it */
        int64_t ttl = record_fill_ttl(pttl && Z_TYPE_P(pttl) == IS_LONG ? Z_LVAL_P(pttl) : -2,
                                      (now_us() - t0 + 999) / 1000 + 1, n->rec.max_ttl_ms, n->max_ttl_ms);
        if (ttl >= 0)
            stored = shmkv_put_leased(db, k, klen, Z_STRVAL_P(value), Z_STRLEN_P(value), (uint64_t)ttl, lease);
        if (ttl < 0 || (stored && stored != -ECANCELED))
            give_up(db, k, klen); /* not to be stored, or refused (too large, say) */
        /* -ECANCELED: a write's invalidation voided the lease, and its
         * value is newer than this one: the key is left alone */
    } else {
        give_up(db, k, klen); /* no such key, another type, an error, a throw */
    }
    zval_ptr_dtor(&answers);
    n->counts[stored == 0 ? FILLED : FROM_REDIS]++;
}

/* get(): the protocol's near_get. */
static void near_get(near *n, shmkv *db, zval *key, const char *k, size_t klen, zval *rv)
{
    if (!klen || klen > SHMKV_KEY_MAX || !agent_alive(db) ||
        !((n->rec_len && record_cacheable(&n->rec, k, klen)) || may_store(n, db, k, klen))) {
        from_redis(n, key, rv);
        return;
    }
    uint64_t start = 0, deadline = 0, nap_us = 50; /* the clock is read only once a wait begins */
    for (;;) {
        char buf[HIT_BUF];
        size_t len;
        void *big;
        uint64_t lease = 0;
        int rc = shmkv_get_lease(db, k, klen, buf, sizeof buf, &len, n->lease_ms, &lease);
        if (rc == 0)
            ZVAL_STRINGL(rv, buf, len);
        else if (rc == -ENOBUFS && (rc = shmkv_get_alloc(db, k, klen, &big, &len)) == 0) {
            ZVAL_STRINGL(rv, (char *)big, len);
            free(big);
        }
        if (rc == 0) {
            n->counts[FROM_TABLE]++;
            return;
        }
        if (rc == -ENOENT && lease) {
            fill(n, db, key, k, klen, lease, rv);
            return;
        }
        /* a table that fails (a lock held too long) is passed by; another
         * process's lease (with the agent's --refresh, often the agent's):
         * its fill is one round trip away */
        uint64_t now = rc == -ENOENT ? now_us() : 0;
        if (rc == -ENOENT && !deadline) {
            deadline = (start = now) + n->wait_us;
        } else if (rc != -ENOENT || now >= deadline) {
            from_redis(n, key, rv);
            return;
        }
        /* for the first 100 us give the CPU to whoever is runnable and look
         * again, as a nap would oversleep the round trip; then nap */
        if (now - start < 100) {
            sched_yield();
            continue;
        }
        usleep((useconds_t)nap_us);
        nap_us = nap_us < 800 ? nap_us * 2 : nap_us;
    }
}

/* ---- the class ---- */

static zend_object *near_create(zend_class_entry *ce)
{
    near *n = zend_object_alloc(sizeof(near), ce);
    ZVAL_UNDEF(&n->table);
    ZVAL_UNDEF(&n->redis);
    n->rec_len = 0;
    memset(n->counts, 0, sizeof n->counts);
    return shmkv_php_object_init(&n->std, ce, &near_handlers);
}

static void near_free(zend_object *o)
{
    near *n = near_of(o);
    zval_ptr_dtor(&n->table);
    zval_ptr_dtor(&n->redis);
    zend_object_std_dtor(o);
}

static HashTable *near_gc(zend_object *o, zval **table, int *count)
{
    near *n = near_of(o);
    *table = &n->table;
    *count = 2;
    return zend_std_get_properties(o);
}

/* Seconds (float) to milliseconds, rounded up; -1 (ValueError thrown)
 * for a negative one (or 0 where positive), or one beyond any lifetime. */
static int64_t seconds_ms(double s, bool positive, uint32_t arg)
{
    double ms = ceil(s * 1000.0);
    if (!(positive ? s > 0 : s >= 0) || ms > (double)SHMKV_TTL_MAX) {
        zend_argument_value_error(arg, positive ? "must be more than 0 seconds" : "must be 0 seconds or more");
        return -1;
    }
    return (int64_t)ms;
}

/* Is redis a phpredis Redis object (whose methods fill() calls)? */
static bool is_phpredis(zval *redis)
{
    zend_string *name = zend_string_init("Redis", 5, 0);
    zend_class_entry *ce = zend_lookup_class_ex(name, NULL, ZEND_FETCH_CLASS_NO_AUTOLOAD);
    zend_string_release(name);
    return ce && instanceof_function(Z_OBJCE_P(redis), ce);
}

/* {{{ Shmkv\NearCache::__construct(Shmkv\Table $table, Redis $redis,
 *     float $maxTtl = 0, float $lease = 1.0, float $wait = 0.005) */
PHP_METHOD(Shmkv_NearCache, __construct)
{
    zval *table, *redis;
    double max_ttl = 0, lease = 1.0, wait = 0.005;
    ZEND_PARSE_PARAMETERS_START(2, 5)
        Z_PARAM_OBJECT_OF_CLASS(table, table_ce)
        Z_PARAM_OBJECT(redis)
        Z_PARAM_OPTIONAL
        Z_PARAM_DOUBLE(max_ttl)
        Z_PARAM_DOUBLE(lease)
        Z_PARAM_DOUBLE(wait)
    ZEND_PARSE_PARAMETERS_END();
    if (!is_phpredis(redis)) {
        zend_argument_type_error(2, "must be a phpredis Redis object, %s given", zend_zval_type_name(redis));
        RETURN_THROWS();
    }
    int64_t max_ttl_ms = seconds_ms(max_ttl, false, 3);
    int64_t lease_ms = max_ttl_ms < 0 ? -1 : seconds_ms(lease, true, 4);
    int64_t wait_ms = lease_ms < 0 ? -1 : seconds_ms(wait, false, 5);
    if (wait_ms < 0)
        RETURN_THROWS();
    near *n = near_of(Z_OBJ_P(ZEND_THIS));
    zval_ptr_dtor(&n->table);
    zval_ptr_dtor(&n->redis);
    ZVAL_COPY(&n->table, table);
    ZVAL_COPY(&n->redis, redis);
    n->max_ttl_ms = (uint64_t)max_ttl_ms;
    n->lease_ms = (uint64_t)lease_ms;
    n->wait_us = (uint64_t)llround(wait * 1e6);
}
/* }}} */

/* {{{ Shmkv\NearCache::get(string $key): mixed  (as Redis::get: the value,
 *     or false when Redis has no such key or answered an error) */
PHP_METHOD(Shmkv_NearCache, get)
{
    zend_string *key;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(key)
    ZEND_PARSE_PARAMETERS_END();
    near *n = near_of(Z_OBJ_P(ZEND_THIS));
    if (Z_TYPE(n->table) != IS_OBJECT) {
        zend_throw_error(NULL, "Shmkv\\NearCache is not constructed");
        RETURN_THROWS();
    }
    shmkv *db = shmkv_php_this_db(&n->table);
    zval zkey, named;
    if (!db)
        RETURN_THROWS();
    ZVAL_STR(&zkey, key); /* borrowed: the calls copy it */
    /* the key as Redis names it, with the client's OPT_PREFIX: the table's */
    if (!call(n, "_prefix", &named, 1, &zkey))
        RETURN_THROWS();
    if (Z_TYPE(named) == IS_STRING)
        near_get(n, db, &zkey, Z_STRVAL(named), Z_STRLEN(named), return_value);
    else
        zend_throw_error(NULL, "Redis::_prefix() did not return a string");
    zval_ptr_dtor(&named);
}
/* }}} */

/* {{{ Shmkv\NearCache::counts(): array  (how many gets came from the
 *     table, from Redis and were stored, from Redis without storing) */
PHP_METHOD(Shmkv_NearCache, counts)
{
    ZEND_PARSE_PARAMETERS_NONE();
    near *n = near_of(Z_OBJ_P(ZEND_THIS));
    array_init(return_value);
    add_assoc_long(return_value, "table", n->counts[FROM_TABLE]);
    add_assoc_long(return_value, "filled", n->counts[FILLED]);
    add_assoc_long(return_value, "redis", n->counts[FROM_REDIS]);
}
/* }}} */

ZEND_BEGIN_ARG_INFO_EX(arginfo_near_construct, 0, 0, 2)
    ZEND_ARG_OBJ_INFO(0, table, Shmkv\\Table, 0)
    ZEND_ARG_OBJ_INFO(0, redis, Redis, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, maxTtl, IS_DOUBLE, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, lease, IS_DOUBLE, 0, "1.0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, wait, IS_DOUBLE, 0, "0.005")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_near_get, 0, 1, IS_MIXED, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_near_counts, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

static const zend_function_entry near_methods[] = {
    PHP_ME(Shmkv_NearCache, __construct, arginfo_near_construct, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_NearCache, get, arginfo_near_get, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_NearCache, counts, arginfo_near_counts, ZEND_ACC_PUBLIC)
    PHP_FE_END
};

void shmkv_php_near_minit(zend_class_entry *table_class)
{
    table_ce = table_class;
    zend_class_entry ce;
    INIT_NS_CLASS_ENTRY(ce, "Shmkv", "NearCache", near_methods);
    near_ce = zend_register_internal_class(&ce);
    near_ce->create_object = near_create;
    near_ce->ce_flags |= ZEND_ACC_FINAL;

    memcpy(&near_handlers, zend_get_std_object_handlers(), sizeof near_handlers);
    near_handlers.offset = XtOffsetOf(near, std);
    near_handlers.free_obj = near_free;
    near_handlers.get_gc = near_gc;
    near_handlers.clone_obj = NULL;
}
