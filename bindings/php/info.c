/*
 * info.c - the APCu-compatible functions that report and clear:
 * clear_cache, cache_info, sma_info, key_info.
 *
 * Their arrays have APCu's keys and types, so admin pages and monitoring
 * that read them keep working.  shmkv keeps no per-key hit counts or
 * times (a read writes nothing to shared memory), so those fields are 0,
 * and a ttl is the seconds a pair has left (APCu gives the ttl it was
 * stored with).
 */
#include "php_shmkv.h"

#include <errno.h>

/* {{{ shmkv_clear_cache(): bool */
PHP_FUNCTION(shmkv_clear_cache)
{
    ZEND_PARSE_PARAMETERS_NONE();
    shmkv *db = shmkv_php_db();
    if (db)
        shmkv_php_ok(shmkv_clear(db));
    RETURN_TRUE; /* as APCu's, whatever happened */
}
/* }}} */

/* cache_info and sma_info: their ($limited = false) argument, the table
 * and its figures, or NULL (with a warning unless the arguments were
 * wrong, which throws). */
static shmkv *info_args(INTERNAL_FUNCTION_PARAMETERS, bool *limited, shmkv_stats *st)
{
    (void)return_value;
    *limited = false;
    if (zend_parse_parameters(ZEND_NUM_ARGS(), "|b", limited) == FAILURE)
        return NULL;
    shmkv *db = shmkv_php_db();
    if (!db || !shmkv_php_ok(shmkv_stat(db, st))) {
        php_error_docref(NULL, E_WARNING,
                         "No shmkv info available.  Perhaps shmkv is not enabled? Check shmkv.enabled in your ini file");
        return NULL;
    }
    return db;
}

/* Seconds left, rounded up (0: never expires), or -1 if the key is absent. */
static zend_long seconds_left(shmkv *db, const char *key, size_t klen)
{
    uint64_t ms;
    if (shmkv_ttl(db, key, klen, &ms) != 0)
        return -1;
    return (zend_long)((ms + 999) / 1000);
}

/* Fields APCu reports and shmkv does not keep, as 0, in APCu's order. */
static void add_zeros(zval *arr, const char *const *names)
{
    for (; *names; names++)
        add_assoc_long(arr, *names, 0);
}

struct list_ctx {
    shmkv *db;
    zval *list;
};

static int list_pair(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val;
    struct list_ctx *c = ctx;
    zend_long ttl = seconds_left(c->db, key, klen);
    if (ttl < 0)
        return 0; /* expired or deleted since the copy */
    zval link;
    array_init(&link);
    add_assoc_stringl(&link, "info", key, klen);
    add_assoc_long(&link, "ttl", ttl);
    add_assoc_double(&link, "num_hits", 0.0);
    static const char *const times[] = {"mtime", "creation_time", "deletion_time", "access_time",
                                        "ref_count", NULL};
    add_zeros(&link, times);
    add_assoc_long(&link, "mem_size", (zend_long)(klen + vlen));
    add_next_index_zval(c->list, &link);
    return 0;
}

/* {{{ shmkv_cache_info(bool $limited = false): array|false */
PHP_FUNCTION(shmkv_cache_info)
{
    bool limited;
    shmkv_stats st;
    shmkv *db = info_args(INTERNAL_FUNCTION_PARAM_PASSTHRU, &limited, &st);
    if (!db)
        RETURN_FALSE;
    array_init(return_value);
    add_assoc_long(return_value, "num_slots", (zend_long)(st.buckets * 7));
    add_assoc_long(return_value, "ttl", 0);
    add_assoc_double(return_value, "num_hits", (double)st.hits);
    add_assoc_double(return_value, "num_misses", (double)st.misses);
    add_assoc_double(return_value, "num_inserts", (double)st.puts);
    add_assoc_long(return_value, "num_entries", (zend_long)st.keys);
    add_assoc_long(return_value, "expunges", (zend_long)st.evictions);
    add_assoc_long(return_value, "start_time", 0);
    add_assoc_double(return_value, "mem_size", (double)st.live_bytes);
    add_assoc_string(return_value, "memory_type", "mmap");
    if (limited)
        return;
    zval list, empty;
    array_init(&list);
    struct list_ctx c = {db, &list};
    int rc = shmkv_foreach(db, list_pair, &c);
    add_assoc_zval(return_value, "cache_list", &list);
    array_init(&empty);
    add_assoc_zval(return_value, "deleted_list", &empty); /* nothing waits to be freed */
    array_init(&empty);
    add_assoc_zval(return_value, "slot_distribution", &empty);
    shmkv_php_ok(rc);
}
/* }}} */

/* {{{ shmkv_sma_info(bool $limited = false): array|false
 * One segment, the table's max_bytes; avail_mem is what it has not used
 * plus its free runs.  There is no list of free blocks (the table
 * allocates in runs), so block_lists holds one empty list. */
PHP_FUNCTION(shmkv_sma_info)
{
    bool limited;
    shmkv_stats st;
    if (!info_args(INTERNAL_FUNCTION_PARAM_PASSTHRU, &limited, &st))
        RETURN_FALSE;
    array_init(return_value);
    add_assoc_long(return_value, "num_seg", 1);
    add_assoc_double(return_value, "seg_size", (double)st.max_bytes);
    uint64_t unused = st.max_bytes > st.used_bytes ? st.max_bytes - st.used_bytes : 0;
    add_assoc_double(return_value, "avail_mem", (double)(unused + st.free_bytes));
    if (limited)
        return;
    zval lists, none;
    array_init(&lists);
    array_init(&none);
    add_next_index_zval(&lists, &none);
    add_assoc_zval(return_value, "block_lists", &lists);
}
/* }}} */

/* {{{ shmkv_key_info(string $key): ?array */
PHP_FUNCTION(shmkv_key_info)
{
    zend_string *key;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(key)
    ZEND_PARSE_PARAMETERS_END();

    shmkv *db = shmkv_php_db();
    zend_long ttl = db ? seconds_left(db, ZSTR_VAL(key), ZSTR_LEN(key)) : -1;
    if (ttl < 0)
        RETURN_NULL();
    array_init(return_value);
    static const char *const times[] = {"hits", "access_time", "mtime", "creation_time", "deletion_time",
                                        NULL};
    add_zeros(return_value, times);
    add_assoc_long(return_value, "ttl", ttl);
    add_assoc_long(return_value, "refs", 0);
}
/* }}} */
