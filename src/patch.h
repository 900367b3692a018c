/*
 * patch.h - increments that rewrite a counter's digits in place (patch.c),
 * and the part of their protocol that readers run (inline: every get
 * that meets a rewrite in flight runs it).
 */
#ifndef SHMKV_PATCH_H
#define SHMKV_PATCH_H

#include "handle.h"
#include "index.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Under the shard's lock: may the value of the key's record r be
 * rewritten in place by a value of n bytes?  (Same length, in one piece,
 * short enough for the journal.) */
static inline bool shmkv__patch_fits(const struct rec *r, size_t n)
{
    return !(r->dist & REC_CHAIN) && r->vlen == n && n <= PATCH_MAX;
}

/* Under the shard's lock: rewrite the value of the record at off (which
 * patch_fits allowed) with the n bytes at text, journaled, and count it
 * (shard.patches): a writer killed at any instant leaves the old value or
 * (once the journal names the record) the new one. */
void shmkv__patch(shmkv *db, struct shard *s, uint64_t off, const void *text, size_t n);

/* Decimal text (optional '-', 1 to 19 digits, nothing else) into *v:
 * what shmkv_incr reads and writes.  False if it is not that or does not
 * fit an int64. */
bool shmkv__parse_int(const uint8_t *p, size_t n, int64_t *v);

/* The next holder after a gone one (shard.c): finish a rewrite left in
 * flight, from the journal; a journal that cannot be a rewrite of a
 * counter's record (damage) is dropped. */
void shmkv__patch_repair(shmkv *db, struct shard *s);

/* For the checker: what is wrong with the shard's patch fields, or NULL
 * (none in flight, or one that repair would finish: its lock held). */
const char *shmkv__patch_damage(shmkv *db, struct shard *s);

/* Reader, after view_patch said VIEW_JOURNAL for a record of vlen bytes:
 * the journal's text into dst.  0; VIEW_PATCHED if the journal moved
 * while it was copied (look again); -EBADMSG if it cannot be that
 * record's value (damage).  The journal is written before the patch word
 * names the record and only rewritten after the word moved on, so an
 * unchanged word after the copy proves the copy. */
static inline int shmkv__patch_read(const struct shard *s, const struct view *v, void *dst, size_t vlen)
{
    uint32_t n;
    racy_copy(&n, &s->patch_len, sizeof n);
    bool fits = n == vlen && n <= PATCH_MAX;
    if (fits && n)
        racy_copy(dst, s->patch_text, n);
    seq_end();
    if (seq_changed(&s->patch, v->patch))
        return VIEW_PATCHED;
    return fits ? 0 : -EBADMSG;
}

#endif
