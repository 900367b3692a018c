/*
 * iterator.c - ShmkvIterator, APCUIterator's twin, on the scan cursor.
 *
 * new ShmkvIterator($search = null, $format = SHMKV_ITER_ALL,
 *                   $chunk_size = 0, $list = SHMKV_LIST_ACTIVE,
 *                   ?string $prefix = null)
 *
 * $search is a regular expression or an array of keys, as for APCu;
 * $prefix (shmkv's own) keeps keys that start with it, without a regex.
 * Each refill asks shmkv_scan for whole shards until it holds chunk_size
 * matching pairs, so a foreach over a large cache holds one chunk at a
 * time, and every pair present from the start to the end of the
 * iteration is visited exactly once, whatever other processes write.
 *
 * The same object, made by Shmkv\Table::getIterator, yields key => value
 * for a foreach over that table ("plain").
 */
#include "php_shmkv.h"

#include "ext/pcre/php_pcre.h"
#include "zend_exceptions.h"
#include "zend_interfaces.h"

#include <errno.h>

zend_class_entry *shmkv_iterator_ce;
static zend_object_handlers iterator_handlers;

/* APCu's format bits and lists, under shmkv's names (the polyfill
 * defines APC_ITER_* as these when APCu is not loaded). */
enum {
    ITER_TYPE = 1 << 0, ITER_KEY = 1 << 1, ITER_VALUE = 1 << 2, ITER_NUM_HITS = 1 << 3,
    ITER_MTIME = 1 << 4, ITER_CTIME = 1 << 5, ITER_DTIME = 1 << 6, ITER_ATIME = 1 << 7,
    ITER_REFCOUNT = 1 << 8, ITER_MEM_SIZE = 1 << 9, ITER_TTL = 1 << 10,
};
#define ITER_ALL 0xffffffffL
#define LIST_ACTIVE 1
#define LIST_DELETED 2
#define DEFAULT_CHUNK 100

typedef struct item {
    zend_string *key;
    zend_string *val; /* NULL unless the format shows values */
    size_t vlen;
} item;

typedef struct filter {
    zend_string *prefix;
    pcre_cache_entry *pce;
    pcre2_match_data *md;
    HashTable *keys;  /* an array search: its keys, as a set */
} filter;

typedef struct iter {
    shmkv *db;
    zend_object *owner;     /* the Shmkv\Table whose db this is, kept alive */
    bool initialized, plain, empty_list;
    zend_long format;
    size_t chunk;
    filter f;
    uint64_t cursor;        /* where the next scan call resumes */
    bool done;              /* the scan has come to the end */
    item *items;            /* the current chunk */
    size_t n, cap, pos;
    zend_long key_idx;
    bool totalled;
    zend_long total_size, total_count;
    zend_object std;
} iter;

static iter *iter_of(zend_object *o)
{
    return (iter *)((char *)o - XtOffsetOf(iter, std));
}
#define THIS_ITER() iter_of(Z_OBJ_P(ZEND_THIS))

static bool matches(const filter *f, const char *key, size_t klen)
{
    if (f->prefix && (klen < ZSTR_LEN(f->prefix) || memcmp(key, ZSTR_VAL(f->prefix), ZSTR_LEN(f->prefix))))
        return false;
    if (f->pce && pcre2_match(php_pcre_pce_re(f->pce), (PCRE2_SPTR)key, klen, 0, 0, f->md, php_pcre_mctx()) < 0)
        return false;
    return !f->keys || zend_symtable_str_exists(f->keys, key, klen);
}

static void clear_items(iter *it)
{
    for (size_t i = 0; i < it->n; i++) {
        zend_string_release(it->items[i].key);
        if (it->items[i].val)
            zend_string_release(it->items[i].val);
    }
    it->n = it->pos = 0;
}

static bool wants_value(const iter *it)
{
    return it->plain || (it->format & ITER_VALUE);
}

