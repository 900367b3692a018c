/*
 * lists.c - Shmkv\Table's methods on lists and queues: push, pushMany
 * (bounded or not), pop, popMany, move, llen, lrange, and the constants
 * HEAD and TAIL.
 *
 * Elements are PHP values stored as values are (value.c), so a list
 * pushed here holds the ints, strings and serialised values the other
 * bindings and C read as they read values.  Waits are in seconds (floats,
 * as lifetimes): 0 does not wait, a negative one waits for ever.  A wait
 * sleeps in the kernel until a push (a bounded push's: a pop) from any
 * process; it goes to the library in slices of SLICE_MS, and ends early,
 * with the empty result (a bounded push's: false), when a signal
 * interrupts it or the engine has something to run between two slices (a
 * pcntl handler pending with pcntl_async_signals, the time limit): as
 * sleep() returns early.
 */
#include "php_shmkv.h"

#include "zend_exceptions.h"

#include <errno.h>
#include <math.h>
#include <time.h>

#define SLICE_MS 250
#define MANY_BYTES (64 * 1024) /* popMany's first buffer */
#define MANY_MAX 65536         /* and the most elements it asks for */

/* An end argument: Shmkv\Table::HEAD or TAIL; -1 (ValueError thrown) else. */
static int end_of(zend_long end, uint32_t arg)
{
    if (end == SHMKV_HEAD || end == SHMKV_TAIL)
        return (int)end;
    zend_argument_value_error(arg, "must be Shmkv\\Table::HEAD or Shmkv\\Table::TAIL");
    return -1;
}

/* Seconds to wait as the library's timeout_ms: negative (or beyond any
 * lifetime) for ever, -1; a positive wait at least 1 ms. */
