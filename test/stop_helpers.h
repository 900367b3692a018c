/*
 * stop_helpers.h - what the tests of stopped, killed and gone lock holders
 * share (test_lock, test_stop, test_stop_torture, test_expire,
 * test_cache): a writer child that stops itself at one of the library's
 * named pause points (src/fault.h), waiting for a child to stop or die,
 * and keys chosen by where the table puts them (shard, bucket, place in
 * the bucket's chain), which reads the library's internals (src/).
 */
#ifndef SHMKV_TEST_STOP_HELPERS_H
#define SHMKV_TEST_STOP_HELPERS_H

#include "fault.h" /* the pause points, shmkv__pause_arm */
#include "shmkv.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* In a child: the table opened writable, or the child ends (the failure
 * recorded). */
shmkv *child_open(const char *name);

/* What a paused child does once it has the table open and its pause point
 * armed; when it returns the child exits (status 0 if no check failed). */
typedef void (*paused_fn)(shmkv *db, void *arg);

/* Fork a child that opens table name, arms pause point `point` to fire on
 * its (after + 1)-th pass and calls fn(db, arg).  Returns the child's pid
 * once it has stopped there, or -1 (a failure recorded, the child reaped)
 * if it ended or did not stop within 10 s. */
pid_t fork_paused(const char *name, int point, long after, paused_fn fn, void *arg);

/* Wait up to timeout_s for child pid to stop: 1 stopped, 0 it ended
 * (reaped; *status set if status is not NULL), -1 still running. */
int wait_stopped(pid_t pid, double timeout_s, int *status);

/* Let a stopped child go on and collect it (it must exit with 0). */
void cont_child(pid_t pid, const char *what);
/* Kill a child (stopped or not) with SIGKILL and reap it. */
void kill_child(pid_t pid);

/* The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z', ...), 0 if
 * the process is gone. */
char proc_state(pid_t pid);

/* The table's hash of a key, and the shard it puts the key in. */
uint64_t key_hash(shmkv *db, const void *key, size_t klen);
unsigned key_shard(shmkv *db, const void *key, size_t klen);

/* Write "<prefix><i>" into k for the first i >= *next whose key lies in
 * shard `shard` (any if < 0) and, if bucket >= 0, in that bucket of the
 * shard's present layout; moves *next past it.  Returns the key's length. */
size_t key_find(shmkv *db, char *k, size_t cap, const char *prefix, long *next, long shard, long bucket);

/* n keys "g<id0 + j>-<m>" (j < n) in keys[j] (each 24 bytes) that lie in
 * shard `shard` and whose hashes have the bits `mask` equal to `low`: they
 * share a bucket (and its overflow buckets) while the shard has at most
 * mask + 1 buckets. */
void key_group(shmkv *db, char (*keys)[24], int n, int id0, unsigned shard, uint64_t low, uint64_t mask);

/* The home bucket of a key in its shard's present layout. */
uint64_t key_bucket(shmkv *db, const void *key, size_t klen);

/* Where the key's slot is: which bucket of its chain (0: the home bucket,
 * 1 and up: overflow buckets) and which slot of it; -1 if not found.
 * Only while no writer works on the key's shard. */
int key_place(shmkv *db, const void *key, size_t klen, unsigned *slot);

/* Where the key's record is (its offset in the file), 0 if not found.
 * Only while no writer works on the key's shard. */
uint64_t key_record(shmkv *db, const void *key, size_t klen);

#endif
