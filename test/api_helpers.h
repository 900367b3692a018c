/*
 * api_helpers.h - what the API tests (test_open, test_rw, test_batch,
 * test_iter, test_errors, test_corrupt, test_stats and the tests of the
 * write API) share: a fresh table, a key's exact value checked through
 * both get functions, its lifetime, a table whose free space is all holes.
 */
#ifndef SHMKV_TEST_API_HELPERS_H
#define SHMKV_TEST_API_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "shmkv.h"

/* Create a table under a fresh name (written to name); a test that cannot
 * even do that ends here with its verdict. */
shmkv *open_new(char *name, size_t cap, const char *tag);

/* The same with options: flags (SHMKV_CREATE is added) and max_bytes. */
shmkv *open_with(char *name, size_t cap, const char *tag, unsigned flags, uint64_t max_bytes);

/* A read-only handle on the table name (NULL, with a failure, if none). */
shmkv *open_ro(const char *name);

/* The test builds' clock (clock.c): moves this process's table time, and
 * that of the children it forks afterwards. */
void shmkv__clock_advance(int64_t ms);

/* A table of 2 MiB filled with values of FRAG_HOLE bytes ("mid-N"), every
 * other one then deleted: its free space is all holes of one such value,
 * so a value several holes long is stored as a chain of runs.  The
 * survivors are the odd N below *nmid. */
#define FRAG_HOLE (20 * 1024)
shmkv *open_fragmented(char *name, size_t cap, const char *tag, int *nmid);

/* The table's figures (a failed check if shmkv_stat fails). */
shmkv_stats stats_of(shmkv *db);

/* The end of a part: the checker finds the table sound (when is not
 * NULL: it says after what), then close it and unlink it. */
void finish_table_at(const char *file, int line, shmkv *db, const char *name, const char *when);
#define FINISH_TABLE(db, name, when) finish_table_at(__FILE__, __LINE__, db, name, when)

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

/* key is present and its lifetime is want_ms (0: none), within slack ms
 * below it (time passes: the callers allow a quarter of a second, for
 * loaded machines, and tell lifetimes apart by more). */
void check_ttl_at(const char *file, int line, shmkv *db, const void *key, size_t klen,
                  uint64_t want_ms, uint64_t slack);
#define CHECK_TTL(db, k, kl, want, slack) check_ttl_at(__FILE__, __LINE__, db, k, kl, want, slack)

#endif
