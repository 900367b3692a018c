/*
 * queue_peers.c - the queue systems of shmkv-bench --queue (queue.h) that
 * need nothing but libc: shmkv's lists, POSIX message queues, a pipe.
 *
 *  shmkv  a table in --dir, one list "q": shmkv_push / shmkv_push_many
 *         at the tail, shmkv_pop / shmkv_pop_many at the head, waiting in
 *         the kernel (timeout -1).
 *  mq     mq_send / mq_receive (blocking); a batch is that many calls
 *         (a consumer takes the first waiting, the rest without).  The
 *         queue holds as many messages as the limits let this process ask
 *         for (mq_limits).
 *  pipe   write / read of whole messages (at most PIPE_BUF bytes a write,
 *         so writers never interleave inside a message); a batch is one
 *         write of up to 4 KiB and one read of up to 64 messages.  The
 *         pipe's buffer is raised to /proc/sys/fs/pipe-max-size.
 */
#include "queue.h"

#include "bench.h"
#include "shmkv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int fail(struct qconn *c, const char *what, int err)
{
    snprintf(c->err, sizeof c->err, "%s: %s", what, strerror(err));
    return -1;
}

/* ---- shmkv ---- */

static int shmkv_setup(struct qrun *q, char *err, size_t n)
{
    snprintf(q->path, sizeof q->path, "%s/shmkv-bench-queue-%d", q->dir, (int)getpid());
    shmkv_options o = {.flags = SHMKV_CREATE | SHMKV_EXCL};
    shmkv *db;
    int rc = shmkv_open(q->path, &o, &db);
    if (rc) {
        snprintf(err, n, "creating %s: %s", q->path, shmkv_strerror(rc));
        return -1;
    }
    shmkv_close(db);
    track_file(q->cl, q->path);
    return 0;
}

static void shmkv_teardown(struct qrun *q)
{
    shmkv_unlink(q->path);
    untrack_file(q->cl, q->path);
}

static int shmkv_qopen(struct qrun *q, struct qconn *c)
{
    int rc = shmkv_open(q->path, NULL, (shmkv **)&c->h);
    if (rc)
        return fail(c, "shmkv_open", -rc);
    c->aux = malloc(QBATCH_MAX * sizeof(shmkv_elem) + QBATCH_MAX * sizeof(size_t));
    return c->aux ? 0 : fail(c, "malloc", ENOMEM);
}

static void shmkv_qclose(struct qconn *c)
{
    shmkv_close(c->h);
    free(c->aux);
}

static int shmkv_qpush(struct qconn *c, const unsigned char *msgs, unsigned n)
{
    size_t size = c->q->size;
    int rc;
    if (n == 1) {
        rc = shmkv_push(c->h, "q", 1, msgs, size, SHMKV_TAIL);
    } else {
        shmkv_elem *el = c->aux;
        for (unsigned i = 0; i < n; i++)
            el[i] = (shmkv_elem){msgs + i * size, size};
        rc = shmkv_push_many(c->h, "q", 1, el, n, SHMKV_TAIL);
    }
    return rc ? fail(c, "shmkv_push", -rc) : 0;
}

static int shmkv_qpop(struct qconn *c, unsigned char *buf, unsigned max, unsigned *n)
{
    size_t size = c->q->size, *lens = (size_t *)((shmkv_elem *)c->aux + QBATCH_MAX), got;
    int rc = shmkv_pop_many(c->h, "q", 1, SHMKV_HEAD, buf, max * size, lens, max, &got, -1);
    *n = (unsigned)got;
    return rc ? fail(c, "shmkv_pop", -rc) : 0;
}

const struct qpeer qpeer_shmkv = {
    .name = "shmkv", .setup = shmkv_setup, .teardown = shmkv_teardown, .open = shmkv_qopen,
    .close = shmkv_qclose, .push = shmkv_qpush, .pop = shmkv_qpop,
    .note = "shmkv_push(_many) at the tail, shmkv_pop(_many) waiting at the head",
};

/* shmkv-b: the same lists, their producers bounded (shmkv_push_bounded)
 * to what a 1 MiB ring holds, at most 4 096 messages (POSIX message
 * queues' depth here for 64 B): a consumer that falls behind holds its
 * producers back, as a message queue's or a pipe's does, instead of
 * letting the queue grow deep. */
static uint64_t bound_of(size_t size)
{
    uint64_t d = (1u << 20) / size;
    return d > 4096 ? 4096 : d;
}

