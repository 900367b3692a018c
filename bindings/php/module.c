/*
 * module.c - the shmkv extension's module: its ini settings, the table
 * they name (one handle per process), and the table of functions with
 * APCu's signatures.
 */
#include "php_shmkv.h"

#include "SAPI.h"
#include "ext/standard/info.h"
#include "php_ini.h"

#include <errno.h>
#include <inttypes.h>

ZEND_DECLARE_MODULE_GLOBALS(shmkv)

/* The process's handle on the ini table.  A true global, not a per-request
 * one: a handle serves every thread, and one opened before fork() keeps
 * working in the children, which is how FPM's workers get theirs. */
static shmkv *process_db;
/* The shmkv.table it was opened for (see RINIT). */
static char *process_table;

static PHP_INI_MH(OnUpdateMaxBytes)
{
    (void)mh_arg1, (void)mh_arg2, (void)mh_arg3, (void)stage;
    zend_long v = zend_ini_parse_quantity_warn(new_value, entry->name);
    if (v < (zend_long)SHMKV_MIN_BYTES) {
        php_error_docref(NULL, E_WARNING, "shmkv.max_bytes must be at least 256K");
        return FAILURE;
    }
    SHMKV_G(max_bytes) = v;
    return SUCCESS;
}

static PHP_INI_MH(OnUpdateMode)
{
    (void)mh_arg1, (void)mh_arg2, (void)mh_arg3, (void)stage, (void)entry;
    char *end;
    zend_long v = ZEND_STRTOL(ZSTR_VAL(new_value), &end, 8);
    if (*end || end == ZSTR_VAL(new_value) || v <= 0 || v > 0777) {
        php_error_docref(NULL, E_WARNING, "shmkv.mode must be octal permission bits, such as 0660");
        return FAILURE;
    }
    SHMKV_G(mode) = v;
    return SUCCESS;
}

static PHP_INI_MH(OnUpdateLeaseMs)
{
    (void)mh_arg1, (void)mh_arg2, (void)mh_arg3, (void)stage, (void)entry;
    char *end;
    zend_long v = ZEND_STRTOL(ZSTR_VAL(new_value), &end, 10);
    if (*end || v <= 0 || (uint64_t)v > SHMKV_TTL_MAX) {
        php_error_docref(NULL, E_WARNING, "shmkv.entry_lease_ms must be a positive number of milliseconds");
        return FAILURE;
    }
    SHMKV_G(entry_lease_ms) = v;
    return SUCCESS;
}

/* The table's settings are system settings: the table is the process's,
 * chosen before the first request, as APCu's are. */
PHP_INI_BEGIN()
STD_PHP_INI_BOOLEAN("shmkv.enabled", "1", PHP_INI_SYSTEM, OnUpdateBool, enabled,
                    zend_shmkv_globals, shmkv_globals)
STD_PHP_INI_ENTRY("shmkv.table", "shmkv-php", PHP_INI_SYSTEM, OnUpdateStringUnempty, table,
                  zend_shmkv_globals, shmkv_globals)
STD_PHP_INI_BOOLEAN("shmkv.cache", "1", PHP_INI_SYSTEM, OnUpdateBool, cache,
                    zend_shmkv_globals, shmkv_globals)
PHP_INI_ENTRY("shmkv.max_bytes", "64M", PHP_INI_SYSTEM, OnUpdateMaxBytes)
PHP_INI_ENTRY("shmkv.mode", "0600", PHP_INI_SYSTEM, OnUpdateMode)
PHP_INI_ENTRY("shmkv.entry_lease_ms", "10000", PHP_INI_ALL, OnUpdateLeaseMs)
PHP_INI_END()

/* Open the table into process_db.  Threads of a ZTS build may race here:
 * the first handle published wins, the others are closed. */
