/*
 * map.c - the reservation mapping, bounds checks past the verified size,
 * and mapping in file growth.
 */
#include "map.h"

#include "fault.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Huge pages map a file only at addresses aligned as the file offsets
 * they hold: the reservation starts on a 2 MiB boundary, so that where
 * the file system gives huge pages (a tmpfs mounted with huge=always or
 * huge=within_size, or shmem_enabled=advise with the MADV_HUGEPAGE
 * below) a get's two misses each cost a TLB entry less. */
#define HUGE_ALIGN (2ull << 20)

/* An address range of len bytes on a HUGE_ALIGN boundary, reserved
 * (PROT_NONE) for a MAP_FIXED mapping; NULL if there is no room. */
static uint8_t *reserve_aligned(uint64_t len)
{
    uint8_t *p = mmap(NULL, len + HUGE_ALIGN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (p + HUGE_ALIGN > a)
        munmap(a + len, (size_t)(p + HUGE_ALIGN - a));
    return a;
}

int shmkv__map_reserve(int fd, uint64_t reserve, bool rdonly, uint8_t **base)
{
    uint8_t *at = shmkv__fault_hit(FAULT_MMAP) ? NULL : reserve_aligned(reserve);
    /* over this process's own reservation: MAP_FIXED replaces nothing else */
    void *p = !at ? (errno = ENOMEM, MAP_FAILED)
                  : mmap(at, reserve, rdonly ? PROT_READ : PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        if (at)
            munmap(at, reserve);
        return e == EACCES ? -EACCES : -ENOMEM;
    }
#ifdef MADV_HUGEPAGE
    madvise(p, reserve, MADV_HUGEPAGE); /* best effort: where shmem_enabled=advise */
#endif
    *base = p;
    return 0;
}

/* Learn the file's size from the kernel, never from the header, which a
 * corrupt file could fake, and map in what it grew by.  false if fstat
 * failed.
 *
 * known_size is only ever raised (the file never shrinks): threads of a
 * handle refresh at once, and one that read the size before a growth and
 * stored it after another thread had stored the grown size put known_size
 * back; the other thread, reading it again, refused the range it had just
 * verified, and a writer under its lock took a sound record for damage
 * (-EBADMSG from a push in test_list_threads, 12 threads on 2 CPUs). */
bool shmkv__map_refresh(shmkv *db)
{
    struct stat st;
    if (fstat(db->fd, &st))
        return false;
    uint64_t known = (uint64_t)st.st_size < db->map_size ? (uint64_t)st.st_size : db->map_size;
    shmkv__stall_at(STALL_SIZE_READ);
    uint64_t cur = atomic_load_explicit(&db->known_size, memory_order_relaxed);
    while (cur < known && !atomic_compare_exchange_weak_explicit(&db->known_size, &cur, known, memory_order_relaxed,
                                                                 memory_order_relaxed))
        ;
    shmkv__map_in(db, known);
    return true;
}

bool shmkv__mem_ok_slow(shmkv *db, uint64_t off, uint64_t len)
{
    uint64_t end = off + len;
    if (off < db->data_off || end < off)
        return false;
    /* past what we have verified: the file may have grown since */
    return shmkv__map_refresh(db) && end <= atomic_load_explicit(&db->known_size, memory_order_relaxed);
}

/* The file grew to known: map the new part into this process in one call
 * (MADV_POPULATE_*), rather than one page fault at a time as it is first
 * touched; a fault costs microseconds on a VM, and a table growing to
 * 10 M keys takes some 100 000 of them in each process.  Growth steps are
 * at most 8 MiB (alloc.c), so this takes about a millisecond at most, and
 * writers do it with no lock held (shmkv__alloc_ahead).  One thread of
 * the handle does it; best effort (older kernels lack it).  mapped_in
 * moves on either way: it is what tells a writer there is more to map. */
void shmkv__map_in(shmkv *db, uint64_t known)
{
    uint64_t from = atomic_load_explicit(&db->mapped_in, memory_order_relaxed);
    if (known <= from || !atomic_compare_exchange_strong(&db->mapped_in, &from, known))
        return;
#ifdef MADV_POPULATE_WRITE
    uint64_t lo = from & ~(UNIT - 1);
    madvise(db->base + lo, known - lo, db->rdonly ? MADV_POPULATE_READ : MADV_POPULATE_WRITE);
#endif
}
