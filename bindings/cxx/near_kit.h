/*
 * near_kit.h - the near-cache tests' kit (tools/redis/test/kit.h: a real
 * redis-server and agent, children of the test harness, whose guardian
 * stops whatever a failed test leaves) for test_near.cpp.  C++ cannot
 * include kit.h beside shmkv.hpp (shmkv.h's handle type `shmkv` and the
 * namespace `shmkv` cannot share a name), so near_kit.c, compiled as C,
 * gives the few calls the test needs.
 */
#ifndef SHMKV_CXX_NEAR_KIT_H
#define SHMKV_CXX_NEAR_KIT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nk_part {
    const char *name;
    void (*run)(void);
};

/* The harness's h_main (test/harness.h): a private $SHMKV_DIR, a guardian,
 * the parts named on the command line (all by default); main's status. */
int nk_main(int argc, char **argv, const char *test_name, const struct nk_part *parts, size_t nparts);
/* Record a failure (it fails the test, in whatever process it happens). */
void nk_fail(const char *file, int line, const char *what);

/* redis-server on a Unix socket in the private directory; its address. */
const char *nk_redis_start(void);
void nk_redis_stop(void);
/* A fresh table name for the test (in $SHMKV_DIR). */
void nk_table_name(char *buf, size_t cap);
/* shmkv-redis sync TABLE --redis <the server> [extra...] (extra NULL-ended
 * or NULL), then wait for its heartbeat in db (a shmkv *): 0, or -1 if
 * none came within timeout_s. */
int nk_agent_start(const char *table, void *db, const char *const *extra, double timeout_s);
/* SIGTERM, waiting for it to exit (0 expected). */
void nk_agent_stop(void);

#ifdef __cplusplus
}
#endif

#endif