static int collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    iter *it = ctx;
    if (!matches(&it->f, key, klen))
        return 0;
    if (it->n == it->cap) {
        it->cap = it->cap ? 2 * it->cap : 16;
        it->items = erealloc(it->items, it->cap * sizeof *it->items);
    }
    item *x = &it->items[it->n++];
    x->key = zend_string_init(key, klen, 0);
    x->val = wants_value(it) ? zend_string_init(val, vlen, 0) : NULL;
    x->vlen = vlen;
    return 0;
}

/* The next chunk: whole shards until chunk_size pairs or the end. */
static void refill(iter *it)
{
    clear_items(it);
    while (!it->done && it->n < it->chunk && !it->empty_list) {
        int rc = shmkv_scan(it->db, &it->cursor, collect, it);
        if (rc || it->cursor == 0)
            it->done = true;
        if (rc)
            shmkv_php_ok(rc);
    }
}

static void restart(iter *it)
{
    clear_items(it);
    it->cursor = 0;
    it->done = false;
    it->key_idx = 0;
}

/* ---- the object ---- */

static zend_object *iterator_create(zend_class_entry *ce)
{
    iter *it = zend_object_alloc(sizeof(iter), ce);
    return shmkv_php_object_init(&it->std, ce, &iterator_handlers);
}

static void iterator_free(zend_object *o)
{
    iter *it = iter_of(o);
    clear_items(it);
    if (it->items)
        efree(it->items);
    if (it->f.prefix)
        zend_string_release(it->f.prefix);
    if (it->f.md)
        pcre2_match_data_free(it->f.md);
    if (it->f.pce)
        php_pcre_pce_decref(it->f.pce);
    if (it->f.keys)
        zend_array_destroy(it->f.keys);
    if (it->owner)
        OBJ_RELEASE(it->owner);
    zend_object_std_dtor(o);
}

static bool set_search(iter *it, zval *search)
{
    if (search && Z_TYPE_P(search) == IS_STRING && Z_STRLEN_P(search)) {
        it->f.pce = pcre_get_compiled_regex_cache(Z_STR_P(search));
        if (!it->f.pce) {
            zend_throw_error(NULL, "Could not compile regular expression: %s", Z_STRVAL_P(search));
            return false;
        }
        php_pcre_pce_incref(it->f.pce);
        it->f.md = pcre2_match_data_create_from_pattern(php_pcre_pce_re(it->f.pce), php_pcre_gctx());
    } else if (search && Z_TYPE_P(search) == IS_ARRAY) {
        zval *k, yes;
        ZVAL_TRUE(&yes);
        it->f.keys = zend_new_array(zend_hash_num_elements(Z_ARRVAL_P(search)));
        ZEND_HASH_FOREACH_VAL(Z_ARRVAL_P(search), k) {
            ZVAL_DEREF(k);
            if (Z_TYPE_P(k) == IS_STRING)
                zend_symtable_update(it->f.keys, Z_STR_P(k), &yes);
            else if (Z_TYPE_P(k) == IS_LONG)
                zend_hash_index_update(it->f.keys, (zend_ulong)Z_LVAL_P(k), &yes);
        } ZEND_HASH_FOREACH_END();
    }
    return true;
}

/* {{{ ShmkvIterator::__construct(array|string|null $search = null, int $format = SHMKV_ITER_ALL,
 *                                int $chunk_size = 0, int $list = SHMKV_LIST_ACTIVE, ?string $prefix = null) */
