/*
 * sys_shf.c - SharedHashFile as shmkv-bench's peer, through its public C
 * API (shf.h) only.  Built when the bench's build is given SHF_DIR, a
 * SharedHashFile source tree built by its own makefile (bench/bench.mk
 * says how); never needed by the tests or CI.
 *
 * One SharedHashFile per store in the run's directory, attached once per
 * process (shf_attach_existing); SharedHashFile's calls work on the
 * calling thread's key and value (shf_make_hash sets the key; a get
 * copies the value into the thread's shf_val).  A put of a key already
 * there would add a second copy in SharedHashFile, so the bench's updates
 * (a delete, then a put) suit it as they are.
 */
#include "bench.h"

#include <ftw.h>
#include <sys/stat.h>
#include <errno.h>
#include <shf.private.h> /* shf.h needs its types; SharedHashFile's own programs include both */
#include <shf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *shf_version_str(void) { return "git"; }

/* SharedHashFile's folder: a file per table window, in 256 folders. */
static void shf_dir(const struct store *s, char *out, size_t n) { snprintf(out, n, "%s/shf.shf", s->path); }

static int shf_setup_op(struct store *s, char *err, size_t n)
{
    snprintf(s->path, sizeof s->path, "%s", s->cl->run_dir);
    shf_init();
    SHF *shf = shf_attach(s->path, "shf", 0);
    if (!shf) {
        snprintf(err, n, "shf_attach %s/shf failed", s->path);
        return -1;
    }
    shf_detach(shf);
    char dir[384];
    shf_dir(s, dir, sizeof dir);
    track_file(s->cl, dir); /* SharedHashFile keeps its files in a folder of its own */
    return 0;
}

static uint64_t tree_bytes;
static int add_bytes(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)p, (void)f;
    if (flag == FTW_F)
        tree_bytes += (uint64_t)st->st_blocks * 512;
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int shf_teardown_op(struct store *s, char *err, size_t n)
{
    char dir[384];
    shf_dir(s, dir, sizeof dir);
    int rc = nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc && errno != ENOENT)
        snprintf(err, n, "removing %s: %s", dir, strerror(errno));
    untrack_file(s->cl, dir);
    return rc && errno != ENOENT ? -1 : 0;
}

/* The memory of the store: the bytes of its files.  SharedHashFile keeps
 * no count of its keys. */
static int shf_inspect_op(struct store *s, struct storeinfo *si, char *err, size_t n)
{
    char dir[384];
    shf_dir(s, dir, sizeof dir);
    tree_bytes = 0;
    if (nftw(dir, add_bytes, 16, FTW_PHYS)) {
        snprintf(err, n, "%s: %s", dir, strerror(errno));
        return -1;
    }
    si->keys = KEYS_UNCOUNTED;
    si->mem_bytes = tree_bytes;
    si->mem_what = "file bytes";
    snprintf(si->detail, sizeof si->detail, "%.1f MiB of files (SharedHashFile keeps no key count)",
             (double)tree_bytes / 1048576.0);
    snprintf(si->json, sizeof si->json, "{\"bytes\": %llu}", (unsigned long long)tree_bytes);
    return 0;
}

static int shf_open_proc(struct store *s, char *err, size_t n)
{
    shf_init();
    if (!(s->h = shf_attach_existing(s->path, "shf"))) {
        snprintf(err, n, "shf_attach_existing %s/shf failed", s->path);
        return -1;
    }
    return 0;
}

static void shf_close_proc(struct store *s)
{
    shf_detach(s->h);
    s->h = NULL;
}

static int shf_get_op(struct wctx *c, const unsigned char *k, size_t kl, unsigned char *buf, size_t cap, size_t *vl)
{
    shf_make_hash((const char *)k, (uint32_t)kl);
    if (shf_get_key_val_copy(c->s->h) != SHF_RET_KEY_FOUND)
        return RES_ABSENT;
    *vl = shf_val_len;
    if (shf_val_len <= cap)
        memcpy(buf, shf_val, shf_val_len);
    return RES_OK;
}

static int shf_put_op(struct wctx *c, const unsigned char *k, size_t kl, const unsigned char *v, size_t vl)
{
    shf_make_hash((const char *)k, (uint32_t)kl);
    if (shf_put_key_val(c->s->h, (const char *)v, (uint32_t)vl) == SHF_UID_NONE) {
        snprintf(c->err, sizeof c->err, "shf_put_key_val failed");
        return RES_ERR;
    }
    return RES_OK;
}

static int shf_del_op(struct wctx *c, const unsigned char *k, size_t kl)
{
    shf_make_hash((const char *)k, (uint32_t)kl);
    return shf_del_key_val(c->s->h) & SHF_RET_KEY_FOUND ? RES_OK : RES_ABSENT;
}

const struct sysops shf_sysops = {
    .base = "shf",
    .version = shf_version_str,
    .setup = shf_setup_op,
    .teardown = shf_teardown_op,
    .inspect = shf_inspect_op,
    .open_proc = shf_open_proc,
    .close_proc = shf_close_proc,
    .get = shf_get_op,
    .put = shf_put_op,
    .del = shf_del_op,
};
