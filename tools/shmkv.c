/*
 * shmkv: the command-line tool for shmkv tables (see docs/shmkv.1).
 *
 *   shmkv [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS...
 *
 * One function per command (cmd_*), driven by the table `cmds` near the
 * end.  Conventions every command shares:
 *
 *  - Exit status: 0 success, 1 not found (absent key or table), 2 usage,
 *    3 anything else.  Error messages name the table, the cause and, where
 *    there is one, the fix.
 *  - Keys and values are bytes: the shell text as given, or hex / base64
 *    with --hex / --base64, which also encode what is printed.  Printed
 *    keys and values are escaped (\xNN) on a terminal unless --raw.
 *  - Dumps (dump, load) use the format of docs/dump-format.md: a header,
 *    [u32 klen][u32 vlen][key][value] records, an end marker with the
 *    record count and a 64-bit FNV-1a checksum.  Both directions stream,
 *    in memory bounded by the largest pair.
 */
#include "shmkv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { EX_OK = 0, EX_NOTFOUND = 1, EX_USAGE = 2, EX_FAIL = 3 };
enum { ENC_TEXT, ENC_HEX, ENC_BASE64 };            /* --hex, --base64 */
enum { OUT_RAW, OUT_HEX, OUT_BASE64, OUT_ESC };    /* how data is printed */

static int g_enc = ENC_TEXT;
static bool g_raw, g_escape;
/* a file to remove if a signal ends us (dump's temporary output, load's
 * temporary table); unlink() is async-signal-safe */
static char g_cleanup[PATH_MAX];

/* A parsed command line. */
struct args {
    const char *name;       /* the command */
    int n;                  /* positional arguments after the command word */
    char **v;
    uint64_t max_bytes, expected_keys, limit, count;
    uint64_t ttl;           /* --ttl: milliseconds; 0: no expiry */
    unsigned mode;
    double interval;
    bool has_mode, has_limit, json, once, partial, force, all, sized, stats, cache;
};

/* ---- messages, small helpers ------------------------------------------- */

__attribute__((format(printf, 1, 2))) static void msg(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("shmkv: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        msg("out of memory (%zu bytes)", n);
        exit(EX_FAIL);
    }
    return q;
}

static void on_signal(int sig)
{
    if (g_cleanup[0])
        unlink(g_cleanup);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Remove path if SIGINT, SIGTERM, SIGHUP or SIGPIPE ends us; NULL: stop. */
static void cleanup_on_signals(const char *path)
{
    snprintf(g_cleanup, sizeof g_cleanup, "%s", path ? path : "");
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; path && i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], on_signal);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int finish_output(void)
{
    if (fflush(stdout) || ferror(stdout)) {
        msg("error writing the output: %s", strerror(errno ? errno : EIO));
        return EX_FAIL;
    }
    return EX_OK;
}

/* ---- bytes in, bytes out ----------------------------------------------- */

/* Length of the valid, printable UTF-8 sequence at p (2 to 4 bytes), or 0:
 * overlong forms, surrogates, code points past U+10FFFF and the C1
 * controls (U+0080..U+009F, which terminals obey) do not count. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
               : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    if (!len || n < len)
        return 0;
    uint32_t cp = p[0] & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
        return 0;
    return len;
}

/* Printable ASCII and UTF-8 as they are, a backslash as \\, every other
 * byte as \xNN: unambiguous, and safe for a terminal. */
static void put_escaped(FILE *f, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0, u; i < n;) {
        if (p[i] == '\\') {
            fputs("\\\\", f);
            i++;
        } else if (p[i] >= 0x20 && p[i] < 0x7f) {
            putc(p[i++], f);
        } else if ((u = utf8_len(p + i, n - i)) != 0) {
            fwrite(p + i, 1, u, f);
            i += u;
        } else {
            fprintf(f, "\\x%02x", p[i++]);
        }
    }
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_data(FILE *f, const void *data, size_t n, int mode)
{
    const unsigned char *p = data;
    if (mode == OUT_HEX) {
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%02x", p[i]);
    } else if (mode == OUT_BASE64) {
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                         (i + 2 < n ? p[i + 2] : 0);
            putc(B64[v >> 18 & 63], f);
            putc(B64[v >> 12 & 63], f);
            putc(i + 1 < n ? B64[v >> 6 & 63] : '=', f);
            putc(i + 2 < n ? B64[v & 63] : '=', f);
        }
    } else if (mode == OUT_ESC) {
        put_escaped(f, p, n);
    } else {
        fwrite(p, 1, n, f);
    }
}

/* Printed keys and values: raw bytes with --raw; else hex/base64 as asked;
 * else escaped on a terminal or with --escape; else raw. */
static int out_mode(FILE *f)
{
    if (g_raw)
        return OUT_RAW;
    if (g_enc != ENC_TEXT)
        return g_enc == ENC_HEX ? OUT_HEX : OUT_BASE64;
    return g_escape || isatty(fileno(f)) ? OUT_ESC : OUT_RAW;
}

/* A key for a message: as the user would type it, escaped, shortened. */
static const char *key_repr(const void *k, size_t n)
{
    static char buf[256];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    if (!f)
        return "(key)";
    fputs(g_enc == ENC_TEXT ? "\"" : "", f);
    put_data(f, k, n > 48 ? 48 : n, g_enc == ENC_HEX ? OUT_HEX : g_enc == ENC_BASE64 ? OUT_BASE64 : OUT_ESC);
    fputs(n > 48 ? "..." : "", f);
    fputs(g_enc == ENC_TEXT ? "\"" : "", f);
    fclose(f);
    buf[sizeof buf - 1] = 0;
    return buf;
}

