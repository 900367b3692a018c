/*
 * kit_agent.c - the agent (shmkv-redis sync) as a process of the test,
 * and waiting for what it publishes (kit.h).
 */
#include "kit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void tool_path(char *buf, size_t cap)
{
    char self[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        h_fail(__FILE__, __LINE__, "readlink /proc/self/exe: %s", strerror(errno));
        exit(1);
    }
    self[n] = 0;
    for (int up = 0; up < 3; up++)
        *strrchr(self, '/') = 0;
    snprintf(buf, cap, "%s/shmkv-redis", self);
}

void agent_start(struct agent_proc *a, const char *table, const char *addr, const char *const *extra)
{
    static int count;
    char tool[PATH_MAX];
    tool_path(tool, sizeof tool);
    snprintf(a->log, sizeof a->log, "%s/agent-%d.log", h_dir(), ++count);
    const char *argv[32] = {tool, "sync", table, "--redis", addr};
    int n = 5;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    fflush(NULL);
    a->pid = fork();
    if (a->pid == 0) {
        int out = open(a->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (out < 0 || dup2(out, 2) < 0 || dup2(out, 1) < 0)
            _exit(127);
        execv(tool, (char *const *)argv);
        dprintf(2, "exec %s: %s\n", tool, strerror(errno));
        _exit(127);
    }
    CHECK(a->pid > 0);
}

void agent_signal(struct agent_proc *a, int sig)
{
    if (a->pid <= 0)
        return;
    kill(a->pid, sig);
    if (sig == SIGSTOP || sig == SIGCONT)
        return;
    int st;
    waitpid(a->pid, &st, 0);
    a->pid = 0;
    if (sig == SIGTERM)
        CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the agent did not stop cleanly on SIGTERM (status %d)", st);
}

void agent_show_log(const struct agent_proc *a)
{
    size_t len;
    char *text = h_read_file(a->log, &len);
    if (!text)
        return;
    const char *from = len > 3000 ? text + len - 3000 : text;
    h_note("the agent's log (%s) ends:\n%.*s", a->log, (int)(len - (size_t)(from - text)), from);
    free(text);
}

int agent_wait_alive(shmkv *db, double timeout_s, uint64_t other_than)
{
    double end = h_now() + timeout_s;
    shmkv_redis_agent_info info;
    while (h_now() < end) {
        if (shmkv_redis_agent(db, &info) == 0 && (!other_than || info.generation != other_than))
            return 0;
        nap_ms(5);
    }
    return -1;
}

int agent_wait_synced(shmkv *db, uint64_t t_ms, double timeout_s)
{
    double end = h_now() + timeout_s;
    shmkv_redis_agent_info info;
    while (h_now() < end) {
        /* the basis, to 1 ms: now - synced_ms_ago; past t_ms by a margin */
        uint64_t now = boot_ms();
        if (shmkv_redis_agent(db, &info) == 0 && now - info.synced_ms_ago > t_ms + 2)
            return 0;
        nap_ms(2);
    }
    return -1;
}

shmkv *table_new(char *name, size_t cap)
{
    shmkv *db = NULL;
    shmkv_options o = {.flags = SHMKV_CREATE | SHMKV_EXCL | SHMKV_CACHE, .max_bytes = 64u << 20};
    h_name(name, cap, "near");
    int rc = shmkv_open(name, &o, &db);
    if (rc) {
        h_fail(__FILE__, __LINE__, "creating table %s: %s", name, shmkv_strerror(rc));
        exit(1);
    }
    return db;
}

int agent_log_refreshed(const struct agent_proc *a, unsigned long long *done, unsigned long long *not)
{
    size_t len;
    char *s = h_read_file(a->log, &len), *text = s ? malloc(len + 1) : NULL; /* as a string */
    int rc = -1;
    if (text) {
        memcpy(text, s, len);
        text[len] = 0;
        const char *at = strstr(text, "refreshed ");
        rc = at && sscanf(at, "refreshed %llu invalidated keys (%llu not", done, not) == 2 ? 0 : -1;
    }
    free(text);
    free(s);
    return rc;
}
