/*
 * test_list_errors.c - every documented return code of the list calls:
 * bad arguments and ends, short buffers that leave the element where it
 * was, -EMEDIUMTYPE both ways for every pair call and every list call,
 * -EOPNOTSUPP in caches, -EROFS; and what each leaves behind (nothing
 * changed).  -EOVERFLOW (2^31 elements) is not reached: it would take
 * tens of GiB.
 */
#include "harness.h"
#include "api_helpers.h"
#include "list_helpers.h"

#include "handle.h"
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KEY(s) s, strlen(s)

static const uint64_t S123[] = {1, 2, 3};

static void bad_args(void)
{
    char name[64];
    shmkv *db = open_list_and_pair(name, sizeof name, "args");
    uint8_t buf[ELEM_MAX];
    size_t vl, lens[4], n;
    uint64_t len;
    shmkv_elem el[2] = {{"a", 1}, {NULL, 3}};
    /* NULL handle */
    CHECK_RC(shmkv_push(NULL, KEY("L"), "a", 1, SHMKV_TAIL), -EINVAL);
    CHECK_RC(shmkv_push_many(NULL, KEY("L"), el, 1, SHMKV_TAIL), -EINVAL);
    CHECK_RC(shmkv_pop(NULL, KEY("L"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), -EINVAL);
    CHECK_RC(shmkv_pop_many(NULL, KEY("L"), SHMKV_HEAD, buf, sizeof buf, lens, 4, &n, 0), -EINVAL);
    CHECK_RC(shmkv_llen(NULL, KEY("L"), &len), -EINVAL);
    CHECK_RC(shmkv_move(NULL, KEY("L"), SHMKV_HEAD, KEY("M"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EINVAL);
    CHECK_RC(shmkv_lrange(NULL, KEY("L"), 0, -1, visit_none, NULL), -EINVAL);
    /* NULL and empty keys */
    CHECK_RC(shmkv_push(db, NULL, 1, "a", 1, SHMKV_TAIL), -EINVAL);
    CHECK_RC(shmkv_push(db, "L", 0, "a", 1, SHMKV_TAIL), -EINVAL);
    CHECK_RC(shmkv_pop(db, NULL, 1, SHMKV_HEAD, buf, sizeof buf, &vl, 0), -EINVAL);
    CHECK_RC(shmkv_llen(db, "L", 0, &len), -EINVAL);
    CHECK_RC(shmkv_lrange(db, NULL, 1, 0, -1, visit_none, NULL), -EINVAL);
    CHECK_RC(shmkv_move(db, KEY("L"), SHMKV_HEAD, NULL, 1, SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EINVAL);
    CHECK_RC(shmkv_move(db, "L", 0, SHMKV_HEAD, KEY("M"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EINVAL);
    /* keys too long */
    char *big = calloc(1, SHMKV_KEY_MAX + 1);
    memset(big, 'k', SHMKV_KEY_MAX + 1);
    CHECK_RC(shmkv_push(db, big, SHMKV_KEY_MAX + 1, "a", 1, SHMKV_TAIL), -E2BIG);
    CHECK_RC(shmkv_pop(db, big, SHMKV_KEY_MAX + 1, SHMKV_HEAD, buf, sizeof buf, &vl, 0), -E2BIG);
    CHECK_RC(shmkv_llen(db, big, SHMKV_KEY_MAX + 1, &len), -E2BIG);
    CHECK_RC(shmkv_lrange(db, big, SHMKV_KEY_MAX + 1, 0, -1, visit_none, NULL), -E2BIG);
    CHECK_RC(shmkv_move(db, KEY("L"), SHMKV_HEAD, big, SHMKV_KEY_MAX + 1, SHMKV_TAIL, buf, sizeof buf, &vl, 0),
             -E2BIG);
    free(big);
    /* bad ends, for every call that takes one */
    int ends[] = {-1, 2, 42};
    for (int i = 0; i < 3; i++) {
        int e = ends[i];
        CHECK_RC(shmkv_push(db, KEY("L"), "a", 1, e), -EINVAL);
        CHECK_RC(shmkv_push_many(db, KEY("L"), el, 1, e), -EINVAL);
        CHECK_RC(shmkv_pop(db, KEY("L"), e, buf, sizeof buf, &vl, 0), -EINVAL);
        CHECK_RC(shmkv_pop_many(db, KEY("L"), e, buf, sizeof buf, lens, 4, &n, 0), -EINVAL);
        CHECK_RC(shmkv_move(db, KEY("L"), e, KEY("M"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EINVAL);
        CHECK_RC(shmkv_move(db, KEY("L"), SHMKV_HEAD, KEY("M"), e, buf, sizeof buf, &vl, 0), -EINVAL);
    }
    /* values and buffers */
    CHECK_RC(shmkv_push(db, KEY("L"), NULL, 1, SHMKV_TAIL), -EINVAL);
    CHECK_RC(shmkv_push_many(db, KEY("L"), el, 2, SHMKV_TAIL), -EINVAL); /* el[1] is NULL, 3 bytes */
    CHECK_RC(shmkv_push_many(db, KEY("L"), NULL, 1, SHMKV_TAIL), -EINVAL);
    if (sizeof(size_t) > 4)
        CHECK_RC(shmkv_push(db, KEY("L"), buf, (size_t)SHMKV_VAL_MAX + 1, SHMKV_TAIL), -E2BIG);
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, buf, sizeof buf, NULL, 0), -EINVAL);
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, NULL, 8, &vl, 0), -EINVAL);
    CHECK_RC(shmkv_pop_many(db, KEY("L"), SHMKV_HEAD, buf, sizeof buf, NULL, 4, &n, 0), -EINVAL);
    CHECK_RC(shmkv_pop_many(db, KEY("L"), SHMKV_HEAD, buf, sizeof buf, lens, 4, NULL, 0), -EINVAL);
    CHECK_RC(shmkv_pop_many(db, KEY("L"), SHMKV_HEAD, buf, sizeof buf, lens, 0, &n, 0), -EINVAL);
    CHECK_RC(shmkv_pop_many(db, KEY("L"), SHMKV_HEAD, NULL, 8, lens, 4, &n, 0), -EINVAL);
    CHECK_RC(shmkv_move(db, KEY("L"), SHMKV_HEAD, KEY("M"), SHMKV_TAIL, buf, sizeof buf, NULL, 0), -EINVAL);
    CHECK_RC(shmkv_move(db, KEY("L"), SHMKV_HEAD, KEY("M"), SHMKV_TAIL, NULL, 8, &vl, 0), -EINVAL);
    CHECK_RC(shmkv_llen(db, KEY("L"), NULL), -EINVAL);
    CHECK_RC(shmkv_lrange(db, KEY("L"), 0, -1, NULL, NULL), -EINVAL);
    /* an element larger than the whole table */
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = 1u << 20};
    shmkv *small;
    char sname[64];
    h_name(sname, sizeof sname, "args-small");
    CHECK_RC(shmkv_open(sname, &o, &small), 0);
    uint8_t *huge = calloc(1, 2u << 20);
    CHECK_RC(shmkv_push(small, KEY("L"), huge, 2u << 20, SHMKV_TAIL), -E2BIG);
    CHECK_EQ_U64(shmkv_count(small), 0);
    free(huge);
    close_unlink(small, sname);
    /* nothing changed */
    CHECK_LIST(db, "L", S123, 3);
    CHECK_LIST(db, "M", NULL, 0);
    CHECK_EQ_U64(shmkv_count(db), 2);
    CHECK_TABLE(db, "after bad arguments");
    close_unlink(db, name);
}

/* A buffer too small: -ENOBUFS with the length, and the element stays. */
static void enobufs(void)
{
    char name[64];
    shmkv *db = open_list_and_pair(name, sizeof name, "nobufs");
    uint8_t buf[ELEM_MAX * 4];
    size_t vl = 0, lens[4] = {0}, n = 9;
    size_t l1 = elem_len(1), l3 = elem_len(3);
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, buf, l1 - 1, &vl, 0), -ENOBUFS);
    CHECK_EQ_U64(vl, l1);
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, NULL, 0, &vl, 0), -ENOBUFS);
    CHECK_EQ_U64(vl, l1);
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_TAIL, buf, l3 - 1, &vl, -1), -ENOBUFS); /* no wait either */
    CHECK_EQ_U64(vl, l3);
    CHECK_RC(shmkv_pop_many(db, KEY("L"), SHMKV_HEAD, buf, l1 - 1, lens, 4, &n, 0), -ENOBUFS);
    CHECK_EQ_U64(lens[0], l1);
    CHECK_EQ_U64(n, 0);
    vl = 0;
    CHECK_RC(shmkv_move(db, KEY("L"), SHMKV_TAIL, KEY("L2"), SHMKV_HEAD, buf, l3 - 1, &vl, 0), -ENOBUFS);
    CHECK_EQ_U64(vl, l3);
    CHECK_RC(shmkv_move(db, KEY("L"), SHMKV_HEAD, KEY("L"), SHMKV_TAIL, buf, l1 - 1, &vl, 0), -ENOBUFS);
    CHECK_LIST(db, "L", S123, 3);
    CHECK_LIST(db, "L2", NULL, 0);
    CHECK_EQ_U64(shmkv_count(db), 2); /* the failed move made no destination list */
    /* exactly the right size takes it */
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, buf, l1, &vl, 0), 0);
    CHECK_EQ_U64(elem_seq(buf, vl, "L"), 1);
    CHECK_TABLE(db, "after short buffers");
    close_unlink(db, name);
}