/* Decode s as --hex or --base64 say (whitespace ignored); -1 if invalid. */
static int decode(const char *s, unsigned char **out, size_t *len)
{
    unsigned char *b = xrealloc(NULL, strlen(s) + 1);
    uint32_t acc = 0;
    int bits = 0, pad = 0, step = g_enc == ENC_HEX ? 4 : 6;
    size_t o = 0;
    for (; *s; s++) {
        const char *q;
        int v;
        if (isspace((unsigned char)*s))
            continue;
        if (g_enc == ENC_BASE64 && *s == '=') {
            pad++;
            continue;
        }
        if (g_enc == ENC_HEX)
            v = isxdigit((unsigned char)*s) ? (isdigit((unsigned char)*s) ? *s - '0' : (*s | 32) - 'a' + 10) : -1;
        else
            v = (q = strchr(B64, *s)) != NULL ? (int)(q - B64) : -1;
        if (v < 0 || pad)
            goto bad;
        acc = acc << step | (uint32_t)v;
        if ((bits += step) >= 8) {
            bits -= 8;
            b[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* leftover bits: none for hex; for base64 fewer than 6, all zero */
    if (pad > 2 || (g_enc == ENC_HEX ? bits != 0 : bits >= 6 || (acc & ((1u << bits) - 1))))
        goto bad;
    *out = b;
    *len = o;
    return 0;
bad:
    free(b);
    return -1;
}

/* A KEY or VALUE argument as bytes; buf is what the caller frees. */
struct bytes {
    const void *p;
    size_t n;
    unsigned char *buf;
};

static int arg_bytes(const char *s, const char *what, struct bytes *b)
{
    b->buf = NULL;
    b->p = s;
    b->n = strlen(s);
    if (g_enc != ENC_TEXT) {
        if (decode(s, &b->buf, &b->n)) {
            msg("%s '%s' is not valid %s", what, s, g_enc == ENC_HEX ? "hex" : "base64");
            return EX_USAGE;
        }
        b->p = b->buf;
    }
    if (!strcmp(what, "KEY") && (b->n == 0 || b->n > SHMKV_KEY_MAX)) {
        msg("a key must be 1 to %u bytes (this one is %zu)", SHMKV_KEY_MAX, b->n);
        free(b->buf);
        return EX_USAGE;
    }
    return 0;
}

/* ---- numbers ----------------------------------------------------------- */

/* 512M, 4G, 64k, 1.5GiB, 262144: powers of 1024 */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    const char *units = "KMGTP", *q;
    if (!isdigit((unsigned char)*s))
        return -1;
    double v = strtod(s, &end), mult = 1;
    if (*end && (q = strchr(units, toupper((unsigned char)*end))) != NULL) {
        for (const char *u = units; u <= q; u++)
            mult *= 1024;
        end += 1 + (end[1] == 'i');
    }
    end += *end == 'B' || *end == 'b';
    if (*end || v * mult >= 18446744073709551615.0)
        return -1;
    *out = (uint64_t)(v * mult);
    return 0;
}

/* Leading decimal digits of s (at least one) into *v; *end after them. */
static int parse_digits(const char *s, unsigned long long *v, char **end)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    *v = strtoull(s, end, 10);
    return errno ? -1 : 0;
}

/* 1000000, 10k, 2M, 1G: powers of 1000 */
static int parse_count(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (parse_digits(s, &v, &end))
        return -1;
    uint64_t mult = *end == 'k' || *end == 'K' ? 1000 : *end == 'M' ? 1000000 : *end == 'G' ? 1000000000 : 1;
    end += mult > 1;
    if (*end || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

/* A lifetime in milliseconds: digits only; 0 means never expires.  At most
 * 100 years, so that now + lifetime cannot overflow the table's clock. */
#define TTL_MAX 3153600000000ull
static int parse_ms(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (parse_digits(s, &v, &end) || *end || v > TTL_MAX)
        return -1;
    *out = v;
    return 0;
}

/* "12.0 MiB"; rotating buffers, so one printf can use several */
static const char *hbytes(uint64_t v)
{
    static char bufs[8][32];
    static int k;
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    char *b = bufs[k++ & 7];
    double d = (double)v / 1024;
    int u = 0;
    if (v < 1024) {
        snprintf(b, 32, "%" PRIu64 " B", v);
        return b;
    }
    for (; d >= 1024 && u < 4; u++)
        d /= 1024;
    snprintf(b, 32, d < 10 ? "%.2f %s" : d < 100 ? "%.1f %s" : "%.0f %s", d, units[u]);
    return b;
}

/* 1234567 -> "1,234,567" */
static const char *hnum(uint64_t v)
{
    static char bufs[8][32];
    static int k;
    char *b = bufs[k++ & 7], t[32];
    int n = snprintf(t, sizeof t, "%" PRIu64, v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            b[o++] = ',';
        b[o++] = t[i];
    }
    b[o] = 0;
    return b;
}

static double pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

static void json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    putc('"', f);
    for (size_t i = 0, u; i < n;) {
        if (p[i] == '"' || p[i] == '\\') {
            fprintf(f, "\\%c", p[i++]);
        } else if (p[i] >= 0x20 && p[i] < 0x7f) {
            putc(p[i++], f);
        } else if (p[i] >= 0x80 && (u = utf8_len(p + i, n - i)) != 0) {
            fwrite(p + i, 1, u, f);
            i += u;
        } else {
            fprintf(f, p[i] < 0x80 ? "\\u%04x" : "\\ufffd", p[i]);
            i++;
        }
    }
    putc('"', f);
}

static const char *owner_name(uid_t uid)
{
    static char buf[32];
    struct passwd *pw = getpwuid(uid);
    if (pw)
        return pw->pw_name;
    snprintf(buf, sizeof buf, "%u", (unsigned)uid);
    return buf;
}

/* ---- tables: names, opening, errors ------------------------------------ */

static const char *table_dir(void)
{
    const char *d = getenv("SHMKV_DIR");
    return d && *d ? d : "/dev/shm";
}

/* the path the library uses for name (the rule of shmkv_open) */
static const char *table_path(const char *name)
{
    static char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s%s%s", strchr(name, '/') ? "" : table_dir(), strchr(name, '/') ? "" : "/", name);
    return path;
}

static int open_error(const char *name, int rc, bool writing)
{
    const char *path = table_path(name);
    struct stat st;
    switch (rc) {
    case -ENOENT:
        if (!strchr(name, '/') && stat(table_dir(), &st) != 0)
            msg("directory %s does not exist (%s)", table_dir(),
                getenv("SHMKV_DIR") && *getenv("SHMKV_DIR") ? "SHMKV_DIR names it: create it, or unset SHMKV_DIR"
                                                            : "set SHMKV_DIR to the directory of your tables");
        else if (strchr(name, '/'))
            msg("no table at %s (create it with: shmkv create %s)", path, name);
        else
            msg("no table \"%s\" in %s (create it with: shmkv create %s)", name, table_dir(), name);
        return EX_NOTFOUND;
    case -EBADMSG:
        msg("\"%s\" is not a shmkv table or is damaged (run: shmkv check %s)", name, name);
        return EX_FAIL;
    case -EACCES:
    case -EPERM:
        msg("permission denied: cannot open %s for %s (see its owner and mode with: ls -l %s)", path,
            writing ? "writing" : "reading", path);
        return EX_FAIL;
    case -ELOOP:
        msg("%s is a symbolic link, which shmkv never follows (give the real path)", path);
        return EX_FAIL;
    case -EISDIR:
        msg("%s is a directory, not a table", path);
        return EX_FAIL;
    case -ENAMETOOLONG:
    case -EINVAL:
        msg("\"%s\": invalid table name (%s)", name, shmkv_strerror(rc));
        return EX_USAGE;
    case -ENOMEM:
        msg("cannot map %s: out of memory or address space (check ulimit -v)", path);
        return EX_FAIL;
    case -ENOSPC:
        msg("no room to create %s (free space there, or choose a smaller --max-bytes)", path);
        return EX_FAIL;
    case -EEXIST:
        msg("table \"%s\" already exists (%s): use it as it is, or remove it first with: shmkv rm %s", name,
            path, name);
        return EX_FAIL;
    default:
        msg("cannot open table \"%s\" (%s): %s", name, path, shmkv_strerror(rc));
        return EX_FAIL;
    }
}

enum { OPEN_READ, OPEN_ITER, OPEN_WRITE };

/* READ: a read-only handle.  WRITE: writable.  ITER (for iterating):
 * writable if permitted, so that foreach copies each shard under its lock
 * and busy writers cannot starve it; else read-only. */
static int open_table(const char *name, int how, shmkv **db)
{
    shmkv_options o = {.flags = how == OPEN_READ ? SHMKV_RDONLY : 0};
    int rc = shmkv_open(name, &o, db);
    if (rc == -EACCES && how == OPEN_ITER) {
        o.flags = SHMKV_RDONLY;
        rc = shmkv_open(name, &o, db);
    }
    return rc ? open_error(name, rc, how == OPEN_WRITE) : 0;
}

/* An error from an operation on an open table. */
static int op_error(const char *name, shmkv *db, int rc, const void *key, size_t klen)
{
    shmkv_stats st;
    switch (rc) {
    case -ENOENT:
        msg("no key %s in \"%s\"", key_repr(key, klen), name);
        return EX_NOTFOUND;
    case -EEXIST:
        msg("key %s already exists in \"%s\" (overwrite it with: shmkv put)", key_repr(key, klen), name);
        return EX_NOTFOUND;
    case -ENOSPC:
        shmkv_stat(db, &st);
        msg("table \"%s\" is full: %s used of its %s limit, or its file system is full (delete keys, "
            "or dump it and load it into a table created with a larger --max-bytes)",
            name, hbytes(st.used_bytes), hbytes(st.max_bytes));
        return EX_FAIL;
    case -E2BIG:
        if (shmkv_stat(db, &st) == 0 && st.cache)
            msg("key %s: pair too large for the cache \"%s\" (a pair may use at most an eighth of its %s "
                "limit)", key_repr(key, klen), name, hbytes(st.max_bytes));
        else
            msg("key %s: pair too large (keys up to %u bytes, values up to 4 GiB - 1, and a pair must fit "
                "in the table's limit)", key_repr(key, klen), SHMKV_KEY_MAX);
        return EX_FAIL;
    case -ETIMEDOUT:
        msg("a writer has held a lock of \"%s\" for over a second (is a process stopped or stuck?): "
            "try again", name);
        return EX_FAIL;
    case -EBADMSG:
        msg("\"%s\" is damaged (run: shmkv check %s)", name, name);
        return EX_FAIL;
    default:
        msg("\"%s\": %s", name, shmkv_strerror(rc));
        return EX_FAIL;
    }
}

static shmkv_options create_opts(const struct args *a, unsigned flags)
{
    shmkv_options so = {.flags = flags | (a->stats ? SHMKV_STATS : 0) | (a->cache ? SHMKV_CACHE : 0), .max_bytes = a->max_bytes, .expected_keys = a->expected_keys,
                        .mode = a->has_mode && a->mode ? a->mode : 0600};
    return so;
}

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

/* ---- create, put/add/replace, get, del --------------------------------- */

static int cmd_create(const struct args *a)
{
    shmkv_options so = create_opts(a, SHMKV_CREATE | SHMKV_EXCL);
    shmkv *db;
    int rc = shmkv_open(a->v[0], &so, &db);
    if (rc)
        return open_error(a->v[0], rc, true);
    shmkv_close(db);
    return EX_OK;
}

/* All of standard input, in a growing buffer. */
static int read_stdin(struct bytes *v)
{
    size_t cap = 65536, n = 0;
    unsigned char *b = xrealloc(NULL, cap);
    ssize_t r;
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "shmkv: reading the value from standard input (end it with Ctrl-D)\n");
    while ((r = read(STDIN_FILENO, b + n, cap - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || n + (size_t)r > (size_t)SHMKV_VAL_MAX) {
            if (r < 0)
                msg("error reading standard input: %s", strerror(errno));
            else
                msg("the value on standard input is over %u bytes, the most a value can hold", SHMKV_VAL_MAX);
            free(b);
            return EX_FAIL;
        }
        if ((n += (size_t)r) == cap)
            b = xrealloc(b, cap *= 2);
    }
    v->p = v->buf = b;
    v->n = n;
    return 0;
}

/* put, add and replace */
static int cmd_write(const struct args *a)
{
    int (*fn)(shmkv *, const void *, size_t, const void *, size_t) =
        a->name[0] == 'p' ? shmkv_put : a->name[0] == 'a' ? shmkv_add : shmkv_replace;
    struct bytes k, v = {NULL, 0, NULL};
    shmkv *db;
    int rc = arg_bytes(a->v[1], "KEY", &k);
    if (rc)
        return rc;
    rc = a->n < 3 || !strcmp(a->v[2], "-") ? read_stdin(&v) : arg_bytes(a->v[2], "VALUE", &v);
    if (rc == 0 && (rc = open_table(a->v[0], OPEN_WRITE, &db)) == 0) {
        int r = a->ttl ? shmkv_put_ttl(db, k.p, k.n, v.p, v.n, a->ttl) : fn(db, k.p, k.n, v.p, v.n);
        rc = r ? op_error(a->v[0], db, r, k.p, k.n) : EX_OK;
        shmkv_close(db);
    }
    free(k.buf);
    free(v.buf);
    return rc;
}

static int cmd_get(const struct args *a)
{
    struct bytes k;
    shmkv *db;
    void *val;
    size_t vlen;
    int rc = arg_bytes(a->v[1], "KEY", &k);
    if (rc || (rc = open_table(a->v[0], OPEN_READ, &db)) != 0) {
        free(k.buf);
        return rc;
    }
    int r = shmkv_get_alloc(db, k.p, k.n, &val, &vlen);
    if (r) {
        rc = op_error(a->v[0], db, r, k.p, k.n);
    } else {
        /* the exact bytes to a file or pipe; on a terminal escaped, with a newline */
        int mode = out_mode(stdout);
        put_data(stdout, val, vlen, mode);
        if (mode != OUT_RAW)
            putc('\n', stdout);
        free(val);
        rc = finish_output();
    }
    shmkv_close(db);
    free(k.buf);
    return rc;
}

static int cmd_del(const struct args *a)
{
    struct bytes k;
    shmkv *db;
    int rc = arg_bytes(a->v[1], "KEY", &k);
    if (rc == 0 && (rc = open_table(a->v[0], OPEN_WRITE, &db)) == 0) {
        int r = shmkv_del(db, k.p, k.n);
        rc = r ? op_error(a->v[0], db, r, k.p, k.n) : EX_OK;
        shmkv_close(db);
    }
    free(k.buf);
    return rc;
}

static int cmd_ttl(const struct args *a)
{
    struct bytes k;
    shmkv *db;
    uint64_t left;
    int rc = arg_bytes(a->v[1], "KEY", &k);
    if (rc || (rc = open_table(a->v[0], OPEN_READ, &db)) != 0) {
        free(k.buf);
        return rc;
    }
    int r = shmkv_ttl(db, k.p, k.n, &left);
    if (r) {
        rc = op_error(a->v[0], db, r, k.p, k.n);
    } else {
        printf("%" PRIu64 "\n", left); /* 0: never expires */
        rc = finish_output();
    }
    shmkv_close(db);
    free(k.buf);
    return rc;
}

static int usage_error_of(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cmd_expire(const struct args *a)
{
    struct bytes k;
    shmkv *db;
    uint64_t ms;
    if (parse_ms(a->v[2], &ms))
        return usage_error_of(a->name, "MS '%s': give milliseconds, a whole number like 60000 (0: never "
                              "expires; at most 100 years)", a->v[2]);
    int rc = arg_bytes(a->v[1], "KEY", &k);
    if (rc == 0 && (rc = open_table(a->v[0], OPEN_WRITE, &db)) == 0) {
        int r = shmkv_expire(db, k.p, k.n, ms);
        rc = r ? op_error(a->v[0], db, r, k.p, k.n) : EX_OK;
        shmkv_close(db);
    }
    free(k.buf);
    return rc;
}

static int cmd_clear(const struct args *a)
{
    shmkv *db;
    int rc = open_table(a->v[0], OPEN_WRITE, &db);
    if (rc)
        return rc;
    int r = shmkv_clear(db);
    rc = r ? op_error(a->v[0], db, r, NULL, 0) : EX_OK;
    shmkv_close(db);
    return rc;
}

/* ---- keys, scan -------------------------------------------------------- */

struct lister {
    const char *glob;
    bool values;
    int mode;
    uint64_t limit, n;
    char *kbuf;        /* the key NUL-terminated, or escaped, for fnmatch */
    size_t kcap;
};

/* GLOB matches the key's bytes; a key holding a NUL byte is matched on its
 * escaped form (\x00, and \\ for a backslash), as a terminal shows it. */
static bool glob_match(struct lister *l, const void *key, size_t klen)
{
    if (!l->glob)
        return true;
    if (memchr(key, 0, klen)) {
        free(l->kbuf);
        l->kbuf = NULL;
        l->kcap = 0; /* open_memstream sets it to the length written */
        FILE *f = open_memstream(&l->kbuf, &l->kcap);
        if (!f)
            return false;
        put_escaped(f, key, klen);
        fclose(f);
    } else {
        if (l->kcap < klen + 1)
            l->kbuf = xrealloc(l->kbuf, l->kcap = klen + 1);
        memcpy(l->kbuf, key, klen);
        l->kbuf[klen] = 0;
    }
    return fnmatch(l->glob, l->kbuf, 0) == 0;
}

static int list_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct lister *l = ctx;
    if (!glob_match(l, key, klen))
        return 0;
    put_data(stdout, key, klen, l->mode);
    if (l->values) {
        putc('\t', stdout);
        put_data(stdout, val, vlen, l->mode);
    }
    putc('\n', stdout);
    if (ferror(stdout))
        return -EIO;
    return ++l->n >= l->limit ? 1 : 0;
}

/* keys and scan */
static int cmd_list(const struct args *a)
{
    struct lister l = {.glob = a->n > 1 ? a->v[1] : NULL, .mode = out_mode(stdout),
                       .limit = a->has_limit ? a->limit : UINT64_MAX};
    shmkv *db;
    l.values = !strcmp(a->name, "scan");
    int rc = open_table(a->v[0], OPEN_ITER, &db);
    if (rc)
        return rc;
    int r = l.limit ? shmkv_foreach(db, list_visit, &l) : 0;
    rc = r < 0 && r != -EIO ? op_error(a->v[0], db, r, NULL, 0) : finish_output();
    shmkv_close(db);
    free(l.kbuf);
    return rc;
}

/* ---- ls, stats, top ---------------------------------------------------- */

struct lsrow {
    char *name;
    shmkv_stats st;
    struct stat fs;
};

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct lsrow *)a)->name, ((const struct lsrow *)b)->name);
}

