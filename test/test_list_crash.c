/*
 * test_list_crash.c - list writers stopped and killed inside their work.
 *
 * Using the library's named pause points (test builds: a writer stops
 * itself with SIGSTOP there) and random SIGKILLs:
 *  push:        a pusher stopped after writing a record, before its commit
 *               (each record of a batch, the elements' and the list's own
 *               record of a push that makes the list, a huge element, a
 *               push that grows the ring): while it
 *               is stopped readers see the list as it was and a writer of
 *               its shard gets -ETIMEDOUT; killed there, nothing of the push
 *               is left, the checker finds no leaked run.
 *  move_points: a mover stopped at every lock it takes, every record it
 *               writes, and between its push and its pop, then killed, for
 *               moves between lists of two shards,
 *               of one shard, to a list the move makes, and within a list;
 *               then either list's shard is taken over first, and the other
 *               pushed to before its repair: the element is in exactly one
 *               of the lists.
 *  move_random: movers killed at random instants (among lists of two
 *               shards and of one): every element in exactly one list.
 *  pop_random:  poppers killed at random instants: an element is popped
 *               (gone from the list) or not, never both, never twice.
 *  copy_overwritten: a lock-free copy stopped between reading a list's
 *               ends and its bytes while the lanes pop and push over them.
 */
#include "harness.h"
#include "list_helpers.h"

#include "fault.h"
#include "handle.h"
#include "hash.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY(s) s, strlen(s)

static char g_name[64];

static shmkv *fresh(void)
{
    shmkv *db = NULL;
    shmkv_unlink(g_name);
    shmkv_options o = {.flags = SHMKV_CREATE};
    CHECK_RC(shmkv_open(g_name, &o, &db), 0);
    if (!db)
        exit(h_done());
    return db;
}

static size_t shard_of_key(shmkv *db, const char *key)
{
    return (size_t)(shard_of(db, shmkv__hash64(key, strlen(key), db->seed0, db->seed1)) - db->shards);
}

/* A key "<prefix>-N" whose shard is (same) or is not (!same) that of key. */
static void key_near(shmkv *db, char *out, size_t cap, const char *prefix, const char *key, int same)
{
    for (int i = 0;; i++) {
        snprintf(out, cap, "%s-%d", prefix, i);
        if ((shard_of_key(db, out) == shard_of_key(db, key)) == same)
            return;
    }
}

/* Run op in a child that stops itself at the after+1-th pass through
 * point; returns its pid if it stopped there (still stopped), else 0 (it
 * finished: the point was not reached). */
static pid_t stop_in(void (*op)(shmkv *, void *), void *arg, int point, long after)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        shmkv *db = NULL;
        CHECK_RC(shmkv_open(g_name, NULL, &db), 0);
        shmkv__pause_arm(point, after);
        op(db, arg);
        shmkv_close(db);
        h_child_exit();
    }
    int st;
    CHECK(waitpid(pid, &st, WUNTRACED) == pid);
    if (WIFSTOPPED(st))
        return pid;
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child ended with status %#x", st);
    return 0;
}

static void kill_stopped(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st));
}

/* ---- push ---- */

struct push_case {
    const char *what;
    size_t before;  /* elements already in the list (0: no list) */
    size_t n;       /* elements pushed in one call */
    size_t vlen;    /* their length (0: elem_len) */
};

static void do_push(shmkv *db, void *arg)
{
    const struct push_case *c = arg;
    shmkv_elem el[8];
    uint8_t *b = malloc(c->n * (c->vlen ? c->vlen : ELEM_MAX));
    for (size_t i = 0; i < c->n; i++) {
        uint8_t *e = b + i * (c->vlen ? c->vlen : ELEM_MAX);
        if (c->vlen)
            h_val_make(e, c->vlen, "q", 1, 1000 + i);
        el[i] = (shmkv_elem){e, c->vlen ? c->vlen : elem_make(e, "q", 1000 + i)};
    }
    CHECK_RC(shmkv_push_many(db, KEY("q"), el, c->n, SHMKV_TAIL), 0);
    free(b);
}

