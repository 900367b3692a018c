/*
 * dump and load: every pair and list of a table to and from the portable
 * format of docs/dump-format.md: a header, [u32 klen][u32 vlen][key][value]
 * records (a list's klen word has LIST_RECORD set, its value is its
 * elements as [u32 length][bytes]...), an end marker with the record count
 * and a 64-bit FNV-1a checksum.  Both directions stream, in memory bounded
 * by the largest pair or list.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- progress bar (stderr, only on a terminal) ------------------------- */

struct progress {
    bool on, bytes;     /* shown at all; counting bytes (else records) */
    char label[64];
    uint64_t total;     /* 0: unknown */
    double t0, next;
};

static void progress_init(struct progress *p, const char *what, const char *name, uint64_t total, bool bytes)
{
    p->on = isatty(STDERR_FILENO);
    snprintf(p->label, sizeof p->label, "%s %.40s", what, name);
    p->total = total;
    p->bytes = bytes;
    p->next = p->t0 = now();
}

static const char *amount(const struct progress *p, double v)
{
    static char bufs[4][32];
    static int k;
    char *b = bufs[k++ & 3];
    if (p->bytes)
        return hbytes((uint64_t)v);
    snprintf(b, 32, v >= 1e6 ? "%.2fM" : v >= 1e4 ? "%.1fk" : "%.0f", v >= 1e6 ? v / 1e6 : v >= 1e4 ? v / 1e3 : v);
    return b;
}

/* At most 10 frames a second; final: the summary line. */
static void progress_show(struct progress *p, uint64_t done, bool final)
{
    if (!p->on)
        return;
    double t = now();
    if (!final && t < p->next)
        return;
    p->next = t + 0.1;
    double el = t - p->t0, rate = el > 0 ? (double)done / el : 0;
    const char *unit = p->bytes ? "" : " records";
    if (final) {
        fprintf(stderr, "\r%s: %s%s in %.1f s (%s%s/s)\033[K\n", p->label, amount(p, (double)done), unit, el,
                amount(p, rate), p->bytes ? "" : " rec");
    } else if (p->total) {
        double f = (double)done / (double)p->total;
        char bar[25], eta[16] = "--:--";
        f = f > 0.999 ? 0.999 : f;
        for (int i = 0; i < 24; i++)
            bar[i] = i < (int)(f * 24) ? '#' : '.';
        bar[24] = 0;
        if (done && el > 0.05) {
            double left = ((double)p->total - (double)done) / rate;
            left = left < 0 ? 0 : left > 359999 ? 359999 : left;
            snprintf(eta, sizeof eta, "%d:%02d", (int)left / 60, (int)left % 60);
        }
        fprintf(stderr, "\r%s [%s] %3.0f%% %s/%s%s  %s/s  ETA %s\033[K", p->label, bar, f * 100,
                amount(p, (double)done), amount(p, (double)p->total), unit, amount(p, rate), eta);
    } else {
        fprintf(stderr, "\r%s: %s%s  %s/s\033[K", p->label, amount(p, (double)done), unit, amount(p, rate));
    }
}

/* ---- dump -------------------------------------------------------------- */

#define DUMP_MAGIC "SHMKVDMP"
#define DUMP_VERSION 2u         /* 2: list records; version 1 dumps load as well */
#define LIST_RECORD 0x80000000u /* in a record's key length word: a list */
#define DUMP_HDR 24   /* magic, u32 version, u32 flags, u64 count hint */
#define DUMP_END 24   /* u32 0, u32 0, u64 record count, u64 checksum */
#define FNV_BASIS 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

