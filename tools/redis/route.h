/*
 * route.h - a Redis client that sends each command to the master of its
 * key: one server, or a Redis Cluster (slot map from CLUSTER SLOTS,
 * MOVED and ASK followed, the map read again after a redirection or a
 * lost connection).  Used by the read-through helper, and by the tests
 * and the benchmark to write.  Not thread-safe: one per thread.
 */
#ifndef SHMKV_REDIS_ROUTE_H
#define SHMKV_REDIS_ROUTE_H

#include "cluster.h"

struct route;

/* One command of a batch sent together to one key's master. */
struct rcmd {
    int argc;
    const char **argv;
    const size_t *lens;
};

/* 0 and *out, or -EINVAL / -EIO / -ENOMEM with the reason in err. */
int route_open(const char *addr, int cluster, uint64_t timeout_ms, struct route **out, char *err, size_t n);
void route_close(struct route *rt);

/* Send the ncmd commands, all about key, to its master in one write, and
 * put their replies in replies[] (the caller frees each with
 * freeReplyObject).  Redirections and lost connections are retried a few
 * times; any other error reply is returned as it is.  0, or -EIO when no
 * answer could be had (route_error says why; replies are then NULL). */
int route_run(struct route *rt, const void *key, size_t klen, int ncmd, const struct rcmd *cmds,
              redisReply **replies);
/* One command of plain words (split at spaces) and a binary key as its
 * second word: route_cmd(rt, "SET", key, klen, val, vlen) and the like;
 * the reply, or NULL (route_error). */
redisReply *route_cmd(struct route *rt, const char *verb, const void *key, size_t klen,
                      const void *arg, size_t alen);
const char *route_error(const struct route *rt);

/* The masters (one for a single server) and a connection to master i
 * (NULL with route_error set if it cannot be had): what commands about
 * no key (FLUSHALL, INFO) need. */
int route_masters(struct route *rt);
redisContext *route_master(struct route *rt, int i);

#endif