static int64_t wait_ms(double seconds)
{
    if (seconds < 0 || isnan(seconds))
        return -1;
    double ms = ceil(seconds * 1000.0);
    return ms > (double)SHMKV_TTL_MAX ? -1 : (int64_t)ms;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The library's timeout for the next slice of a wait of ms (-1: for ever). */
static int64_t slice_ms(int64_t ms)
{
    return ms < 0 || ms > SLICE_MS ? SLICE_MS : ms;
}

/* After a slice of a wait (deadline: its end, 0 none) that returned *rc:
 * true to wait on, *ms then the time left (-1: for ever); false to return
 * *rc (-EINTR made -EAGAIN: the wait ended early, see the top). */
static bool wait_on(int *rc, int64_t *ms, int64_t deadline)
{
    if (*rc == -EINTR) {
        *rc = -EAGAIN;
        return false;
    }
    if (deadline)
        *ms = deadline - now_ms() > 0 ? deadline - now_ms() : 0;
    return *rc == -EAGAIN && *ms != 0 && !zend_atomic_bool_load(&EG(vm_interrupt));
}

/* One pop (of up to max elements) or move in progress. */
typedef struct popping {
    const char *key, *dst;     /* dst: a move's destination */
    size_t klen, dlen;
    int from, to;
    size_t max, n, *lens, one;
    char *buf;                 /* stack, or emalloc()ed */
    size_t cap;
    char stack[4096];
} popping;

static void popping_init(popping *p, zend_string *key, int from)
{
    p->key = ZSTR_VAL(key);
    p->klen = ZSTR_LEN(key);
    p->dst = NULL;
    p->dlen = 0;
    p->from = from;
    p->to = SHMKV_TAIL;
    p->max = 1;
    p->n = 0;
    p->lens = &p->one;
    p->buf = p->stack;
    p->cap = sizeof p->stack;
}

static void popping_free(popping *p)
{
    if (p->buf != p->stack)
        efree(p->buf);
    if (p->lens != &p->one)
        efree(p->lens);
}

static void grow(popping *p, size_t size)
{
    if (p->buf != p->stack)
        efree(p->buf);
    p->buf = emalloc(size ? size : 1);
    p->cap = size;
}

static int pop_call(shmkv *db, popping *p, int64_t ms)
{
    if (!p->dst)
        return shmkv_pop_many(db, p->key, p->klen, p->from, p->buf, p->cap, p->lens, p->max, &p->n, ms);
    int rc = shmkv_move(db, p->key, p->klen, p->from, p->dst, p->dlen, p->to, p->buf, p->cap, p->lens, ms);
    p->n = rc == 0;
    return rc;
}

/* Pop or move, waiting up to ms (-1: for ever).  0, -EAGAIN (nothing
 * came, or the wait ended early: see the top), or a library error. */
static int pop_wait(shmkv *db, popping *p, int64_t ms)
{
    int64_t deadline = ms > 0 ? now_ms() + ms : 0;
    for (;;) {
        int rc = pop_call(db, p, slice_ms(ms));
        if (rc == -ENOBUFS) {
            grow(p, p->lens[0] > 2 * p->cap ? p->lens[0] : 2 * p->cap);
            continue;
        }
        if (!wait_on(&rc, &ms, deadline))
            return rc;
    }
}

/* The i-th element popped (its bytes after the ones before it), decoded
 * into out; false with Shmkv\Exception thrown if it does not decode (it
 * is gone from the list all the same, as with take()). */
static bool decoded(const popping *p, size_t at, size_t i, zval *out)
{
    if (shmkv_php_decode(p->buf + at, p->lens[i], out))
        return true;
    shmkv_php_check(-EILSEQ, 0);
    return false;
}

/* pop's and move's result: the element, or def (null if none) when none
 * came, or nothing with an exception thrown. */
static void popped_one(const popping *p, int rc, zval *def, zval *return_value)
{
    if (rc == 0)
        decoded(p, 0, 0, return_value);
    else if (!shmkv_php_check(rc, -EAGAIN) && !EG(exception) && def)
        RETVAL_COPY(def);
}

/* ---- push ---- */

/* A bounded push of elems[0..n), waiting up to ms (-1: for ever) for room
 * in the list for them.  0, -EAGAIN (no room came, or the wait ended
 * early: see the top), or a library error. */
static int push_wait(shmkv *db, zend_string *key, const shmkv_elem *elems, size_t n, int end, uint64_t max_len,
                     int64_t ms)
{
    int64_t deadline = ms > 0 ? now_ms() + ms : 0;
    for (;;) {
        int rc = shmkv_push_bounded(db, ZSTR_VAL(key), ZSTR_LEN(key), elems, n, end, max_len, slice_ms(ms));
        if (!wait_on(&rc, &ms, deadline))
            return rc;
    }
}

/* Push values[0..n) at end, all or nothing; with max_len (> 0) only while
 * the list then holds at most max_len elements, waiting up to timeout
 * seconds for room (as pop waits for an element).  Returns true (pushed),
 * false (no room), or nothing with an exception thrown. */
static void push(INTERNAL_FUNCTION_PARAMETERS, zend_string *key, zval *values, uint32_t n, zend_long end,
                 zend_long max_len, double timeout)
{
    THIS_DB(db);
    int where = end_of(end, 3);
    if (where < 0)
        RETURN_THROWS();
    if (max_len < 0) {
        zend_argument_value_error(4, "must be greater than or equal to 0");
        RETURN_THROWS();
    }
    if (max_len > 0 && n > (zend_ulong)max_len) {
        zend_argument_value_error(2, "must hold no more elements than $maxLen (" ZEND_LONG_FMT ")", max_len);
        RETURN_THROWS();
    }
    shmkv_php_bytes *bytes = safe_emalloc(n ? n : 1, sizeof *bytes, 0);
    shmkv_elem *elems = safe_emalloc(n ? n : 1, sizeof *elems, 0);
    uint32_t i = 0;
    for (; i < n; i++) {
        if (Z_TYPE(values[i]) == IS_RESOURCE) {
            zend_argument_type_error(2, "must not be a resource");
            break;
        }
        if (!shmkv_php_encode(&values[i], &bytes[i]))
            break;
        elems[i] = (shmkv_elem){bytes[i].p, bytes[i].n};
    }
    if (i == n && !max_len)
        RETVAL_BOOL(shmkv_php_check(shmkv_push_many(db, ZSTR_VAL(key), ZSTR_LEN(key), elems, n, where), 0));
    else if (i == n)
        RETVAL_BOOL(shmkv_php_check(push_wait(db, key, elems, n, where, (uint64_t)max_len, wait_ms(timeout)),
                                    -EAGAIN));
    while (i > 0)
        shmkv_php_bytes_free(&bytes[--i]);
    efree(bytes);
    efree(elems);
}

/* {{{ Shmkv\Table::push(string $key, mixed $value, int $end = Shmkv\Table::TAIL, int $maxLen = 0, float $timeout = 0): bool
 * $maxLen 0: no bound, true.  $maxLen > 0: a bounded queue's push, only
 * while the list then holds at most $maxLen elements, waiting up to
 * $timeout seconds (as pop) for pops to make room; false if none came. */
PHP_METHOD(Shmkv_Table, push)
{
    zend_string *key;
    zval *val;
    zend_long end = SHMKV_TAIL, max_len = 0;
    double timeout = 0;
    ZEND_PARSE_PARAMETERS_START(2, 5)
        Z_PARAM_STR(key)
        Z_PARAM_ZVAL(val)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(end)
        Z_PARAM_LONG(max_len)
        Z_PARAM_DOUBLE(timeout)
    ZEND_PARSE_PARAMETERS_END();
    zval one;
    ZVAL_COPY_DEREF(&one, val);
    push(INTERNAL_FUNCTION_PARAM_PASSTHRU, key, &one, 1, end, max_len, timeout);
    zval_ptr_dtor(&one);
}
/* }}} */

/* {{{ Shmkv\Table::pushMany(string $key, array $values, int $end = Shmkv\Table::TAIL, int $maxLen = 0, float $timeout = 0): bool
 * In one step, all or nothing: at the tail in the array's order, at the
 * head reversed (as pushing them one by one would); $maxLen and $timeout
 * as push's, for all of them at once. */
PHP_METHOD(Shmkv_Table, pushMany)
{
    zend_string *key;
    HashTable *values;
    zend_long end = SHMKV_TAIL, max_len = 0;
    double timeout = 0;
    ZEND_PARSE_PARAMETERS_START(2, 5)
        Z_PARAM_STR(key)
        Z_PARAM_ARRAY_HT(values)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(end)
        Z_PARAM_LONG(max_len)
        Z_PARAM_DOUBLE(timeout)
    ZEND_PARSE_PARAMETERS_END();
    uint32_t n = zend_hash_num_elements(values), i = 0;
    zval *all = safe_emalloc(n ? n : 1, sizeof *all, 0), *v;
    ZEND_HASH_FOREACH_VAL(values, v) {
        ZVAL_COPY_DEREF(&all[i], v);
        i++;
    } ZEND_HASH_FOREACH_END();
    push(INTERNAL_FUNCTION_PARAM_PASSTHRU, key, all, i, end, max_len, timeout);
    while (i > 0)
        zval_ptr_dtor(&all[--i]);
    efree(all);
}
/* }}} */

/* ---- pop and move ---- */

/* {{{ Shmkv\Table::pop(string $key, float $timeout = 0, int $end = Shmkv\Table::HEAD, mixed $default = null): mixed
 * The element taken from an end, or $default if none came within
 * $timeout seconds. */
PHP_METHOD(Shmkv_Table, pop)
{
    zend_string *key;
    double timeout = 0;
    zend_long end = SHMKV_HEAD;
    zval *def = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 4)
        Z_PARAM_STR(key)
        Z_PARAM_OPTIONAL
        Z_PARAM_DOUBLE(timeout)
        Z_PARAM_LONG(end)
        Z_PARAM_ZVAL(def)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    int from = end_of(end, 3);
    if (from < 0)
        RETURN_THROWS();
    popping p;
    popping_init(&p, key, from);
    int rc = pop_wait(db, &p, wait_ms(timeout));
    popped_one(&p, rc, def, return_value);
    popping_free(&p);
}
/* }}} */

