/*
 * cleanup.c - what shmkv-bench removes and kills at the end of a run, and
 * on SIGINT/SIGTERM/SIGHUP: the worker processes of the phase under way,
 * the servers (systems_kill_now), the store's files and the run's private
 * directory under --dir, and what a mode changed on the system (undo).
 */
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NFILES (sizeof ((struct cleanup *)0)->files / sizeof ((struct cleanup *)0)->files[0])

/* The one thing a signal handler can reach: set once, before any signal
 * is caught. */
static struct cleanup *on_signal_cl;

void track_file(struct cleanup *cl, const char *path)
{
    for (size_t i = 0; i < NFILES; i++)
        if (!cl->files[i][0]) {
            snprintf(cl->files[i], sizeof cl->files[i], "%s", path);
            return;
        }
}

void untrack_file(struct cleanup *cl, const char *path)
{
    for (size_t i = 0; i < NFILES; i++)
        if (!strcmp(cl->files[i], path))
            cl->files[i][0] = 0;
}

/* Async-signal-safe: unlink, rmdir. */
void remove_tracked(struct cleanup *cl)
{
    for (size_t i = 0; i < NFILES; i++)
        if (cl->files[i][0] && unlink(cl->files[i]) != 0)
            rmdir(cl->files[i]);
    if (cl->run_dir[0])
        rmdir(cl->run_dir);
}

static void on_signal(int sig)
{
    struct cleanup *cl = on_signal_cl;
    if (cl && getpid() == cl->parent) {
        for (int i = 0; i < MAX_PROCS; i++)
            if (cl->kids[i] > 0)
                kill(cl->kids[i], SIGKILL);
        systems_kill_now();
        remove_tracked(cl);
        if (cl->undo)
            cl->undo();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void cleanup_on_signals(struct cleanup *cl)
{
    cl->parent = getpid();
    on_signal_cl = cl;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);
}

int run_dir_open(struct cleanup *cl, const char *dir)
{
    snprintf(cl->run_dir, sizeof cl->run_dir, "%s/shmkv-bench.XXXXXX", dir);
    if (!mkdtemp(cl->run_dir)) {
        fprintf(stderr, "shmkv-bench: mkdtemp %s: %s\n", cl->run_dir, strerror(errno));
        cl->run_dir[0] = 0;
        return -1;
    }
    return 0;
}

int run_dir_close(struct cleanup *cl)
{
    int rc = 0;
    struct stat sb;
    remove_tracked(cl);
    if (stat(cl->run_dir, &sb) == 0) {
        fprintf(stderr, "shmkv-bench: %s is not empty; left in place\n", cl->run_dir);
        rc = -1;
    }
    cl->run_dir[0] = 0;
    return rc;
}