PHP_METHOD(ShmkvIterator, __construct)
{
    zval *search = NULL;
    zend_long format = ITER_ALL, chunk = 0, list = LIST_ACTIVE;
    zend_string *prefix = NULL;
    ZEND_PARSE_PARAMETERS_START(0, 5)
        Z_PARAM_OPTIONAL
        Z_PARAM_ZVAL_OR_NULL(search)
        Z_PARAM_LONG(format)
        Z_PARAM_LONG(chunk)
        Z_PARAM_LONG(list)
        Z_PARAM_STR_OR_NULL(prefix)
    ZEND_PARSE_PARAMETERS_END();

    iter *it = THIS_ITER();
    if (!(it->db = shmkv_php_db())) {
        zend_throw_error(NULL, "shmkv must be enabled to use ShmkvIterator");
        RETURN_THROWS();
    }
    if (chunk < 0) {
        zend_argument_value_error(3, "must be 0 or greater");
        RETURN_THROWS();
    }
    if (list != LIST_ACTIVE && list != LIST_DELETED) {
        php_error_docref(NULL, E_WARNING, "ShmkvIterator invalid list type");
        return;
    }
    if (!set_search(it, search))
        RETURN_THROWS();
    if (prefix && ZSTR_LEN(prefix))
        it->f.prefix = zend_string_copy(prefix);
    it->format = format;
    it->chunk = chunk ? (size_t)chunk : DEFAULT_CHUNK;
    it->empty_list = list == LIST_DELETED; /* nothing waits to be freed in shmkv */
    it->initialized = true;
}
/* }}} */

void shmkv_php_iterator_for_table(zval *out, zend_object *owner, shmkv *db)
{
    object_init_ex(out, shmkv_iterator_ce);
    iter *it = iter_of(Z_OBJ_P(out));
    it->db = db;
    it->owner = owner;
    GC_ADDREF(owner);
    it->plain = true;
    it->format = ITER_KEY | ITER_VALUE;
    it->chunk = DEFAULT_CHUNK;
    it->initialized = true;
}

#define ENSURE_INITIALIZED(it)                                                     \
    do {                                                                           \
        if (!(it)->initialized) {                                                  \
            zend_throw_error(NULL, "Trying to use uninitialized ShmkvIterator"); \
            RETURN_THROWS();                                                       \
        }                                                                          \
    } while (0)

/* The current item, refilling first when the chunk is used up; NULL at
 * the end. */
static item *current_item(iter *it)
{
    if (it->pos == it->n)
        refill(it);
    return it->pos < it->n ? &it->items[it->pos] : NULL;
}

/* {{{ ShmkvIterator::rewind(): void */
PHP_METHOD(ShmkvIterator, rewind)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter *it = THIS_ITER();
    ENSURE_INITIALIZED(it);
    restart(it);
    refill(it);
}
/* }}} */

/* {{{ ShmkvIterator::valid(): bool */
PHP_METHOD(ShmkvIterator, valid)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter *it = THIS_ITER();
    ENSURE_INITIALIZED(it);
    RETURN_BOOL(current_item(it) != NULL);
}
/* }}} */

/* {{{ ShmkvIterator::next(): void */
PHP_METHOD(ShmkvIterator, next)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter *it = THIS_ITER();
    ENSURE_INITIALIZED(it);
    if (it->pos < it->n) {
        it->pos++;
        it->key_idx++;
    }
}
/* }}} */

/* {{{ ShmkvIterator::key(): string|int */
PHP_METHOD(ShmkvIterator, key)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter *it = THIS_ITER();
    ENSURE_INITIALIZED(it);
    item *x = current_item(it);
    if (!x) {
        zend_throw_error(NULL, "Cannot call key() on invalid iterator");
        RETURN_THROWS();
    }
    RETURN_STR_COPY(x->key);
}
/* }}} */

static void add_if(zval *arr, zend_long format, zend_long bit, const char *name, zend_long v)
{
    if (format & bit)
        add_assoc_long(arr, name, v);
}

/* APCu's array for one pair: the fields the format asks for, in APCu's
 * order; shmkv keeps no per-key hits or times (0), and ttl is the
 * seconds the pair has left. */
