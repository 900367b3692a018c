/*
 * fuzz_lists.h - the list half of fuzz_ops (fuzz_lists.c): four list keys,
 * each with a deque as its model, driven by fuzz_ops' opcodes for lists.
 */
#ifndef SHMKV_FUZZ_LISTS_H
#define SHMKV_FUZZ_LISTS_H

#include "shmkv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An input being read: fuzz_ops' program bytes. */
struct in {
    const uint8_t *p;
    size_t n;
};

/* The next byte of the input (0 once it is used up). */
static inline unsigned next(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* The list opcodes, by their operands:
 *   push      list, end, count (1 to 8: push_many when > 1), then per
 *             element: size class, size byte
 *   pop       list, end, count (1: pop, else pop_many of up to 8), cap byte
 *   move      source list, from, destination list, to, cap byte
 *   llen      list        lrange  list, start byte, stop byte (signed)
 *   ldel      list (shmkv_del of the whole list)
 *   clash     key byte: a list call on a pair's key, or a pair call on a
 *             list's key (-EMEDIUMTYPE both ways, nothing changed)
 * A list byte names one of four list keys (mod 4). */
enum { FL_PUSH, FL_POP, FL_MOVE, FL_LLEN, FL_LRANGE, FL_LDEL, FL_CLASH, FL_COUNT_ };
extern const char *const fl_names[FL_COUNT_];

/* Set up once: value bytes are slices of pat (at least 2 * vmax bytes). */
void fl_init(const unsigned char *pat, size_t vmax);

/* At the start of each input: no lists; cache: lists are refused. */
void fl_reset(bool cache, uint64_t max_bytes);

/* Apply list opcode op (FL_*) with its operands from in; rdonly: the
 * handle is read-only.  Aborts on any difference from the model. */
void fl_op(shmkv *db, bool rdonly, int op, struct in *in);

/* shmkv_clear emptied the table: no lists. */
void fl_clear(void);

/* How many lists exist, and the bytes they count in live_bytes; how many
 * may exist (made empty by a move that then ran out of space), and their
 * bytes. */
uint64_t fl_count(void);
uint64_t fl_live_bytes(void);
uint64_t fl_maybe_count(void);
uint64_t fl_maybe_bytes(void);

/* An upper bound of the table memory the lists' elements need, for
 * deciding whether -ENOSPC is allowed. */
uint64_t fl_used_bound(void);

/* Every list compared whole with its model (llen, lrange 0..-1). */
void fl_check_all(shmkv *db);

/* Provided by fuzz_ops.c: a pair key live in the model (not fading), for
 * the clash opcode; its bytes; the bytes the model's pairs may hold;
 * the pair model's key; the failure report. */
bool fo_pair_live(int i);
int fo_pair_key(unsigned b, const void **key, size_t *klen);
uint64_t fo_pair_bytes(void);
void fo_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
