/* api_helpers.c - see api_helpers.h. */
#include "api_helpers.h"

#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const shmkv_options OPT_CREATE = { .flags = SHMKV_CREATE };

shmkv *open_new(char *name, size_t cap, const char *tag)
{
    shmkv *db = NULL;
    h_name(name, cap, tag);
    int rc = shmkv_open(name, &OPT_CREATE, &db);
    CHECK_RC(rc, 0);
    if (rc != 0) {
        h_note("cannot create a table, giving up");
        exit(h_done());
    }
    return db;
}

int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

void check_val_at(const char *file, int line, shmkv *db, const void *key, size_t klen,
                  const void *val, size_t vlen)
{
    size_t cap = vlen + 16;
    unsigned char *buf = malloc(cap);
    size_t got = (size_t)-1;
    int rc = shmkv_get(db, key, klen, buf, cap, &got);
    if (rc != 0) {
        h_fail(file, line, "get returned %s, expected 0", h_errname(rc));
    } else if (got != vlen) {
        h_fail(file, line, "get length %zu, expected %zu", got, vlen);
    } else if (vlen && memcmp(buf, val, vlen) != 0) {
        h_fail(file, line, "get returned wrong bytes");
    }
    /* exact capacity */
    got = (size_t)-1;
    rc = shmkv_get(db, key, klen, buf, vlen, &got);
    if (rc != 0 || got != vlen || (vlen && memcmp(buf, val, vlen) != 0))
        h_fail(file, line, "get with cap == vlen: rc %s len %zu", h_errname(rc), got);
    free(buf);

    void *a = NULL;
    got = (size_t)-1;
    rc = shmkv_get_alloc(db, key, klen, &a, &got);
    if (rc != 0) {
        h_fail(file, line, "get_alloc returned %s, expected 0", h_errname(rc));
    } else {
        if (a == NULL)
            h_fail(file, line, "get_alloc gave a NULL pointer");
        else if (got != vlen)
            h_fail(file, line, "get_alloc length %zu, expected %zu", got, vlen);
        else if (vlen && memcmp(a, val, vlen) != 0)
            h_fail(file, line, "get_alloc returned wrong bytes");
    }
    free(a);
}

void check_absent_at(const char *file, int line, shmkv *db, const void *key, size_t klen)
{
    unsigned char buf[8];
    size_t got;
    int rc = shmkv_get(db, key, klen, buf, sizeof buf, &got);
    if (rc != -ENOENT)
        h_fail(file, line, "get of an absent key returned %s", h_errname(rc));
    void *a = NULL;
    rc = shmkv_get_alloc(db, key, klen, &a, &got);
    if (rc != -ENOENT)
        h_fail(file, line, "get_alloc of an absent key returned %s", h_errname(rc));
    if (rc == 0)
        free(a);
}
