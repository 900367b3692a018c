/*
 * conn.c - Redis addresses, connections and single commands (conn.h).
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int addr_parse(const char *text, struct addr *a, char *err, size_t n)
{
    memset(a, 0, sizeof *a);
    if (!text || !*text) {
        snprintf(err, n, "empty Redis address");
        return -EINVAL;
    }
    const char *path = NULL;
    if (!strncmp(text, "unix:", 5))
        path = text + 5;
    else if (text[0] == '/' || text[0] == '.')
        path = text;
    if (path) {
        if (!*path || strlen(path) >= 108) { /* sun_path */
            snprintf(err, n, "'%s': a socket path of 1 to 107 bytes is needed", text);
            return -EINVAL;
        }
        a->is_unix = 1;
        snprintf(a->host, sizeof a->host, "%s", path);
        return 0;
    }
    const char *colon = strrchr(text, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == text || colon[1] == 0 || *end || port < 1 || port > 65535 ||
        (size_t)(colon - text) >= sizeof a->host) {
        snprintf(err, n, "'%s' is not a Redis address (HOST:PORT, unix:PATH or /PATH)", text);
        return -EINVAL;
    }
    a->port = (int)port;
    /* "[::1]:6379": hiredis takes the address without its brackets */
    size_t hl = (size_t)(colon - text);
    if (text[0] == '[' && hl >= 2 && text[hl - 1] == ']')
        snprintf(a->host, sizeof a->host, "%.*s", (int)(hl - 2), text + 1);
    else
        snprintf(a->host, sizeof a->host, "%.*s", (int)hl, text);
    return 0;
}

int addr_list_parse(const char *text, struct addr *out, int max, char *err, size_t n)
{
    int count = 0;
    const char *p = text ? text : "";
    do {
        char one[ADDR_MAX + 8];
        size_t len = strcspn(p, ",");
        if (count == max || len >= sizeof one) {
            snprintf(err, n, "'%s': at most %d addresses of up to %d bytes", text, max, ADDR_MAX - 1);
            return -EINVAL;
        }
        memcpy(one, p, len);
        one[len] = 0;
        int rc = addr_parse(one, &out[count++], err, n);
        if (rc)
            return rc;
        p += len;
    } while (*p++ == ',');
    return count;
}

void addr_format(const struct addr *a, char *out, size_t n)
{
    if (a->is_unix)
        snprintf(out, n, "%s", a->host);
    else
        snprintf(out, n, strchr(a->host, ':') ? "[%s]:%d" : "%s:%d", a->host, a->port);
}

redisContext *conn_open(const struct addr *a, uint64_t timeout_ms, char *err, size_t n)
{
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    redisContext *c = a->is_unix ? redisConnectUnixWithTimeout(a->host, tv)
                                 : redisConnectWithTimeout(a->host, a->port, tv);
    char at[ADDR_MAX + 8];
    addr_format(a, at, sizeof at);
    if (!c) {
        snprintf(err, n, "%s: out of memory", at);
        return NULL;
    }
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, n, "%s: %s", at, c->err ? c->errstr : "cannot set the timeout");
        redisFree(c);
        return NULL;
    }
    return c;
}

redisReply *conn_argv(redisContext *c, int argc, const char **argv, const size_t *lens,
                      char *err, size_t n)
{
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    if (!r)
        snprintf(err, n, "%s: %s", argv[0], c->err ? c->errstr : "no reply");
    return r;
}

redisReply *conn_words(redisContext *c, const char *words, char *err, size_t n)
{
    char buf[256];
    const char *argv[16];
    size_t lens[16];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", words);
    for (char *save, *w = strtok_r(buf, " ", &save); w && argc < 16; w = strtok_r(NULL, " ", &save)) {
        argv[argc] = w;
        lens[argc++] = strlen(w);
    }
    return conn_argv(c, argc, argv, lens, err, n);
}

int reply_expect(const redisReply *r, int want, const char *what, char *err, size_t n)
{
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, n, "%s: %.*s", what, (int)r->len, r->str);
        return -1;
    }
    if (want >= 0 && r->type != want) {
        snprintf(err, n, "%s: unexpected reply (type %d)", what, r->type);
        return -1;
    }
    return 0;
}

uint64_t boot_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void nap_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}