static int open_table(void)
{
    shmkv_options o = {
        .flags = SHMKV_CREATE | SHMKV_STATS | (SHMKV_G(cache) ? SHMKV_CACHE : 0),
        .mode = (unsigned)SHMKV_G(mode),
        .max_bytes = (uint64_t)SHMKV_G(max_bytes),
    };
    shmkv *db, *none = NULL;
    int rc = shmkv_open(SHMKV_G(table), &o, &db);
    if (rc == 0 && !__atomic_compare_exchange_n(&process_db, &none, db, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        shmkv_close(db);
    else if (rc == 0)
        process_table = pestrdup(SHMKV_G(table), 1);
    return rc;
}

static void close_table(void)
{
    shmkv_close(process_db); /* the table and its pairs stay */
    process_db = NULL;
    if (process_table)
        pefree(process_table, 1);
    process_table = NULL;
}

static shmkv *table_for(bool warn)
{
    if (!SHMKV_G(enabled)) /* also a pool that turned it off (php_admin_value) */
        return NULL;
    shmkv *db = __atomic_load_n(&process_db, __ATOMIC_ACQUIRE);
    if (db)
        return db;
    int rc = open_table();
    if (rc && warn && !SHMKV_G(warned)) {
        SHMKV_G(warned) = true;
        php_error_docref(NULL, E_WARNING, "Cannot open the shmkv table \"%s\": %s",
                         SHMKV_G(table), shmkv_strerror(rc));
    }
    return __atomic_load_n(&process_db, __ATOMIC_ACQUIRE);
}

shmkv *shmkv_php_db(void)
{
    return table_for(true);
}

bool shmkv_php_ok(int rc)
{
    switch (rc) {
    case 0:
        return true;
    case -ENOENT: case -EEXIST: case -ECANCELED: /* a condition not met */
    case -EINVAL: case -E2BIG:                   /* an empty or huge key, a huge value */
    case -EDOM: case -ERANGE:                    /* not an integer, or it would overflow */
        return false;
    case -EILSEQ:
        if (!EG(exception)) /* else __wakeup or __unserialize threw, and said why */
            php_error_docref(NULL, E_WARNING, "A stored value does not unserialize");
        return false;
    default:
        php_error_docref(NULL, E_WARNING, "%s", shmkv_strerror(rc));
        return false;
    }
}

zend_object *shmkv_php_object_init(zend_object *std, zend_class_entry *ce, const zend_object_handlers *h)
{
    zend_object_std_init(std, ce);
    object_properties_init(std, ce);
    std->handlers = h;
    return std;
}

/* {{{ shmkv_enabled(): bool: whether the table is usable here */
PHP_FUNCTION(shmkv_enabled)
{
    ZEND_PARSE_PARAMETERS_NONE();
    RETURN_BOOL(table_for(false) != NULL);
}
/* }}} */

static void globals_ctor(zend_shmkv_globals *g)
{
    memset(g, 0, sizeof *g);
}

/* A server (FPM, Apache) opens the table in its parent, before it forks
 * the workers: they inherit the mapping, whatever user a pool runs as,
 * and no worker pays for an open.  The CLI opens it on first use, so a
 * script that never touches the cache never creates it. */
static bool opens_early(void)
{
    return strcmp(sapi_module.name, "cli") != 0 && strcmp(sapi_module.name, "phpdbg") != 0;
}

static PHP_MINIT_FUNCTION(shmkv)
{
    (void)type;
    ZEND_INIT_MODULE_GLOBALS(shmkv, globals_ctor, NULL);
    REGISTER_INI_ENTRIES();
    shmkv_php_iterator_minit(module_number);
    shmkv_php_table_minit();
    if (SHMKV_G(enabled) && opens_early()) {
        int rc = open_table();
        if (rc)
            php_error_docref(NULL, E_WARNING, "Cannot open the shmkv table \"%s\": %s",
                             SHMKV_G(table), shmkv_strerror(rc));
    }
    return SUCCESS;
}

static PHP_MSHUTDOWN_FUNCTION(shmkv)
{
    (void)type;
    close_table();
    UNREGISTER_INI_ENTRIES();
    return SUCCESS;
}

static PHP_RINIT_FUNCTION(shmkv)
{
    (void)type, (void)module_number;
#if defined(ZTS) && defined(COMPILE_DL_SHMKV)
    ZEND_TSRMLS_CACHE_UPDATE();
#endif
    SHMKV_G(warned) = false;
    /* An FPM pool may name another table (php_admin_value) than the one
     * its master opened before forking: then this worker opens its own. */
    if (process_db && strcmp(process_table, SHMKV_G(table)) != 0)
        close_table();
    return SUCCESS;
}

static PHP_MINFO_FUNCTION(shmkv)
{
    (void)zend_module;
    shmkv_stats st;
    shmkv *db = process_db; /* php -i must not create a table */
    php_info_print_table_start();
    php_info_print_table_row(2, "shmkv support", db ? "enabled" : SHMKV_G(enabled) ? "table not open" : "disabled");
    php_info_print_table_row(2, "Version", PHP_SHMKV_VERSION);
    if (db && shmkv_stat(db, &st) == 0) {
        char keys[32];
        snprintf(keys, sizeof keys, "%" PRIu64, st.keys);
        php_info_print_table_row(2, "Mode", st.cache ? "cache" : "store");
        php_info_print_table_row(2, "Keys", keys);
    }
    php_info_print_table_end();
    DISPLAY_INI_ENTRIES();
}

/* ---- arginfo: APCu's signatures, apcu_ renamed shmkv_ ---- */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmkv_clear_cache, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

#define arginfo_shmkv_enabled arginfo_shmkv_clear_cache

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmkv_cache_info, 0, 0, MAY_BE_ARRAY | MAY_BE_FALSE)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, limited, _IS_BOOL, 0, "false")
ZEND_END_ARG_INFO()

