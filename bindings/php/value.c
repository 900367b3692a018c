/*
 * value.c - how PHP values are stored as bytes, and read back.
 *
 * The table is shared with C programs, the shmkv tool and the other
 * bindings, so the two kinds of value they all know are stored as they
 * know them: a string is its bytes, an integer is the decimal text that
 * shmkv_incr reads and writes (so shmkv_inc here and `shmkv incr` there
 * count the same counter).  Only what they cannot tell apart carries a
 * one-byte tag (README.md, "Values"):
 *
 *   "-42", "7"         canonical decimal int64: a PHP int
 *   0x00 + bytes       a PHP string that would be misread raw: one that
 *                      reads as an integer ("42"), or whose first byte is
 *                      below 0x08 (a tag)
 *   0x01 + bytes       PHP serialize() output: floats, bools, null,
 *                      arrays, objects
 *   0x02..0x07 + ...   reserved; read as the raw bytes they are
 *   anything else      a PHP string, the bytes as they are
 */
#include "php_shmkv.h"

#include "ext/standard/php_var.h"

#include <errno.h>

/* Canonical decimal text of an int64, as "%lld" writes it: no '+', no
 * leading zeros, no "-0".  shmkv_incr also accepts "007"; a value written
 * that way by another program reads here as the string it is. */
bool shmkv_php_parse_long(const char *p, size_t n, zend_long *out)
{
    bool neg = n > 0 && p[0] == '-';
    size_t i = neg, digits = n - neg;
    if (digits < 1 || digits > 19 || (p[i] == '0' && (digits > 1 || neg)))
        return false;
    uint64_t u = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        u = u * 10 + (uint64_t)(p[i] - '0');
    }
    if (u > (uint64_t)ZEND_LONG_MAX + neg)
        return false;
    *out = neg ? (zend_long)(0 - u) : (zend_long)u;
    return true;
}

static bool needs_tag(const char *p, size_t n)
{
    zend_long ignored;
    return n > 0 && ((unsigned char)p[0] < SHMKV_TAG_LIMIT || shmkv_php_parse_long(p, n, &ignored));
}

static zend_string *tagged(char tag, const char *p, size_t n)
{
    zend_string *s = zend_string_alloc(n + 1, 0);
    ZSTR_VAL(s)[0] = tag;
    memcpy(ZSTR_VAL(s) + 1, p, n);
    ZSTR_VAL(s)[n + 1] = '\0';
    return s;
}

static bool encode_serialized(zval *val, shmkv_php_bytes *out)
{
    php_serialize_data_t state;
    smart_str buf = {0};
    smart_str_appendc(&buf, SHMKV_TAG_SERIALIZED);
    PHP_VAR_SERIALIZE_INIT(state);
    php_var_serialize(&buf, val, &state);
    PHP_VAR_SERIALIZE_DESTROY(state);
    if (EG(exception)) { /* __serialize, __sleep or a Closure refused */
        smart_str_free(&buf);
        return false;
    }
    out->owned = smart_str_extract(&buf);
    out->p = ZSTR_VAL(out->owned);
    out->n = ZSTR_LEN(out->owned);
    return true;
}

bool shmkv_php_encode(zval *val, shmkv_php_bytes *out)
{
    out->owned = NULL;
    ZVAL_DEREF(val);
    switch (Z_TYPE_P(val)) {
    case IS_STRING:
        if (needs_tag(Z_STRVAL_P(val), Z_STRLEN_P(val))) {
            out->owned = tagged(SHMKV_TAG_STRING, Z_STRVAL_P(val), Z_STRLEN_P(val));
            out->p = ZSTR_VAL(out->owned);
            out->n = ZSTR_LEN(out->owned);
        } else {
            out->p = Z_STRVAL_P(val);
            out->n = Z_STRLEN_P(val);
        }
        return true;
    case IS_LONG:
        out->n = (size_t)snprintf(out->buf, sizeof out->buf, ZEND_LONG_FMT, Z_LVAL_P(val));
        out->p = out->buf;
        return true;
    case IS_RESOURCE:
        php_error_docref(NULL, E_WARNING, "Cannot store resources in shmkv cache");
        return false;
    default:
        return encode_serialized(val, out);
    }
}

void shmkv_php_bytes_free(shmkv_php_bytes *b)
{
    if (b->owned)
        zend_string_release(b->owned);
    b->owned = NULL;
}

static bool decode_serialized(const char *p, size_t n, zval *out)
{
    php_unserialize_data_t state;
    const unsigned char *cur = (const unsigned char *)p, *end = cur + n;
    ZVAL_NULL(out);
    PHP_VAR_UNSERIALIZE_INIT(state);
    bool ok = php_var_unserialize(out, &cur, end, &state) && cur == end;
    if (!ok) {
        zval_ptr_dtor(out); /* what was built before it failed */
        ZVAL_UNDEF(out);
    }
    PHP_VAR_UNSERIALIZE_DESTROY(state);
    return ok;
}

bool shmkv_php_decode(const char *p, size_t n, zval *out)
{
    if (n == 0) {
        ZVAL_EMPTY_STRING(out);
        return true;
    }
    unsigned char tag = (unsigned char)p[0];
    if (tag == SHMKV_TAG_STRING) {
        ZVAL_STRINGL_FAST(out, p + 1, n - 1);
        return true;
    }
    if (tag == SHMKV_TAG_SERIALIZED)
        return decode_serialized(p + 1, n - 1, out);
    zend_long l;
    if (shmkv_php_parse_long(p, n, &l))
        ZVAL_LONG(out, l);
    else
        ZVAL_STRINGL_FAST(out, p, n);
    return true;
}

/* Most values fit this buffer on the stack; a larger one is fetched again
 * into memory of its size (and again if it grew meanwhile). */
#define FETCH_STACK_BYTES 4096

int shmkv_php_fetch(shmkv *db, const char *key, size_t klen, zval *out)
{
    char stack[FETCH_STACK_BYTES];
    size_t vlen;
    int rc = shmkv_get(db, key, klen, stack, sizeof stack, &vlen);
    if (rc == 0)
        return shmkv_php_decode(stack, vlen, out) ? 0 : -EILSEQ;
    while (rc == -ENOBUFS) {
        size_t cap = vlen;
        char *big = emalloc(cap ? cap : 1);
        rc = shmkv_get(db, key, klen, big, cap, &vlen);
        if (rc == 0)
            rc = shmkv_php_decode(big, vlen, out) ? 0 : -EILSEQ;
        efree(big);
    }
    return rc;
}

uint64_t shmkv_php_ttl_ms(zend_long ttl)
{
    if (ttl <= 0)
        return 0;
    return (uint64_t)ttl >= SHMKV_TTL_MAX / 1000 ? SHMKV_TTL_MAX : (uint64_t)ttl * 1000;
}