struct upd {
    int calls;
};

static int upd_fn(void *ctx, const void *k, size_t kl, const void *v, size_t vl, shmkv_update_out *out)
{
    (void)k, (void)kl, (void)v, (void)vl;
    ((struct upd *)ctx)->calls++;
    out->val = "x";
    out->vlen = 1;
    return SHMKV_UPDATE_SET;
}

/* Pair calls on a list's key. */
static void pair_calls_on_list(shmkv *db)
{
    uint8_t buf[64];
    size_t vl;
    uint64_t u;
    void *a = NULL;
    int64_t i64;
    CHECK_RC(shmkv_put(db, KEY("L"), "x", 1), -EMEDIUMTYPE);
    CHECK_RC(shmkv_put_ttl(db, KEY("L"), "x", 1, 1000), -EMEDIUMTYPE);
    CHECK_RC(shmkv_add(db, KEY("L"), "x", 1), -EMEDIUMTYPE);
    CHECK_RC(shmkv_replace(db, KEY("L"), "x", 1), -EMEDIUMTYPE);
    CHECK_RC(shmkv_put_ex(db, KEY("L"), "x", 1, NULL), -EMEDIUMTYPE);
    shmkv_put_opts po = {.flags = SHMKV_IF_PRESENT};
    CHECK_RC(shmkv_put_ex(db, KEY("L"), "x", 1, &po), -EMEDIUMTYPE);
    po.flags = SHMKV_IF_ABSENT;
    CHECK_RC(shmkv_put_ex(db, KEY("L"), "x", 1, &po), -EMEDIUMTYPE);
    CHECK_RC(shmkv_expire(db, KEY("L"), 1000), -EMEDIUMTYPE);
    CHECK_RC(shmkv_ttl(db, KEY("L"), &u), -EMEDIUMTYPE);
    CHECK_RC(shmkv_incr(db, KEY("L"), 1, 0, &i64), -EMEDIUMTYPE);
    CHECK_RC(shmkv_append(db, KEY("L"), "x", 1), -EMEDIUMTYPE);
    CHECK_RC(shmkv_take(db, KEY("L"), &a, &vl), -EMEDIUMTYPE);
    struct upd up = {0};
    CHECK_RC(shmkv_update(db, KEY("L"), upd_fn, &up), -EMEDIUMTYPE);
    CHECK_EQ_INT(up.calls, 0);
    shmkv_pair pr = {.key = "L", .klen = 1, .val = "x", .vlen = 1, .rc = 1};
    CHECK_EQ_INT(shmkv_put_many(db, &pr, 1), 0);
    CHECK_RC(pr.rc, -EMEDIUMTYPE);
    CHECK_RC(shmkv_get(db, KEY("L"), buf, sizeof buf, &vl), -EMEDIUMTYPE);
    CHECK_RC(shmkv_get_alloc(db, KEY("L"), &a, &vl), -EMEDIUMTYPE);
    shmkv_item it = {.key = "L", .klen = 1, .buf = buf, .cap = sizeof buf, .rc = 1};
    CHECK_EQ_INT(shmkv_get_many(db, &it, 1), 0);
    CHECK_RC(it.rc, -EMEDIUMTYPE);
    uint64_t lease = 77;
    CHECK_RC(shmkv_get_lease(db, KEY("L"), buf, sizeof buf, &vl, 0, &lease), -EMEDIUMTYPE);
    CHECK_EQ_U64(lease, 0);
    CHECK_RC(shmkv_put_leased(db, KEY("L"), "x", 1, 0, 1), -EMEDIUMTYPE);
}