static void push(void)
{
    static const struct push_case cases[] = {
        {"a push", 3, 1, 0},
        {"a push that makes the list", 0, 1, 0},
        {"a batch", 3, 5, 0},
        {"a huge element", 3, 1, 3u << 20},
        {"a push that grows the ring", 256, 1, 0},
        {"a batch that grows the ring twice", 255, 8, 0},
    };
    h_name(g_name, sizeof g_name, "push");
    uint64_t *want = malloc(300 * sizeof *want);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t k = 0;; k++) { /* stopped after record k (a new list's own record last) */
            shmkv *db = fresh();
            for (uint64_t i = 0; i < cases[c].before; i++) {
                CHECK_RC(elem_push(db, "q", i, SHMKV_TAIL), 0);
                want[i] = i;
            }
            CHECK_RC(shmkv_put(db, KEY("pair"), "v", 1), 0);
            uint64_t count = shmkv_count(db);
            pid_t pid = stop_in(do_push, (void *)&cases[c], PAUSE_RECORD_WRITTEN, (long)k);
            size_t records = cases[c].n + !cases[c].before;
            CHECKF(!pid == (k == records), "%s: the pusher %s record %zu", cases[c].what,
                   pid ? "wrote" : "never wrote", k);
            if (!pid) {
                shmkv_close(db);
                break;
            }
            /* stopped: lock-free readers see the list as it was; a writer waits for nothing */
            uint64_t len = 99;
            CHECK_RC(shmkv_llen(db, KEY("q"), &len), 0);
            CHECK_EQ_U64(len, cases[c].before);
            CHECK_RC(shmkv_push(db, KEY("q"), "x", 1, SHMKV_HEAD), -ETIMEDOUT);
            kill_stopped(pid);
            char when[96];
            snprintf(when, sizeof when, "%s killed after record %zu", cases[c].what, k);
            CHECK_LIST(db, "q", want, cases[c].before);
            CHECK_EQ_U64(shmkv_count(db), count);
            CHECK_TABLE(db, when);
            CHECK_RC(elem_push(db, "q", 77, SHMKV_TAIL), 0); /* and the list works */
            want[cases[c].before] = 77;
            CHECK_LIST(db, "q", want, cases[c].before + 1);
            shmkv_close(db);
        }
    free(want);
    shmkv_unlink(g_name);
}

/* ---- move_points ---- */

struct move_case {
    const char *what;
    char src[32], dst[32];
    int dst_absent;
};

/* Element seq (of tag "el") pushed at the tail of key. */
static void push_el(shmkv *db, const char *key, uint64_t seq)
{
    uint8_t b[ELEM_MAX];
    CHECK_RC(shmkv_push(db, KEY(key), b, elem_make(b, "el", seq), SHMKV_TAIL), 0);
}

static void do_move(shmkv *db, void *arg)
{
    const struct move_case *m = arg;
    uint8_t buf[ELEM_MAX];
    size_t vl;
    CHECK_RC(shmkv_move(db, KEY(m->src), SHMKV_HEAD, KEY(m->dst), SHMKV_TAIL, buf, sizeof buf, &vl, 0), 0);
}

/* Someone else pushes to the list, and pops it again: its shard is taken
 * over (and repaired) first, and its push count moves on. */
static void touch(shmkv *db, const char *key)
{
    uint8_t buf[ELEM_MAX];
    size_t vl;
    push_el(db, key, 200);
    CHECK_RC(shmkv_pop(db, KEY(key), SHMKV_TAIL, buf, sizeof buf, &vl, 0), 0);
    CHECK_EQ_U64(elem_seq(buf, vl, "el"), 200);
}

/* Element 1 is in exactly one list: the source [1 2 3] and the
 * destination as it was, or the source [2 3] and 1 at the destination's
 * tail (within one list: [1 2 3] or [2 3 1]). */