static int shmkv_b_qpush(struct qconn *c, const unsigned char *msgs, unsigned n)
{
    size_t size = c->q->size;
    shmkv_elem *el = c->aux;
    for (unsigned i = 0; i < n; i++)
        el[i] = (shmkv_elem){msgs + i * size, size};
    int rc = shmkv_push_bounded(c->h, "q", 1, el, n, SHMKV_TAIL, bound_of(size), -1);
    return rc ? fail(c, "shmkv_push_bounded", -rc) : 0;
}

const struct qpeer qpeer_shmkv_b = {
    .name = "shmkv-b", .setup = shmkv_setup, .teardown = shmkv_teardown, .open = shmkv_qopen,
    .close = shmkv_qclose, .push = shmkv_b_qpush, .pop = shmkv_qpop,
    .note = "as shmkv, pushes bounded to min(4096, 1 MiB / size) messages (shmkv_push_bounded, waiting)",
};

/* ---- POSIX message queues ---- */

static long read_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

#define MQ_WANT 4096 /* messages: deep enough that producers rarely wait */
#define MSG_MAX "/proc/sys/fs/mqueue/msg_max"

static long msg_max_was; /* msg_max before mq_limits raised it (0: untouched) */

static int mq_fits(size_t size, long depth)
{
    char name[64];
    snprintf(name, sizeof name, "/shmkv-bench-probe-%d", (int)getpid());
    struct mq_attr a = {.mq_maxmsg = depth, .mq_msgsize = (long)size};
    mqd_t m = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
    if (m == (mqd_t)-1)
        return 0;
    mq_close(m);
    mq_unlink(name);
    return 1;
}

/* Write v to path with open/write/close: mq_restore runs in a signal handler. */
static void write_long(const char *path, long v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", v), fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, buf, (size_t)n) != n)
            n = -1; /* nothing more to do: the value stays as it was */
        close(fd);
    }
}

/* A queue is at most /proc/sys/fs/mqueue/msg_max messages deep (without
 * CAP_SYS_RESOURCE), and the queues of a user at most RLIMIT_MSGQUEUE
 * bytes.  Where it may (root), the bench raises msg_max to MQ_WANT for
 * the run (mq_restore puts it back: it is the IPC namespace's) and the
 * soft limit to the hard one; then the deepest queue up to MQ_WANT that
 * the limits allow. */
const char *mq_limits(size_t size, long *depth)
{
    static char text[200];
    long max = read_long(MSG_MAX);
    if (max > 0 && max < MQ_WANT && !msg_max_was) {
        write_long(MSG_MAX, MQ_WANT);
        if (read_long(MSG_MAX) == MQ_WANT)
            msg_max_was = max;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_MSGQUEUE, &rl);
    }
    for (*depth = MQ_WANT; *depth > 1 && !mq_fits(size, *depth); *depth /= 2)
        ;
    getrlimit(RLIMIT_MSGQUEUE, &rl);
    snprintf(text, sizeof text, "%ld messages of %zu B (msg_max %ld%s, RLIMIT_MSGQUEUE %llu B)", *depth, size,
             read_long(MSG_MAX), msg_max_was ? ", raised for the run" : "", (unsigned long long)rl.rlim_cur);
    return text;
}

static char mq_name[sizeof ((struct qrun *)0)->path]; /* the queue of the run under way, for mq_restore */

void mq_restore(void) /* async-signal-safe (mq_unlink is a system call) */
{
    if (mq_name[0])
        mq_unlink(mq_name); /* else it would hold this user's RLIMIT_MSGQUEUE */
    mq_name[0] = 0;
    if (msg_max_was) {
        char buf[32];
        int n = 0, fd = open(MSG_MAX, O_WRONLY | O_CLOEXEC);
        for (long v = msg_max_was, d = 1000000000; d; d /= 10) /* no snprintf in a handler */
            if (v / d || n || d == 1)
                buf[n++] = (char)('0' + v / d % 10);
        buf[n++] = '\n';
        if (fd >= 0) {
            if (write(fd, buf, (size_t)n) != n)
                n = 0;
            close(fd);
        }
    }
    msg_max_was = 0;
}