/* List calls on a pair's key (and on a list and a pair together). */
static void list_calls_on_pair(shmkv *db)
{
    uint8_t buf[ELEM_MAX];
    size_t vl, lens[2], n;
    uint64_t len = 5;
    shmkv_elem el = {"x", 1};
    CHECK_RC(shmkv_push(db, KEY("P"), "x", 1, SHMKV_TAIL), -EMEDIUMTYPE);
    CHECK_RC(shmkv_push(db, KEY("P"), "x", 1, SHMKV_HEAD), -EMEDIUMTYPE);
    CHECK_RC(shmkv_push_many(db, KEY("P"), &el, 1, SHMKV_TAIL), -EMEDIUMTYPE);
    CHECK_RC(shmkv_pop(db, KEY("P"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), -EMEDIUMTYPE);
    CHECK_RC(shmkv_pop(db, KEY("P"), SHMKV_TAIL, buf, sizeof buf, &vl, 5000), -EMEDIUMTYPE); /* no wait */
    CHECK_RC(shmkv_pop_many(db, KEY("P"), SHMKV_HEAD, buf, sizeof buf, lens, 2, &n, 0), -EMEDIUMTYPE);
    CHECK_RC(shmkv_llen(db, KEY("P"), &len), -EMEDIUMTYPE);
    CHECK_RC(shmkv_lrange(db, KEY("P"), 0, -1, visit_none, NULL), -EMEDIUMTYPE);
    CHECK_RC(shmkv_move(db, KEY("P"), SHMKV_HEAD, KEY("L"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EMEDIUMTYPE);
    CHECK_RC(shmkv_move(db, KEY("L"), SHMKV_HEAD, KEY("P"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EMEDIUMTYPE);
    CHECK_RC(shmkv_move(db, KEY("P"), SHMKV_HEAD, KEY("P"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EMEDIUMTYPE);
    CHECK_RC(shmkv_move(db, KEY("absent"), SHMKV_HEAD, KEY("P"), SHMKV_TAIL, buf, sizeof buf, &vl, 0),
             -EMEDIUMTYPE);
}

static void mediumtype(void)
{
    char name[64];
    shmkv *db = open_list_and_pair(name, sizeof name, "medium");
    pair_calls_on_list(db);
    list_calls_on_pair(db);
    /* nothing changed: the list, the pair, the count */
    CHECK_LIST(db, "L", S123, 3);
    CHECK_VAL(db, "P", 1, "pv", 2);
    CHECK_LIST(db, "absent", NULL, 0);
    CHECK_EQ_U64(shmkv_count(db), 2);
    CHECK_TABLE(db, "after calls of the wrong kind");
    /* the same from a read-only handle, for the reads */
    shmkv *ro;
    shmkv_options o = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    uint8_t buf[8];
    size_t vl;
    uint64_t len;
    CHECK_RC(shmkv_get(ro, KEY("L"), buf, sizeof buf, &vl), -EMEDIUMTYPE);
    CHECK_RC(shmkv_llen(ro, KEY("P"), &len), -EMEDIUMTYPE);
    CHECK_RC(shmkv_lrange(ro, KEY("P"), 0, -1, visit_none, NULL), -EMEDIUMTYPE);
    shmkv_close(ro);
    /* a deleted list's key takes a pair, and a deleted pair's key a list */
    CHECK_RC(shmkv_del(db, KEY("L")), 0);
    CHECK_RC(shmkv_del(db, KEY("P")), 0);
    CHECK_RC(shmkv_put(db, KEY("L"), "now a pair", 10), 0);
    CHECK_RC(elem_push(db, "P", 7, SHMKV_TAIL), 0);
    CHECK_VAL(db, "L", 1, "now a pair", 10);
    CHECK_LIST(db, "P", ((uint64_t[]){7}), 1);
    CHECK_TABLE(db, "after the kinds swapped");
    close_unlink(db, name);
}

static void cache_refuses(void)
{
    char name[64];
    h_name(name, sizeof name, "cache");
    shmkv_options o = {.flags = SHMKV_CREATE | SHMKV_CACHE, .max_bytes = 1u << 20};
    shmkv *db;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    uint8_t buf[64];
    size_t vl, lens[2], n;
    uint64_t len = 5;
    shmkv_elem el = {"x", 1};
    CHECK_RC(shmkv_push(db, KEY("L"), "x", 1, SHMKV_TAIL), -EOPNOTSUPP);
    CHECK_RC(shmkv_push_many(db, KEY("L"), &el, 1, SHMKV_HEAD), -EOPNOTSUPP);
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), -EOPNOTSUPP);
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, buf, sizeof buf, &vl, -1), -EOPNOTSUPP); /* visit_none waits */
    CHECK_RC(shmkv_pop_many(db, KEY("L"), SHMKV_TAIL, buf, sizeof buf, lens, 2, &n, 0), -EOPNOTSUPP);
    CHECK_RC(shmkv_move(db, KEY("L"), SHMKV_HEAD, KEY("M"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EOPNOTSUPP);
    /* no list can be in a cache: reads find none */
    CHECK_RC(shmkv_llen(db, KEY("L"), &len), 0);
    CHECK_EQ_U64(len, 0);
    CHECK_RC(shmkv_lrange(db, KEY("L"), 0, -1, visit_none, NULL), -ENOENT);
    CHECK_EQ_U64(shmkv_count(db), 0);
    /* a pair's key in a cache: still refused as a list call */
    CHECK_RC(shmkv_put(db, KEY("P"), "v", 1), 0);
    CHECK_RC(shmkv_push(db, KEY("P"), "x", 1, SHMKV_TAIL), -EOPNOTSUPP);
    CHECK_VAL(db, "P", 1, "v", 1);
    CHECK_TABLE(db, "cache after list calls");
    close_unlink(db, name);
}

static void rdonly(void)
{
    char name[64];
    shmkv *db = open_list_and_pair(name, sizeof name, "rdonly");
    shmkv *ro;
    shmkv_options o = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(name, &o, &ro), 0);
    uint8_t buf[ELEM_MAX];
    size_t vl, lens[2], n;
    shmkv_elem el = {"x", 1};
    CHECK_RC(shmkv_push(ro, KEY("L"), "x", 1, SHMKV_TAIL), -EROFS);
    CHECK_RC(shmkv_push(ro, KEY("new"), "x", 1, SHMKV_TAIL), -EROFS);
    CHECK_RC(shmkv_push_many(ro, KEY("L"), &el, 1, SHMKV_HEAD), -EROFS);
    CHECK_RC(shmkv_pop(ro, KEY("L"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), -EROFS);
    CHECK_RC(shmkv_pop_many(ro, KEY("L"), SHMKV_TAIL, buf, sizeof buf, lens, 2, &n, 0), -EROFS);
    CHECK_RC(shmkv_move(ro, KEY("L"), SHMKV_HEAD, KEY("M"), SHMKV_TAIL, buf, sizeof buf, &vl, 0), -EROFS);
    CHECK_RC(shmkv_del(ro, KEY("L")), -EROFS);
    /* the reads work read-only, and see the writer's changes */
    CHECK_LIST(ro, "L", S123, 3);
    CHECK_RC(elem_push(db, "L", 4, SHMKV_TAIL), 0);
    CHECK_RC(shmkv_pop(db, KEY("L"), SHMKV_HEAD, buf, sizeof buf, &vl, 0), 0);
    CHECK_LIST(ro, "L", ((uint64_t[]){2, 3, 4}), 3);
    CHECK_LIST(ro, "M", NULL, 0);
    CHECK_RC(shmkv_lrange(ro, KEY("absent"), 0, -1, visit_none, NULL), -ENOENT);
    CHECK_TABLE(ro, "read-only check of a table with a list");
    shmkv_close(ro);
    close_unlink(db, name);
}

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {
        {"bad_args", bad_args}, {"enobufs", enobufs}, {"mediumtype", mediumtype},
        {"cache", cache_refuses}, {"rdonly", rdonly},
    };
    return h_main(argc, argv, "test_list_errors", parts, H_NPARTS(parts));
}