static void check_moved(shmkv *db, const struct move_case *m, const char *when)
{
    uint64_t s[8], d[8];
    size_t ns = 0, nd = 0;
    int rs = list_seqs(db, m->src, "el", s, 8, &ns), rd = list_seqs(db, m->dst, "el", d, 8, &nd);
    int before, after;
    if (!strcmp(m->src, m->dst)) {
        before = ns == 3 && s[0] == 1 && s[1] == 2 && s[2] == 3;
        after = ns == 3 && s[0] == 2 && s[1] == 3 && s[2] == 1;
    } else {
        size_t had = !m->dst_absent;
        int dst_was = nd == had && (!had || d[0] == 100);
        before = ns == 3 && s[0] == 1 && s[1] == 2 && s[2] == 3 && dst_was;
        after = ns == 2 && s[0] == 2 && s[1] == 3 && nd == had + 1 && d[nd - 1] == 1 && (!had || d[0] == 100);
    }
    CHECKF(before || after, "%s: source %s, %zu elements; destination %s, %zu", when, h_errname(rs), ns,
           h_errname(rd), nd);
    CHECK_TABLE(db, when);
}

/* The move (case c) stopped at each pass through point in turn, killed
 * there, its lists' shards then taken over in one order or the other. */
static void move_case(int c, int point, int src_first)
{
    static const char *const what[] = {"a move between two shards", "a move to a list it makes",
                                       "a move within one shard", "a move within one list"};
    for (long n = 0; n < 50; n++) {
        shmkv *db = fresh();
        /* the keys' shards depend on the table's seeds: chosen anew */
        struct move_case m = {.what = what[c], .src = "s", .dst_absent = c == 1};
        if (c == 3)
            strcpy(m.dst, "s");
        else
            key_near(db, m.dst, sizeof m.dst, "d", "s", c == 2);
        for (uint64_t i = 1; i <= 3; i++)
            push_el(db, m.src, i);
        if (c == 0 || c == 2)
            push_el(db, m.dst, 100);
        pid_t pid = stop_in(do_move, &m, point, n);
        char when[160];
        snprintf(when, sizeof when, "%s, killed at pass %ld of pause point %d, %s taken over first", m.what, n, point,
                 src_first ? "source" : "destination");
        if (pid) {
            kill_stopped(pid);
            touch(db, src_first ? m.src : m.dst);
            touch(db, src_first ? m.dst : m.src);
        }
        check_moved(db, &m, when);
        shmkv_close(db);
        if (!pid) {
            CHECKF(n > 0, "%s: never passed point %d", m.what, point);
            return;
        }
    }
    CHECKF(0, "%s: the move passed point %d 50 times", what[c], point);
}

static void move_points(void)
{
    h_name(g_name, sizeof g_name, "move");
    int points[] = {PAUSE_LOCKED, PAUSE_RECORD_WRITTEN, PAUSE_MOVE_PUSHED};
    for (int c = 0; c < 4; c++)
        for (int p = 0; p < 3; p++)
            for (int first = 0; first < 2; first++)
                move_case(c, points[p], first);
    shmkv_unlink(g_name);
}

/* ---- move_random and pop_random ---- */

#define KILLS (H_ASAN ? 50 : 150)

/* Run op in a child and kill it after a random 0 to 3 ms. */
static void run_killed(void (*op)(shmkv *, void *), void *arg, h_rng *r)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        shmkv *db = NULL;
        CHECK_RC(shmkv_open(g_name, NULL, &db), 0);
        op(db, arg);
        h_child_exit();
    }
    h_sleep((double)h_below(r, 3000) / 1e6);
    kill_stopped(pid);
}

#define NEL 60

static void mover(shmkv *db, void *arg)
{
    char(*keys)[32] = arg;
    h_rng r = h_rng_new((uint64_t)getpid());
    uint8_t buf[ELEM_MAX];
    size_t vl;
    for (;;) {
        int a = (int)h_below(&r, 3), b = (int)h_below(&r, 3);
        int rc = shmkv_move(db, KEY(keys[a]), (int)h_below(&r, 2), KEY(keys[b]), (int)h_below(&r, 2), buf,
                            sizeof buf, &vl, 0);
        if (rc != 0 && rc != -EAGAIN)
            CHECK_RC(rc, 0);
    }
}

/* Movers among A, B (another shard) and C (A's shard) killed at random;
 * after each, one list touched first: every element in exactly one list. */
