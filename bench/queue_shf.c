/*
 * queue_shf.c - SharedHashFile's IPC queues as a queue system of
 * shmkv-bench --queue, in the pattern of its own test.q.shf.c: a fixed
 * pool of items in shared memory, a queue of free items and one of full
 * ones; a producer takes a free item, writes the message into it and
 * pushes it onto the full queue, a consumer takes a full one, reads it and
 * gives it back to the free queue, each with shf_q_push_head_pull_tail
 * (one lock for both), batching through the per-process pre-queues of
 * qids_nolock_max items (1 for single messages, the batch for batches).
 * Its queues cannot wait: an empty queue is polled (sched_yield between
 * looks), which is also what its "wake-up" latency measures.
 *
 * Built only where the build gives SharedHashFile's sources (HAVE_SHF,
 * its src/ on the include path, its shf.c and murmurhash3.c linked in);
 * elsewhere this peer reports itself unavailable.
 */
#include "queue.h"

#include <stdio.h>

#ifdef HAVE_SHF
#include <sched.h>
#include <string.h>
#include <unistd.h>

/* its headers use GNU C's asm keyword, which -std=c11 spells __asm__ */
#define asm __asm__
#include <shf.private.h>
#include <shf.h>
#undef asm

#define SHF_ITEMS_BYTES (64u << 20) /* the item pool: 64 MiB, at most 65536 items */

enum { Q_FREE, Q_FULL, Q_SPARE, NQ }; /* shf_q_new wants more than 2 queues */
static const char *const qname[NQ] = {"free", "full", "spare"};

/* Attach (the parent: create) and look the queues up; the SHF or NULL. */
static SHF *attach(struct qrun *q, int create, uint32_t *qid)
{
    static int inited;
    if (!inited++) {
        shf_init();
        shf_debug_verbosity_less();
    }
    SHF *shf = create ? shf_attach(q->dir, q->path, 0) : shf_attach_existing(q->dir, q->path);
    if (!shf)
        return NULL;
    if (create) {
        uint32_t items = SHF_ITEMS_BYTES / (uint32_t)q->size;
        items = items > 65536 ? 65536 : items;
        shf_q_new(shf, NQ, items, (uint32_t)q->size, q->batch);
        for (int i = 0; i < NQ; i++)
            qid[i] = shf_q_new_name(shf, qname[i], (uint32_t)strlen(qname[i]));
        q->depth = items;
    } else {
        shf_q_get(shf);
        for (int i = 0; i < NQ; i++)
            qid[i] = shf_q_get_name(shf, qname[i], (uint32_t)strlen(qname[i]));
    }
    return shf;
}

struct shf_conn {
    SHF *shf;
    uint32_t qid[NQ];
    uint32_t held;                 /* an item taken and not yet given on */
};

static SHF *g_owner;      /* the parent's, which made the queues */
static uint32_t g_qid[NQ];
static pid_t g_owner_pid;

static int shf_q_setup(struct qrun *q, char *err, size_t n)
{
    snprintf(q->path, sizeof q->path, "shmkv-bench-shf-%d", (int)getpid());
    g_owner_pid = getpid();
    if (!(g_owner = attach(q, 1, g_qid))) {
        snprintf(err, n, "shf_attach %s/%s failed", q->dir, q->path);
        return -1;
    }
    return 0;
}

static void shf_q_teardown(struct qrun *q)
{
    (void)q;
    if (g_owner)
        shf_del(g_owner); /* detaches and removes its files */
    g_owner = NULL;
}

static struct shf_conn g_conn; /* one connection per process */

/* The parent uses the SHF it made; a producer or consumer attaches. */
static int shf_q_open(struct qrun *q, struct qconn *c)
{
    struct shf_conn *s = &g_conn;
    if (getpid() == g_owner_pid) {
        s->shf = g_owner;
        memcpy(s->qid, g_qid, sizeof s->qid);
    } else {
        s->shf = attach(q, 0, s->qid);
    }
    s->held = SHF_QIID_NONE;
    c->h = s;
    if (!s->shf)
        snprintf(c->err, sizeof c->err, "shf_attach_existing %.100s/%.100s failed", q->dir, q->path);
    return s->shf ? 0 : -1;
}

static void shf_q_close(struct qconn *c)
{
    struct shf_conn *s = c->h;
    if (s->shf && s->shf != g_owner)
        shf_detach(s->shf);
}

/* Give the item held on to queue to (if any) and take one from queue
 * from, polling while there is none. */
static void *swap(struct shf_conn *s, uint32_t to, uint32_t from)
{
    uint32_t pushed = s->held;
    while ((s->held = shf_q_push_head_pull_tail(s->shf, s->qid[to], pushed, s->qid[from])) == SHF_QIID_NONE) {
        pushed = SHF_QIID_NONE;
        sched_yield();
    }
    return shf_qiid_addr;
}

static int shf_q_push(struct qconn *c, const unsigned char *msgs, unsigned n)
{
    struct shf_conn *s = c->h;
    for (unsigned i = 0; i < n; i++) /* a free item, filled, pushed with the next swap or flush */
        memcpy(swap(s, Q_FULL, Q_FREE), msgs + i * c->q->size, c->q->size);
    return 0;
}

static int shf_q_flush_all(struct qconn *c)
{
    struct shf_conn *s = c->h;
    if (s->held != SHF_QIID_NONE)
        shf_q_push_head(s->shf, s->qid[Q_FULL], s->held);
    s->held = SHF_QIID_NONE;
    shf_q_flush(s->shf, SHF_QID_NONE);
    return 0;
}

static int shf_q_pop(struct qconn *c, unsigned char *buf, unsigned max, unsigned *n)
{
    struct shf_conn *s = c->h;
    (void)max; /* the pre-queue does the batching: one item a call */
    memcpy(buf, swap(s, Q_FREE, Q_FULL), c->q->size);
    *n = 1;
    return 0;
}

static const char *shf_q_unavailable(void) { return NULL; }
#else
static const char *shf_q_unavailable(void)
{
    return "built without SharedHashFile (its sources were not given to the build)";
}
#endif

const struct qpeer qpeer_shf = {
    .name = "shf",
    .unavailable = shf_q_unavailable,
#ifdef HAVE_SHF
    .setup = shf_q_setup, .teardown = shf_q_teardown, .open = shf_q_open, .close = shf_q_close,
    .push = shf_q_push, .flush = shf_q_flush_all, .pop = shf_q_pop,
#endif
    .note = "shf_q_push_head_pull_tail between a free and a full queue, pre-queues of the batch; polls",
};