static void describe(iter *it, item *x, zval *out)
{
    zend_long fmt = it->format;
    array_init(out);
    if (fmt & ITER_TYPE)
        add_assoc_string(out, "type", "user");
    if (fmt & ITER_KEY)
        add_assoc_str(out, "key", zend_string_copy(x->key));
    if (fmt & ITER_VALUE) {
        zval v;
        if (!shmkv_php_decode(ZSTR_VAL(x->val), ZSTR_LEN(x->val), &v)) {
            shmkv_php_ok(-EILSEQ);
            ZVAL_FALSE(&v);
        }
        add_assoc_zval(out, "value", &v);
    }
    add_if(out, fmt, ITER_NUM_HITS, "num_hits", 0);
    add_if(out, fmt, ITER_MTIME, "mtime", 0);
    add_if(out, fmt, ITER_CTIME, "creation_time", 0);
    add_if(out, fmt, ITER_DTIME, "deletion_time", 0);
    add_if(out, fmt, ITER_ATIME, "access_time", 0);
    add_if(out, fmt, ITER_REFCOUNT, "ref_count", 0);
    add_if(out, fmt, ITER_MEM_SIZE, "mem_size", (zend_long)(ZSTR_LEN(x->key) + x->vlen));
    if (fmt & ITER_TTL) {
        uint64_t ms = 0;
        shmkv_ttl(it->db, ZSTR_VAL(x->key), ZSTR_LEN(x->key), &ms);
        add_assoc_long(out, "ttl", (zend_long)((ms + 999) / 1000));
    }
}

/* {{{ ShmkvIterator::current(): mixed */
PHP_METHOD(ShmkvIterator, current)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter *it = THIS_ITER();
    ENSURE_INITIALIZED(it);
    item *x = current_item(it);
    if (!x) {
        zend_throw_error(NULL, "Cannot call current() on invalid iterator");
        RETURN_THROWS();
    }
    if (!it->plain)
        describe(it, x, return_value);
    else if (!shmkv_php_decode(ZSTR_VAL(x->val), ZSTR_LEN(x->val), return_value)) {
        shmkv_php_ok(-EILSEQ);
        RETURN_FALSE;
    }
}
/* }}} */

struct totals {
    const filter *f;
    zend_long size, count;
};

static int add_to_totals(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val;
    struct totals *t = ctx;
    if (matches(t->f, key, klen)) {
        t->size += (zend_long)(klen + vlen);
        t->count++;
    }
    return 0;
}

/* The size and count of every matching pair, by a scan of its own (once). */
static void totals(iter *it)
{
    if (it->totalled)
        return;
    struct totals t = {&it->f, 0, 0};
    if (!it->empty_list)
        shmkv_php_ok(shmkv_foreach(it->db, add_to_totals, &t));
    it->total_size = t.size;
    it->total_count = t.count;
    it->totalled = true;
}

/* {{{ ShmkvIterator::getTotalHits(): int  (0: shmkv counts no per-key hits) */
PHP_METHOD(ShmkvIterator, getTotalHits)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter *it = THIS_ITER();
    ENSURE_INITIALIZED(it);
    RETURN_LONG(0);
}
/* }}} */

/* {{{ ShmkvIterator::getTotalSize(): int */
PHP_METHOD(ShmkvIterator, getTotalSize)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter *it = THIS_ITER();
    ENSURE_INITIALIZED(it);
    totals(it);
    RETURN_LONG(it->total_size);
}
/* }}} */

/* {{{ ShmkvIterator::getTotalCount(): int */
PHP_METHOD(ShmkvIterator, getTotalCount)
{
    ZEND_PARSE_PARAMETERS_NONE();
    iter *it = THIS_ITER();
    ENSURE_INITIALIZED(it);
    totals(it);
    RETURN_LONG(it->total_count);
}
/* }}} */

bool shmkv_php_iterator_delete(zval *zit)
{
    iter *it = iter_of(Z_OBJ_P(zit));
    if (!it->initialized) {
        zend_throw_error(NULL, "Trying to use uninitialized ShmkvIterator");
        return false;
    }
    /* from where the iterator stands: the rest of this chunk, then on */
    for (item *x; (x = current_item(it)); it->pos++)
        shmkv_php_ok(shmkv_del(it->db, ZSTR_VAL(x->key), ZSTR_LEN(x->key))); /* gone meanwhile: fine */
    return true;
}