static void move_random(void)
{
    h_name(g_name, sizeof g_name, "moverand");
    shmkv *db = fresh();
    char keys[3][32] = {"A"};
    key_near(db, keys[1], sizeof keys[1], "B", "A", 0);
    key_near(db, keys[2], sizeof keys[2], "C", "A", 1);
    for (uint64_t i = 0; i < NEL; i++)
        push_el(db, keys[i % 3], i);
    h_rng r = h_rng_new(3);
    long bad = 0;
    for (int k = 0; k < KILLS && !bad; k++) {
        run_killed(mover, keys, &r);
        touch(db, keys[h_below(&r, 3)]);
        uint8_t seen[NEL] = {0};
        size_t total = 0;
        for (int l = 0; l < 3; l++) {
            uint64_t got[NEL + 1];
            size_t n = 0;
            CHECK_RC(list_seqs(db, keys[l], "el", got, NEL + 1, &n), 0);
            for (size_t j = 0; j < n && j <= NEL; j++)
                bad += got[j] >= NEL || seen[got[j]]++;
            total += n;
        }
        bad += total != NEL;
        CHECKF(bad == 0, "after kill %d: %zu elements in the lists, %ld wrong", k, total, bad);
        if (k % 25 == 0)
            CHECK_TABLE(db, "after a mover was killed");
    }
    CHECK_TABLE(db, "after the movers were killed");
    shmkv_close(db);
    shmkv_unlink(g_name);
}

#define POP_MAX (H_ASAN ? 200000u : 1000000u)

/* What a popper has popped (got[seq] 1), and whether a pop is in flight. */
struct pops {
    _Atomic int inflight;
    uint8_t got[POP_MAX];
};
static struct pops *PP;

static void popper(shmkv *db, void *arg)
{
    (void)arg;
    h_rng r = h_rng_new((uint64_t)getpid());
    uint8_t buf[8 * ELEM_MAX];
    size_t lens[8], n;
    for (;;) {
        atomic_store(&PP->inflight, 1);
        int rc = shmkv_pop_many(db, KEY("q"), SHMKV_HEAD, buf, sizeof buf, lens, 1 + h_below(&r, 8), &n, 0);
        if (rc == 0)
            for (size_t i = 0, pos = 0; i < n; pos += lens[i++]) {
                uint64_t seq = elem_seq(buf + pos, lens[i], "el");
                CHECK(seq < POP_MAX);
                if (seq < POP_MAX)
                    PP->got[seq]++;
            }
        atomic_store(&PP->inflight, 0);
        if (rc == -EAGAIN)
            h_sleep(0.0001); /* emptied: the parent fills it again */
        else if (rc)
            CHECK_RC(rc, 0);
    }
}

/* Poppers killed at random: the list holds exactly what was not popped;
 * a pop cut short removed its elements or none, never some twice. */
static void pop_random(void)
{
    h_name(g_name, sizeof g_name, "poprand");
    shmkv *db = fresh();
    PP = h_shm_alloc(sizeof *PP);
    uint64_t next = 0, popped = 0; /* pushed: 0 .. next-1; popped (known): 0 .. popped-1 */
    h_rng r = h_rng_new(4);
    uint64_t *in = malloc(POP_MAX * sizeof *in);
    long cut = 0, emptied = 0;
    for (int k = 0; k < KILLS; k++) {
        while (next - popped < 5000 && next < POP_MAX)
            push_el(db, "q", next++);
        run_killed(popper, NULL, &r);
        size_t n = 0;
        CHECK_RC(list_seqs(db, "q", "el", in, POP_MAX, &n), 0);
        /* the list: a run of consecutive elements up to the last pushed */
        uint64_t first = n ? in[0] : next;
        long bad = first + n != next;
        for (size_t i = 0; i < n; i++)
            bad += in[i] != first + i;
        /* before it: each popped once, except a pop cut short (up to 8) */
        long twice = 0, unseen = 0;
        for (uint64_t q = popped; q < first; q++) {
            twice += PP->got[q] > 1;
            unseen += PP->got[q] == 0;
        }
        for (uint64_t q = first; q < next; q++)
            twice += PP->got[q] != 0; /* popped and still there */
        CHECKF(!bad && !twice && unseen <= (PP->inflight ? 8 : 0),
               "after kill %d: list of %zu from %llu (%ld wrong), %ld popped twice or still there, %ld gone unseen%s", k,
               n, (unsigned long long)first, bad, twice, unseen, PP->inflight ? " (a pop in flight)" : "");
        if (bad || twice)
            break;
        cut += unseen > 0;
        emptied += n == 0;
        popped = first;
        if (k % 25 == 0)
            CHECK_TABLE(db, "after a popper was killed");
    }
    CHECK_TABLE(db, "after the poppers were killed");
    h_note("%d poppers killed: %ld in a pop that had taken elements, %ld with the list emptied", KILLS, cut, emptied);
    free(in);
    h_shm_free(PP, sizeof *PP);
    shmkv_close(db);
    shmkv_unlink(g_name);
}

