/*
 * The commands on whole tables: create, ls, check, rm.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cmd_create(const struct args *a)
{
    shmkv_options so = create_opts(a, SHMKV_CREATE | SHMKV_EXCL);
    shmkv *db;
    int rc = shmkv_open(a->v[0], &so, &db);
    if (rc)
        return open_error(a->v[0], rc, true);
    shmkv_close(db);
    return EX_OK;
}

/* ---- ls ----------------------------------------------------------------- */

struct lsrow {
    char *name;
    shmkv_stats st;
    struct stat fs;
};

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct lsrow *)a)->name, ((const struct lsrow *)b)->name);
}

int cmd_ls(const struct args *a)
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

/* ---- check, rm ----------------------------------------------------------- */

/* check --repair: shmkv_repair (the library's report to standard error),
 * then what it leaves. */
static int repair(const char *name, shmkv *db)
{
    shmkv_stats s;
    fflush(stdout);
    int r = shmkv_repair(db, stderr);
    shmkv_stat(db, &s);
    if (r == 0) {
        printf("\"%s\" is repaired and sound: %s keys, %s used\n", name, hnum(s.keys), hbytes(s.used_bytes));
        return finish_output();
    }
    if (r == -EBADMSG) {
        msg("\"%s\" is still damaged after the repair (problems listed above): save what can be read with: "
            "shmkv dump %s FILE, then load FILE into a new table", name, name);
        return EX_FAIL;
    }
    return op_error(name, db, r, NULL, 0);
}

int cmd_check(const struct args *a)
{
    const char *name = a->v[0];
    shmkv_options so = {0};
    shmkv_stats s;
    shmkv *db;
    int rc = shmkv_open(name, &so, &db);
    if (rc == -EACCES && !a->repair) {
        so.flags = SHMKV_RDONLY;
        if ((rc = shmkv_open(name, &so, &db)) == 0)
            msg("note: \"%s\" is read-only to you: checked without locks; shards that writers kept busy "
                "throughout are not checked", name);
    }
    if (rc == -EBADMSG) {
        msg("\"%s\" (%s) cannot be opened: it is not a shmkv table, or its header is damaged (if it is a "
            "damaged table, remove it with: shmkv rm --force %s)", name, table_path(name), name);
        return EX_FAIL;
    }
    if (rc)
        return open_error(name, rc, a->repair);
    if (a->repair) {
        rc = repair(name, db);
        shmkv_close(db);
        return rc;
    }
    shmkv_stat(db, &s);
    fflush(stdout);
    int r = shmkv_check(db, stderr);
    if (r == 0) {
        printf("\"%s\" is sound: %s keys, %s used\n", name, hnum(s.keys), hbytes(s.used_bytes));
        rc = finish_output();
    } else if (r == -EBADMSG) {
        msg("\"%s\" is damaged (problems listed above): with no process writing to it, repair it with: "
            "shmkv check --repair %s; or save what can be read with: shmkv dump %s FILE, then load FILE "
            "into a new table", name, name, name);
        rc = EX_FAIL;
    } else if (r == -ETIMEDOUT) {
        msg("a lock of \"%s\" has been held for over a second: a writer is stopped or stuck, or the lock "
            "was left held (a copy of a live table, a table from before a crash); if no process is writing "
            "to it, reset its locks with: shmkv check --repair %s", name, name);
        rc = EX_FAIL;
    } else if (r == -EAGAIN) {
        msg("\"%s\": writers kept some shards busy all along, so they were not checked (listed above): "
            "try again, or check with write permission (writers then wait)", name);
        rc = EX_FAIL;
    } else {
        rc = op_error(name, db, r, NULL, 0);
    }
    shmkv_close(db);
    return rc;
}

int cmd_rm(const struct args *a)
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