ZEND_BEGIN_ARG_INFO_EX(arginfo_iter_construct, 0, 0, 0)
    ZEND_ARG_INFO_WITH_DEFAULT_VALUE(0, search, "null")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, format, IS_LONG, 0, "SHMKV_ITER_ALL")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, chunk_size, IS_LONG, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, list, IS_LONG, 0, "SHMKV_LIST_ACTIVE")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, prefix, IS_STRING, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_iter_void, 0, 0, IS_VOID, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_iter_valid, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_iter_key, 0, 0, MAY_BE_STRING | MAY_BE_LONG)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_iter_current, 0, 0, IS_MIXED, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_iter_total, 0, 0, IS_LONG, 0)
ZEND_END_ARG_INFO()

static const zend_function_entry iterator_methods[] = {
    PHP_ME(ShmkvIterator, __construct, arginfo_iter_construct, ZEND_ACC_PUBLIC)
    PHP_ME(ShmkvIterator, rewind, arginfo_iter_void, ZEND_ACC_PUBLIC)
    PHP_ME(ShmkvIterator, next, arginfo_iter_void, ZEND_ACC_PUBLIC)
    PHP_ME(ShmkvIterator, valid, arginfo_iter_valid, ZEND_ACC_PUBLIC)
    PHP_ME(ShmkvIterator, key, arginfo_iter_key, ZEND_ACC_PUBLIC)
    PHP_ME(ShmkvIterator, current, arginfo_iter_current, ZEND_ACC_PUBLIC)
    PHP_ME(ShmkvIterator, getTotalHits, arginfo_iter_total, ZEND_ACC_PUBLIC)
    PHP_ME(ShmkvIterator, getTotalSize, arginfo_iter_total, ZEND_ACC_PUBLIC)
    PHP_ME(ShmkvIterator, getTotalCount, arginfo_iter_total, ZEND_ACC_PUBLIC)
    PHP_FE_END
};

void shmkv_php_iterator_minit(int module_number)
{
    zend_class_entry ce;
    INIT_CLASS_ENTRY(ce, "ShmkvIterator", iterator_methods);
    shmkv_iterator_ce = zend_register_internal_class(&ce);
    shmkv_iterator_ce->create_object = iterator_create;
    zend_class_implements(shmkv_iterator_ce, 1, zend_ce_iterator);

    memcpy(&iterator_handlers, zend_get_std_object_handlers(), sizeof iterator_handlers);
    iterator_handlers.offset = XtOffsetOf(iter, std);
    iterator_handlers.free_obj = iterator_free;
    iterator_handlers.clone_obj = NULL;

    static const struct { const char *name; zend_long v; } consts[] = {
        {"SHMKV_LIST_ACTIVE", LIST_ACTIVE}, {"SHMKV_LIST_DELETED", LIST_DELETED},
        {"SHMKV_ITER_TYPE", ITER_TYPE}, {"SHMKV_ITER_KEY", ITER_KEY}, {"SHMKV_ITER_VALUE", ITER_VALUE},
        {"SHMKV_ITER_NUM_HITS", ITER_NUM_HITS}, {"SHMKV_ITER_MTIME", ITER_MTIME},
        {"SHMKV_ITER_CTIME", ITER_CTIME}, {"SHMKV_ITER_DTIME", ITER_DTIME}, {"SHMKV_ITER_ATIME", ITER_ATIME},
        {"SHMKV_ITER_REFCOUNT", ITER_REFCOUNT}, {"SHMKV_ITER_MEM_SIZE", ITER_MEM_SIZE},
        {"SHMKV_ITER_TTL", ITER_TTL}, {"SHMKV_ITER_NONE", 0}, {"SHMKV_ITER_ALL", ITER_ALL},
    };
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++)
        zend_register_long_constant(consts[i].name, strlen(consts[i].name), consts[i].v,
                                    CONST_PERSISTENT | CONST_CS, module_number);
}