static int cmd_ls(const struct args *a)
{
    const char *dir = a->n > 0 ? a->v[0] : table_dir();
    DIR *d = opendir(dir);
    struct lsrow *rows = NULL;
    size_t n = 0;
    struct dirent *e;
    char path[PATH_MAX];
    if (!d) {
        int err = errno;
        msg("cannot list %s: %s", dir, strerror(err));
        return err == ENOENT ? EX_NOTFOUND : EX_FAIL;
    }
    while ((e = readdir(d)) != NULL) {
        struct lsrow r;
        shmkv_options so = {.flags = SHMKV_RDONLY}; /* never SHMKV_CREATE: ls changes nothing */
        shmkv *db;
        if (e->d_name[0] == '.' && (!a->all || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")))
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            lstat(path, &r.fs) || !S_ISREG(r.fs.st_mode) || shmkv_open(path, &so, &db))
            continue; /* not a table (-EBADMSG), unreadable, or gone */
        shmkv_stat(db, &r.st);
        shmkv_close(db);
        r.name = xrealloc(NULL, strlen(e->d_name) + 1);
        strcpy(r.name, e->d_name);
        rows = xrealloc(rows, (n + 1) * sizeof *rows);
        rows[n++] = r;
    }
    closedir(d);
    if (n)
        qsort(rows, n, sizeof *rows, row_cmp);
    int w = 4;
    for (size_t i = 0; i < n; i++)
        w = (int)strlen(rows[i].name) > w ? (int)strlen(rows[i].name) : w;
    if (!a->json && n)
        printf("%-*s %13s %10s %10s %10s  %-4s  %s\n", w, "NAME", "KEYS", "USED", "FILE", "LIMIT", "MODE", "OWNER");
    for (size_t i = 0; i < n; i++) {
        const struct lsrow *r = &rows[i];
        if (!a->json) {
            printf("%-*s %13s %10s %10s %10s  %04o  %s\n", w, r->name, hnum(r->st.keys), hbytes(r->st.used_bytes),
                   hbytes(r->st.file_bytes), hbytes(r->st.max_bytes), (unsigned)(r->fs.st_mode & 07777),
                   owner_name(r->fs.st_uid));
            continue;
        }
        printf("%s\n  {\"name\": ", i ? "," : "[");
        json_str(stdout, r->name);
        printf(", \"keys\": %" PRIu64 ", \"used_bytes\": %" PRIu64 ", \"file_bytes\": %" PRIu64
               ", \"max_bytes\": %" PRIu64 ", \"mode\": \"%04o\", \"owner\": ",
               r->st.keys, r->st.used_bytes, r->st.file_bytes, r->st.max_bytes, (unsigned)(r->fs.st_mode & 07777));
        json_str(stdout, owner_name(r->fs.st_uid));
        printf("}");
    }
    if (a->json)
        printf("%s]\n", n ? "\n" : "[");
    for (size_t i = 0; i < n; i++)
        free(rows[i].name);
    free(rows);
    return finish_output();
}

#define STAT_FIELDS(X) \
    X(keys) X(live_bytes) X(used_bytes) X(max_bytes) X(file_bytes) X(shards) X(buckets) \
    X(overflow_buckets) X(index_bytes) X(log_bytes) X(garbage_bytes) X(free_bytes) X(puts) X(dels) \
    X(splits) X(runs_cleaned) X(lock_waits) X(lock_recoveries) X(read_stats) X(hits) X(misses) \
    X(cache) X(evictions) X(expirations)

static const char READS_NOTE[] = "not counted (lock-free readers write nothing; create with --stats to count)";

static int cmd_stats(const struct args *a)
{
    const char *name = a->v[0], *path = table_path(name);
    shmkv *db;
    shmkv_stats s;
    struct stat fs;
    int rc = open_table(name, OPEN_READ, &db);
    if (rc)
        return rc;
    shmkv_stat(db, &s);
    shmkv_close(db);
    if (stat(path, &fs))
        memset(&fs, 0, sizeof fs);
    if (a->json) {
        printf("{\"table\": ");
        json_str(stdout, name);
        printf(", \"path\": ");
        json_str(stdout, path);
#define JF(f) printf(", \"" #f "\": %" PRIu64, s.f);
        STAT_FIELDS(JF)
#undef JF
        printf(", \"load_factor\": %.4f, \"hit_ratio\": %.4f, \"mode\": \"%04o\", \"owner\": ", s.load_factor,
               s.hits + s.misses ? (double)s.hits / (double)(s.hits + s.misses) : 0.0, (unsigned)(fs.st_mode & 07777));
        json_str(stdout, owner_name(fs.st_uid));
        printf(", \"reads_counted\": %s}\n", s.read_stats ? "true" : "false");
        return finish_output();
    }
    double per = s.keys >= 1000 ? (double)s.file_bytes / (double)s.keys : 0;
    printf("table            %s (%s)\n", name, path);
    printf("keys             %s\n", hnum(s.keys));
    printf("live data        %s (key + value bytes)\n", hbytes(s.live_bytes));
    printf("memory used      %s of the %s limit (%.1f%%)\n", hbytes(s.used_bytes), hbytes(s.max_bytes),
           pct(s.used_bytes, s.max_bytes));
    printf("file size        %s (%.1f%% of the limit)", hbytes(s.file_bytes), pct(s.file_bytes, s.max_bytes));
    printf(per > 0 ? ", %.1f bytes per pair\n" : "\n", per);
    printf("mode, owner      %04o %s\n", (unsigned)(fs.st_mode & 07777), owner_name(fs.st_uid));
    printf("shards           %s\n", hnum(s.shards));
    printf("index            %s: %s buckets + %s overflow, load factor %.2f\n", hbytes(s.index_bytes),
           hnum(s.buckets), hnum(s.overflow_buckets), s.load_factor);
    printf("record log       %s, of which garbage %s (%.1f%%)\n", hbytes(s.log_bytes), hbytes(s.garbage_bytes),
           pct(s.garbage_bytes, s.log_bytes));
    printf("free for reuse   %s\n", hbytes(s.free_bytes));
    printf("since creation   %s puts, %s dels, %s splits, %s runs cleaned\n", hnum(s.puts), hnum(s.dels),
           hnum(s.splits), hnum(s.runs_cleaned));
    printf("locks            %s waits, %s recoveries from dead holders\n", hnum(s.lock_waits),
           hnum(s.lock_recoveries));
    if (s.cache)
        printf("cache            yes (when full, writes evict): %s evictions\n", hnum(s.evictions));
    else
        printf("cache            no (when full, writes fail; create with --cache to evict instead)\n");
    printf("expiry           %s expired pairs reclaimed\n", hnum(s.expirations));
    if (s.read_stats)
        printf("reads            %s hits, %s misses, hit ratio %.1f%%\n", hnum(s.hits), hnum(s.misses),
               pct(s.hits, s.hits + s.misses));
    else
        printf("reads            %s\n", READS_NOTE);
    return finish_output();
}

static double rate(uint64_t a, uint64_t b, double dt)
{
    return b > a && dt > 0 ? (double)(b - a) / dt : 0.0;
}

static void top_frame(const struct args *a, const shmkv_stats *p, const shmkv_stats *s, double dt, bool tty)
{
    const char *name = a->v[0];
    double puts = rate(p->puts, s->puts, dt), dels = rate(p->dels, s->dels, dt);
    double splits = rate(p->splits, s->splits, dt), cleaned = rate(p->runs_cleaned, s->runs_cleaned, dt);
    double waits = rate(p->lock_waits, s->lock_waits, dt), recov = rate(p->lock_recoveries, s->lock_recoveries, dt);
    double evict = rate(p->evictions, s->evictions, dt), expir = rate(p->expirations, s->expirations, dt);
    if (tty) {
        time_t t = time(NULL);
        char when[32];
        strftime(when, sizeof when, "%H:%M:%S", localtime(&t));
        printf("\033[H\033[2Jshmkv top: %s (%s)   %s, every %.1f s, Ctrl-C quits\n\n", name, table_path(name),
               when, a->interval);
        printf("  keys          %14s      load factor     %10.2f\n", hnum(s->keys), s->load_factor);
        printf("  live data     %14s      file          %12s\n", hbytes(s->live_bytes), hbytes(s->file_bytes));
        printf("  memory used   %14s      limit         %12s  (%.1f%% used)\n\n", hbytes(s->used_bytes),
               hbytes(s->max_bytes), pct(s->used_bytes, s->max_bytes));
        printf("  puts/s        %14.0f      dels/s        %12.0f\n", puts, dels);
        printf("  splits/s      %14.0f      runs cleaned/s %11.0f\n", splits, cleaned);
        printf("  lock waits/s  %14.0f      lock recoveries %10s (%.0f/s)\n", waits, hnum(s->lock_recoveries),
               recov);
        if (s->cache)
            printf("  evictions/s   %14.0f      expirations/s %12.0f  (cache: %s evicted)\n\n", evict, expir,
                   hnum(s->evictions));
        else
            printf("  evictions     %14s      expirations/s %12.0f  (not a cache)\n\n", "-", expir);
        if (s->read_stats)
            printf("  hits/s        %14.0f      misses/s      %12.0f  (hit ratio %.1f%%)\n",
                   rate(p->hits, s->hits, dt), rate(p->misses, s->misses, dt),
                   pct(s->hits - p->hits, s->hits - p->hits + s->misses - p->misses));
        else
            printf("  reads are %s\n", READS_NOTE);
        fflush(stdout);
        return;
    }
    /* key: value lines, or one JSON object a line: the same fields */
    struct { const char *k; double v; bool real; } f[] = {
        {"interval_s", dt, true}, {"keys", (double)s->keys, false}, {"live_bytes", (double)s->live_bytes, false},
        {"used_bytes", (double)s->used_bytes, false}, {"file_bytes", (double)s->file_bytes, false},
        {"max_bytes", (double)s->max_bytes, false}, {"load_factor", s->load_factor, true},
        {"puts_per_s", puts, true}, {"dels_per_s", dels, true}, {"splits_per_s", splits, true},
        {"runs_cleaned_per_s", cleaned, true}, {"lock_waits_per_s", waits, true},
        {"lock_recoveries", (double)s->lock_recoveries, false}, {"lock_recoveries_per_s", recov, true},
        {"read_stats", (double)s->read_stats, false}, {"hits_per_s", rate(p->hits, s->hits, dt), true},
        {"misses_per_s", rate(p->misses, s->misses, dt), true},
        {"hit_ratio", s->hits + s->misses ? (double)s->hits / (double)(s->hits + s->misses) : 0, true},
        {"cache", (double)s->cache, false}, {"evictions", (double)s->evictions, false},
        {"evictions_per_s", evict, true}, {"expirations", (double)s->expirations, false},
        {"expirations_per_s", expir, true},
    };
    const char *sep = a->json ? ", \"" : "\n", *colon = a->json ? "\": " : ": ";
    if (a->json) {
        printf("{\"table\": ");
        json_str(stdout, name);
    } else {
        printf("table: %s", name);
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        printf(f[i].real ? "%s%s%s%.4f" : "%s%s%s%.0f", sep, f[i].k, colon, f[i].v);
    const char *reads = s->read_stats ? "counted" : READS_NOTE;
    printf(a->json ? "%sreads%s\"%s\"}\n" : "%sreads%s%s\n", sep, colon, reads);
    fflush(stdout);
}

static int cmd_top(const struct args *a)
{
    shmkv *db;
    shmkv_stats p, s;
    int rc = open_table(a->v[0], OPEN_READ, &db);
    if (rc)
        return rc;
    bool tty = !a->once && !a->json && isatty(STDOUT_FILENO);
    uint64_t frames = a->once ? 1 : a->count ? a->count : UINT64_MAX;
    double t0 = now(), t;
    shmkv_stat(db, &p);
    for (uint64_t i = 0; i < frames && !ferror(stdout); i++, p = s, t0 = t) {
        while ((t = now()) < t0 + a->interval) {
            double w = t0 + a->interval - t;
            struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
            nanosleep(&ts, NULL);
        }
        shmkv_stat(db, &s);
        if (i && !tty && !a->json)
            putchar('\n');
        top_frame(a, &p, &s, t - t0, tty);
    }
    shmkv_close(db);
    return finish_output();
}

/* ---- dump -------------------------------------------------------------- */

#define DUMP_MAGIC "SHMKVDMP"
#define DUMP_VERSION 1u
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

static int dump_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct dumper *d = ctx;
    unsigned char h[8];
    le(h, klen, 4);
    le(h + 4, vlen, 4);
    if (dump_out(d, h, 8) || dump_out(d, key, klen) || dump_out(d, val, vlen))
        return -EIO;
    progress_show(&d->pr, ++d->records, false);
    return 0;
}

static int cmd_dump(const struct args *a)
{
    const char *name = a->v[0], *file = a->n > 1 && strcmp(a->v[1], "-") ? a->v[1] : NULL;
    static char obuf[1 << 20];
    char tmp[PATH_MAX] = "";
    struct dumper d = {.f = stdout, .hash = FNV_BASIS};
    struct stat st;
    shmkv *db;
    int rc, fd = -1;
    if (!file && isatty(STDOUT_FILENO)) {
        msg("refusing to write a binary dump to a terminal (give a FILE or redirect the output)");
        return EX_USAGE;
    }
    if ((rc = open_table(name, OPEN_ITER, &db)) != 0)
        return rc;
    if (file && stat(file, &st) == 0 && !S_ISREG(st.st_mode)) {
        fd = open(file, O_WRONLY | O_CLOEXEC); /* a device or a FIFO: written as it is */
    } else if (file) {
        /* a regular file is written beside its name and renamed into place
         * when complete: a failed dump neither leaves half a file nor
         * destroys the previous one */
        snprintf(tmp, sizeof tmp, "%s.tmp-%ld", file, (long)getpid());
        cleanup_on_signals(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    }
    if (file && (fd < 0 || !(d.f = fdopen(fd, "w")))) {
        msg("cannot write %s: %s", file, strerror(errno));
        cleanup_on_signals(NULL);
        shmkv_close(db);
        return EX_FAIL;
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
    if (r == 0)
        r = shmkv_foreach(db, dump_visit, &d);
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

/* Read the records after the header into db, checking everything.  Returns
 * 0 for a complete, intact dump; else -1 with r->why or r->put_rc set. */
static int load_records(struct reader *r, shmkv *db, struct progress *pr, uint64_t ttl)
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
        if (klen == 0) { /* the end marker */
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
        if (klen > SHMKV_KEY_MAX) {
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
        if ((r->put_rc = shmkv_put_ttl(db, r->key, klen, vlen ? (const void *)val : "", vlen, ttl)) != 0)
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

static int copy_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct copier *c = ctx;
    if ((c->rc = shmkv_put_ttl(c->dst, key, klen, val, vlen, c->ttl)) != 0)
        return 1;
    progress_show(&c->pr, ++c->n, false);
    return 0;
}

#define LOAD_TMP ".shmkv-load."

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

static int cmd_load(const struct args *a)
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
    if (get_le(h + 8, 4) != DUMP_VERSION || get_le(h + 12, 4) != 0) {
        msg("%s is a shmkv dump of format version %" PRIu64 " (flags %#" PRIx64 "); this shmkv reads version %u "
            "(use a newer shmkv)", src, get_le(h + 8, 4), get_le(h + 12, 4), DUMP_VERSION);
        return EX_FAIL;
    }
    /* the header's count sizes the new index and the progress bar, taken
     * with a grain of salt: each record is at least 9 bytes */
    uint64_t hint = get_le(h + 16, 8);
    bool by_bytes = fstat(r.fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
    if (hint > (by_bytes ? (uint64_t)st.st_size / 9 : 100000000u))
        hint = 0;
    progress_init(&pr, "load", name, by_bytes ? (uint64_t)st.st_size : hint, by_bytes);

    shmkv_options so = {0};
    rc = shmkv_open(name, &so, &db); /* the target, if it exists */
    if (rc && (rc != -ENOENT || (!strchr(name, '/') && stat(table_dir(), &st) != 0)))
        return open_error(name, rc, true);
    bool exists = rc == 0;
    if (exists && a->sized)
        msg("note: \"%s\" exists; --max-bytes, --expected-keys, --mode, --stats and --cache apply only to a "
            "table load creates", name);
    so = create_opts(a, SHMKV_CREATE);
    so.expected_keys = so.expected_keys ? so.expected_keys : hint;

    if (a->partial) {
        /* straight into the target: what is valid stays */
        if (!exists && (rc = shmkv_open(name, &so, &db)) != 0)
            return open_error(name, rc, true);
        if (load_records(&r, db, &pr, a->ttl) == 0) {
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
    if (load_records(&r, tdb, &pr, a->ttl) != 0) {
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
    int fr = shmkv_foreach(tdb, copy_visit, &c);
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

/* ---- check, rm, bench -------------------------------------------------- */

static int cmd_check(const struct args *a)
{
    const char *name = a->v[0];
    shmkv_options so = {0};
    shmkv_stats s;
    shmkv *db;
    int rc = shmkv_open(name, &so, &db);
    if (rc == -EACCES) {
        so.flags = SHMKV_RDONLY;
        if ((rc = shmkv_open(name, &so, &db)) == 0)
            msg("note: \"%s\" is read-only to you: checked without locks, so concurrent writers may cause "
                "false reports", name);
    }
    if (rc == -EBADMSG) {
        msg("\"%s\" (%s) cannot be opened: it is not a shmkv table, or its header is damaged (if it is a "
            "damaged table, remove it with: shmkv rm --force %s)", name, table_path(name), name);
        return EX_FAIL;
    }
    if (rc)
        return open_error(name, rc, false);
    shmkv_stat(db, &s);
    fflush(stdout);
    int r = shmkv_check(db, stderr);
    if (r == 0) {
        printf("\"%s\" is sound: %s keys, %s used\n", name, hnum(s.keys), hbytes(s.used_bytes));
        rc = finish_output();
    } else if (r == -EBADMSG) {
        msg("\"%s\" is damaged (problems listed above): save what can be read with: shmkv dump %s FILE, "
            "then load FILE into a new table", name, name);
        rc = EX_FAIL;
    } else {
        rc = op_error(name, db, r, NULL, 0);
    }
    shmkv_close(db);
    return rc;
}

static int cmd_rm(const struct args *a)
{
    const char *name = a->v[0];
    shmkv_options so = {.flags = SHMKV_RDONLY};
    shmkv *db;
    int rc = shmkv_open(name, &so, &db);
    if (rc == 0) {
        shmkv_close(db);
    } else if (rc == -ENOENT || (!a->force && rc != -EBADMSG)) {
        return open_error(name, rc, false);
    } else if (!a->force) {
        msg("\"%s\" (%s) is not a shmkv table or is damaged: not removed (remove it anyway with: "
            "shmkv rm --force %s)", name, table_path(name), name);
        return EX_FAIL;
    }
    if ((rc = shmkv_unlink(name)) == -EACCES || rc == -EPERM) {
        msg("permission denied: cannot remove %s (that needs write permission on its directory)",
            table_path(name));
        return EX_FAIL;
    }
    return rc ? open_error(name, rc, true) : EX_OK;
}

/* shmkv-bench next to this program (/proc/self/exe), else from PATH */
static int cmd_bench(int argc, char **argv)
{
    char self[PATH_MAX], path[PATH_MAX + 16], *slash;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char **args = xrealloc(NULL, (size_t)(argc + 2) * sizeof *args);
    args[0] = "shmkv-bench";
    memcpy(args + 1, argv, (size_t)argc * sizeof *args);
    args[argc + 1] = NULL;
    fflush(stdout);
    if (n > 0 && (self[n] = 0, slash = strrchr(self, '/')) != NULL) {
        snprintf(path, sizeof path, "%.*s/shmkv-bench", (int)(slash - self), self);
        if (access(path, X_OK) == 0) {
            execv(path, args);
            msg("cannot run %s: %s", path, strerror(errno));
            free(args);
            return EX_FAIL;
        }
    }
    execvp("shmkv-bench", args);
    msg("shmkv-bench not found next to %s or in PATH (build it with: make)", n > 0 ? self : "shmkv");
    free(args);
    return EX_FAIL;
}

/* ---- the command table, help, options, main ---------------------------- */

enum {
    O_MAXB = 1 << 0, O_EXPK = 1 << 1, O_MODE = 1 << 2, O_LIMIT = 1 << 3, O_INTERVAL = 1 << 4,
    O_ONCE = 1 << 5, O_JSON = 1 << 6, O_PARTIAL = 1 << 7, O_FORCE = 1 << 8, O_COUNT = 1 << 9, O_ALL = 1 << 10,
    O_STATS = 1 << 11, O_CACHE = 1 << 12, O_TTL = 1 << 13,
};
static const char *const optname[] = {"--max-bytes", "--expected-keys", "--mode", "--limit", "--interval",
                                      "--once", "--json", "--partial", "--force", "--count", "--all",
                                      "--stats", "--cache", "--ttl"};

struct cmd {
    const char *name;
    int (*run)(const struct args *a);
    unsigned opts;      /* the O_* it takes */
    int min, max;       /* positional arguments */
    const char *synopsis, *help;
};

static const struct cmd cmds[] = {
    {"create", cmd_create, O_MAXB | O_EXPK | O_MODE | O_STATS | O_CACHE, 1, 1,
     "create NAME [--max-bytes SIZE] [--expected-keys N] [--mode MODE] [--stats] [--cache]",
     "Create a new, empty table; fails if NAME exists.\n"
     "  --max-bytes SIZE     most memory the table may ever use (64k, 512M, 4G: powers\n"
     "                       of 1024; at least 256k; default: the file system's size)\n"
     "  --expected-keys N    size the index for N keys up front (10k, 2M: powers of 1000)\n"
     "  --mode MODE          permission bits, octal (default 0600)\n"
     "  --stats              count reads (hits, misses) for stats and top; costs an\n"
     "                       atomic add per get (without it readers write nothing)\n"
     "  --cache              a cache (needs --max-bytes): when full, writes evict the\n"
     "                       pairs least worth keeping instead of failing; pairs over an\n"
     "                       eighth of the limit are refused.  Implies --stats.\n"},
    {"put", cmd_write, O_TTL, 2, 3, "put NAME KEY [VALUE] [--ttl MS]",
     "Store VALUE under KEY, overwriting any value there.  Without VALUE, or\n"
     "with VALUE -, the value is all of standard input (raw bytes).\n"
     "  --ttl MS             the pair expires MS milliseconds from now (0: never; a\n"
     "                       put without --ttl also gives the key no expiry)\n"},
    {"add", cmd_write, 0, 2, 3, "add NAME KEY [VALUE]",
     "Like put, but only if KEY is absent: exit 1 if it exists.\n"},
    {"replace", cmd_write, 0, 2, 3, "replace NAME KEY [VALUE]",
     "Like put, but only if KEY is present: exit 1 if it is absent.\n"},
    {"get", cmd_get, 0, 2, 2, "get NAME KEY",
     "Print the value of KEY: its exact bytes to a file or pipe; escaped, with a\n"
     "newline, on a terminal (unless --raw).  Exit 1 if KEY is absent.\n"},
    {"del", cmd_del, 0, 2, 2, "del NAME KEY", "Delete KEY.  Exit 1 if it is absent.\n"},
    {"ttl", cmd_ttl, 0, 2, 2, "ttl NAME KEY",
     "Print the milliseconds KEY has left before it expires, as a number on a line\n"
     "(at least 1), or 0 if it never expires.  Exit 1 if KEY is absent (or expired).\n"},
    {"expire", cmd_expire, 0, 3, 3, "expire NAME KEY MS",
     "Make KEY expire MS milliseconds from now, keeping its value (MS 0: never\n"
     "expires).  Exit 1 if KEY is absent (or expired).\n"},
    {"clear", cmd_clear, 0, 1, 1, "clear NAME",
     "Delete every pair of the table (shard by shard: writes made meanwhile to a\n"
     "shard already cleared stay).  The counters of stats are kept.\n"},
    {"keys", cmd_list, O_LIMIT, 1, 2, "keys NAME [GLOB] [--limit N]",
     "Print the keys matching GLOB (fnmatch(3); all if none), one a line, in no\n"
     "particular order.  Keys holding a NUL byte are matched on their escaped form\n"
     "(\\x00 for NUL, \\\\ for a backslash).\n"
     "  -n, --limit N        stop after N keys\n"},
    {"scan", cmd_list, O_LIMIT, 1, 2, "scan NAME [GLOB] [--limit N]",
     "Like keys, printing KEY<TAB>VALUE lines.\n"
     "  -n, --limit N        stop after N pairs\n"},
    {"ls", cmd_ls, O_JSON | O_ALL, 0, 1, "ls [DIR] [--all] [--json]",
     "List the tables in DIR (default $SHMKV_DIR or /dev/shm): name, keys, memory\n"
     "used, file size, limit, mode, owner.  Files that are not tables are skipped.\n"
     "  -a, --all            include names starting with '.' (temporary tables)\n"
     "  --json               a JSON array\n"},
    {"stats", cmd_stats, O_JSON, 1, 1, "stats NAME [--json]",
     "Print everything the table reports about itself, including cache mode,\n"
     "evictions, expirations and (when reads are counted) the hit ratio.\n"
     "  --json               one JSON object with the exact figures\n"},
    {"top", cmd_top, O_INTERVAL | O_ONCE | O_JSON | O_COUNT, 1, 1,
     "top NAME [--interval S] [--once] [--count N] [--json]",
     "Live view of the table, refreshed every interval: puts/s, dels/s, keys,\n"
     "memory, load factor, splits/s, runs cleaned/s, lock waits/s, lock recoveries,\n"
     "evictions/s (caches), expirations/s.  Hits, misses and the hit ratio for a\n"
     "table created with --stats or --cache (else lock-free readers write nothing).\n"
     "  -i, --interval S     seconds between samples (default 1)\n"
     "  --once               one frame (two samples S apart) as key: value lines\n"
     "  -c, --count N        N frames, then exit\n"
     "  --json               frames as JSON objects, one a line\n"},
    {"dump", cmd_dump, 0, 1, 2, "dump NAME [FILE]",
     "Write every pair to FILE (absent or -: standard output) in the portable dump\n"
     "format (docs/dump-format.md).  A FILE is written beside and renamed into place.\n"},
    {"load", cmd_load, O_MAXB | O_EXPK | O_MODE | O_PARTIAL | O_STATS | O_CACHE | O_TTL, 1, 2,
     "load NAME [FILE] [--partial] [--ttl MS] [--max-bytes SIZE] [--expected-keys N] [--mode MODE]\n"
     "             [--stats] [--cache]",
     "Put every pair of a dump (FILE absent or -: standard input) into NAME,\n"
     "creating it if missing (with the options of create).  The whole dump is\n"
     "verified first: a truncated or corrupt dump loads nothing.  Dumps hold no\n"
     "expiry times: loaded pairs never expire unless --ttl says otherwise.\n"
     "  --partial            load straight into NAME what is valid; say where it stopped\n"
     "  --ttl MS             every loaded pair expires MS milliseconds after it is\n"
     "                       loaded (0: never)\n"},
    {"check", cmd_check, 0, 1, 1, "check NAME",
     "Verify every invariant of the table; problems go to standard error.\n"
     "Exit 0 if sound, 3 if not.\n"},
    {"rm", cmd_rm, O_FORCE, 1, 1, "rm NAME [--force]",
     "Remove the table (processes using it keep it until they close it).\n"
     "  --force              remove NAME even if it is not a readable shmkv table\n"},
    {"bench", NULL, 0, 0, 0, "bench [ARGS...]",
     "Run shmkv-bench (next to this program, else from PATH) with ARGS.\n"},
    {"help", NULL, 0, 0, 1, "help [COMMAND]", "Show the help of COMMAND.\n"},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: shmkv [--hex|--base64] [--raw|--escape] COMMAND [ARGS...]\n\n"
               "Commands on the shmkv tables in $SHMKV_DIR (default /dev/shm); a NAME with\n"
               "a '/' is a path.\n\n");
    for (size_t i = 0; i < NCMDS; i++)
        fprintf(f, "  shmkv %s\n", cmds[i].synopsis);
    fprintf(f, "\nGlobal options (anywhere on the line):\n"
               "  --hex, --base64   KEY and VALUE arguments, and printed keys and values, are\n"
               "                    hex / base64 (standard input and dumps stay raw bytes)\n"
               "  --raw             print keys and values as raw bytes, even on a terminal and\n"
               "                    with --hex/--base64 (which then apply to arguments only)\n"
               "  --escape          escape non-printable bytes (\\xNN) even when not a terminal\n"
               "  -h, --help        help (also: shmkv help COMMAND, shmkv COMMAND --help)\n"
               "  --version         print the version\n\n"
               "Arguments that start with '-' go after '--'.\n"
               "Exit status: 0 success, 1 not found (key or table), 2 usage, 3 other errors.\n"
               "See shmkv(1).\n");
}

static const struct cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (!strcmp(cmds[i].name, name))
            return &cmds[i];
    return NULL;
}

static void cmd_help(const struct cmd *c)
{
    printf("usage: shmkv %s\n\n%s\nGlobal options --hex, --base64, --raw, --escape apply "
           "(see: shmkv --help).\n", c->synopsis, c->help);
}

__attribute__((format(printf, 2, 3))) static int usage_error(const struct cmd *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "shmkv%s%s: ", c ? " " : "", c ? c->name : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (c)
        fprintf(stderr, "\nusage: shmkv %s\n(see: shmkv help %s)\n", c->synopsis, c->name);
    else
        fprintf(stderr, "\n(see: shmkv --help)\n");
    return EX_USAGE;
}

static int usage_error_of(const char *cmd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return usage_error(find_cmd(cmd), "%s", buf);
}

enum { L_HEX = 256, L_BASE64, L_RAW, L_ESCAPE, L_VERSION, L_MAXB, L_EXPK, L_MODE, L_ONCE, L_JSON, L_PARTIAL,
       L_FORCE, L_STATS, L_CACHE, L_TTL };

static const struct option longopts[] = {
    {"hex", no_argument, NULL, L_HEX}, {"base64", no_argument, NULL, L_BASE64},
    {"raw", no_argument, NULL, L_RAW}, {"escape", no_argument, NULL, L_ESCAPE},
    {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, L_VERSION},
    {"max-bytes", required_argument, NULL, L_MAXB}, {"expected-keys", required_argument, NULL, L_EXPK},
    {"mode", required_argument, NULL, L_MODE}, {"limit", required_argument, NULL, 'n'},
    {"interval", required_argument, NULL, 'i'}, {"count", required_argument, NULL, 'c'},
    {"once", no_argument, NULL, L_ONCE}, {"json", no_argument, NULL, L_JSON},
    {"partial", no_argument, NULL, L_PARTIAL}, {"force", no_argument, NULL, L_FORCE},
    {"all", no_argument, NULL, 'a'}, {"stats", no_argument, NULL, L_STATS},
    {"cache", no_argument, NULL, L_CACHE}, {"ttl", required_argument, NULL, L_TTL}, {NULL, 0, NULL, 0},
};

/* Parse the whole line: options may come before or after the command and
 * its arguments (GNU getopt moves the others to the end).  c, if known, is
 * the command, for messages and for the options it takes.  Returns 0, an
 * exit status, or -1: done (help or version printed). */
static int parse(const struct cmd *c, int argc, char **argv, struct args *a)
{
    unsigned given = 0;
    bool help = false;
    int opt;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hn:i:c:a", longopts, NULL)) != -1) {
        const char *arg = argv[optind - 1];
        char *end;
        switch (opt) {
        case 'h': help = true; break;
        case L_VERSION: printf("shmkv %s\n", SHMKV_VERSION_STRING); return -1;
        case L_HEX: g_enc = ENC_HEX; break;
        case L_BASE64: g_enc = ENC_BASE64; break;
        case L_RAW: g_raw = true; g_escape = false; break;
        case L_ESCAPE: g_escape = true; g_raw = false; break;
        case L_MAXB:
            given |= O_MAXB;
            if (parse_size(optarg, &a->max_bytes) || a->max_bytes < SHMKV_MIN_BYTES || a->max_bytes > (8ull << 40))
                return usage_error(c, "--max-bytes '%s': give a size from 256k to 8T (like 512M, 4G)", optarg);
            break;
        case L_EXPK:
            given |= O_EXPK;
            if (parse_count(optarg, &a->expected_keys))
                return usage_error(c, "--expected-keys '%s': give a number (like 1000000 or 1M)", optarg);
            break;
        case L_MODE:
            given |= O_MODE;
            a->mode = (unsigned)strtoul(optarg, &end, 8);
            if (!*optarg || strspn(optarg, "01234567") != strlen(optarg) || a->mode > 07777)
                return usage_error(c, "--mode '%s': give octal permission bits (like 0600 or 640)", optarg);
            a->has_mode = true;
            break;
        case 'n':
            given |= O_LIMIT;
            if (parse_count(optarg, &a->limit))
                return usage_error(c, "--limit '%s': give a number", optarg);
            a->has_limit = true;
            break;
        case 'c':
            given |= O_COUNT;
            if (parse_count(optarg, &a->count) || !a->count)
                return usage_error(c, "--count '%s': give a positive number", optarg);
            break;
        case 'i':
            given |= O_INTERVAL;
            a->interval = strtod(optarg, &end);
            if (*end || end == optarg || !(a->interval >= 0.05 && a->interval <= 3600))
                return usage_error(c, "--interval '%s': give seconds from 0.05 to 3600", optarg);
            break;
        case L_ONCE: given |= O_ONCE; a->once = true; break;
        case L_JSON: given |= O_JSON; a->json = true; break;
        case L_PARTIAL: given |= O_PARTIAL; a->partial = true; break;
        case L_FORCE: given |= O_FORCE; a->force = true; break;
        case 'a': given |= O_ALL; a->all = true; break;
        case L_STATS: given |= O_STATS; a->stats = true; break;
        case L_CACHE: given |= O_CACHE; a->cache = true; break;
        case L_TTL:
            given |= O_TTL;
            if (parse_ms(optarg, &a->ttl))
                return usage_error(c, "--ttl '%s': give milliseconds, a whole number like 60000 (0: never "
                                   "expires; at most 100 years)", optarg);
            break;
        case ':': return usage_error(c, "option '%s' needs a value", arg);
        default:
            if (optopt)
                return usage_error(c, "unknown option '-%c' (put -- before arguments that start with -)", optopt);
            return usage_error(c, "unknown option '%s' (put -- before arguments that start with -)", arg);
        }
    }
    if (help) {
        if (c)
            cmd_help(c);
        else
            usage(stdout);
        return -1;
    }
    for (int b = 0; c && b < (int)(sizeof optname / sizeof optname[0]); b++)
        if (given & ~c->opts & (1u << b))
            return usage_error(c, "option %s does not apply to this command", optname[b]);
    if ((given & O_CACHE) && !(given & O_MAXB) && c && c->opts & O_CACHE)
        return usage_error(c, "--cache needs --max-bytes: a cache evicts pairs to stay within that limit");
    a->sized = given & (O_MAXB | O_EXPK | O_MODE | O_STATS | O_CACHE);
    return 0;
}

/* Options that take their value as the next argument: skipped when looking
 * for the command word before parsing (bench takes its arguments as they are). */
static bool takes_value(const char *s)
{
    static const char *const v[] = {"--max-bytes", "--expected-keys", "--mode", "--limit", "-n", "--interval",
                                    "-i", "--count", "-c", "--ttl"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!strcmp(s, v[i]))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    struct args a = {.interval = 1.0};
    const struct cmd *c = NULL;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            i += takes_value(argv[i]);
            continue;
        }
        if ((c = find_cmd(argv[i])) != NULL && !strcmp(c->name, "bench"))
            return cmd_bench(argc - i - 1, argv + i + 1);
        break;
    }
    int rc = parse(c, argc, argv, &a);
    if (rc)
        return rc < 0 ? EX_OK : rc;
    if (optind >= argc) {
        usage(stderr);
        return EX_USAGE;
    }
    if (!c || strcmp(c->name, argv[optind])) { /* the guess was wrong: parse again for this command */
        if (!(c = find_cmd(argv[optind]))) {
            fprintf(stderr, "shmkv: unknown command '%s' (see: shmkv --help)\n", argv[optind]);
            return EX_USAGE;
        }
        if ((rc = parse(c, argc, argv, &a)) != 0)
            return rc < 0 ? EX_OK : rc;
    }
    a.name = c->name;
    a.v = argv + optind + 1;
    a.n = argc - optind - 1;
    if (!strcmp(c->name, "help")) {
        const struct cmd *h = a.n ? find_cmd(a.v[0]) : NULL;
        if (a.n && !h) {
            fprintf(stderr, "shmkv: no command '%s' (see: shmkv --help)\n", a.v[0]);
            return EX_USAGE;
        }
        if (h)
            cmd_help(h);
        else
            usage(stdout);
        return EX_OK;
    }
    if (a.n < c->min || a.n > c->max)
        return usage_error(c, "%s", a.n < c->min ? "missing arguments" : "too many arguments");
    return c->run(&a);
}
