/*
 * map.c - the reservation mapping, bounds checks past the verified size,
 * and mapping in file growth.
 */
#include "map.h"

#include "fault.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>

int shmkv__map_reserve(int fd, uint64_t reserve, bool rdonly, uint8_t **base)
{
    void *p = shmkv__fault_hit(FAULT_MMAP)
                  ? (errno = ENOMEM, MAP_FAILED)
                  : mmap(NULL, reserve, rdonly ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                         fd, 0);
    if (p == MAP_FAILED)
        return errno == EACCES ? -EACCES : -ENOMEM;
    *base = p;
    return 0;
}

bool shmkv__mem_ok_slow(shmkv *db, uint64_t off, uint64_t len)
{
    uint64_t end = off + len, known;
    if (off < db->data_off || end < off)
        return false;
    /* Past what we have verified: the file may have grown since.  Ask the
     * kernel, never the header, which a corrupt file could fake. */
    struct stat st;
    if (fstat(db->fd, &st))
        return false;
    known = (uint64_t)st.st_size < db->map_size ? (uint64_t)st.st_size : db->map_size;
    atomic_store_explicit(&db->known_size, known, memory_order_relaxed);
    shmkv__map_in(db, known);
    return end <= known;
}

/* The file grew to known: map the new part into this process in one call
 * (MADV_POPULATE_*), rather than one page fault at a time as it is first
 * touched; a fault costs microseconds on a VM, and a table growing to
 * 10 M keys takes some 100 000 of them in each process.  Growth steps are
 * at most 8 MiB (alloc.c), so this takes about a millisecond at most.
 * One thread of the handle does it; best effort (older kernels lack it). */
void shmkv__map_in(shmkv *db, uint64_t known)
{
#ifdef MADV_POPULATE_WRITE
    uint64_t from = atomic_load_explicit(&db->mapped_in, memory_order_relaxed);
    if (known <= from || !atomic_compare_exchange_strong(&db->mapped_in, &from, known))
        return;
    uint64_t lo = from & ~(UNIT - 1);
    madvise(db->base + lo, known - lo, db->rdonly ? MADV_POPULATE_READ : MADV_POPULATE_WRITE);
#else
    (void)db, (void)known;
#endif
}
