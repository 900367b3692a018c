/*
 * hitratio_mc.c - --hitratio's memcached: a fresh memcached -m B/MiB (its
 * defaults otherwise: slab allocator, segmented LRU, evicting) on a Unix
 * socket, spoken to in its text protocol.
 *
 * The requests go in batches of up to MC_BATCH distinct keys
 * ("get k1 k2 ..."), and a batch's misses are set with "noreply" in the
 * same write as the next batch's get (after the last batch, a "version"
 * is what there is to wait for).  The only difference from one get and set
 * at a time: a set of a batch's miss comes after the batch's other gets,
 * which are of other keys (a set could evict one of them in between only
 * if memcached's LRU tail held it; at 32 of hundreds of thousands of
 * requests this does not show in the ratio).
 */
#include "hitratio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- reading replies ----------------------------------------------------- */

struct rd {
    int fd;
    char *buf;
    size_t pos, len, cap;
};

/* Make at least n bytes available at rd->buf + rd->pos. */
static int rd_fill(struct rd *r, size_t n)
{
    if (r->len - r->pos >= n)
        return 0;
    if (r->pos) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (n > r->cap)
        return -1;
    while (r->len < n) {
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        r->len += (size_t)got;
    }
    return 0;
}

/* The next line (without \r\n, NUL-terminated in place), or NULL. */
static char *rd_line(struct rd *r)
{
    for (size_t scanned = 0;;) {
        char *nl = memchr(r->buf + r->pos + scanned, '\n', r->len - r->pos - scanned);
        if (nl) {
            char *line = r->buf + r->pos;
            r->pos = (size_t)(nl - r->buf) + 1;
            *nl = 0;
            if (nl > line && nl[-1] == '\r')
                nl[-1] = 0;
            return line;
        }
        scanned = r->len - r->pos;
        if (rd_fill(r, scanned + 1))
            return NULL;
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- one replay ------------------------------------------------------------ */

struct mc {
    int fd;
    struct rd rd;
    char *out;                     /* what goes in one write */
    size_t outcap, outlen;
    uint32_t *stamp, bno;          /* per key: the batch it is in */
    uint32_t batch[MC_BATCH];      /* the keys of the batch */
    int nb;
    int found[MC_BATCH];
    uint32_t miss[MC_BATCH];       /* the previous batch's misses, to set */
    int nmiss;
    uint64_t hits, wrong, set_errors;
};

/* Start memcached with the cell's budget and connect; 0 or -1 (said). */
static int mc_open(struct mc *m, const struct replay *rp, const struct cell *c)
{
    char sock[200], err[1024] = "";
    m->fd = -1;
    m->outcap = MC_BATCH * (HR_VMAX + 64) + MC_BATCH * (HR_KLEN + 1) + 64;
    m->out = malloc(m->outcap);
    m->stamp = calloc(rp->nkeys, sizeof *m->stamp);
    m->rd.cap = 1u << 20;
    m->rd.buf = malloc(m->rd.cap);
    if (!m->out || !m->stamp || !m->rd.buf) {
        fprintf(stderr, "shmkv-bench: out of memory\n");
        return -1;
    }
    if (mc_cache_start((uint64_t)(c->budget / (1u << 20)), sock, sizeof sock, err, sizeof err)) {
        fprintf(stderr, "shmkv-bench: starting memcached: %s\n", err);
        return -1;
    }
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(sock) >= sizeof a.sun_path) {
        fprintf(stderr, "shmkv-bench: memcached socket path too long: %s\n", sock);
        return -1;
    }
    memcpy(a.sun_path, sock, strlen(sock) + 1);
    m->fd = m->rd.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m->fd < 0 || connect(m->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "shmkv-bench: connecting to memcached: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static void mc_close(struct mc *m)
{
    if (m->fd >= 0)
        close(m->fd);
    memcached_sysops.stop();
    free(m->out);
    free(m->stamp);
    free(m->rd.buf);
}

/* Write the previous batch's sets and the get of the next batch, which
 * starts at request *r (moved past it); 0 or -1 (said). */
static int send_batch(struct mc *m, const struct replay *rp, uint64_t *r)
{
    char *out = m->out;
    size_t n = 0;
    for (int j = 0; j < m->nmiss; j++) {
        char k[HR_KLEN];
        hr_key(m->miss[j], k);
        size_t vl = hr_vlen(m->miss[j]);
        n += (size_t)snprintf(out + n, m->outcap - n, "set %.*s 0 0 %zu noreply\r\n", HR_KLEN,
                              k, vl);
        hr_val(m->miss[j], (unsigned char *)out + n);
        n += vl;
        out[n++] = '\r';
        out[n++] = '\n';
    }
    m->nmiss = 0;
    m->nb = 0;
    m->bno++;
    while (*r < rp->nreq && m->nb < MC_BATCH && m->stamp[rp->reqs[*r]] != m->bno) {
        m->stamp[rp->reqs[*r]] = m->bno;
        m->batch[m->nb++] = rp->reqs[(*r)++];
    }
    if (m->nb) {
        memcpy(out + n, "get", 3);
        n += 3;
        for (int j = 0; j < m->nb; j++) {
            out[n++] = ' ';
            hr_key(m->batch[j], out + n);
            n += HR_KLEN;
        }
    } else {
        memcpy(out + n, "version", 7); /* a reply to wait for after the last sets */
        n += 7;
    }
    out[n++] = '\r';
    out[n++] = '\n';
    if (write_all(m->fd, out, n)) {
        fprintf(stderr, "shmkv-bench: memcached: write: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* One VALUE reply (LINE, then its bytes): check it and mark its key found.
 * The replies come in the order of the keys, misses left out; *next is the
 * first key not yet matched.  0 or -1 (said). */
static int take_value(struct mc *m, const struct replay *rp, const char *line, int *next)
{
    char key[251], k[HR_KLEN];
    unsigned flags;
    size_t bytes;
    if (sscanf(line, "VALUE %250s %u %zu", key, &flags, &bytes) != 3) {
        fprintf(stderr, "shmkv-bench: memcached: unexpected reply: %.80s\n", line);
        return -1;
    }
    if (rd_fill(&m->rd, bytes + 2)) {
        fprintf(stderr, "shmkv-bench: memcached: value cut short\n");
        return -1;
    }
    const char *v = m->rd.buf + m->rd.pos;
    m->rd.pos += bytes + 2;
    for (; *next < m->nb; ++*next) {
        hr_key(m->batch[*next], k);
        if (strlen(key) == HR_KLEN && !memcmp(k, key, HR_KLEN))
            break;
    }
    if (*next == m->nb) {
        fprintf(stderr, "shmkv-bench: memcached: a reply for a key not asked for\n");
        return -1;
    }
    if (!hr_check(m->batch[*next], v, bytes, rp->eb) && m->wrong++ == 0)
        fprintf(stderr, "shmkv-bench: memcached: key %" PRIu32 ": a wrong value\n",
                m->batch[*next]);
    m->found[(*next)++] = 1;
    return 0;
}

/* Read the replies to send_batch's write, up to END (or VERSION); count
 * the hits of the batch that started at request r0 and note its misses.
 * 0 or -1 (said). */
static int read_replies(struct mc *m, const struct replay *rp, uint64_t r0)
{
    int next = 0;
    memset(m->found, 0, sizeof m->found);
    for (;;) {
        char *line = rd_line(&m->rd);
        if (!line) {
            fprintf(stderr, "shmkv-bench: memcached: connection lost\n");
            return -1;
        }
        if (!strcmp(line, "END") || !strncmp(line, "VERSION ", 8))
            break;
        if (!strncmp(line, "SERVER_ERROR", 12) || !strncmp(line, "CLIENT_ERROR", 12)) {
            if (m->set_errors++ == 0)
                fprintf(stderr, "shmkv-bench: memcached: a set failed: %s\n", line);
            continue;
        }
        if (take_value(m, rp, line, &next))
            return -1;
    }
    for (int j = 0; j < m->nb; j++) {
        if (m->found[j])
            m->hits += r0 + (uint64_t)j >= rp->warm;
        else
            m->miss[m->nmiss++] = m->batch[j];
    }
    return 0;
}

static uint64_t stat_field(const char *stats, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "STAT %s ", name);
    const char *p = strstr(stats, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

/* memcached's statistics into c (everything written has been processed:
 * "version" answered after the last sets); 0 or -1. */
static int read_stats(struct mc *m, struct cell *c)
{
    if (write_all(m->fd, "stats\r\n", 7))
        return -1;
    size_t sl = 0, scap = 1 << 16;
    char *stats = calloc(scap, 1);
    if (!stats)
        return -1;
    for (char *line; (line = rd_line(&m->rd)) != NULL && strcmp(line, "END");) {
        size_t ll = strlen(line);
        if (sl + ll + 2 < scap) {
            memcpy(stats + sl, line, ll);
            sl += ll;
            stats[sl++] = '\n';
        }
    }
    c->evictions[S_MC] = stat_field(stats, "evictions");
    c->keys[S_MC] = stat_field(stats, "curr_items");
    c->bytes[S_MC] = stat_field(stats, "bytes");
    c->mc_limit = stat_field(stats, "limit_maxbytes");
    free(stats);
    return 0;
}

int run_memcached(const struct replay *rp, struct cell *c)
{
    struct mc m;
    memset(&m, 0, sizeof m);
    int failed = mc_open(&m, rp, c) != 0;
    if (!failed) {
        double t0 = now_sec();
        for (uint64_t r = 0; !failed && (r < rp->nreq || m.nmiss);) {
            uint64_t r0 = r;
            failed = send_batch(&m, rp, &r) || read_replies(&m, rp, r0);
        }
        c->secs[S_MC] = now_sec() - t0;
    }
    if (m.wrong) {
        fprintf(stderr, "shmkv-bench: memcached: %" PRIu64 " wrong values\n", m.wrong);
        failed = 1;
    }
    if (!failed && read_stats(&m, c) == 0) {
        c->hits[S_MC] = m.hits;
        c->mc_set_errors = m.set_errors;
        c->have[S_MC] = 1;
    } else {
        failed = 1;
    }
    mc_close(&m);
    return failed ? -1 : 0;
}
