/*
 * api_helpers.h - what the API tests (test_open, test_rw, test_batch,
 * test_iter, test_errors, test_corrupt, test_stats) share: a fresh table,
 * and a key's exact value checked through both get functions.
 */
#ifndef SHMKV_TEST_API_HELPERS_H
#define SHMKV_TEST_API_HELPERS_H

#include <stddef.h>

#include "shmkv.h"

/* Create a table under a fresh name (written to name); a test that cannot
 * even do that ends here with its verdict. */
shmkv *open_new(char *name, size_t cap, const char *tag);

/* 1 if path exists (a symbolic link counts, not followed). */
int exists(const char *path);

/* key holds exactly (val, vlen), through get (roomy and exact buffers) and
 * get_alloc; failures are reported at the caller's line. */
void check_val_at(const char *file, int line, shmkv *db, const void *key, size_t klen,
                  const void *val, size_t vlen);
#define CHECK_VAL(db, k, kl, v, vl) check_val_at(__FILE__, __LINE__, db, k, kl, v, vl)

/* key is absent for get and get_alloc. */
void check_absent_at(const char *file, int line, shmkv *db, const void *key, size_t klen);
#define CHECK_ABSENT(db, k, kl) check_absent_at(__FILE__, __LINE__, db, k, kl)

#endif