/* {{{ Shmkv\Table::popMany(string $key, int $count, float $timeout = 0, int $end = Shmkv\Table::HEAD): array
 * Up to $count elements from an end, in the order they come off it,
 * waiting as pop() for the first; [] if none came.  A batch stops at
 * 64 KiB of elements (it always holds one). */
PHP_METHOD(Shmkv_Table, popMany)
{
    zend_string *key;
    zend_long count, end = SHMKV_HEAD;
    double timeout = 0;
    ZEND_PARSE_PARAMETERS_START(2, 4)
        Z_PARAM_STR(key)
        Z_PARAM_LONG(count)
        Z_PARAM_OPTIONAL
        Z_PARAM_DOUBLE(timeout)
        Z_PARAM_LONG(end)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    int from = end_of(end, 4);
    if (from < 0)
        RETURN_THROWS();
    if (count < 1) {
        zend_argument_value_error(2, "must be greater than 0");
        RETURN_THROWS();
    }
    popping p;
    popping_init(&p, key, from);
    p.max = count < MANY_MAX ? (size_t)count : MANY_MAX;
    p.lens = safe_emalloc(p.max, sizeof *p.lens, 0);
    grow(&p, MANY_BYTES);
    int rc = pop_wait(db, &p, wait_ms(timeout));
    if (shmkv_php_check(rc, -EAGAIN) || rc == -EAGAIN) {
        array_init_size(return_value, (uint32_t)p.n);
        zval v;
        for (size_t i = 0, at = 0; i < p.n && decoded(&p, at, i, &v); at += p.lens[i++])
            add_next_index_zval(return_value, &v);
    }
    popping_free(&p);
}
/* }}} */

