/*
 * queue.h - shmkv-bench --queue: processes handing fixed-size messages to
 * each other through a queue (queue.c drives; each queue system is a
 * struct qpeer: queue_peers.c has shmkv's lists, POSIX message queues and
 * a pipe, queue_redis.c Redis lists, queue_shf.c SharedHashFile's queues).
 *
 * A message is size bytes: its tag (producer << 40 | number), the time it
 * was pushed (CLOCK_MONOTONIC ns), then filler.  A tag of QMSG_STOP tells a
 * consumer to stop.
 */
#ifndef SHMKV_BENCH_QUEUE_H
#define SHMKV_BENCH_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define QMSG_STOP UINT64_MAX
#define QBATCH_MAX 64

struct qrun;

/* One process's connection to the queue. */
struct qconn {
    struct qrun *q;
    void *h, *aux;
    int fd, fd2;
    unsigned pending;              /* pipelined pushes not yet answered */
    char err[256];
};

struct qpeer {
    const char *name;
    const char *(*unavailable)(void);   /* why it cannot run here, or NULL; may be NULL */
    const char *(*version)(void);       /* may be NULL */
    /* parent, before the processes are forked: a fresh, empty queue */
    int (*setup)(struct qrun *q, char *err, size_t n);
    void (*teardown)(struct qrun *q);
    /* each process (the parent too, to send the stop messages) */
    int (*open)(struct qrun *q, struct qconn *c);
    void (*close)(struct qconn *c);
    /* n (1..QBATCH_MAX) messages of q->size bytes back to back, in one
     * call where the system has one; 0 or -1 (c->err) */
    int (*push)(struct qconn *c, const unsigned char *msgs, unsigned n);
    int (*flush)(struct qconn *c);      /* may be NULL: pushes still buffered */
    /* wait for a message, then take up to max (batching where the system
     * can) into buf; *n taken; 0 or -1 */
    int (*pop)(struct qconn *c, unsigned char *buf, unsigned max, unsigned *n);
    const char *note;                   /* how it pushes and pops, for the report */
};

/* One measured run: a peer, the message size, the batch. */
struct qrun {
    const struct qpeer *p;
    size_t size;
    unsigned batch;
    const char *dir;                    /* where shmkv and SharedHashFile files go */
    struct cleanup *cl;                 /* files to remove, processes to kill on a signal */
    int corrupt;                        /* --self-test-corrupt: a consumer miscounts */
    char path[320];                     /* the queue's file, name or socket */
    int fds[2];                         /* the pipe */
    long depth;                         /* a bounded queue's capacity (0: unbounded) */
    void *state;                        /* the peer's, set by setup */
};

extern const struct qpeer qpeer_shmkv, qpeer_shmkv_b, qpeer_mq, qpeer_pipe, qpeer_shf;
/* queue_redis.c, built where hiredis is: weak, NULL elsewhere */
extern const struct qpeer qpeer_redis __attribute__((weak)), qpeer_redis_p __attribute__((weak));

/* queue_peers.c: the capacity POSIX message queues get (raising the
 * limits where this process may); its text for the report.  mq_restore
 * puts back what it raised and removes a queue left by a run cut short
 * (async-signal-safe: a signal's cleanup calls it). */
const char *mq_limits(size_t size, long *depth);
void mq_restore(void);

#endif
