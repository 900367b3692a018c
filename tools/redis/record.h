/*
 * record.h - the agent's record: the one reserved pair of a near-cache
 * table, its heartbeat and the settings readers must follow.
 *
 * Key: SHMKV_REDIS_AGENT_KEY (a NUL byte, then "shmkv-redis:agent").  The
 * agent writes it with a lifetime that ends heartbeat-ms after the last
 * moment it knows it had applied every invalidation; readers trust the
 * table only while it is there.  Its value is text, one setting a line
 * (docs/near-cache.md):
 *
 *     shmkv-redis 1
 *     pid 4242
 *     generation 9c0d5be3a17f2e41
 *     heartbeat-ms 1000
 *     max-ttl-ms 0
 *     prefix 757365723a          (hex; one line per prefix, none: every key)
 */
#ifndef SHMKV_REDIS_RECORD_H
#define SHMKV_REDIS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_MAX_PREFIXES 64
#define RECORD_PREFIX_MAX 256
#define RECORD_TEXT_MAX (160 + RECORD_MAX_PREFIXES * (2 * RECORD_PREFIX_MAX + 8))

struct record {
    int64_t pid;
    uint64_t generation;
    uint64_t heartbeat_ms;
    uint64_t max_ttl_ms;   /* 0: no cap */
    int nprefixes;
    size_t plen[RECORD_MAX_PREFIXES];
    unsigned char prefix[RECORD_MAX_PREFIXES][RECORD_PREFIX_MAX];
};

/* The text of r into out (RECORD_TEXT_MAX bytes); its length. */
size_t record_format(const struct record *r, char *out);
/* Parse the text; 0, or -1 for text that is no record of this version. */
int record_parse(const void *text, size_t len, struct record *r);

/* May a reader store this key under r: it does not start with a NUL byte
 * (the reserved keys) and starts with one of r's prefixes (any key if r
 * has none).  The agent never deletes reserved keys on an invalidation. */
int record_cacheable(const struct record *r, const void *key, size_t klen);
int key_reserved(const void *key, size_t klen);

/* The lifetime to store a fill with (step 7 of near_get): what Redis had
 * left for the key (pttl, as PTTL answered: -1 none, -2 gone) less spent_ms
 * (the time since it was asked, rounded up, plus 1 ms for the rounding of
 * both clocks: never outlive Redis), capped by cap_a and cap_b (0: no
 * cap).  0: none; -1: do not store. */
int64_t record_fill_ttl(long long pttl, uint64_t spent_ms, uint64_t cap_a, uint64_t cap_b);

#endif