/* {{{ Shmkv\Table::move(string $src, string $dst, float $timeout = 0, int $from = Shmkv\Table::HEAD, int $to = Shmkv\Table::TAIL, mixed $default = null): mixed
 * Atomically pop an element from an end of $src and push it at an end of
 * $dst (which may be $src), and return it; $default if none came within
 * $timeout seconds.  The reliable queue: a worker moves a job to a list
 * of its own and removes it from there when done. */
PHP_METHOD(Shmkv_Table, move)
{
    zend_string *src, *dst;
    double timeout = 0;
    zend_long from = SHMKV_HEAD, to = SHMKV_TAIL;
    zval *def = NULL;
    ZEND_PARSE_PARAMETERS_START(2, 6)
        Z_PARAM_STR(src)
        Z_PARAM_STR(dst)
        Z_PARAM_OPTIONAL
        Z_PARAM_DOUBLE(timeout)
        Z_PARAM_LONG(from)
        Z_PARAM_LONG(to)
        Z_PARAM_ZVAL(def)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    int f = end_of(from, 4), t = f < 0 ? -1 : end_of(to, 5);
    if (t < 0)
        RETURN_THROWS();
    popping p;
    popping_init(&p, src, f);
    p.dst = ZSTR_VAL(dst);
    p.dlen = ZSTR_LEN(dst);
    p.to = t;
    int rc = pop_wait(db, &p, wait_ms(timeout));
    popped_one(&p, rc, def, return_value);
    popping_free(&p);
}
/* }}} */

/* ---- reads ---- */

