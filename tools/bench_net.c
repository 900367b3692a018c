/*
 * bench_net.c - shmkv-bench's server peers: Redis through hiredis
 * (-DHAVE_HIREDIS) and memcached through libmemcached (-DHAVE_MEMCACHED).
 *
 * The bench starts each server itself, as a child process, listening only
 * on a Unix socket in a private temporary directory (mode 0700, under
 * $TMPDIR or /tmp), and stops it and removes the directory at the end and
 * on SIGINT/SIGTERM/SIGHUP; the server also gets SIGKILL if the bench dies
 * (PR_SET_PDEATHSIG).  Every worker thread has its own connection.
 *
 * Redis: redis-server --save '' --appendonly no --port 0 --unixsocket ...
 * --unixsocketperm 700, started once and emptied with FLUSHALL before and
 * after each run.  "redis" sends one command per operation (with --batch B,
 * gets as MGET of B keys); "redis-pD" pipelines every phase D commands deep
 * (redisAppendCommandArgv, then D replies).  Memory: INFO used_memory.
 *
 * memcached: memcached -s SOCK -a 0700 -m MB -M (errors instead of
 * evictions, so nothing is silently lost), binary protocol; with --cache,
 * -m the cache budget (whole MiB) and no -M: it evicts, like shmkv-cache.  It is started
 * afresh for every run rather than flushed: flush_all only invalidates items
 * lazily, so curr_items and bytes would still count the old ones.
 * "memcached" is one request per operation (with --batch B, gets through
 * memcached_mget of B keys); "memcached-pD" takes its gets D at a time
 * through memcached_mget and its writes one by one (libmemcached can only
 * pipeline writes as "quiet" requests, which report no per-operation
 * result).  Memory: the "bytes" statistic.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif
#ifdef HAVE_MEMCACHED
#include <libmemcached/memcached.h>
#endif

int find_program(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[1024];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
        if (n && access(buf, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

uint64_t proc_rss(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    uint64_t kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

#if defined(HAVE_HIREDIS) || defined(HAVE_MEMCACHED)

/* ---- servers ---------------------------------------------------------- */

struct server {
    const char *prog;
    int stop_sig;                  /* how to stop it (memcached takes most of
                                    * a second to stop on SIGTERM, and has
                                    * nothing to save) */
    volatile pid_t pid;
    char dir[128], sock[160], log[160];
};

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Only async-signal-safe calls: used from the signal handler. */
static void server_kill_now(struct server *sv)
{
    if (sv->pid > 0) {
        kill(sv->pid, SIGKILL);
        waitpid(sv->pid, NULL, 0);
        sv->pid = 0;
    }
    if (sv->dir[0]) {
        unlink(sv->sock);
        unlink(sv->log);
        rmdir(sv->dir);
    }
}

static void server_remove_dir(struct server *sv)
{
    if (!sv->dir[0])
        return;
    DIR *d = opendir(sv->dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", sv->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(sv->dir);
    sv->dir[0] = 0;
}

static void server_stop(struct server *sv)
{
    if (sv->pid > 0) {
        pid_t pid = sv->pid;
        kill(pid, sv->stop_sig ? sv->stop_sig : SIGTERM);
        int i;
        for (i = 0; i < 300; i++) {
            if (waitpid(pid, NULL, WNOHANG) == pid)
                break;
            sleep_ms(10);
        }
        if (i == 300) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        sv->pid = 0;
    }
    server_remove_dir(sv);
}

static void log_tail(const struct server *sv, char *err, size_t n)
{
    char buf[2048] = "";
    int fd = open(sv->log, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        lseek(fd, end > 1000 ? end - 1000 : 0, SEEK_SET);
        ssize_t r = read(fd, buf, sizeof buf - 1);
        buf[r > 0 ? r : 0] = 0;
        close(fd);
    }
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t used = strlen(err);
    if (used < n && buf[0])
        snprintf(err + used, n - used, "; its log ends: %s", buf);
}

static int sock_connects(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof a.sun_path) {
        close(fd);
        return 0;
    }
    memcpy(a.sun_path, path, len + 1);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Make the private directory and fill in the socket and log paths. */
static int server_prepare(struct server *sv, const char *tag, char *err, size_t n)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > 60)
        tmp = "/tmp";
    snprintf(sv->dir, sizeof sv->dir, "%s/shmkv-bench-%s.XXXXXX", tmp, tag);
    if (!mkdtemp(sv->dir)) {
        snprintf(err, n, "mkdtemp %s: %s", sv->dir, strerror(errno));
        sv->dir[0] = 0;
        return -1;
    }
    snprintf(sv->sock, sizeof sv->sock, "%s/%s.sock", sv->dir, tag);
    snprintf(sv->log, sizeof sv->log, "%s/%s.log", sv->dir, tag);
    return 0;
}

