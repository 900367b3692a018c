/*
 * conn.h - what every part of the near cache (tools/redis) shares: Redis
 * addresses, connections opened with a timeout, one command at a time,
 * error text, and the clock.
 *
 *   conn.c     this header's functions
 *   cluster.c  key slots, and a cluster's masters read from CLUSTER SLOTS
 *   record.c   the agent's record in the table (heartbeat and settings)
 *   route.c    a client that sends each command to its key's master
 *   near.c     the read-through helper (include/shmkv-redis.h)
 *   agent*.c   shmkv-redis sync, the per-host agent
 *   main.c     the shmkv-redis program
 */
#ifndef SHMKV_REDIS_CONN_H
#define SHMKV_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_MAX 256   /* longest address text, "host:port" or a socket path */
#define ERR_MAX 512    /* room for an error message */

/* Where a Redis server listens: "host:port", "unix:/path" or "/path". */
struct addr {
    int is_unix;
    int port;
    char host[ADDR_MAX];  /* or the socket's path */
};

/* 0, or -EINVAL (with a message in err) for text that is no address. */
int addr_parse(const char *text, struct addr *a, char *err, size_t n);
/* A list of addresses separated by commas (the nodes of a cluster to ask
 * first): their count (1 to max), or -EINVAL with a message in err. */
int addr_list_parse(const char *text, struct addr *out, int max, char *err, size_t n);
/* The address as text, "host:port" or the path. */
void addr_format(const struct addr *a, char *out, size_t n);

/* A blocking connection whose connect, reads and writes give up after
 * timeout_ms; NULL with the reason in err. */
redisContext *conn_open(const struct addr *a, uint64_t timeout_ms, char *err, size_t n);

/* Send one command (argv form) and wait for its reply.  NULL when the
 * connection failed (err says why; the context is then unusable); an
 * error reply is returned as a reply, for the caller to judge. */
redisReply *conn_argv(redisContext *c, int argc, const char **argv, const size_t *lens,
                      char *err, size_t n);
/* The same with a command of plain words, split at spaces ("CLIENT ID"). */
redisReply *conn_words(redisContext *c, const char *words, char *err, size_t n);

/* The reply as err text when it is an error reply or not of type want
 * (REDIS_REPLY_*; -1 accepts any type that is not an error): 0 if it is
 * fine, else -1 with err set. */
int reply_expect(const redisReply *r, int want, const char *what, char *err, size_t n);

/* The host's CLOCK_BOOTTIME in milliseconds: the clock shmkv's lifetimes
 * use, so deadlines computed here and expiries in the table agree. */
uint64_t boot_ms(void);
/* CLOCK_MONOTONIC in nanoseconds, for measuring. */
uint64_t mono_ns(void);
void nap_ms(uint64_t ms);

#endif
