/*
 * shmkv: the command-line tool for shmkv tables (see docs/shmkv.1).
 *
 *   shmkv [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS...
 *
 * One function per command (cmd_*, in the files cli.h lists), driven by
 * the table `cmds` below, which also holds each command's synopsis, help
 * and the options it takes.  This file parses the line and dispatches.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- bench ------------------------------------------------------------- */

/* shmkv-bench next to this program (/proc/self/exe), else from PATH; it
 * takes the rest of the line as it is, so main calls it before parsing */
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
    O_STATS = 1 << 11, O_CACHE = 1 << 12, O_TTL = 1 << 13, O_IF_ABSENT = 1 << 14, O_IF_PRESENT = 1 << 15,
    O_IF_EQUAL = 1 << 16, O_KEEP_TTL = 1 << 17, O_REPAIR = 1 << 18,
    O_HEAD = 1 << 19, O_TAIL = 1 << 20, O_WAIT = 1 << 21, O_MAX_LEN = 1 << 22, /* lists */
};
static const char *const optname[] = {"--max-bytes", "--expected-keys", "--mode", "--limit", "--interval",
                                      "--once", "--json", "--partial", "--force", "--count", "--all",
                                      "--stats", "--cache", "--ttl", "--if-absent", "--if-present",
                                      "--if-equal", "--keep-ttl", "--repair", "--head", "--tail", "--wait",
                                      "--max-len"};

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
    {"put", cmd_write, O_TTL | O_IF_ABSENT | O_IF_PRESENT | O_IF_EQUAL | O_KEEP_TTL, 2, 3,
     "put NAME KEY [VALUE] [--ttl MS | --keep-ttl]\n"
     "             [--if-absent | --if-present | --if-equal OLD]",
     "Store VALUE under KEY, overwriting any value there.  Without VALUE, or\n"
     "with VALUE -, the value is all of standard input (raw bytes).\n"
     "  --ttl MS             the pair expires MS milliseconds from now (0: never; a\n"
     "                       put without --ttl or --keep-ttl gives the key no expiry)\n"
     "  --keep-ttl           keep the expiry KEY has now (a new key gets none)\n"
     "  --if-absent          write only if KEY is absent, else exit 1\n"
     "  --if-present         write only if KEY is present, else exit 1\n"
     "  --if-equal OLD       write only if KEY holds OLD now (compare-and-swap), else\n"
     "                       exit 1; --hex and --base64 apply to OLD too\n"
     "The condition is tested and the value written in one atomic step.\n"},
    {"add", cmd_write, 0, 2, 3, "add NAME KEY [VALUE]",
     "Like put, but only if KEY is absent: exit 1 if it exists.\n"},
    {"replace", cmd_write, 0, 2, 3, "replace NAME KEY [VALUE]",
     "Like put, but only if KEY is present: exit 1 if it is absent.\n"},
    {"append", cmd_write, 0, 2, 3, "append NAME KEY [VALUE]",
     "Append VALUE (absent or -: all of standard input) to the value of KEY, in\n"
     "one atomic step; an absent KEY is created with VALUE and no expiry, an\n"
     "existing one keeps its expiry.\n"},
    {"incr", cmd_incr, O_TTL, 2, 3, "incr NAME KEY [DELTA] [--ttl MS]",
     "Add DELTA (a whole number, default 1; a negative one after --) to the\n"
     "integer KEY holds as decimal text, and print the result.  An absent KEY\n"
     "counts as 0.  Atomic: concurrent increments from any number of processes\n"
     "all count.  Exit 3 if the value is not an integer (an optional -, then 1\n"
     "to 19 digits) or the result would overflow 64 bits (nothing changes).\n"
     "DELTA and the result are decimal, also with --hex or --base64.\n"
     "  --ttl MS             a KEY this creates expires MS milliseconds from now (an\n"
     "                       existing key keeps its expiry)\n"},
    {"get", cmd_get, 0, 2, 2, "get NAME KEY",
     "Print the value of KEY: its exact bytes to a file or pipe; escaped, with a\n"
     "newline, on a terminal (unless --raw).  Exit 1 if KEY is absent.\n"},
    {"take", cmd_take, 0, 2, 2, "take NAME KEY",
     "Print the value of KEY as get does and delete KEY, in one atomic step: of\n"
     "several processes taking KEY at once, exactly one gets it.  Exit 1 if KEY\n"
     "is absent.\n"},
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
    {"push", cmd_push, O_HEAD | O_MAX_LEN | O_WAIT, 2, INT_MAX,
     "push NAME KEY [VALUE...] [--head] [--max-len N [--wait MS]]",
     "Push each VALUE onto the tail of the list at KEY (made if absent), all in one\n"
     "step: all of them or none.  Without VALUE, or for a VALUE -, the element is all\n"
     "of standard input.  Exit 3 if KEY holds a pair.\n"
     "  --head               push onto the head instead (the VALUEs then end up in\n"
     "                       reverse order, as if pushed one at a time)\n"
     "  --max-len N          a bounded queue: push only while the list would hold at\n"
     "                       most N elements; exit 1 (nothing pushed) if it has no room\n"
     "  --wait MS            with --max-len: wait up to MS milliseconds for room (-1:\n"
     "                       for ever); a pop from any process ends the wait at once\n"},
    {"pop", cmd_pop, O_TAIL | O_WAIT | O_COUNT, 2, 2, "pop NAME KEY [--tail] [--wait MS] [--count N]",
     "Remove the element at the head of the list at KEY and print it, as get prints\n"
     "a value.  Exit 1 if the list is empty or absent.\n"
     "  --tail               take from the tail instead\n"
     "  --wait MS            wait up to MS milliseconds for an element (-1: for ever);\n"
     "                       a push from any process ends the wait at once\n"
     "  -c, --count N        take up to N elements (waiting for the first only) and\n"
     "                       print them one a line\n"},
    {"llen", cmd_llen, 0, 2, 2, "llen NAME KEY",
     "Print the number of elements of the list at KEY (0 if absent).\n"},
    {"lrange", cmd_lrange, 0, 2, 4, "lrange NAME KEY [START [STOP]]",
     "Print the elements of the list at KEY from index START to STOP, both included\n"
     "(default 0 and -1: all), one a line, leaving them there.  Indexes count from 0\n"
     "at the head; negative ones from the tail, -1 the last (as Redis LRANGE; put --\n"
     "before them).  Exit 1 if the list is absent.\n"},
    {"keys", cmd_list, O_LIMIT, 1, 2, "keys NAME [GLOB] [--limit N]",
     "Print the keys matching GLOB (fnmatch(3); all if none), one a line, in no\n"
     "particular order, a piece of the table at a time (memory stays small).  Keys\n"
     "holding a NUL byte are matched on their escaped form (\\x00 for NUL, \\\\ for a\n"
     "backslash).\n"
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
     "format (docs/dump-format.md).  A FILE is written beside and renamed into place;\n"
     "it gets the table's permission bits, whatever the umask.\n"},
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
    {"check", cmd_check, O_REPAIR, 1, 1, "check NAME [--repair]",
     "Verify every invariant of the table; problems go to standard error.\n"
     "Exit 0 if sound, 3 if not.\n"
     "  --repair             repair the table first (shmkv_repair): forget the holder\n"
     "                       of every lock (a lock left held for ever: a copy of a live\n"
     "                       table, a table from before a crash or reboot), finish\n"
     "                       interrupted changes, recount, rebuild the free lists and\n"
     "                       free the space nothing uses; then check.  What it did and\n"
     "                       what is still wrong go to standard error; exit 0 if the\n"
     "                       table is sound afterwards, 3 if not.  No process may be\n"
     "                       writing to the table while it runs (readers may stay): a\n"
     "                       writer whose lock it resets would corrupt the table.\n"},
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

