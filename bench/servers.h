/*
 * servers.h - the server peers' processes (servers.c): each started by the
 * bench itself as its child, listening only on a Unix socket in a private
 * directory, stopped and removed at the end or on a signal.
 */
#ifndef SHMKV_BENCH_SERVERS_H
#define SHMKV_BENCH_SERVERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct server {
    const char *prog;
    int stop_sig;                  /* how to stop it (0: SIGTERM) */
    volatile pid_t pid;
    char dir[128], sock[160], log[160];
};

/* Make the private directory (mode 0700, under $TMPDIR or /tmp) and fill in
 * the socket and log paths; 0 or -1 with err. */
int server_prepare(struct server *sv, const char *tag, char *err, size_t n);
/* Start argv[0] and wait (up to 10 s) until its socket accepts; 0 or -1. */
int server_start(struct server *sv, char *const argv[], char *err, size_t n);
void server_stop(struct server *sv);          /* and remove its directory */
void server_remove_dir(struct server *sv);
void server_kill_now(struct server *sv);      /* async-signal-safe */

uint64_t proc_rss(pid_t pid);                 /* bytes; 0 if unknown */
/* The version CMD prints after PREFIX (up to a space), or "?". */
const char *program_version(const char *cmd, const char *prefix, char *out, size_t n);

#endif /* SHMKV_BENCH_SERVERS_H */
