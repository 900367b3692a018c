/*
 * test_chain.c - big values in a fragmented table.
 *
 * A value too big for any single free run is stored across a chain of
 * runs rather than failing with -ENOSPC while the table has room.  Fill a
 * small table with mid-sized values, delete every other one so the free
 * space is all holes smaller than the next value, then store, read (get,
 * get_alloc, get_many, foreach), overwrite and delete values several times
 * the size of any hole.
 */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MID (20 * 1024)
#define NMID 64

static int seen_big;

static int visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)ctx;
    if (!h_val_check(val, vlen, key, klen, NULL))
        h_fail(__FILE__, __LINE__, "foreach saw a bad value for a %zu-byte key", klen);
    if (klen == 3 && !memcmp(key, "big", 3))
        seen_big++;
    return 0;
}

static void check_big(shmkv *db, size_t vl, const char *when)
{
    static uint8_t buf[600 * 1024];
    size_t got = 0;
    CHECK_RC(shmkv_get(db, "big", 3, buf, sizeof buf, &got), 0);
    CHECKF(got == vl && h_val_check(buf, got, "big", 3, NULL), "%s: get of the big value", when);
    void *p = NULL;
    CHECK_RC(shmkv_get_alloc(db, "big", 3, &p, &got), 0);
    CHECKF(got == vl && h_val_check(p, got, "big", 3, NULL), "%s: get_alloc of the big value", when);
    free(p);
    shmkv_item it = {.key = "big", .klen = 3, .buf = buf, .cap = sizeof buf};
    CHECK_EQ_INT(shmkv_get_many(db, &it, 1), 1);
    CHECKF(it.rc == 0 && it.vlen == vl && h_val_check(buf, vl, "big", 3, NULL), "%s: get_many", when);
    seen_big = 0;
    CHECK_RC(shmkv_foreach(db, visit, NULL), 0);
    CHECK_EQ_INT(seen_big, 1);
    CHECK_TABLE(db, when);
}

static void test_chain(void)
{
    char name[64];
    h_name(name, sizeof name, "chain");
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = 2u << 20};
    shmkv *db;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    uint8_t *v = malloc(600 * 1024);
    char k[32];
    int n = 0;
    for (;; n++) { /* fill with mid-sized values until full */
        size_t kl = (size_t)snprintf(k, sizeof k, "mid-%d", n);
        h_val_make(v, MID, k, kl, (uint64_t)n);
        int rc = shmkv_put(db, k, kl, v, MID);
        if (rc == -ENOSPC)
            break;
        CHECK_RC(rc, 0);
        if (rc)
            break;
    }
    CHECKF(n > 20, "only %d mid-sized values fit", n);
    for (int i = 0; i < n; i += 2) { /* holes of one mid-sized value each */
        size_t kl = (size_t)snprintf(k, sizeof k, "mid-%d", i);
        CHECK_RC(shmkv_del(db, k, kl), 0);
    }
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    h_note("%d mid values, half deleted: free %llu, garbage %llu, file %llu", n,
           (unsigned long long)st.free_bytes, (unsigned long long)st.garbage_bytes,
           (unsigned long long)st.file_bytes);
    /* each of these is several holes big; together they fit */
    size_t sizes[] = {3 * MID + 100, 5 * MID + 7, 4 * MID, 6 * MID + 4000};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        h_val_make(v, sizes[i], "big", 3, i);
        int rc = shmkv_put(db, "big", 3, v, sizes[i]);
        CHECKF(rc == 0, "put of %zu bytes into a table with %llu bytes in holes: %s", sizes[i],
               (unsigned long long)st.free_bytes, h_errname(rc));
        if (rc == 0)
            check_big(db, sizes[i], "after a chained put");
    }
    /* the survivors are intact */
    for (int i = 1; i < n; i += 2) {
        size_t kl = (size_t)snprintf(k, sizeof k, "mid-%d", i), vl;
        CHECK_RC(shmkv_get(db, k, kl, v, MID, &vl), 0);
        CHECK(vl == MID && h_val_check(v, vl, k, kl, NULL));
    }
    /* deleting the big value gives all its pieces back: it fits again */
    CHECK_RC(shmkv_del(db, "big", 3), 0);
    CHECK_TABLE(db, "after deleting the big value");
    h_val_make(v, 6 * MID + 4000, "big", 3, 99);
    CHECK_RC(shmkv_put(db, "big", 3, v, 6 * MID + 4000), 0);
    check_big(db, 6 * MID + 4000, "after putting it back");
    free(v);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static const struct h_part parts[] = {
    { "chain", test_chain },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_chain", parts, H_NPARTS(parts));
}