#define arginfo_shmkv_sma_info arginfo_shmkv_cache_info

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmkv_key_info, 0, 1, IS_ARRAY, 1)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmkv_store, 0, 1, MAY_BE_ARRAY | MAY_BE_BOOL)
    ZEND_ARG_INFO(0, key)
    ZEND_ARG_TYPE_INFO(0, value, IS_MIXED, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_LONG, 0, "0")
ZEND_END_ARG_INFO()

#define arginfo_shmkv_add arginfo_shmkv_store

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmkv_inc, 0, 1, MAY_BE_LONG | MAY_BE_FALSE)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, step, IS_LONG, 0, "1")
    ZEND_ARG_INFO_WITH_DEFAULT_VALUE(1, success, "null")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_LONG, 0, "0")
ZEND_END_ARG_INFO()

#define arginfo_shmkv_dec arginfo_shmkv_inc

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmkv_cas, 0, 3, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, old, IS_LONG, 0)
    ZEND_ARG_TYPE_INFO(0, new, IS_LONG, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmkv_fetch, 0, 1, IS_MIXED, 0)
    ZEND_ARG_INFO(0, key)
    ZEND_ARG_INFO_WITH_DEFAULT_VALUE(1, success, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_shmkv_exists, 0, 1, MAY_BE_ARRAY | MAY_BE_BOOL)
    ZEND_ARG_INFO(0, key)
ZEND_END_ARG_INFO()

#define arginfo_shmkv_delete arginfo_shmkv_exists

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_shmkv_entry, 0, 2, IS_MIXED, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_LONG, 0, "0")
ZEND_END_ARG_INFO()

/* cache.c */
PHP_FUNCTION(shmkv_fetch);
PHP_FUNCTION(shmkv_store);
PHP_FUNCTION(shmkv_add);
PHP_FUNCTION(shmkv_inc);
PHP_FUNCTION(shmkv_dec);
PHP_FUNCTION(shmkv_cas);
PHP_FUNCTION(shmkv_exists);
PHP_FUNCTION(shmkv_delete);
PHP_FUNCTION(shmkv_entry);
/* info.c */
PHP_FUNCTION(shmkv_clear_cache);
PHP_FUNCTION(shmkv_cache_info);
PHP_FUNCTION(shmkv_sma_info);
PHP_FUNCTION(shmkv_key_info);

static const zend_function_entry shmkv_functions[] = {
    PHP_FE(shmkv_clear_cache, arginfo_shmkv_clear_cache)
    PHP_FE(shmkv_cache_info, arginfo_shmkv_cache_info)
    PHP_FE(shmkv_key_info, arginfo_shmkv_key_info)
    PHP_FE(shmkv_sma_info, arginfo_shmkv_sma_info)
    PHP_FE(shmkv_enabled, arginfo_shmkv_enabled)
    PHP_FE(shmkv_store, arginfo_shmkv_store)
    PHP_FE(shmkv_add, arginfo_shmkv_add)
    PHP_FE(shmkv_inc, arginfo_shmkv_inc)
    PHP_FE(shmkv_dec, arginfo_shmkv_dec)
    PHP_FE(shmkv_cas, arginfo_shmkv_cas)
    PHP_FE(shmkv_fetch, arginfo_shmkv_fetch)
    PHP_FE(shmkv_exists, arginfo_shmkv_exists)
    PHP_FE(shmkv_delete, arginfo_shmkv_delete)
    PHP_FE(shmkv_entry, arginfo_shmkv_entry)
    PHP_FE_END
};

static const zend_module_dep shmkv_deps[] = {
    ZEND_MOD_REQUIRED("pcre")
    ZEND_MOD_REQUIRED("spl")
    ZEND_MOD_REQUIRED("standard")
    ZEND_MOD_END
};

zend_module_entry shmkv_module_entry = {
    STANDARD_MODULE_HEADER_EX, NULL,
    shmkv_deps,
    "shmkv",
    shmkv_functions,
    PHP_MINIT(shmkv),
    PHP_MSHUTDOWN(shmkv),
    PHP_RINIT(shmkv),
    NULL,
    PHP_MINFO(shmkv),
    PHP_SHMKV_VERSION,
    STANDARD_MODULE_PROPERTIES
};

#ifdef COMPILE_DL_SHMKV
#ifdef ZTS
ZEND_TSRMLS_CACHE_DEFINE()
#endif
ZEND_GET_MODULE(shmkv)
#endif
