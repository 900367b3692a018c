/*
 * What the files of the shmkv command-line tool share (see docs/shmkv.1).
 *
 *   main.c    the command table, option parsing, help, dispatch, bench
 *   util.c    messages, bytes in and out (--hex, --base64, escaping),
 *             numbers and sizes, JSON strings
 *   open.c    table names and paths, opening, error messages
 *   pairs.c   put, add, replace, append, incr, get, take, del, ttl, expire,
 *             clear, keys, scan
 *   lists.c   push, pop, llen, lrange
 *   tables.c  create, ls, check, rm
 *   stats.c   stats, top
 *   dump.c    dump, load (docs/dump-format.md) and their progress bar
 *
 * Conventions every command shares:
 *
 *  - Exit status: 0 success, 1 not found (absent key or table), 2 usage,
 *    3 anything else.  Error messages name the table, the cause and, where
 *    there is one, the fix.
 *  - Keys and values are bytes: the shell text as given, or hex / base64
 *    with --hex / --base64, which also encode what is printed.  Printed
 *    keys and values are escaped (\xNN) on a terminal unless --raw.
 */
#ifndef SHMKV_CLI_H
#define SHMKV_CLI_H

#include "shmkv.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum { EX_OK = 0, EX_NOTFOUND = 1, EX_USAGE = 2, EX_FAIL = 3 };
enum { ENC_TEXT, ENC_HEX, ENC_BASE64 };            /* --hex, --base64 */
enum { PRINT_AUTO, PRINT_RAW, PRINT_ESCAPE };      /* --raw, --escape */
enum { OUT_RAW, OUT_HEX, OUT_BASE64, OUT_ESC };    /* how data is printed */

/* The global options that change how arguments become bytes and bytes are
 * printed: set by main.c's parsing, read by util.c.  The one piece of state
 * the files share. */
struct cli_format {
    int enc;    /* ENC_*: KEY and VALUE arguments, and printed data */
    int print;  /* PRINT_*: the last of --raw and --escape wins */
};
extern struct cli_format cli_format;

/* A parsed command line. */
struct args {
    const char *name;       /* the command */
    int n;                  /* positional arguments after the command word */
    char **v;
    uint64_t max_bytes, expected_keys, limit, count;
    uint64_t max_len;       /* --max-len: push's bound; 0 none */
    uint64_t ttl;           /* --ttl: milliseconds; 0: no expiry */
    unsigned put_flags;     /* --if-absent, --if-present, --if-equal, --keep-ttl:
                             * SHMKV_IF_*, SHMKV_KEEP_TTL */
    const char *if_equal;   /* --if-equal OLD, as given */
    unsigned mode;
    double interval;
    bool has_mode, has_limit, json, once, partial, force, all, sized, stats, cache, repair;
    int64_t wait;           /* --wait: milliseconds, -1 for ever */
    bool head, tail, has_wait;
};

/* A KEY or VALUE argument as bytes; buf is what the caller frees. */
struct bytes {
    const void *p;
    size_t n;
    unsigned char *buf;
};

/* ---- util.c ---------------------------------------------------------- */

__attribute__((format(printf, 1, 2))) void msg(const char *fmt, ...);
void *xrealloc(void *p, size_t n);                  /* exits on failure */
void cleanup_on_signals(const char *path);          /* NULL: stop */
double now(void);                                   /* CLOCK_MONOTONIC s */
int finish_output(void);                            /* flush stdout: EX_* */

void put_escaped(FILE *f, const void *data, size_t n);
void put_data(FILE *f, const void *data, size_t n, int mode);   /* OUT_* */
int out_mode(FILE *f);
const char *key_repr(const void *k, size_t n);      /* for messages */
int arg_bytes(const char *s, const char *what, struct bytes *b);

int parse_size(const char *s, uint64_t *out);       /* 512M, 4G: 1024s */
int parse_count(const char *s, uint64_t *out);      /* 10k, 2M: 1000s */
int parse_ms(const char *s, uint64_t *out);         /* a lifetime */
int parse_int64(const char *s, int64_t *out);       /* -42, +7: decimal */
const char *hbytes(uint64_t v);                     /* "12.0 MiB" */
const char *hnum(uint64_t v);                       /* "1,234,567" */
double pct(uint64_t a, uint64_t b);
void json_str(FILE *f, const char *s);
const char *owner_name(uid_t uid);

/* ---- open.c ---------------------------------------------------------- */

enum { OPEN_READ, OPEN_ITER, OPEN_WRITE };

const char *table_dir(void);
const char *table_path(const char *name);
int open_error(const char *name, int rc, bool writing);
int open_table(const char *name, int how, shmkv **db);
int op_error(const char *name, shmkv *db, int rc, const void *key, size_t klen);
shmkv_options create_opts(const struct args *a, unsigned flags);

/* ---- main.c ---------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) int usage_error_of(const char *cmd, const char *fmt, ...);

/* ---- the commands: 0 or an EX_* exit status --------------------------- */

int cmd_write(const struct args *a);    /* put, add, replace, append (pairs.c) */
int cmd_incr(const struct args *a);
int cmd_get(const struct args *a);
int cmd_take(const struct args *a);
int cmd_del(const struct args *a);
int cmd_ttl(const struct args *a);
int cmd_expire(const struct args *a);
int cmd_clear(const struct args *a);
int cmd_list(const struct args *a);     /* keys, scan */
int read_stdin(struct bytes *v);        /* all of standard input */
int cmd_push(const struct args *a);     /* lists.c */
int cmd_pop(const struct args *a);
int cmd_llen(const struct args *a);
int cmd_lrange(const struct args *a);
int cmd_create(const struct args *a);   /* tables.c */
int cmd_ls(const struct args *a);
int cmd_check(const struct args *a);
int cmd_rm(const struct args *a);
int cmd_stats(const struct args *a);    /* stats.c */
int cmd_top(const struct args *a);
int cmd_dump(const struct args *a);     /* dump.c */
int cmd_load(const struct args *a);

#endif
