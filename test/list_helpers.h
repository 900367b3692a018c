/*
 * list_helpers.h - what the list tests (test_list, test_list_errors,
 * test_list_space, test_list_model, test_queue, test_list_crash,
 * test_list_threads) share: self-validating elements, a list's contents
 * read back, and a table to start from.
 */
#ifndef SHMKV_TEST_LIST_HELPERS_H
#define SHMKV_TEST_LIST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "shmkv.h"

#define ELEM_MAX 256u /* the longest element elem_make makes */

/* The length of element seq of a list (H_VAL_MIN to ELEM_MAX bytes, varied
 * so that lengths are checked too). */
size_t elem_len(uint64_t seq);

/* Element seq of list key: h_val_make's bytes for (key, seq), elem_len(seq)
 * long, so an element read back names its list and its number and shows
 * any damage.  Returns its length. */
size_t elem_make(void *buf, const char *key, uint64_t seq);

/* The number a valid element of key carries, or UINT64_MAX if the bytes
 * are not one of key's elements of the right length. */
uint64_t elem_seq(const void *val, size_t vlen, const char *key);

/* Push element seq of key at end; returns shmkv_push's rc. */
int elem_push(shmkv *db, const char *key, uint64_t seq, int end);

/* The numbers of the list's elements, head to tail (shmkv_lrange 0..-1),
 * elements made for list tag (moves carry elements from list to list), at
 * most cap of them into seqs, the count into *n (which may pass cap).  An
 * element that is not valid reads as UINT64_MAX.  Returns lrange's rc. */
int list_seqs(shmkv *db, const char *key, const char *tag, uint64_t *seqs, size_t cap, size_t *n);

/* The list at key holds exactly elements want[0..n) of list tag from head
 * to tail (n 0: empty or absent), by lrange and llen. */
void check_list_at(const char *file, int line, shmkv *db, const char *key, const char *tag, const uint64_t *want,
                   size_t n);
#define CHECK_LIST(db, key, want, n) check_list_at(__FILE__, __LINE__, db, key, key, want, n)
#define CHECK_LIST_OF(db, key, tag, want, n) check_list_at(__FILE__, __LINE__, db, key, tag, want, n)

/* A new table (open_new's) with a list "L" holding elements 1, 2, 3 of
 * list "L" and a pair "P" holding "pv". */
shmkv *open_list_and_pair(char *name, size_t cap, const char *tag);

/* Close db and remove its table, name. */
void close_unlink(shmkv *db, const char *name);

/* A foreach callback that stops at once (returns 0): for the calls that
 * must fail before visiting anything. */
int visit_none(void *ctx, const void *k, size_t kl, const void *v, size_t vl);

#endif