/* Start argv[0] and wait (up to 10 s) until its socket accepts. */
static int server_start(struct server *sv, char *const argv[], char *err, size_t n)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, n, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        signal(SIGINT, SIG_IGN); /* the bench stops it */
        int in = open("/dev/null", O_RDONLY);
        int out = open(sv->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(127);
        execvp(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    sv->pid = pid;
    for (int i = 0; i < 1000; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            sv->pid = 0;
            snprintf(err, n, "%s exited at once (status %d)", sv->prog,
                     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            log_tail(sv, err, n);
            return -1;
        }
        if (sock_connects(sv->sock))
            return 0;
        sleep_ms(10);
    }
    snprintf(err, n, "%s did not open %s within 10 s", sv->prog, sv->sock);
    log_tail(sv, err, n);
    server_stop(sv);
    return -1;
}

static const char *program_version(const char *cmd, const char *prefix, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    char line[256];
    snprintf(out, n, "?");
    if (!p)
        return out;
    if (fgets(line, sizeof line, p)) {
        const char *v = strstr(line, prefix);
        if (v) {
            v += strlen(prefix);
            snprintf(out, n, "%.*s", (int)strcspn(v, " \n"), v);
        }
    }
    pclose(p);
    return out;
}

static uint64_t mem_budget_mb(void)
{
    /* generous: a memcached item is about 56 bytes plus key and value,
     * rounded up to its slab class (up to 25 %) */
    uint64_t per = (uint64_t)cfg.key_max + cfg.val_max + 100;
    return (cfg.nkeys * per * 3 / 2 >> 20) + 256;
}
#endif /* HAVE_HIREDIS || HAVE_MEMCACHED */

/* ---- Redis ------------------------------------------------------------ */

#ifdef HAVE_HIREDIS
static struct server redis_sv = { .prog = "redis-server" };
static redisContext *redis_ctl; /* the parent's own connection */

static const char *redis_unavailable(void)
{
    return find_program("redis-server") ? NULL : "redis-server not found in PATH "
           "(scripts/install-deps.sh bench)";
}

static const char *redis_version(void)
{
    static char v[64], srv[32];
    if (!v[0])
        snprintf(v, sizeof v, "server %s, hiredis %d.%d.%d",
                 program_version("redis-server --version 2>/dev/null", "v=", srv, sizeof srv),
                 HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    return v;
}

static void redis_kill_now(void)
{
    server_kill_now(&redis_sv);
}

static void redis_stop(void)
{
    if (redis_ctl) {
        redisFree(redis_ctl);
        redis_ctl = NULL;
    }
    server_stop(&redis_sv);
}

/* One command (words separated by spaces) on the parent's connection;
 * returns the reply or NULL. */
static redisReply *redis_ctl_cmd(const char *cmd, char *err, size_t n)
{
    char buf[64], *save = NULL;
    const char *argv[4];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", cmd);
    for (char *t = strtok_r(buf, " ", &save); t && argc < 4; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    redisReply *r = redisCommandArgv(redis_ctl, argc, argv, NULL);
    if (!r)
        snprintf(err, n, "redis %s: %s", cmd, redis_ctl->errstr);
    else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, n, "redis %s: %s", cmd, r->str);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

static int redis_flush(char *err, size_t n)
{
    redisReply *r = redis_ctl_cmd("FLUSHALL", err, n);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

static int redis_setup(struct store *s, char *err, size_t n)
{
    if (!redis_sv.pid) {
        if (server_prepare(&redis_sv, "redis", err, n))
            return -1;
        char *argv[] = { "redis-server", "--save", "", "--appendonly", "no",
                         "--port", "0", "--unixsocket", redis_sv.sock,
                         "--unixsocketperm", "700", "--dir", redis_sv.dir,
                         "--daemonize", "no", "--loglevel", "warning", NULL };
        if (server_start(&redis_sv, argv, err, n)) {
            server_remove_dir(&redis_sv);
            return -1;
        }
        redis_ctl = redisConnectUnix(redis_sv.sock);
        if (!redis_ctl || redis_ctl->err) {
            snprintf(err, n, "connecting to redis: %s",
                     redis_ctl ? redis_ctl->errstr : "out of memory");
            redis_stop();
            return -1;
        }
    }
    snprintf(s->path, sizeof s->path, "%s", redis_sv.sock);
    return redis_flush(err, n);
}

static int redis_teardown(struct store *s, char *err, size_t n)
{
    (void)s;
    return redis_flush(err, n);
}

static uint64_t info_field(const char *info, const char *name)
{
    const char *p = strstr(info, name);
    return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

static int redis_inspect(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    (void)s;
    redisReply *r = redis_ctl_cmd("DBSIZE", err, n);
    if (!r)
        return -1;
    si->keys = (uint64_t)r->integer;
    freeReplyObject(r);
    if (!(r = redis_ctl_cmd("INFO memory", err, n)))
        return -1;
    si->mem_bytes = r->type == REDIS_REPLY_STRING ? info_field(r->str, "\nused_memory:") : 0;
    freeReplyObject(r);
    si->mem_what = "used_memory";
    si->rss = proc_rss(redis_sv.pid);
    snprintf(si->detail, sizeof si->detail,
             "server: %" PRIu64 " keys, used_memory %.1f MiB, RSS %.1f MiB", si->keys,
             (double)si->mem_bytes / 1048576.0, (double)si->rss / 1048576.0);
    snprintf(si->json, sizeof si->json,
             "{\"keys\": %" PRIu64 ", \"used_memory\": %" PRIu64 ", \"rss\": %" PRIu64 "}",
             si->keys, si->mem_bytes, si->rss);
    return 0;
}

static int redis_open_proc(struct store *s, char *err, size_t n)
{
    (void)s, (void)err, (void)n;
    return 0;
}

static void redis_close_proc(struct store *s)
{
    (void)s;
}

static int redis_open_thread(struct wctx *c)
{
    redisContext *rc = redisConnectUnix(c->s->path);
    if (!rc || rc->err) {
        snprintf(c->err, sizeof c->err, "connecting to redis: %s",
                 rc ? rc->errstr : "out of memory");
        if (rc)
            redisFree(rc);
        return R_ERR;
    }
    c->conn = rc;
    /* argv and lengths for MGET of up to depth keys */
    c->aux = malloc((sizeof(char *) + sizeof(size_t)) * (c->s->sd->depth + 1));
    if (!c->aux) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return R_ERR;
    }
    return R_OK;
}

static void redis_close_thread(struct wctx *c)
{
    if (c->conn)
        redisFree(c->conn);
    c->conn = NULL;
    free(c->aux);
    c->aux = NULL;
}

static int redis_lost(struct wctx *c)
{
    redisContext *rc = c->conn;
    snprintf(c->err, sizeof c->err, "redis: %s", rc->err ? rc->errstr : "no reply");
    return R_ERR;
}

static int redis_bad_reply(struct wctx *c, const redisReply *r, const char *cmd)
{
    if (r->type == REDIS_REPLY_ERROR)
        snprintf(c->err, sizeof c->err, "redis %s: %s", cmd, r->str);
    else
        snprintf(c->err, sizeof c->err, "redis %s: unexpected reply type %d", cmd, r->type);
    return R_ERR;
}

/* Turn the reply to one operation into its result. */
static int redis_result(struct wctx *c, struct op *o, const redisReply *r)
{
    switch (o->type) {
    case OP_GET:
        if (r->type == REDIS_REPLY_NIL)
            return R_ABSENT;
        if (r->type != REDIS_REPLY_STRING)
            return redis_bad_reply(c, r, "GET");
        o->outlen = r->len;
        if ((size_t)r->len <= o->cap)
            memcpy(o->buf, r->str, r->len);
        return R_OK;
    case OP_PUT:
        if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK") != 0)
            return redis_bad_reply(c, r, "SET");
        return R_OK;
    default:
        if (r->type != REDIS_REPLY_INTEGER)
            return redis_bad_reply(c, r, "DEL");
        return r->integer == 1 ? R_OK : R_ABSENT;
    }
}

static int redis_argv(const struct op *o, const char **argv, size_t *len)
{
    static const char *const name[NOPT] = { "GET", "SET", "DEL" };
    argv[0] = name[o->type];
    len[0] = 3;
    argv[1] = (const char *)o->key;
    len[1] = o->klen;
    if (o->type != OP_PUT)
        return 2;
    argv[2] = (const char *)o->val;
    len[2] = o->vlen;
    return 3;
}

static int redis_one(struct wctx *c, struct op *o)
{
    const char *argv[3];
    size_t len[3];
    int argc = redis_argv(o, argv, len);
    redisReply *r = redisCommandArgv(c->conn, argc, argv, len);
    if (!r)
        return redis_lost(c);
    int rc = redis_result(c, o, r);
    freeReplyObject(r);
    return rc;
}

static int redis_get_op(struct wctx *c, const unsigned char *k, size_t kl,
                        unsigned char *buf, size_t cap, size_t *vl)
{
    struct op o = { .type = OP_GET, .key = k, .klen = kl, .buf = buf, .cap = cap };
    int rc = redis_one(c, &o);
    *vl = o.outlen;
    return rc;
}

static int redis_put_op(struct wctx *c, const unsigned char *k, size_t kl,
                        const unsigned char *v, size_t vl)
{
    struct op o = { .type = OP_PUT, .key = k, .klen = kl, .val = v, .vlen = vl };
    return redis_one(c, &o);
}

static int redis_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    struct op o = { .type = OP_DEL, .key = k, .klen = kl };
    return redis_one(c, &o);
}

static int redis_mget(struct wctx *c, struct op *ops, unsigned m)
{
    const char **argv = c->aux;
    size_t *len = (size_t *)(argv + c->s->sd->depth + 1);
    argv[0] = "MGET";
    len[0] = 4;
    for (unsigned j = 0; j < m; j++) {
        argv[j + 1] = (const char *)ops[j].key;
        len[j + 1] = ops[j].klen;
    }
    redisReply *r = redisCommandArgv(c->conn, (int)m + 1, argv, len);
    if (!r)
        return redis_lost(c);
    int rc = R_OK;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != m)
        rc = redis_bad_reply(c, r, "MGET");
    for (unsigned j = 0; rc == R_OK && j < m; j++)
        if ((ops[j].rc = redis_result(c, &ops[j], r->element[j])) == R_ERR)
            rc = R_ERR;
    freeReplyObject(r);
    return rc;
}

static int redis_exec(struct wctx *c, struct op *ops, unsigned n)
{
    if (c->s->sd->pipelined) {
        for (unsigned j = 0; j < n; j++) {
            const char *argv[3];
            size_t len[3];
            int argc = redis_argv(&ops[j], argv, len);
            if (redisAppendCommandArgv(c->conn, argc, argv, len) != REDIS_OK)
                return redis_lost(c);
        }
        for (unsigned j = 0; j < n; j++) {
            void *rp;
            if (redisGetReply(c->conn, &rp) != REDIS_OK || !rp)
                return redis_lost(c);
            ops[j].rc = redis_result(c, &ops[j], rp);
            freeReplyObject(rp);
            if (ops[j].rc == R_ERR)
                return R_ERR;
        }
        return R_OK;
    }
    unsigned j = 0;
    while (j < n) {
        unsigned m = 0;
        while (j + m < n && ops[j + m].type == OP_GET)
            m++;
        if (m > 1) {
            if (redis_mget(c, ops + j, m) != R_OK)
                return R_ERR;
            j += m;
            continue;
        }
        if ((ops[j].rc = redis_one(c, &ops[j])) == R_ERR)
            return R_ERR;
        j++;
    }
    return R_OK;
}

const struct sysops redis_sysops = {
    .base = "redis",
    .unavailable = redis_unavailable,
    .version = redis_version,
    .kill_now = redis_kill_now,
    .stop = redis_stop,
    .setup = redis_setup,
    .teardown = redis_teardown,
    .inspect = redis_inspect,
    .open_proc = redis_open_proc,
    .close_proc = redis_close_proc,
    .open_thread = redis_open_thread,
    .close_thread = redis_close_thread,
    .get = redis_get_op,
    .put = redis_put_op,
    .del = redis_del_op,
    .exec = redis_exec,
    .batches_gets = 1,
};
#endif /* HAVE_HIREDIS */

/* ---- memcached -------------------------------------------------------- */

#ifdef HAVE_MEMCACHED
static struct server mc_sv = { .prog = "memcached", .stop_sig = SIGKILL };
static memcached_st *mc_ctl;

static const char *mc_unavailable(void)
{
    if (!find_program("memcached"))
        return "memcached not found in PATH (scripts/install-deps.sh bench)";
    if (cfg.key_max > 250)
        return "memcached keys are at most 250 bytes";
    if (cfg.val_max > (512u << 20))
        return "values too large for memcached";
    return NULL;
}

static const char *mc_version(void)
{
    static char v[64], srv[32];
    if (!v[0])
        snprintf(v, sizeof v, "server %s, libmemcached %s",
                 program_version("memcached -V 2>/dev/null", "memcached ", srv, sizeof srv),
                 LIBMEMCACHED_VERSION_STRING);
    return v;
}

static void mc_kill_now(void)
{
    server_kill_now(&mc_sv);
}

static void mc_stop(void)
{
    if (mc_ctl) {
        memcached_free(mc_ctl);
        mc_ctl = NULL;
    }
    server_stop(&mc_sv);
}

static memcached_st *mc_connect(const char *sock)
{
    memcached_st *m = memcached_create(NULL);
    if (!m)
        return NULL;
    if (memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1) != MEMCACHED_SUCCESS ||
        memcached_server_add_unix_socket(m, sock) != MEMCACHED_SUCCESS) {
        memcached_free(m);
        return NULL;
    }
    return m;
}

static int mc_setup(struct store *s, char *err, size_t n)
{
    if (server_prepare(&mc_sv, "memcached", err, n))
        return -1;
    char mb[32], itemsz[32];
    /* --cache: the cache budget, evicting; else generous, and -M */
    snprintf(mb, sizeof mb, "%" PRIu64, s->sd->cache ? cfg.cache_mc_mib : mem_budget_mb());
    uint64_t item = ((uint64_t)cfg.val_max + cfg.key_max + 4096 + 0xfffff) >> 20;
    snprintf(itemsz, sizeof itemsz, "%" PRIu64 "m", item < 1 ? 1 : item);
    char *argv[16] = { "memcached", "-s", mc_sv.sock, "-a", "0700", "-m", mb,
                       "-c", "4096", "-I", itemsz };
    int a = 11;
    if (!s->sd->cache)
        argv[a++] = "-M";
    if (geteuid() == 0) { /* memcached refuses to run as root without -u */
        argv[a++] = "-u";
        argv[a++] = "root";
    }
    argv[a] = NULL;
    if (server_start(&mc_sv, argv, err, n)) {
        server_remove_dir(&mc_sv);
        return -1;
    }
    if (!(mc_ctl = mc_connect(mc_sv.sock))) {
        snprintf(err, n, "libmemcached: cannot set up a connection");
        mc_stop();
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s", mc_sv.sock);
    return 0;
}

int mc_cache_start(uint64_t mib, char *sock, size_t socklen, char *err, size_t n)
{
    if (server_prepare(&mc_sv, "memcached", err, n))
        return -1;
    char mb[32];
    snprintf(mb, sizeof mb, "%" PRIu64, mib);
    char *argv[12] = { "memcached", "-s", mc_sv.sock, "-a", "0700", "-m", mb, "-c", "64" };
    int a = 9;
    if (geteuid() == 0) {
        argv[a++] = "-u";
        argv[a++] = "root";
    }
    argv[a] = NULL;
    if (server_start(&mc_sv, argv, err, n)) {
        server_remove_dir(&mc_sv);
        return -1;
    }
    snprintf(sock, socklen, "%s", mc_sv.sock);
    return 0;
}

const char *mc_server_version(void)
{
    static char srv[32];
    if (!srv[0])
        program_version("memcached -V 2>/dev/null", "memcached ", srv, sizeof srv);
    return srv;
}

static int mc_teardown(struct store *s, char *err, size_t n)
{
    (void)s, (void)err, (void)n;
    mc_stop();
    return 0;
}

static int mc_inspect(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    (void)s;
    memcached_return_t rc;
    memcached_stat_st *st = memcached_stat(mc_ctl, NULL, &rc);
    if (!st || rc != MEMCACHED_SUCCESS) {
        snprintf(err, n, "memcached stats: %s", memcached_strerror(mc_ctl, rc));
        if (st)
            memcached_stat_free(mc_ctl, st);
        return -1;
    }
    si->keys = st->curr_items;
    si->mem_bytes = st->bytes;
    si->mem_what = "bytes";
    si->rss = proc_rss(mc_sv.pid);
    snprintf(si->detail, sizeof si->detail,
             "server: %" PRIu64 " items, bytes %.1f MiB, limit %.0f MiB, RSS %.1f MiB",
             si->keys, (double)si->mem_bytes / 1048576.0,
             (double)st->limit_maxbytes / 1048576.0, (double)si->rss / 1048576.0);
    snprintf(si->json, sizeof si->json,
             "{\"curr_items\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"limit_maxbytes\": %llu"
             ", \"rss\": %" PRIu64 "}", si->keys, si->mem_bytes,
             (unsigned long long)st->limit_maxbytes, si->rss);
    memcached_stat_free(mc_ctl, st);
    return 0;
}

static int mc_open_proc(struct store *s, char *err, size_t n)
{
    (void)s, (void)err, (void)n;
    return 0;
}

static void mc_close_proc(struct store *s)
{
    (void)s;
}

struct mc_thread {
    memcached_result_st res;
    const char **keys;
    size_t *lens;
};

static int mc_open_thread(struct wctx *c)
{
    memcached_st *m = mc_connect(c->s->path);
    struct mc_thread *t = calloc(1, sizeof *t);
    unsigned d = c->s->sd->depth;
    if (t) {
        t->keys = calloc(d, sizeof *t->keys);
        t->lens = calloc(d, sizeof *t->lens);
    }
    if (!m || !t || !t->keys || !t->lens || !memcached_result_create(m, &t->res)) {
        snprintf(c->err, sizeof c->err, "libmemcached: cannot set up a connection");
        if (m)
            memcached_free(m);
        if (t) {
            free(t->keys);
            free(t->lens);
        }
        free(t);
        return R_ERR;
    }
    c->conn = m;
    c->aux = t;
    return R_OK;
}

static void mc_close_thread(struct wctx *c)
{
    struct mc_thread *t = c->aux;
    if (t) {
        memcached_result_free(&t->res);
        free(t->keys);
        free(t->lens);
        free(t);
    }
    if (c->conn)
        memcached_free(c->conn);
    c->conn = c->aux = NULL;
}

static int mc_fail(struct wctx *c, const char *what, memcached_return_t rc)
{
    snprintf(c->err, sizeof c->err, "memcached %s: %s", what,
             memcached_strerror(c->conn, rc));
    return R_ERR;
}

static int mc_get_op(struct wctx *c, const unsigned char *k, size_t kl,
                     unsigned char *buf, size_t cap, size_t *vl)
{
    memcached_return_t rc;
    uint32_t flags;
    size_t len = 0;
    char *v = memcached_get(c->conn, (const char *)k, kl, &len, &flags, &rc);
    if (rc == MEMCACHED_NOTFOUND) {
        free(v);
        return R_ABSENT;
    }
    if (rc != MEMCACHED_SUCCESS) {
        free(v);
        return mc_fail(c, "get", rc);
    }
    *vl = len;
    if (len <= cap && v)
        memcpy(buf, v, len);
    free(v);
    return R_OK;
}

static int mc_put_op(struct wctx *c, const unsigned char *k, size_t kl,
                     const unsigned char *v, size_t vl)
{
    memcached_return_t rc = memcached_set(c->conn, (const char *)k, kl, (const char *)v, vl,
                                          0, 0);
    return rc == MEMCACHED_SUCCESS ? R_OK : mc_fail(c, "set", rc);
}

static int mc_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    memcached_return_t rc = memcached_delete(c->conn, (const char *)k, kl, 0);
    if (rc == MEMCACHED_NOTFOUND)
        return R_ABSENT;
    return rc == MEMCACHED_SUCCESS ? R_OK : mc_fail(c, "delete", rc);
}

/* m gets through one memcached_mget.  The replies come in the order of the
 * keys, misses left out, so each one is matched to the next key it names. */
static int mc_mget(struct wctx *c, struct op *ops, unsigned m)
{
    struct mc_thread *t = c->aux;
    for (unsigned j = 0; j < m; j++) {
        t->keys[j] = (const char *)ops[j].key;
        t->lens[j] = ops[j].klen;
        ops[j].rc = R_ABSENT;
    }
    memcached_return_t rc = memcached_mget(c->conn, t->keys, t->lens, m);
    if (rc != MEMCACHED_SUCCESS)
        return mc_fail(c, "mget", rc);
    unsigned next = 0;
    int out = R_OK;
    for (;;) {
        memcached_result_st *res = memcached_fetch_result(c->conn, &t->res, &rc);
        if (!res)
            break;
        const char *k = memcached_result_key_value(res);
        size_t kl = memcached_result_key_length(res);
        while (next < m && (ops[next].klen != kl || memcmp(ops[next].key, k, kl) != 0))
            next++;
        if (next == m) {
            if (out == R_OK)
                snprintf(c->err, sizeof c->err, "memcached mget: a reply for a key not "
                         "asked for (or out of order)");
            out = R_ERR; /* go on reading, so the connection stays in step */
            continue;
        }
        struct op *o = &ops[next++];
        size_t len = memcached_result_length(res);
        o->outlen = len;
        if (len <= o->cap)
            memcpy(o->buf, memcached_result_value(res), len);
        o->rc = R_OK;
    }
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS)
        return mc_fail(c, "fetch", rc);
    return out;
}