int usage_error_of(const char *cmd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return usage_error(find_cmd(cmd), "%s", buf);
}

enum { L_HEX = 256, L_BASE64, L_RAW, L_ESCAPE, L_VERSION, L_MAXB, L_EXPK, L_MODE, L_ONCE, L_JSON, L_PARTIAL,
       L_FORCE, L_STATS, L_CACHE, L_TTL, L_IF_ABSENT, L_IF_PRESENT, L_IF_EQUAL, L_KEEP_TTL, L_REPAIR,
       L_HEAD, L_TAIL, L_WAIT, L_MAX_LEN };

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
    {"cache", no_argument, NULL, L_CACHE}, {"ttl", required_argument, NULL, L_TTL},
    {"if-absent", no_argument, NULL, L_IF_ABSENT}, {"if-present", no_argument, NULL, L_IF_PRESENT},
    {"if-equal", required_argument, NULL, L_IF_EQUAL}, {"keep-ttl", no_argument, NULL, L_KEEP_TTL},
    {"repair", no_argument, NULL, L_REPAIR},
    {"head", no_argument, NULL, L_HEAD}, {"tail", no_argument, NULL, L_TAIL},
    {"wait", required_argument, NULL, L_WAIT}, {"max-len", required_argument, NULL, L_MAX_LEN},
    {NULL, 0, NULL, 0},
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
        case L_HEX: cli_format.enc = ENC_HEX; break;
        case L_BASE64: cli_format.enc = ENC_BASE64; break;
        case L_RAW: cli_format.print = PRINT_RAW; break;
        case L_ESCAPE: cli_format.print = PRINT_ESCAPE; break;
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
        case L_REPAIR: given |= O_REPAIR; a->repair = true; break;
        case L_TTL:
            given |= O_TTL;
            if (parse_ms(optarg, &a->ttl))
                return usage_error(c, "--ttl '%s': give milliseconds, a whole number like 60000 (0: never "
                                   "expires; at most 100 years)", optarg);
            break;
        case L_IF_ABSENT: given |= O_IF_ABSENT; a->put_flags |= SHMKV_IF_ABSENT; break;
        case L_IF_PRESENT: given |= O_IF_PRESENT; a->put_flags |= SHMKV_IF_PRESENT; break;
        case L_IF_EQUAL: given |= O_IF_EQUAL; a->put_flags |= SHMKV_IF_EQUAL; a->if_equal = optarg; break;
        case L_KEEP_TTL: given |= O_KEEP_TTL; a->put_flags |= SHMKV_KEEP_TTL; break;
        case L_HEAD: given |= O_HEAD; a->head = true; break;
        case L_TAIL: given |= O_TAIL; a->tail = true; break;
        case L_WAIT:
            given |= O_WAIT;
            a->wait = strtoll(optarg, &end, 10);
            if (!*optarg || *end || a->wait < -1 || a->wait > 100ll * 365 * 86400 * 1000)
                return usage_error(c, "--wait '%s': give milliseconds, a whole number (-1: for ever)", optarg);
            a->has_wait = true;
            break;
        case L_MAX_LEN:
            given |= O_MAX_LEN;
            if (parse_count(optarg, &a->max_len) || !a->max_len)
                return usage_error(c, "--max-len '%s': give a positive number of elements", optarg);
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
    if ((given & O_KEEP_TTL) && (given & O_TTL) && c && c->opts & O_KEEP_TTL)
        return usage_error(c, "--keep-ttl keeps the expiry KEY has: give it or --ttl, not both");
    if ((given & O_WAIT) && !(given & O_MAX_LEN) && c && c->opts & O_MAX_LEN)
        return usage_error(c, "--wait waits for room below --max-len: give --max-len too");
    if ((given & O_IF_ABSENT) && (given & (O_IF_PRESENT | O_IF_EQUAL)) && c && c->opts & O_IF_ABSENT)
        return usage_error(c, "--if-absent contradicts %s: give one condition",
                           given & O_IF_PRESENT ? "--if-present" : "--if-equal");
    a->sized = given & (O_MAXB | O_EXPK | O_MODE | O_STATS | O_CACHE);
    return 0;
}

/* Options that take their value as the next argument: skipped when looking
 * for the command word before parsing (bench takes its arguments as they are). */
static bool takes_value(const char *s)
{
    static const char *const v[] = {"--max-bytes", "--expected-keys", "--mode", "--limit", "-n", "--interval",
                                    "-i", "--count", "-c", "--ttl", "--if-equal", "--wait"};
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
