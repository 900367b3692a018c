/*
 * boost_map.h - the plain C interface of boost_map.cpp (Boost.Interprocess,
 * C++) for sys_boost.c.  No exception crosses it: a failure is a return
 * value and a message in err.
 */
#ifndef SHMKV_BENCH_BOOST_MAP_H
#define SHMKV_BENCH_BOOST_MAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

const char *bb_version(void);
/* A segment NAME of BYTES holding an empty map; 0 or -1. */
int bb_create(const char *name, uint64_t bytes, char *err, size_t n);
void *bb_open(const char *name, char *err, size_t n);  /* NULL on failure */
void bb_close(void *h);
int bb_remove(const char *name);
int bb_stats(const char *name, uint64_t *keys, uint64_t *used, uint64_t *size, char *err,
             size_t n);
/* get and del return 0 (found), 1 (absent) or -1; put 0 or -1. */
int bb_get(void *h, const unsigned char *k, size_t kl, unsigned char *buf, size_t cap,
           size_t *vl, char *err, size_t n);
int bb_put(void *h, const unsigned char *k, size_t kl, const unsigned char *v, size_t vl,
           char *err, size_t n);
int bb_del(void *h, const unsigned char *k, size_t kl, char *err, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* SHMKV_BENCH_BOOST_MAP_H */