static void le(unsigned char *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *b, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

struct dumper {
    FILE *f;
    uint64_t hash, records;
    struct progress pr;
};

static int dump_out(struct dumper *d, const void *p, size_t n)
{
    d->hash = fnv1a(d->hash, p, n);
    return fwrite(p, 1, n, d->f) == n ? 0 : -EIO;
}

/* A list's elements, as shmkv_scan_all gives them ([u32 length in host
 * order][bytes]...), with their lengths little-endian. */
static int dump_elems(struct dumper *d, const unsigned char *val, size_t vlen)
{
    for (size_t pos = 0; pos + 4 <= vlen;) {
        uint32_t n;
        unsigned char h[4];
        memcpy(&n, val + pos, 4);
        le(h, n, 4);
        if (dump_out(d, h, 4) || dump_out(d, val + pos + 4, n))
            return -EIO;
        pos += 4 + (size_t)n;
    }
    return 0;
}

static int dump_visit(void *ctx, int kind, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct dumper *d = ctx;
    unsigned char h[8];
    le(h, klen | (kind == SHMKV_KIND_LIST ? LIST_RECORD : 0), 4);
    le(h + 4, vlen, 4);
    if (dump_out(d, h, 8) || dump_out(d, key, klen) ||
        (kind == SHMKV_KIND_LIST ? dump_elems(d, val, vlen) : dump_out(d, val, vlen)))
        return -EIO;
    progress_show(&d->pr, ++d->records, false);
    return 0;
}

/* Open FILE for the dump of table name.  A device or a FIFO is written as
 * it is.  A regular file (or a new name) is written beside it, as
 * FILE.tmp-PID, and renamed into place when complete, so that a failed dump
 * neither leaves half a file nor destroys the previous one.  That file is
 * made afresh (O_EXCL|O_NOFOLLOW: whatever already holds the name, such as
 * a planted link, is refused, never followed nor removed) with exactly the
 * table file's permission bits, so the dump is no more readable than the
 * table; tmp gets its name once it exists.  Returns 0 or an exit status. */
static int open_output(const char *name, const char *file, char tmp[PATH_MAX], FILE **out)
{
    char path[PATH_MAX];
    struct stat st;
    int fd;
    if (stat(file, &st) == 0 && !S_ISREG(st.st_mode)) {
        fd = open(file, O_WRONLY | O_CLOEXEC);
    } else {
        mode_t mode = stat(table_path(name), &st) == 0 ? st.st_mode & 0777 : 0600;
        if (snprintf(path, sizeof path, "%s.tmp-%ld", file, (long)getpid()) >= (int)sizeof path) {
            msg("cannot write %s: %s", file, strerror(ENAMETOOLONG));
            return EX_FAIL;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST) {
            msg("refusing to write the dump through %s: it already exists (a symbolic link, or a file "
                "left behind?): remove it, or dump to another FILE", path);
            return EX_FAIL;
        }
        if (fd >= 0) {
            strcpy(tmp, path);
            cleanup_on_signals(tmp);
        }
        if (fd >= 0 && fchmod(fd, mode)) {
            msg("cannot set the mode of %s to %04o: %s", tmp, (unsigned)mode, strerror(errno));
            close(fd);
            return EX_FAIL;
        }
    }
    if (fd < 0 || !(*out = fdopen(fd, "w"))) {
        msg("cannot write %s: %s", file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EX_FAIL;
    }
    return 0;
}

int cmd_dump(const struct args *a)
{
    const char *name = a->v[0], *file = a->n > 1 && strcmp(a->v[1], "-") ? a->v[1] : NULL;
    static char obuf[1 << 20];
    char tmp[PATH_MAX] = "";
    struct dumper d = {.f = stdout, .hash = FNV_BASIS};
    shmkv *db;
    int rc;
    if (!file && isatty(STDOUT_FILENO)) {
        msg("refusing to write a binary dump to a terminal (give a FILE or redirect the output)");
        return EX_USAGE;
    }
    if ((rc = open_table(name, OPEN_ITER, &db)) != 0)
        return rc;
    if (file && (rc = open_output(name, file, tmp, &d.f)) != 0) {
        if (tmp[0])
            unlink(tmp);
        cleanup_on_signals(NULL);
        shmkv_close(db);
        return rc;
    }
    setvbuf(d.f, obuf, _IOFBF, sizeof obuf);
    unsigned char h[DUMP_HDR];
    uint64_t total = shmkv_count(db);
    memcpy(h, DUMP_MAGIC, 8);
    le(h + 8, DUMP_VERSION, 4);
    le(h + 12, 0, 4);
    le(h + 16, total, 8);
    progress_init(&d.pr, "dump", name, total, false);
    int r = dump_out(&d, h, DUMP_HDR);
    for (uint64_t cursor = 0; r == 0;)
        if ((r = shmkv_scan_all(db, &cursor, dump_visit, &d)) == 0 && !cursor)
            break;
    if (r == 0) {
        unsigned char end[DUMP_END];
        le(end, 0, 8);
        le(end + 8, d.records, 8);
        d.hash = fnv1a(d.hash, end, 16);
        le(end + 16, d.hash, 8);
        r = fwrite(end, 1, DUMP_END, d.f) == DUMP_END && fflush(d.f) == 0 ? 0 : -EIO;
    }
    if (r == 0 && tmp[0] && fsync(fileno(d.f)))
        r = -EIO;
    if (r == -EIO || (r == 0 && ferror(d.f))) {
        msg("error writing the dump to %s: %s", file ? file : "standard output", strerror(errno ? errno : EIO));
        rc = EX_FAIL;
    } else if (r) {
        rc = op_error(name, db, r, NULL, 0);
    }
    if (d.f != stdout)
        fclose(d.f);
    if (tmp[0] && rc == 0 && rename(tmp, file)) {
        msg("cannot rename %s to %s: %s", tmp, file, strerror(errno));
        rc = EX_FAIL;
    }
    if (tmp[0] && rc)
        unlink(tmp);
    cleanup_on_signals(NULL);
    if (rc == 0)
        progress_show(&d.pr, d.records, true);
    shmkv_close(db);
    return rc;
}

/* ---- load -------------------------------------------------------------- */

struct reader {
    int fd, err;            /* err: errno of a read error */
    unsigned char buf[1 << 18];
    size_t pos, len;
    uint64_t off, hash;     /* bytes consumed; their FNV-1a */
    uint64_t records, at;   /* records applied; where the last one began */
    int put_rc;             /* a put failed with this, on the key in key[klen] */
    uint32_t klen;
    char why[160];          /* why the dump is bad */
    unsigned char key[SHMKV_KEY_MAX];
};

/* Copy the next n bytes into dst, hashing them; 0, or -1 at the end of the
 * input or on an error. */
static int rd(struct reader *r, void *dst, size_t n)
{
    unsigned char *out = dst;
    while (n) {
        if (r->pos == r->len) {
            ssize_t got = read(r->fd, r->buf, sizeof r->buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                r->err = got < 0 ? errno : 0;
                return -1;
            }
            r->pos = 0;
            r->len = (size_t)got;
        }
        size_t k = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(out, r->buf + r->pos, k);
        r->hash = fnv1a(r->hash, out, k);
        r->pos += k;
        r->off += k;
        out += k;
        n -= k;
    }
    return 0;
}

__attribute__((format(printf, 2, 3))) static int bad(struct reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    if (r->err)
        snprintf(r->why, sizeof r->why, "read error: %s", strerror(r->err));
    return -1;
}

/* Store a pair, replacing whatever the key holds (a list too). */
static int put_pair(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen, uint64_t ttl)
{
    int rc = shmkv_put_ttl(db, key, klen, vlen ? val : "", vlen, ttl);
    if (rc == -EMEDIUMTYPE && (rc = shmkv_del(db, key, klen)) == 0)
        rc = shmkv_put_ttl(db, key, klen, vlen ? val : "", vlen, ttl);
    return rc;
}

static uint32_t elem_len(const unsigned char *p, bool little)
{
    uint32_t n;
    memcpy(&n, p, 4);
    return little ? (uint32_t)get_le(p, 4) : n;
}

/* The number of elements in a list's value ([u32 length][bytes]...,
 * lengths little-endian or in host order), or -1 if they do not fill it
 * exactly. */
static int64_t count_elems(const unsigned char *val, size_t vlen, bool little)
{
    int64_t n = 0;
    size_t pos = 0;
    for (; vlen - pos >= 4 && elem_len(val + pos, little) <= vlen - pos - 4; n++)
        pos += 4 + (size_t)elem_len(val + pos, little);
    return pos == vlen ? n : -1;
}

/* Make the key a list of these elements (whatever it held), pushed in
 * one call.  An empty list is made by a push and a pop. */
static int put_list(shmkv *db, const void *key, size_t klen, const unsigned char *val, size_t vlen, bool little)
{
    int64_t n = count_elems(val, vlen, little);
    if (n < 0)
        return -EINVAL;
    int rc = shmkv_del(db, key, klen);
    if (rc && rc != -ENOENT)
        return rc;
    if (n == 0) {
        size_t got;
        rc = shmkv_push(db, key, klen, "", 0, SHMKV_TAIL);
        return rc ? rc : shmkv_pop(db, key, klen, SHMKV_TAIL, NULL, 0, &got, 0);
    }
    shmkv_elem *el = xrealloc(NULL, (size_t)n * sizeof *el);
    for (size_t i = 0, pos = 0; i < (size_t)n; i++) {
        el[i] = (shmkv_elem){val + pos + 4, elem_len(val + pos, little)};
        pos += 4 + el[i].vlen;
    }
    rc = shmkv_push_many(db, key, klen, el, (size_t)n, SHMKV_TAIL);
    free(el);
    return rc;
}

/* Read the records after the header into db, checking everything.  Returns
 * 0 for a complete, intact dump; else -1 with r->why or r->put_rc set. */
static int load_records(struct reader *r, shmkv *db, struct progress *pr, uint64_t ttl, bool lists)
{
    unsigned char *val = NULL, h[8];
    size_t cap = 0;
    int ret = -1;
    for (;;) {
        r->at = r->off;
        if (rd(r, h, 8)) {
            bad(r, "the dump is truncated: it ends at byte %" PRIu64 ", before its end marker", r->off);
            break;
        }
        uint32_t klen = (uint32_t)get_le(h, 4), vlen = (uint32_t)get_le(h + 4, 4);
        bool list = lists && (klen & LIST_RECORD);
        klen &= list ? ~LIST_RECORD : ~0u;
        if (klen == 0 && !list) { /* the end marker */
            unsigned char c[8], sum[8];
            uint64_t want = 0;
            if (vlen != 0)
                bad(r, "corrupt dump: bad record header at byte %" PRIu64 " (key length 0)", r->at);
            else if (rd(r, c, 8) || (want = r->hash, rd(r, sum, 8)))
                bad(r, "the dump is truncated inside its end marker (byte %" PRIu64 ")", r->off);
            else if (get_le(c, 8) != r->records)
                bad(r, "corrupt dump: its end marker counts %" PRIu64 " records, but %" PRIu64 " were read",
                    get_le(c, 8), r->records);
            else if (get_le(sum, 8) != want)
                bad(r, "corrupt dump: checksum mismatch (the data was altered somewhere)");
            else if (rd(r, c, 1) == 0 || r->err)
                bad(r, "corrupt dump: trailing data after the end marker at byte %" PRIu64, r->off - 1);
            else
                ret = 0;
            break;
        }
        if (klen > SHMKV_KEY_MAX || klen == 0) {
            bad(r, "corrupt dump: bad record header at byte %" PRIu64 " (key length %" PRIu32 ")", r->at, klen);
            break;
        }
        /* the value buffer grows as the bytes arrive, so a corrupt length
         * costs no more memory than the input really holds */
        bool whole = rd(r, r->key, klen) == 0;
        for (size_t got = 0, chunk; whole && got < vlen; got += chunk) {
            chunk = vlen - got < (1u << 20) ? vlen - got : (1u << 20);
            if (cap < got + chunk) {
                cap = cap * 2 > got + chunk ? cap * 2 : got + chunk;
                val = xrealloc(val, cap = cap > vlen ? vlen : cap);
            }
            whole = rd(r, val + got, chunk) == 0;
        }
        if (!whole) {
            bad(r, "the dump is truncated inside record %" PRIu64 " (at byte %" PRIu64 ")", r->records + 1, r->at);
            break;
        }
        r->klen = klen;
        if (list && count_elems(val, vlen, true) < 0) {
            bad(r, "corrupt dump: the elements of the list in record %" PRIu64 " (at byte %" PRIu64 ") do not "
                "fill it", r->records + 1, r->at);
            break;
        }
        r->put_rc = list ? put_list(db, r->key, klen, val, vlen, true) : put_pair(db, r->key, klen, val, vlen, ttl);
        if (r->put_rc)
            break;
        r->records++;
        progress_show(pr, pr->bytes ? r->off : r->records, false);
    }
    free(val);
    return ret;
}

struct copier {
    shmkv *dst;
    uint64_t n, ttl;
    int rc;
    struct progress pr;
};

static int copy_visit(void *ctx, int kind, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct copier *c = ctx;
    c->rc = kind == SHMKV_KIND_LIST ? put_list(c->dst, key, klen, val, vlen, false)
                                    : put_pair(c->dst, key, klen, val, vlen, c->ttl);
    if (c->rc)
        return 1;
    progress_show(&c->pr, ++c->n, false);
    return 0;
}

#define LOAD_TMP ".shmkv-load."
#define PAIR_MIN 9              /* the fewest bytes a pair takes, in a dump (8 of
                                 * record framing and a key byte) as in a table */
#define PIPE_HINT_MAX 1000000u  /* the most keys a dump of unknown size sizes for */

/* How many keys to size the new index for: the dump header's count hint,
 * but no more than the data can justify, since a bogus hint would reserve
 * an index of its size (100 M keys: some 2 GB) whatever the dump holds.
 * At most the records that fit in the dump's bytes (sized: a regular file
 * of size bytes; else PIPE_HINT_MAX, the table growing past it as needed),
 * and in the table's limit (limit bytes; 0: none). */
static uint64_t index_hint(uint64_t hint, bool sized, uint64_t size, uint64_t limit)
{
    uint64_t room = !sized ? PIPE_HINT_MAX : size > DUMP_HDR + DUMP_END ? (size - DUMP_HDR - DUMP_END) / PAIR_MIN : 0;
    if (limit && limit / PAIR_MIN < room)
        room = limit / PAIR_MIN;
    return hint < room ? hint : room;
}

/* Remove the temporary tables of loads killed mid-way (SIGKILL, a crash):
 * by the rule of the library's own temporary files, those whose process
 * is gone and that are over a minute old. */
static void sweep_loads(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    time_t t = time(NULL);
    while (d && (e = readdir(d)) != NULL) {
        const char *m = strstr(e->d_name, LOAD_TMP);
        char *end = NULL;
        long pid = e->d_name[0] == '.' && m ? strtol(m + sizeof LOAD_TMP - 1, &end, 10) : 0;
        struct stat st;
        if (pid > 0 && !*end && kill((pid_t)pid, 0) != 0 && errno == ESRCH &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            t - st.st_mtime >= 60)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d)
        closedir(d);
}

int cmd_load(const struct args *a)
{
    const char *name = a->v[0], *file = a->n > 1 && strcmp(a->v[1], "-") ? a->v[1] : NULL;
    const char *src = file ? file : "standard input", *path = table_path(name);
    static struct reader r;
    unsigned char h[DUMP_HDR];
    struct progress pr;
    struct stat st;
    shmkv *db = NULL, *tdb = NULL;
    char tpath[PATH_MAX + 256], dir[PATH_MAX];
    int rc;
    r.hash = FNV_BASIS;
    if ((r.fd = file ? open(file, O_RDONLY | O_CLOEXEC) : STDIN_FILENO) < 0) {
        int err = errno;
        msg("cannot read %s: %s", file, strerror(err));
        return err == ENOENT ? EX_NOTFOUND : EX_FAIL;
    }
    if (!file && isatty(r.fd)) {
        msg("refusing to read a dump from a terminal (give a FILE or redirect the input)");
        return EX_USAGE;
    }
    if (rd(&r, h, DUMP_HDR) || memcmp(h, DUMP_MAGIC, 8)) {
        msg("%s is not a shmkv dump (%s)", src,
            r.err ? strerror(r.err) : r.off < DUMP_HDR ? "too short" : "no SHMKVDMP magic");
        return EX_FAIL;
    }
    uint64_t version = get_le(h + 8, 4);
    if (version < 1 || version > DUMP_VERSION || get_le(h + 12, 4) != 0) {
        msg("%s is a shmkv dump of format version %" PRIu64 " (flags %#" PRIx64 "); this shmkv reads versions 1 "
            "to %u (use a newer shmkv)", src, version, get_le(h + 12, 4), DUMP_VERSION);
        return EX_FAIL;
    }
    /* progress by bytes for a regular file, else by the header's count */
    uint64_t hint = get_le(h + 16, 8);
    bool by_bytes = fstat(r.fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
    uint64_t size = by_bytes ? (uint64_t)st.st_size : 0;
    progress_init(&pr, "load", name, by_bytes ? size : hint, by_bytes);

    shmkv_options so = {0};
    rc = shmkv_open(name, &so, &db); /* the target, if it exists */
    if (rc && (rc != -ENOENT || (!strchr(name, '/') && stat(table_dir(), &st) != 0)))
        return open_error(name, rc, true);
    bool exists = rc == 0;
    if (exists && a->sized)
        msg("note: \"%s\" exists; --max-bytes, --expected-keys, --mode, --stats and --cache apply only to a "
            "table load creates", name);
    shmkv_stats target = {0};
    if (exists)
        shmkv_stat(db, &target);
    so = create_opts(a, SHMKV_CREATE);
    if (!so.expected_keys)
        so.expected_keys = index_hint(hint, by_bytes, size, exists ? target.max_bytes : a->max_bytes);

    if (a->partial) {
        /* straight into the target: what is valid stays */
        if (!exists && (rc = shmkv_open(name, &so, &db)) != 0)
            return open_error(name, rc, true);
        if (load_records(&r, db, &pr, a->ttl, version >= 2) == 0) {
            progress_show(&pr, by_bytes ? r.off : r.records, true);
        } else if (r.put_rc) {
            rc = op_error(name, db, r.put_rc, r.key, r.klen);
            msg("%" PRIu64 " records were loaded before that", r.records);
        } else {
            msg("%s: %s", src, r.why);
            msg("--partial: loaded the %" PRIu64 " records before byte %" PRIu64 " into \"%s\"%s", r.records, r.at,
                name, strstr(r.why, "checksum") ? " (the checksum failed: some may be damaged)" : "");
            rc = EX_FAIL;
        }
        shmkv_close(db);
        return rc;
    }

    /* Everything goes first into a private temporary table beside the
     * target; only a dump read to its end marker, with the right count and
     * checksum, reaches the target.  A new target is that table itself,
     * linked into place; an existing one gets the pairs copied over. */
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    snprintf(tpath, sizeof tpath, "%s/.%.200s" LOAD_TMP "%ld", *dir ? dir : "", slash ? slash + 1 : path,
             (long)getpid());
    sweep_loads(*dir ? dir : "/");
    cleanup_on_signals(tpath);
    /* a new target is this table itself: it gets the asked-for mode */
    so.flags = SHMKV_CREATE | SHMKV_EXCL | (exists ? 0 : so.flags & (SHMKV_STATS | SHMKV_CACHE));
    if (exists) { /* private, and bounded by the file system only */
        so.mode = 0600;
        so.max_bytes = 0;
    }
    if ((rc = shmkv_open(tpath, &so, &tdb)) != 0) {
        msg("cannot create the temporary table %s for the load", tpath);
        rc = open_error(tpath, rc, true);
        goto done;
    }
    if (load_records(&r, tdb, &pr, a->ttl, version >= 2) != 0) {
        if (r.put_rc)
            rc = op_error(name, tdb, r.put_rc, r.key, r.klen);
        else
            msg("%s: %s", src, r.why);
        msg("nothing was loaded into \"%s\"%s", name,
            r.put_rc || r.err ? "" : " (to load the valid part, use: shmkv load --partial)");
        rc = rc ? rc : EX_FAIL;
        goto done;
    }
    progress_show(&pr, by_bytes ? r.off : r.records, true);
    rc = EX_OK;
    if (!exists && link(tpath, path) == 0)
        goto done;
    if (!exists && errno != EEXIST) { /* no hard links here: create it, then copy */
        so = create_opts(a, SHMKV_CREATE);
        if ((rc = shmkv_open(name, &so, &db)) != 0) {
            rc = open_error(name, rc, true);
            goto done;
        }
    } else if (!exists && (rc = open_table(name, OPEN_WRITE, &db)) != 0) {
        goto done; /* someone else created it meanwhile: copy into theirs */
    }
    struct copier c = {.dst = db, .ttl = a->ttl};
    progress_init(&c.pr, "apply", name, r.records, false);
    int fr = 0;
    for (uint64_t cursor = 0; fr == 0;)
        if ((fr = shmkv_scan_all(tdb, &cursor, copy_visit, &c)) == 0 && !cursor)
            break;
    if (c.rc || fr < 0) {
        rc = op_error(name, c.rc ? db : tdb, c.rc ? c.rc : fr, NULL, 0);
        msg("the load into \"%s\" stopped after %" PRIu64 " of %" PRIu64 " records: the table holds those",
            name, c.n, r.records);
    } else {
        progress_show(&c.pr, c.n, true);
    }
done:
    shmkv_close(tdb);
    shmkv_close(db);
    unlink(tpath);
    cleanup_on_signals(NULL);
    return rc;
}