static int mq_setup(struct qrun *q, char *err, size_t n)
{
    mq_limits(q->size, &q->depth);
    snprintf(q->path, sizeof q->path, "/shmkv-bench-%d", (int)getpid());
    snprintf(mq_name, sizeof mq_name, "%s", q->path);
    struct mq_attr a = {.mq_maxmsg = q->depth, .mq_msgsize = (long)q->size};
    mqd_t m = mq_open(q->path, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
    if (m == (mqd_t)-1) {
        snprintf(err, n, "mq_open %s: %s", q->path, strerror(errno));
        return -1;
    }
    mq_close(m);
    return 0;
}

static void mq_teardown(struct qrun *q)
{
    mq_unlink(q->path);
    mq_name[0] = 0;
}

static int mq_qopen(struct qrun *q, struct qconn *c)
{
    c->fd = mq_open(q->path, O_RDWR);
    c->fd2 = mq_open(q->path, O_RDWR | O_NONBLOCK); /* the rest of a batch */
    return c->fd < 0 || c->fd2 < 0 ? fail(c, "mq_open", errno) : 0;
}

static void mq_qclose(struct qconn *c)
{
    mq_close(c->fd);
    mq_close(c->fd2);
}

static int mq_qpush(struct qconn *c, const unsigned char *msgs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        while (mq_send(c->fd, (const char *)msgs + i * c->q->size, c->q->size, 0))
            if (errno != EINTR)
                return fail(c, "mq_send", errno);
    return 0;
}

static int mq_qpop(struct qconn *c, unsigned char *buf, unsigned max, unsigned *n)
{
    size_t size = c->q->size;
    *n = 0;
    while (mq_receive(c->fd, (char *)buf, size, NULL) < 0)
        if (errno != EINTR)
            return fail(c, "mq_receive", errno);
    for (*n = 1; *n < max && mq_receive(c->fd2, (char *)buf + *n * size, size, NULL) >= 0;)
        ++*n;
    return 0;
}

const struct qpeer qpeer_mq = {
    .name = "mq", .setup = mq_setup, .teardown = mq_teardown, .open = mq_qopen, .close = mq_qclose,
    .push = mq_qpush, .pop = mq_qpop,
    .note = "mq_send per message; mq_receive waiting, the rest of a batch without",
};

/* ---- a pipe ---- */

static int pipe_setup(struct qrun *q, char *err, size_t n)
{
    if (q->size > PIPE_BUF) {
        snprintf(err, n, "messages over PIPE_BUF (%d) bytes would interleave", PIPE_BUF);
        return -1;
    }
    if (pipe2(q->fds, O_CLOEXEC)) {
        snprintf(err, n, "pipe: %s", strerror(errno));
        return -1;
    }
    long max = read_long("/proc/sys/fs/pipe-max-size");
    if (max > 0)
        fcntl(q->fds[0], F_SETPIPE_SZ, (int)max);
    q->depth = fcntl(q->fds[0], F_GETPIPE_SZ) / (long)q->size;
    snprintf(q->path, sizeof q->path, "pipe");
    return 0;
}

static void pipe_teardown(struct qrun *q)
{
    close(q->fds[0]);
    close(q->fds[1]);
}

static int pipe_qopen(struct qrun *q, struct qconn *c)
{
    c->fd = q->fds[0];
    c->fd2 = q->fds[1];
    return 0;
}

static void pipe_qclose(struct qconn *c)
{
    (void)c; /* the fds are the run's */
}

/* All of len bytes, or -1 */
static int write_all(struct qconn *c, const unsigned char *p, size_t len)
{
    while (len) {
        ssize_t w = write(c->fd2, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail(c, "write", errno);
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int pipe_qpush(struct qconn *c, const unsigned char *msgs, unsigned n)
{
    size_t size = c->q->size, per = PIPE_BUF / size; /* whole messages per atomic write */
    for (unsigned i = 0; i < n; i += (unsigned)per)
        if (write_all(c, msgs + i * size, (n - i < per ? n - i : per) * size))
            return -1;
    return 0;
}

static int pipe_qpop(struct qconn *c, unsigned char *buf, unsigned max, unsigned *n)
{
    size_t size = c->q->size, got = 0;
    do { /* whole messages: a read cut inside one is completed */
        ssize_t r = read(c->fd, buf + got, (got ? size - got % size : max * size));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return fail(c, "read", r ? errno : EPIPE);
        got += (size_t)r;
    } while (got % size);
    *n = (unsigned)(got / size);
    return 0;
}

const struct qpeer qpeer_pipe = {
    .name = "pipe", .setup = pipe_setup, .teardown = pipe_teardown, .open = pipe_qopen, .close = pipe_qclose,
    .push = pipe_qpush, .pop = pipe_qpop,
    .note = "write of whole messages (at most PIPE_BUF at once), read of up to a batch",
};
