/*
 * fuzz_common.h - what the libFuzzer targets (fuzz_open.c, fuzz_ops.c) and
 * the seed generator (gen_seeds.c) share; fuzz_common.c.
 *
 *  - The table under test lives in memory: one memfd per process, loaded
 *    with a table image per input and attached with the test hook
 *    shmkv__open_fd().  No file system, nothing to clean up after a crash.
 *  - Table images are made once, at start-up, and are deterministic: a
 *    new table gets a random hash seed, which would make every run of a
 *    fuzzer see different tables, so fz_fresh() patches a fixed seed (and
 *    the header's checksum) into it; and the identities of the threads
 *    that last held its locks (tids, start times, boot) are cleared, as in
 *    a table never locked, so they carry nothing of the building process.
 *    A crash input found once reproduces on every run.
 *  - fuzz_open's templates, which gen_seeds also writes out whole.
 *
 * The library is built with SHMKV_TEST_HOOKS here: shmkv__clock_advance()
 * (src/clock.c) moves this process's table clock forward, for expiry
 * without sleeping.
 *
 * Needs src/format.h: the fuzzers compile the library's sources themselves.
 */
#ifndef SHMKV_FUZZ_COMMON_H
#define SHMKV_FUZZ_COMMON_H

#include "format.h"
#include "handle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* src/clock.c, test builds: move this process's table clock forward. */
void shmkv__clock_advance(int64_t ms);

/* ---- the table in memory ---- */

/* Make the process's memfd hold exactly len bytes of img, of which only
 * the first used may be other than zero (nothing may be attached to it).
 * A new table's file is mostly zeros (its first growth step): those are
 * left as a hole, not written. */
void fz_load(const void *img, size_t used, size_t len);

/* How many bytes of img are up to its last page that is not all zeros. */
size_t fz_used(const void *img, size_t len);

/* Attach to the table in the memfd (shmkv__open_fd). */
int fz_attach(bool rdonly, shmkv **db);

/* A malloc()ed copy of the memfd's contents, its length in *len. */
unsigned char *fz_image(size_t *len);

/* An empty table image (SHMKV_CREATE with max_bytes and flags), with a
 * fixed hash seed; malloc()ed, its length in *len.  Aborts on failure. */
unsigned char *fz_fresh(uint64_t max_bytes, unsigned flags, size_t *len);

/* The offsets of the locks of an image (the allocator's, then each
 * shard's own and its two lanes'), as far as the header's geometry says
 * and the image holds, at most cap; returns how many. */
size_t fz_locks(const unsigned char *img, size_t len, size_t *at, size_t cap);
#define FZ_LOCKS_MAX (1 + 3 * (1u << SHARD_BITS_MAX))

/* Clear every lock's word and holder identity (not its gen). */
void fz_locks_forget(unsigned char *img, size_t len);

/* Stand-ins an input may put in a lock for fuzz_open's own thread, whose
 * id changes from run to run (fuzz_open.c puts the real values in): in the
 * word's or the owner's tid bits, the owner's PID-namespace half, boot and
 * start.  And a tid that no thread has: above every pid_max (2^22 at most). */
#define FZ_SELF_TID 0x3ffffffeu
#define FZ_SELF_NS 0xfffffffeu
#define FZ_SELF_BOOT 0xfffffffeu
#define FZ_SELF_START 0xfffffffffffffffeull
#define FZ_GONE_TID 0x3ffffff0u

/* ---- values and keys ---- */

/* Deterministic value bytes for (a, b). */
void fz_fill(unsigned char *v, size_t len, uint64_t a, uint64_t b);

/* Keys the templates hold and fuzz_open asks for: "k0".."k23" (templates
 * 1, 2, 4) and "s0".."s499" (template 3).  k holds 32 bytes. */
size_t fz_key(char *k, int i);

/* put (ttl_ms 0) or put_ttl of fz_fill(vl bytes, kl, seq) */
int fz_put_ttl(shmkv *db, const char *k, size_t kl, size_t vl, uint64_t seq, uint64_t ttl_ms);

/* ---- fuzz_open's templates ---- */

enum { FZ_TEMPLATES = 5 };
extern const char *const fz_template_names[FZ_TEMPLATES];
extern const uint64_t fz_template_bytes[FZ_TEMPLATES];

/* Template t built in the memfd; a malloc()ed image, its length in *len,
 * locks forgotten.  Aborts on failure. */
unsigned char *fz_template(int t, size_t *len);

#endif
