/* list_helpers.c - see list_helpers.h. */
#include "list_helpers.h"

#include "api_helpers.h"
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t elem_len(uint64_t seq) { return H_VAL_MIN + (size_t)(h_mix64(seq) % (ELEM_MAX - H_VAL_MIN + 1)); }

size_t elem_make(void *buf, const char *key, uint64_t seq)
{
    size_t n = elem_len(seq);
    h_val_make(buf, n, key, strlen(key), seq);
    return n;
}

uint64_t elem_seq(const void *val, size_t vlen, const char *key)
{
    uint64_t seq;
    if (!h_val_check(val, vlen, key, strlen(key), &seq) || vlen != elem_len(seq))
        return UINT64_MAX;
    return seq;
}

int elem_push(shmkv *db, const char *key, uint64_t seq, int end)
{
    uint8_t buf[ELEM_MAX];
    size_t n = elem_make(buf, key, seq);
    return shmkv_push(db, key, strlen(key), buf, n, end);
}

struct seqs {
    const char *key;
    uint64_t *v;
    size_t cap, n;
};

static int add_seq(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct seqs *s = ctx;
    (void)key;
    (void)klen;
    if (s->n < s->cap)
        s->v[s->n] = elem_seq(val, vlen, s->key);
    s->n++;
    return 0;
}

int list_seqs(shmkv *db, const char *key, const char *tag, uint64_t *seqs, size_t cap, size_t *n)
{
    struct seqs s = {tag, seqs, cap, 0};
    int rc = shmkv_lrange(db, key, strlen(key), 0, -1, add_seq, &s);
    *n = s.n;
    return rc;
}

void check_list_at(const char *file, int line, shmkv *db, const char *key, const char *tag, const uint64_t *want,
                   size_t n)
{
    uint64_t len = UINT64_MAX;
    int rc = shmkv_llen(db, key, strlen(key), &len);
    if (rc != 0 || len != n)
        h_fail(file, line, "list %s: llen %s, %llu elements; expected %zu", key, h_errname(rc),
               (unsigned long long)len, n);
    uint64_t *got = malloc((n + 1) * sizeof *got);
    size_t have = 0;
    rc = list_seqs(db, key, tag, got, n + 1, &have);
    if (rc != 0 && !(rc == -ENOENT && n == 0))
        h_fail(file, line, "list %s: lrange returned %s", key, h_errname(rc));
    else if (have != n)
        h_fail(file, line, "list %s: lrange gave %zu elements, expected %zu", key, have, n);
    else
        for (size_t i = 0; i < n; i++)
            if (got[i] != want[i]) {
                h_fail(file, line, "list %s: element %zu is %lld, expected %llu", key, i,
                       got[i] == UINT64_MAX ? -1ll : (long long)got[i], (unsigned long long)want[i]);
                break;
            }
    free(got);
}

shmkv *open_list_and_pair(char *name, size_t cap, const char *tag)
{
    shmkv *db = open_new(name, cap, tag);
    for (uint64_t i = 1; i <= 3; i++)
        CHECK_RC(elem_push(db, "L", i, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_put(db, "P", 1, "pv", 2), 0);
    return db;
}

void close_unlink(shmkv *db, const char *name)
{
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

int visit_none(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)ctx, (void)k, (void)kl, (void)v, (void)vl;
    return 0;
}