/* ---- copy_overwritten ----
 *
 * A lock-free copy (a read-only handle's lrange) stopped after reading
 * the list's ends, before its bytes; meanwhile the head's lane pops two
 * elements and the tail's lane pushes into the room they freed (no slow
 * change: ver stays).  Resumed, the copy must see that its bytes were
 * written over (by the head word) and copy again: it returns the list as
 * it is, never the old ends around new bytes. */

#define COPY_VLEN 112 /* tags included, 128 bytes: 16 fill the 2 KiB ring inside the list run */

static void copy_elem(char *b, uint64_t seq)
{
    memset(b, 'x', COPY_VLEN);
    memcpy(b, &seq, sizeof seq);
}

struct copy_seen {
    uint64_t seq[32];
    size_t n;
    int bad;
};

static int copy_visit(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)k, (void)kl;
    struct copy_seen *c = ctx;
    char want[COPY_VLEN];
    uint64_t seq = UINT64_MAX;
    if (vl == COPY_VLEN)
        memcpy(&seq, v, sizeof seq);
    copy_elem(want, seq);
    c->bad |= vl != COPY_VLEN || memcmp(v, want, COPY_VLEN) != 0 || c->n == 32;
    if (c->n < 32)
        c->seq[c->n++] = seq;
    return 0;
}

static void copy_overwritten(void)
{
    h_name(g_name, sizeof g_name, "copyover");
    shmkv *db = fresh();
    char b[COPY_VLEN];
    for (uint64_t i = 0; i < 10; i++) {
        copy_elem(b, i);
        CHECK_RC(shmkv_push(db, KEY("q"), b, sizeof b, SHMKV_TAIL), 0);
    }
    struct copy_seen *seen = h_shm_alloc(sizeof *seen);
    pid_t pid = h_fork();
    if (pid == 0) {
        shmkv *ro = NULL;
        shmkv_options o = {.flags = SHMKV_RDONLY};
        CHECK_RC(shmkv_open(g_name, &o, &ro), 0);
        shmkv__pause_arm(PAUSE_LIST_COPYING, 0);
        CHECK_RC(shmkv_lrange(ro, KEY("q"), 0, -1, copy_visit, seen), 0);
        shmkv_close(ro);
        h_child_exit();
    }
    int st;
    CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));
    size_t vl;
    for (int i = 0; i < 2; i++)
        CHECK_RC(shmkv_pop(db, KEY("q"), SHMKV_HEAD, b, sizeof b, &vl, 0), 0);
    for (uint64_t i = 10; i < 18; i++) { /* the last two wrap into the slots of 0 and 1 */
        copy_elem(b, i);
        CHECK_RC(shmkv_push(db, KEY("q"), b, sizeof b, SHMKV_TAIL), 0);
    }
    kill(pid, SIGCONT);
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int now = seen->n == 16 && !seen->bad;
    for (size_t i = 0; now && i < 16; i++)
        now = seen->seq[i] == i + 2;
    CHECKF(now, "the copy returned %zu elements (%s), the first %llu: not the list as it is (2..17)", seen->n,
           seen->bad ? "some damaged" : "all sound", (unsigned long long)seen->seq[0]);
    shmkv_close(db);
    shmkv_unlink(g_name);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    static const struct h_part parts[] = {
        {"push", push},
        {"move_points", move_points},
        {"move_random", move_random},
        {"pop_random", pop_random},
        {"copy_overwritten", copy_overwritten}};
    return h_main(argc, argv, "test_list_crash", parts, H_NPARTS(parts));
}
