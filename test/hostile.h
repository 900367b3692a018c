/*
 * hostile.h - what test_hostile's files share: the table it damages and
 * where its structures lie (hostile_build.c), the places it damages and
 * the values it writes there (hostile_sites.c).  test_hostile.c runs the
 * cases.  These files read the library's internals (src/format.h).
 */
#ifndef SHMKV_TEST_HOSTILE_H
#define SHMKV_TEST_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* ---- the table (hostile_build.c) ------------------------------------------ */

enum hpair_kind { HP_PLAIN, HP_TTL, HP_SHORT, HP_HUGE, HP_CHAIN };

struct hpair {
    char key[16];
    uint8_t klen, kind;     /* HP_*: HP_TTL lives an hour, HP_SHORT expired at once */
    uint32_t vlen;          /* value: h_val_make(key, seq = 1) */
};

#define HPAIRS_MAX 640

/* Where the structures test_hostile damages lie in the image: byte offsets
 * in the file, 0 where the table has none.  Shard S is the one holding a
 * pair of every kind, an overflow chain and a deferred run. */
struct hloc {
    uint64_t shard, other_shard;            /* struct shard of S, of another shard */
    uint64_t log_open, log_closed, huge, chain_head, chain_piece, index_run, free_run, defer_run;
    uint64_t other_log, other_index;        /* runs of the other shard */
    uint64_t home_bucket, ov_bucket, ov_free;  /* a chain of two buckets, a free overflow bucket */
    uint64_t rec_plain, rec_ttl, rec_huge, rec_chain, rec_other;
    uint64_t slot_plain, slot_ov, slot_ttl, slot_huge, slot_chain;  /* the slot words */
    unsigned free_class, empty_class;       /* free_head[] entries: one in use, one empty */
};

struct htable {
    bool cache;
    unsigned char *image, *leak_image;      /* the sound table; the same with a leaked run */
    size_t len;
    uint64_t shards_off, data_off;
    unsigned nshards;
    struct hpair pairs[HPAIRS_MAX];
    unsigned npairs;
    unsigned probe[5];                      /* pairs the operations use: plain, ttl, huge, chain, other shard */
    struct hloc at;
};

/* Build the table of one mode in h_dir() and locate its structures. */
void hostile_build(struct htable *t, bool cache);
void hostile_free(struct htable *t);

/* ---- the damage (hostile_sites.c) ------------------------------------------ */

/* What shmkv_repair must make of a damaged table afterwards. */
enum hrepair {
    HR_ANY,     /* sound or -EBADMSG: what the damage destroyed is gone */
    HR_FIX,     /* sound, every pair as it was (pairs with a lifetime may differ in HR_FIXP) */
    HR_FIXP,
};

/* Kinds of field, each with its own list of hostile values. */
enum hclass { HC_OFF, HC_COUNT, HC_SMALL, HC_KIND, HC_WORD, HC_LAYOUT, HC_DIST, HC_SLOTOFF, HC_TAG, HC_READS,
              HC_EXPIRY, HC_LEAK, HC_CLASSES };

/* One field of one structure. */
struct hsite {
    char name[48];
    uint64_t off;           /* the field's first byte */
    uint8_t width;          /* 2, 4 or 8 bytes, little-endian */
    uint8_t shift, bits;    /* a bit field of it (bits 0: all of it) */
    uint8_t cls;            /* hclass */
    uint8_t repair;         /* hrepair for every value (see hostile_repair) */
    uint64_t self;          /* the structure holding the field (a link to it is a cycle), 0: none */
    uint64_t wrong[3];      /* structures of another kind (or another owner) to point at, 0: none */
    uint8_t plausible;      /* bit i: wrong[i] is what the field may hold in a sound table */
};

#define HSITES_MAX 400
/* Every site of the table, in order of structure; returns the count. */
unsigned hostile_sites(const struct htable *t, struct hsite *out);

/* The values tried at a site: ids (hval_*) into out, returns how many. */
#define HVALS_MAX 16
unsigned hostile_values(const struct hsite *s, int *out);
const char *hostile_value_name(int v);
bool hostile_value_slow(int v);  /* costs every locking call a second (a live lock holder) */

/* Write value v at site s of image (len bytes); the table's file size is
 * len.  Returns false if that leaves the field as it was. */
bool hostile_apply(const struct htable *t, const struct hsite *s, int v, unsigned char *image);

/* What repair must achieve after value v at site s. */
enum hrepair hostile_repair(const struct hsite *s, int v);

#endif