static int mc_exec(struct wctx *c, struct op *ops, unsigned n)
{
    unsigned j = 0;
    while (j < n) {
        unsigned m = 0;
        while (j + m < n && ops[j + m].type == OP_GET)
            m++;
        if (m > 1) {
            if (mc_mget(c, ops + j, m) != R_OK)
                return R_ERR;
            j += m;
            continue;
        }
        struct op *o = &ops[j++];
        if (o->type == OP_GET)
            o->rc = mc_get_op(c, o->key, o->klen, o->buf, o->cap, &o->outlen);
        else if (o->type == OP_PUT)
            o->rc = mc_put_op(c, o->key, o->klen, o->val, o->vlen);
        else
            o->rc = mc_del_op(c, o->key, o->klen);
        if (o->rc == R_ERR)
            return R_ERR;
    }
    return R_OK;
}

const struct sysops memcached_sysops = {
    .base = "memcached",
    .unavailable = mc_unavailable,
    .version = mc_version,
    .kill_now = mc_kill_now,
    .stop = mc_stop,
    .setup = mc_setup,
    .teardown = mc_teardown,
    .inspect = mc_inspect,
    .open_proc = mc_open_proc,
    .close_proc = mc_close_proc,
    .open_thread = mc_open_thread,
    .close_thread = mc_close_thread,
    .get = mc_get_op,
    .put = mc_put_op,
    .del = mc_del_op,
    .exec = mc_exec,
    .batches_gets = 1,
};
#endif /* HAVE_MEMCACHED */
