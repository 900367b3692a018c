/*
 * sys_shmcache.c - libshmcache as shmkv-bench's peer, through its public
 * API (shmcache.h) only.  Built when the bench's build is given
 * LIBSHMCACHE_DIR and LIBFASTCOMMON_DIR (bench/bench.mk says how); never
 * needed by the tests or CI.
 *
 * One cache per store, its memory mapped from a file in the run's
 * directory (type mmap), configured through a config file there, as
 * libshmcache's users do; sized so nothing is ever recycled (the bench
 * checks that every key it put is found), with libshmcache's default
 * lock-free reads (lock_policy.read_within_lock = false).  Every process
 * opens it with shmcache_init_from_file_ex.
 */
#include "bench.h"

#include <errno.h>
#include <shmcache.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *shmcache_version_str(void) { return "git"; }

static void conf_path(const struct store *s, char *out, size_t n) { snprintf(out, n, "%s.conf", s->path); }

static int write_conf(const struct store *s, char *err, size_t n)
{
    const struct config *c = s->cfg;
    uint64_t per = 64 + (uint64_t)c->key.max + c->val.max; /* hash entry, key, value */
    uint64_t mem = c->nkeys * per * 2 + (64u << 20), val_max = c->val.max < 1024 ? 1024 : c->val.max;
    char conf[384];
    conf_path(s, conf, sizeof conf);
    FILE *f = fopen(conf, "w");
    if (!f) {
        snprintf(err, n, "%s: %s", conf, strerror(errno));
        return -1;
    }
    fprintf(f, "type = mmap\nfilename = %s\nmax_memory = %llu\nmin_memory = %llu\nsegment_size = 64M\n"
               "max_key_count = %llu\nmax_value_size = %llu\nhash_function = simple_hash\n"
               "recycle_key_once = 0\nrecycle_valid_entries = false\nvalue_policy.avg_key_ttl = 0\n"
               "value_policy.discard_memory_size = 128\nvalue_policy.max_fail_times = 5\n"
               "value_policy.sleep_us_when_recycle_valid_entries = 0\nlock_policy.read_within_lock = false\n"
               "lock_policy.trylock_interval_us = 200\nlock_policy.detect_deadlock_interval_ms = 1000\n"
               "log_level = warning\n",
            s->path, (unsigned long long)mem, (unsigned long long)mem, (unsigned long long)(c->nkeys + c->nkeys / 4 + 1024),
            (unsigned long long)val_max);
    return fclose(f) ? -1 : 0;
}

static int open_ctx(struct store *s, char *err, size_t n)
{
    struct shmcache_context *ctx = calloc(1, sizeof *ctx);
    char conf[384];
    conf_path(s, conf, sizeof conf);
    int rc = ctx ? shmcache_init_from_file_ex(ctx, conf, true, true) : ENOMEM;
    if (rc) {
        free(ctx);
        snprintf(err, n, "shmcache_init_from_file %s: %s", conf, strerror(rc));
        return -1;
    }
    s->h = ctx;
    return 0;
}

static void close_ctx(struct store *s)
{
    shmcache_destroy(s->h);
    free(s->h);
    s->h = NULL;
}

static int shmcache_setup_op(struct store *s, char *err, size_t n)
{
    snprintf(s->path, sizeof s->path, "%s/shmcache", s->cl->run_dir);
    char conf[384];
    conf_path(s, conf, sizeof conf);
    track_file(s->cl, conf);
    track_file(s->cl, s->path);
    if (write_conf(s, err, n) || open_ctx(s, err, n))
        return -1;
    close_ctx(s);
    return 0;
}

static int shmcache_teardown_op(struct store *s, char *err, size_t n)
{
    (void)err, (void)n;
    char conf[384];
    conf_path(s, conf, sizeof conf);
    if (open_ctx(s, err, n) == 0) {
        shmcache_remove_all(s->h);
        close_ctx(s);
    }
    unlink(s->path);
    unlink(conf);
    untrack_file(s->cl, s->path);
    untrack_file(s->cl, conf);
    return 0;
}

static int shmcache_inspect_op(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    if (open_ctx(s, err, n))
        return -1;
    struct shmcache_stats st;
    shmcache_stats_ex(s->h, &st, false);
    /* memory in use: the hash table's segment and the values' memory */
    uint64_t bytes = (uint64_t)st.hashtable.segment_size + (uint64_t)st.memory.used;
    si->keys = (uint64_t)st.hashtable.count;
    si->mem_bytes = bytes;
    si->mem_what = "hash table + value memory used";
    snprintf(si->detail, sizeof si->detail, "%lld keys, %.1f MiB in use", (long long)st.hashtable.count,
             (double)bytes / 1048576.0);
    snprintf(si->json, sizeof si->json, "{\"keys\": %lld, \"bytes\": %llu}", (long long)st.hashtable.count,
             (unsigned long long)bytes);
    close_ctx(s);
    return 0;
}

static int shmcache_get_op(struct wctx *c, const unsigned char *k, size_t kl, unsigned char *buf, size_t cap,
                           size_t *vl)
{
    struct shmcache_key_info key = {(char *)k, (int)kl};
    struct shmcache_value_info v;
    int rc = shmcache_get(c->s->h, &key, &v);
    if (rc == ENOENT || rc == ETIMEDOUT) /* ETIMEDOUT: libshmcache's word for expired */
        return RES_ABSENT;
    if (rc) {
        snprintf(c->err, sizeof c->err, "shmcache_get: %s", strerror(rc));
        return RES_ERR;
    }
    *vl = (size_t)v.length;
    if ((size_t)v.length <= cap)
        memcpy(buf, v.data, (size_t)v.length);
    return RES_OK;
}

static int shmcache_put_op(struct wctx *c, const unsigned char *k, size_t kl, const unsigned char *v, size_t vl)
{
    struct shmcache_key_info key = {(char *)k, (int)kl};
    int rc = shmcache_set(c->s->h, &key, (const char *)v, (int)vl, SHMCACHE_NEVER_EXPIRED);
    if (rc) {
        snprintf(c->err, sizeof c->err, "shmcache_set: %s", strerror(rc));
        return RES_ERR;
    }
    return RES_OK;
}

static int shmcache_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    struct shmcache_key_info key = {(char *)k, (int)kl};
    int rc = shmcache_delete(c->s->h, &key);
    return rc == 0 ? RES_OK : rc == ENOENT ? RES_ABSENT : (snprintf(c->err, sizeof c->err, "shmcache_delete: %s", strerror(rc)), RES_ERR);
}

static int shmcache_open_proc(struct store *s, char *err, size_t n) { return open_ctx(s, err, n); }

const struct sysops shmcache_sysops = {
    .base = "libshmcache",
    .version = shmcache_version_str,
    .setup = shmcache_setup_op,
    .teardown = shmcache_teardown_op,
    .inspect = shmcache_inspect_op,
    .open_proc = shmcache_open_proc,
    .close_proc = close_ctx,
    .get = shmcache_get_op,
    .put = shmcache_put_op,
    .del = shmcache_del_op,
};
