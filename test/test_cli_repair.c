/*
 * test_cli_repair.c - the operator's way out for a damaged table:
 * `shmkv check --repair NAME` (the CLI of this build, run as a user
 * would).  A C test rather than a part of test_cli.sh: making the damage
 * takes the library's internals (src/format.h).
 *
 *  - repair: a table whose shard lock names a live process that holds
 *    nothing (as a copy of a live table, or one from before a crash, can)
 *    and that has a leaked run.  `shmkv check` fails (exit 3) and says how
 *    to repair; `shmkv check --repair` repairs it (exit 0, the report
 *    names the leaked run it freed); then `shmkv check` says sound and
 *    every pair is there.
 *  - unrepairable: a run header that breaks the run tiling: `check
 *    --repair` exits 3 and lists what remains.
 *  - usage: --repair belongs to check only; help check documents it, and
 *    that no writer may be attached; a missing table is exit 1.
 */
#include "harness.h"
#include "run_tool.h"

#include "alloc.h"
#include "format.h"
#include "handle.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAIRS 300

static char out[PATH_MAX], err[PATH_MAX];

/* Run `shmkv ARGS...`; its exit status (-1: it did not exit). */
static int shmkv_cli(const char *const *argv)
{
    h_path(out, sizeof out, "cli-out");
    h_path(err, sizeof err, "cli-err");
    int st = tool_run(argv, out, err, 60);
    CHECKF(st != -1 && WIFEXITED(st), "shmkv %s %s: did not exit (status %#x)", argv[0], argv[1] ? argv[1] : "",
           st);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The file holds text. */
static bool has(const char *path, const char *text)
{
    size_t len = 0;
    char *f = h_read_file(path, &len);
    bool yes = f && memmem(f, len, text, strlen(text));
    if (!yes)
        h_note("%s lacks \"%s\"; it holds: %.*s", path, text, f ? (int)(len < 600 ? len : 600) : 9,
               f ? f : "(nothing)");
    free(f);
    return yes;
}

static size_t key_of(char *k, int i) { return (size_t)snprintf(k, 32, "pair-%d", i); }
static size_t vlen_of(int i) { return i % 50 == 0 ? 100000 : H_VAL_MIN + (size_t)i; }

/* A new table of NPAIRS pairs under a fresh name, open for damaging. */
static shmkv *filled(char *name, size_t cap, const char *tag)
{
    shmkv *db = NULL;
    h_name(name, cap, tag);
    CHECK_RC(shmkv_open(name, &(shmkv_options){.flags = SHMKV_CREATE | SHMKV_EXCL}, &db), 0);
    unsigned char *v = malloc(100000);
    for (int i = 0; db && i < NPAIRS; i++) {
        char k[32];
        size_t kl = key_of(k, i);
        h_val_make(v, vlen_of(i), k, kl, 7);
        CHECK_RC(shmkv_put(db, k, kl, v, vlen_of(i)), 0);
    }
    free(v);
    return db;
}

static void all_pairs_there(const char *name)
{
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, &(shmkv_options){.flags = SHMKV_RDONLY}, &db), 0);
    if (!db)
        return;
    CHECK_EQ_U64(shmkv_count(db), NPAIRS);
    for (int i = 0; i < NPAIRS; i++) {
        char k[32];
        size_t kl = key_of(k, i), vl = 0;
        void *v = NULL;
        CHECK_RC(shmkv_get_alloc(db, k, kl, &v, &vl), 0);
        CHECKF(v && vl == vlen_of(i) && h_val_check(v, vl, k, kl, NULL), "pair %d after the repair", i);
        free(v);
    }
    shmkv_close(db);
}

static void part_repair(void)
{
    char name[64];
    shmkv *db = filled(name, sizeof name, "repair");
    if (!db)
        return;
    /* the damage: a leaked run, and shard 0's lock naming this process,
     * which is alive and holds nothing */
    uint64_t off;
    CHECK_RC(shmkv__run_alloc(db, 2, RUN_LOG, 0, false, &off), 0);
    atomic_store(&db->shards[0].lock.word, (uint32_t)getpid());
    shmkv_close(db);

    CHECK_EQ_INT(shmkv_cli((const char *[]){"check", name, NULL}), 3);
    CHECK(has(err, "lock") && has(err, "shmkv check --repair"));
    char k[32];
    key_of(k, 1);
    CHECK_EQ_INT(shmkv_cli((const char *[]){"get", name, k, NULL}), 0); /* reads take no lock */

    CHECK_EQ_INT(shmkv_cli((const char *[]){"check", "--repair", name, NULL}), 0);
    CHECK(has(out, "is repaired and sound") && has(err, "freed 1 leaked run"));
    CHECK_EQ_INT(shmkv_cli((const char *[]){"check", name, NULL}), 0);
    CHECK(has(out, "is sound: 300 keys"));
    all_pairs_there(name);
    /* and a sound table repairs to itself */
    CHECK_EQ_INT(shmkv_cli((const char *[]){"check", name, "--repair", NULL}), 0);
    all_pairs_there(name);
    CHECK_RC(shmkv_unlink(name), 0);
}

static void part_unrepairable(void)
{
    char name[64];
    shmkv *db = filled(name, sizeof name, "broken");
    if (!db)
        return;
    /* the first run of length 0: the runs no longer tile the file */
    run_at(db, db->data_off)->nunits = 0;
    shmkv_close(db);
    CHECK_EQ_INT(shmkv_cli((const char *[]){"check", "--repair", name, NULL}), 3);
    CHECK(has(err, "still damaged after the repair") && has(err, "run tiling broken"));
    CHECK_EQ_INT(shmkv_cli((const char *[]){"check", name, NULL}), 3);
    CHECK_RC(shmkv_unlink(name), 0);
}

static void part_usage(void)
{
    CHECK_EQ_INT(shmkv_cli((const char *[]){"help", "check", NULL}), 0);
    CHECK(has(out, "--repair") && has(out, "No process may be") && has(out, "writing to the table"));
    CHECK_EQ_INT(shmkv_cli((const char *[]){"get", "t", "k", "--repair", NULL}), 2);
    CHECK(has(err, "option --repair does not apply to this command"));
    CHECK_EQ_INT(shmkv_cli((const char *[]){"check", "--repair", "no-such-table", NULL}), 1);
    CHECK(has(err, "no table \"no-such-table\""));
}

static const struct h_part parts[] = {
    {"repair", part_repair},
    {"unrepairable", part_unrepairable},
    {"usage", part_usage},
};

int main(int argc, char **argv)
{
    tool_sanitizer_env();
    return h_main(argc, argv, "test_cli_repair", parts, H_NPARTS(parts));
}
