/*
 * php_shmkv.h - what the files of the shmkv PHP extension share.
 *
 * module.c    the module: ini settings, the process's table, function table
 * value.c     how PHP values are stored as bytes, and read back
 * cache.c     the APCu-compatible functions that read and write
 * info.c      the APCu-compatible functions that report and clear
 * iterator.c  ShmkvIterator (APCUIterator's twin) on the scan cursor
 * table.c     the object API: Shmkv\Table and Shmkv\Exception
 * lists.c     Shmkv\Table's methods on lists and queues
 * near.c      Shmkv\NearCache, the Redis near cache's reader (and
 *             agent_record.c, the agent's record parser)
 */
#ifndef PHP_SHMKV_H
#define PHP_SHMKV_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "php.h"
#include "zend_smart_str.h"

#include <shmkv.h>

#define PHP_SHMKV_VERSION SHMKV_VERSION_STRING

extern zend_module_entry shmkv_module_entry;
#define phpext_shmkv_ptr &shmkv_module_entry

ZEND_BEGIN_MODULE_GLOBALS(shmkv)
    bool enabled;          /* shmkv.enabled */
    bool cache;            /* shmkv.cache: create the table in cache mode */
    char *table;           /* shmkv.table: a name in /dev/shm, or a path */
    zend_long max_bytes;   /* shmkv.max_bytes */
    zend_long mode;        /* shmkv.mode: permission bits of a new table */
    zend_long entry_lease_ms; /* shmkv.entry_lease_ms: how long shmkv_entry's
                            * generator may hold the key's lease */
    bool warned;           /* this request already warned that the table
                            * could not be opened */
ZEND_END_MODULE_GLOBALS(shmkv)

ZEND_EXTERN_MODULE_GLOBALS(shmkv)
#define SHMKV_G(v) ZEND_MODULE_GLOBALS_ACCESSOR(shmkv, v)

/* ---- module.c ---- */

/* The table the ini settings name, opened once per process (in MINIT for
 * servers, so forked workers inherit it; else on first use), or NULL
 * with a warning (once per request) when it cannot be opened, or
 * silently when shmkv.enabled is off. */
shmkv *shmkv_php_db(void);

/* True if rc is 0.  Otherwise false, and a warning for the failures APCu
 * has none for (a damaged table, a lock timeout, a full store, a value
 * that does not unserialise): not for a miss, a condition not met, a bad
 * key or a value too big. */
bool shmkv_php_ok(int rc);

/* The zend_object std of a new object of class ce (the last member of
 * the extension's struct for it), ready for use with handlers h. */
zend_object *shmkv_php_object_init(zend_object *std, zend_class_entry *ce, const zend_object_handlers *h);

/* ---- value.c ---- */

/* Stored values: see README.md, "Values".  The first byte of a value
 * below SHMKV_TAG_LIMIT is a tag saying what the rest is. */
#define SHMKV_TAG_STRING     0x00 /* a PHP string (one that would be misread raw) */
#define SHMKV_TAG_SERIALIZED 0x01 /* PHP serialize() output */
#define SHMKV_TAG_LIMIT      0x08 /* 0x02 to 0x07 are reserved */

/* A PHP value's stored bytes: *p and *n, pointing into val itself (a
 * string stored as it is), into buf (an integer), or into *owned (any
 * other value; the caller releases it).  False, with a warning or an
 * exception, if the value cannot be stored (a resource, an object that
 * refuses serialisation). */
typedef struct shmkv_php_bytes {
    const char *p;
    size_t n;
    zend_string *owned;
    char buf[24];
} shmkv_php_bytes;
bool shmkv_php_encode(zval *val, shmkv_php_bytes *out);
void shmkv_php_bytes_free(shmkv_php_bytes *b);

/* Stored bytes into a PHP value; false (out undefined) if serialised
 * bytes do not unserialise (shmkv_php_ok(-EILSEQ) warns of it). */
bool shmkv_php_decode(const char *p, size_t n, zval *out);

/* The stored integer, if the bytes are one (canonical decimal text). */
bool shmkv_php_parse_long(const char *p, size_t n, zend_long *out);

/* Look up key and decode its value into out.  Returns 0, a negative
 * errno from shmkv_get (-ENOENT for a miss), or -EILSEQ when the bytes
 * do not decode. */
int shmkv_php_fetch(shmkv *db, const char *key, size_t klen, zval *out);

/* Seconds (APCu's ttl) to milliseconds, capped at SHMKV_TTL_MAX;
 * ttl <= 0 gives 0 (callers handle a negative ttl themselves). */
uint64_t shmkv_php_ttl_ms(zend_long ttl);

/* ---- iterator.c ---- */

extern zend_class_entry *shmkv_iterator_ce;
void shmkv_php_iterator_minit(int module_number);
/* Delete every key the iterator (a ShmkvIterator) yields, from its start. */
bool shmkv_php_iterator_delete(zval *iterator);
/* A new iterator on a Shmkv\Table's handle (owner keeps it alive),
 * yielding key => value. */
void shmkv_php_iterator_for_table(zval *out, zend_object *owner, shmkv *db);

/* ---- table.c ---- */

extern zend_class_entry *shmkv_exception_ce;
void shmkv_php_table_minit(void);
/* Throw Shmkv\Exception for a library error rc (negative errno):
 * "what: message", code -rc. */
void shmkv_php_throw(int rc, const char *what);
/* A Shmkv\Table method's open handle, or NULL with an Error thrown. */
shmkv *shmkv_php_this_db(zval *this_ptr);
#define THIS_DB(db)                            \
    shmkv *db = shmkv_php_this_db(ZEND_THIS); \
    if (!db)                                   \
        RETURN_THROWS()
/* In a Shmkv\Table method: throw Shmkv\Exception ("Class::method():
 * message") for rc unless it is 0 or miss, the miss the method reports by
 * its result; true if the method goes on normally. */
bool shmkv_php_check(int rc, int miss);

/* ---- lists.c ---- */

/* Add the methods on lists, and HEAD and TAIL, to Shmkv\Table. */
void shmkv_php_lists_minit(zend_class_entry *table_ce);

/* ---- near.c ---- */

/* Register Shmkv\NearCache, whose constructor takes a Shmkv\Table. */
void shmkv_php_near_minit(zend_class_entry *table_ce);

#if defined(ZTS) && defined(COMPILE_DL_SHMKV)
ZEND_TSRMLS_CACHE_EXTERN()
#endif

#endif /* PHP_SHMKV_H */
