/*
 * The helpers every command uses: messages, bytes in and out (--hex,
 * --base64, escaping for a terminal), sizes and counts, JSON strings.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cli_format cli_format = {ENC_TEXT, PRINT_AUTO};

/* a file to remove if a signal ends us (dump's temporary output, load's
 * temporary table); unlink() is async-signal-safe */
static char g_cleanup[PATH_MAX];

/* ---- messages, small helpers ------------------------------------------- */

void msg(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("shmkv: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void *xrealloc(void *p, size_t n)
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
void cleanup_on_signals(const char *path)
{
    snprintf(g_cleanup, sizeof g_cleanup, "%s", path ? path : "");
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; path && i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], on_signal);
}

double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int finish_output(void)
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
void put_escaped(FILE *f, const void *data, size_t n)
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

void put_data(FILE *f, const void *data, size_t n, int mode)
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
int out_mode(FILE *f)
{
    if (cli_format.print == PRINT_RAW)
        return OUT_RAW;
    if (cli_format.enc != ENC_TEXT)
        return cli_format.enc == ENC_HEX ? OUT_HEX : OUT_BASE64;
    return cli_format.print == PRINT_ESCAPE || isatty(fileno(f)) ? OUT_ESC : OUT_RAW;
}

/* A key for a message: as the user would type it, escaped, shortened. */
const char *key_repr(const void *k, size_t n)
{
    static char buf[256];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    int enc = cli_format.enc;
    if (!f)
        return "(key)";
    fputs(enc == ENC_TEXT ? "\"" : "", f);
    put_data(f, k, n > 48 ? 48 : n, enc == ENC_HEX ? OUT_HEX : enc == ENC_BASE64 ? OUT_BASE64 : OUT_ESC);
    fputs(n > 48 ? "..." : "", f);
    fputs(enc == ENC_TEXT ? "\"" : "", f);
    fclose(f);
    buf[sizeof buf - 1] = 0;
    return buf;
}

/* Decode s as hex or base64 (enc; whitespace ignored); -1 if invalid. */
static int decode(const char *s, int enc, unsigned char **out, size_t *len)
{
    unsigned char *b = xrealloc(NULL, strlen(s) + 1);
    uint32_t acc = 0;
    int bits = 0, pad = 0, step = enc == ENC_HEX ? 4 : 6;
    size_t o = 0;
    for (; *s; s++) {
        const char *q;
        int v;
        if (isspace((unsigned char)*s))
            continue;
        if (enc == ENC_BASE64 && *s == '=') {
            pad++;
            continue;
        }
        if (enc == ENC_HEX)
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
    if (pad > 2 || (enc == ENC_HEX ? bits != 0 : bits >= 6 || (acc & ((1u << bits) - 1))))
        goto bad;
    *out = b;
    *len = o;
    return 0;
bad:
    free(b);
    return -1;
}

/* A KEY or VALUE argument as bytes (what says which; a KEY must be 1 to
 * SHMKV_KEY_MAX bytes): 0, or EX_USAGE with a message. */
int arg_bytes(const char *s, const char *what, struct bytes *b)
{
    b->buf = NULL;
    b->p = s;
    b->n = strlen(s);
    if (cli_format.enc != ENC_TEXT) {
        if (decode(s, cli_format.enc, &b->buf, &b->n)) {
            msg("%s '%s' is not valid %s", what, s, cli_format.enc == ENC_HEX ? "hex" : "base64");
            return EX_USAGE;
        }
        b->p = b->buf;
    }
    if (!strcmp(what, "KEY") && (b->n == 0 || b->n > SHMKV_KEY_MAX)) {
        msg("a key must be 1 to %u bytes (this one is %zu)", SHMKV_KEY_MAX, b->n);
        free(b->buf);
        b->buf = NULL; /* the caller frees it too */
        return EX_USAGE;
    }
    return 0;
}

/* ---- numbers ----------------------------------------------------------- */

/* 512M, 4G, 64k, 1.5GiB, 262144: powers of 1024 */
int parse_size(const char *s, uint64_t *out)
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
int parse_count(const char *s, uint64_t *out)
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
int parse_ms(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (parse_digits(s, &v, &end) || *end || v > TTL_MAX)
        return -1;
    *out = v;
    return 0;
}

/* A signed 64-bit decimal number: an optional sign, then digits only. */
int parse_int64(const char *s, int64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)s[*s == '-' || *s == '+']))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* "12.0 MiB"; rotating buffers, so one printf can use several */
const char *hbytes(uint64_t v)
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
const char *hnum(uint64_t v)
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

double pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

void json_str(FILE *f, const char *s)
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

const char *owner_name(uid_t uid)
{
    static char buf[32];
    struct passwd *pw = getpwuid(uid);
    if (pw)
        return pw->pw_name;
    snprintf(buf, sizeof buf, "%u", (unsigned)uid);
    return buf;
}
