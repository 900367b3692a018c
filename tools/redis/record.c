/*
 * record.c - the agent's record, as text (record.h).
 */
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_MAGIC "shmkv-redis 1"

size_t record_format(const struct record *r, char *out)
{
    size_t n = (size_t)snprintf(out, RECORD_TEXT_MAX,
                                RECORD_MAGIC "\npid %" PRId64 "\ngeneration %016" PRIx64
                                "\nheartbeat-ms %" PRIu64 "\nmax-ttl-ms %" PRIu64 "\n",
                                r->pid, r->generation, r->heartbeat_ms, r->max_ttl_ms);
    for (int i = 0; i < r->nprefixes; i++) {
        n += (size_t)snprintf(out + n, RECORD_TEXT_MAX - n, "prefix ");
        for (size_t j = 0; j < r->plen[i]; j++)
            n += (size_t)snprintf(out + n, RECORD_TEXT_MAX - n, "%02x", r->prefix[i][j]);
        out[n++] = '\n';
    }
    return n;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Is the line one of the settings this version reads? */
static int known_line(const char *line, size_t len)
{
    static const char *const names[] = {"prefix", "pid", "generation", "heartbeat-ms", "max-ttl-ms"};
    const char *sp = memchr(line, ' ', len);
    size_t nl = sp ? (size_t)(sp - line) : len;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == nl && !memcmp(line, names[i], nl))
            return 1;
    return 0;
}

/* One "name value" line of the record into r; 0 or -1.  Other lines are
 * settings of a later agent, which readers ignore whatever they hold
 * (docs/near-cache.md): so a new setting does not turn readers away. */
static int parse_line(struct record *r, const char *line, size_t len)
{
    char buf[2 * RECORD_PREFIX_MAX + 32];
    if (!known_line(line, len))
        return 0;
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, line, len);
    buf[len] = 0;
    char *sp = strchr(buf, ' '), *end;
    if (!sp)
        return -1;
    *sp++ = 0;
    if (!strcmp(buf, "prefix")) {
        size_t hl = strlen(sp);
        if (r->nprefixes == RECORD_MAX_PREFIXES || hl % 2 || !hl || hl / 2 > RECORD_PREFIX_MAX)
            return -1;
        for (size_t j = 0; j < hl / 2; j++) {
            int hi = hexval(sp[2 * j]), lo = hexval(sp[2 * j + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            r->prefix[r->nprefixes][j] = (unsigned char)(hi << 4 | lo);
        }
        r->plen[r->nprefixes++] = hl / 2;
        return 0;
    }
    errno = 0;
    uint64_t v = strtoull(sp, &end, !strcmp(buf, "generation") ? 16 : 10);
    if (end == sp || *end || errno)
        return -1;
    if (!strcmp(buf, "pid"))
        r->pid = (int64_t)v;
    else if (!strcmp(buf, "generation"))
        r->generation = v;
    else if (!strcmp(buf, "heartbeat-ms"))
        r->heartbeat_ms = v;
    else
        r->max_ttl_ms = v;
    return 0;
}

int record_parse(const void *text, size_t len, struct record *r)
{
    const char *p = text, *end = p + len;
    size_t ml = strlen(RECORD_MAGIC);
    memset(r, 0, sizeof *r);
    if (len <= ml || memcmp(p, RECORD_MAGIC "\n", ml + 1))
        return -1;
    for (p += ml + 1; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || parse_line(r, p, (size_t)(nl - p)))
            return -1;
        p = nl + 1;
    }
    return r->heartbeat_ms ? 0 : -1;
}

int key_reserved(const void *key, size_t klen)
{
    return klen > 0 && ((const unsigned char *)key)[0] == 0;
}

int record_cacheable(const struct record *r, const void *key, size_t klen)
{
    if (key_reserved(key, klen))
        return 0;
    if (!r->nprefixes)
        return 1;
    for (int i = 0; i < r->nprefixes; i++)
        if (klen >= r->plen[i] && !memcmp(key, r->prefix[i], r->plen[i]))
            return 1;
    return 0;
}

int64_t record_fill_ttl(long long pttl, uint64_t spent_ms, uint64_t cap_a, uint64_t cap_b)
{
    uint64_t ttl = 0;
    if (pttl < -1)
        return -1;
    if (pttl >= 0) {
        if ((uint64_t)pttl <= spent_ms)
            return -1;
        ttl = (uint64_t)pttl - spent_ms;
    }
    uint64_t caps[2] = {cap_a, cap_b};
    for (int i = 0; i < 2; i++)
        if (caps[i] && (!ttl || ttl > caps[i]))
            ttl = caps[i];
    return (int64_t)ttl;
}
