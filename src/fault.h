/*
 * fault.h - fault injection (test builds only) and the allocation wrappers
 * that honour it.
 *
 * Built with SHMKV_TEST_HOOKS (the archive the tests link; the installed
 * libraries have none of this), shmkv__fault_arm(kind, n) makes the call
 * after n more of that kind fail as the real one would on a full disk or
 * exhausted memory.  The library calls fault_hit() right before each real
 * call.
 */
#ifndef SHMKV_FAULT_H
#define SHMKV_FAULT_H

#include <stdbool.h>
#include <stdlib.h>

enum fault { FAULT_FALLOCATE, FAULT_MMAP, FAULT_MALLOC, FAULT_KINDS };

#ifdef SHMKV_TEST_HOOKS
bool shmkv__fault_hit(enum fault kind);
void shmkv__fault_arm(int kind, long after);
#else
#define shmkv__fault_hit(kind) false
#endif

static inline void *xmalloc(size_t n) { return shmkv__fault_hit(FAULT_MALLOC) ? NULL : malloc(n); }
static inline void *xcalloc(size_t n, size_t m) { return shmkv__fault_hit(FAULT_MALLOC) ? NULL : calloc(n, m); }
static inline void *xrealloc(void *p, size_t n) { return shmkv__fault_hit(FAULT_MALLOC) ? NULL : realloc(p, n); }

#endif