/* {{{ Shmkv\Table::llen(string $key): int  (0: absent) */
PHP_METHOD(Shmkv_Table, llen)
{
    zend_string *key;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(key)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    uint64_t n;
    if (shmkv_php_check(shmkv_llen(db, ZSTR_VAL(key), ZSTR_LEN(key), &n), 0))
        RETURN_LONG((zend_long)n);
}
/* }}} */

/* shmkv_lrange's callback: each element, decoded, onto the array. */
static int add_element(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen;
    zval v;
    if (!shmkv_php_decode(val, vlen, &v))
        return -EILSEQ;
    add_next_index_zval(ctx, &v);
    return 0;
}

/* {{{ Shmkv\Table::lrange(string $key, int $start = 0, int $stop = -1): array
 * The elements from index $start to $stop, both included (negative: from
 * the tail, -1 the last, as Redis's LRANGE), not removed; [] if absent. */
PHP_METHOD(Shmkv_Table, lrange)
{
    zend_string *key;
    zend_long start = 0, stop = -1;
    ZEND_PARSE_PARAMETERS_START(1, 3)
        Z_PARAM_STR(key)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(start)
        Z_PARAM_LONG(stop)
    ZEND_PARSE_PARAMETERS_END();
    THIS_DB(db);
    array_init(return_value);
    int rc = shmkv_lrange(db, ZSTR_VAL(key), ZSTR_LEN(key), start, stop, add_element, return_value);
    if (!shmkv_php_check(rc, -ENOENT) && EG(exception))
        RETURN_THROWS();
}
/* }}} */

/* ---- registration ---- */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_push, 0, 2, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, value, IS_MIXED, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, end, IS_LONG, 0, "Shmkv\\Table::TAIL")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, maxLen, IS_LONG, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeout, IS_DOUBLE, 0, "0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_push_many, 0, 2, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, values, IS_ARRAY, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, end, IS_LONG, 0, "Shmkv\\Table::TAIL")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, maxLen, IS_LONG, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeout, IS_DOUBLE, 0, "0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_pop, 0, 1, IS_MIXED, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeout, IS_DOUBLE, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, end, IS_LONG, 0, "Shmkv\\Table::HEAD")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, default, IS_MIXED, 0, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_pop_many, 0, 2, IS_ARRAY, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, count, IS_LONG, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeout, IS_DOUBLE, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, end, IS_LONG, 0, "Shmkv\\Table::HEAD")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_move, 0, 2, IS_MIXED, 0)
    ZEND_ARG_TYPE_INFO(0, src, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO(0, dst, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeout, IS_DOUBLE, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, from, IS_LONG, 0, "Shmkv\\Table::HEAD")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, to, IS_LONG, 0, "Shmkv\\Table::TAIL")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, default, IS_MIXED, 0, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_llen, 0, 1, IS_LONG, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_lrange, 0, 1, IS_ARRAY, 0)
    ZEND_ARG_TYPE_INFO(0, key, IS_STRING, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, start, IS_LONG, 0, "0")
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, stop, IS_LONG, 0, "-1")
ZEND_END_ARG_INFO()

static const zend_function_entry list_methods[] = {
    PHP_ME(Shmkv_Table, push, arginfo_push, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, pushMany, arginfo_push_many, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, pop, arginfo_pop, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, popMany, arginfo_pop_many, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, move, arginfo_move, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, llen, arginfo_llen, ZEND_ACC_PUBLIC)
    PHP_ME(Shmkv_Table, lrange, arginfo_lrange, ZEND_ACC_PUBLIC)
    PHP_FE_END
};

void shmkv_php_lists_minit(zend_class_entry *table_ce)
{
    zend_declare_class_constant_long(table_ce, "HEAD", sizeof "HEAD" - 1, SHMKV_HEAD);
    zend_declare_class_constant_long(table_ce, "TAIL", sizeof "TAIL" - 1, SHMKV_TAIL);
    zend_register_functions(table_ce, list_methods, &table_ce->function_table, MODULE_PERSISTENT);
}
