/*
 * api.h - what the files of the public API share: the checks of their
 * arguments, in the order and with the codes include/shmkv.h documents.
 */
#ifndef SHMKV_API_H
#define SHMKV_API_H

#include "handle.h"

#include <errno.h>

static inline int check_key(const shmkv *db, const void *key, size_t klen)
{
    if (!db || !key || !klen)
        return -EINVAL;
    return klen > SHMKV_KEY_MAX ? -E2BIG : 0;
}

/* A key for a write that brings no value (delete, expire). */
static inline int check_key_write(const shmkv *db, const void *key, size_t klen)
{
    int r = check_key(db, key, klen);
    return r ? r : db->rdonly ? -EROFS : 0;
}

/* A pair to store.  The largest record a store takes is one that fits its
 * data area; a cache takes pairs (key and value bytes) of up to an eighth
 * of its max_bytes, as documented, so evicting can always make room. */
static inline int check_write(const shmkv *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    int r = check_key(db, key, klen);
    if (r)
        return r;
    if (!val && vlen)
        return -EINVAL;
    if (vlen > SHMKV_VAL_MAX || (db->cache ? klen + vlen > db->max_bytes / 8
                                           : rec_size(klen, vlen, 8) + RUN_HDR > db->reserve - db->data_off))
        return -E2BIG;
    return db->rdonly ? -EROFS : 0;
}

#endif
