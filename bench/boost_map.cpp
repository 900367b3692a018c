/*
 * boost_map.cpp - shmkv-bench's Boost.Interprocess peer (built where
 * <boost/interprocess/managed_shared_memory.hpp> is found).
 *
 * A boost::unordered_map of interprocess strings in a managed_shared_memory
 * segment (/dev/shm/NAME), every operation under one interprocess_mutex in
 * the segment: what a C++ programmer writes first for a map shared by
 * processes.  The segment has a fixed size, chosen from the key count and
 * sizes with room for MIX's churn.  Memory: bytes of the segment in use.
 *
 * A plain C interface (boost_map.h) for sys_boost.c; no exception leaves it.
 */
#include "boost_map.h"

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/string.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <boost/unordered_map.hpp>
#include <boost/version.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>

namespace bip = boost::interprocess;

namespace {

typedef bip::managed_shared_memory::segment_manager SegMgr;
typedef bip::allocator<char, SegMgr> CharAlloc;
typedef bip::basic_string<char, std::char_traits<char>, CharAlloc> ShmString;
typedef std::pair<const ShmString, ShmString> Pair;
typedef bip::allocator<Pair, SegMgr> PairAlloc;

struct KeyView {
    const char *p;
    size_t n;
};

static size_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x94d049bb133111ebULL;
    h ^= h >> 29;
    return (size_t)h;
}

struct Hash {
    size_t operator()(const ShmString &s) const { return hash_bytes(s.data(), s.size()); }
    size_t operator()(const KeyView &k) const { return hash_bytes(k.p, k.n); }
};

struct Eq {
    static bool same(const char *a, size_t an, const char *b, size_t bn)
    {
        return an == bn && std::memcmp(a, b, an) == 0;
    }
    bool operator()(const ShmString &a, const ShmString &b) const
    {
        return same(a.data(), a.size(), b.data(), b.size());
    }
    bool operator()(const KeyView &a, const ShmString &b) const
    {
        return same(a.p, a.n, b.data(), b.size());
    }
    bool operator()(const ShmString &a, const KeyView &b) const
    {
        return same(a.data(), a.size(), b.p, b.n);
    }
};

typedef boost::unordered_map<ShmString, ShmString, Hash, Eq, PairAlloc> Map;

struct Shared {
    bip::interprocess_mutex mtx;
    Map map;
    explicit Shared(SegMgr *sm) : map(16, Hash(), Eq(), PairAlloc(sm)) {}
};

struct Handle {
    bip::managed_shared_memory seg;
    Shared *sh;
};

void say(char *err, size_t n, const char *what, const std::exception &e)
{
    std::snprintf(err, n, "boost %s: %s", what, e.what());
}

} // namespace

extern "C" {

const char *bb_version(void)
{
    static char v[32];
    std::snprintf(v, sizeof v, "%d.%d.%d", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
                  BOOST_VERSION % 100);
    return v;
}

int bb_create(const char *name, uint64_t bytes, char *err, size_t n)
{
    try {
        bip::managed_shared_memory seg(bip::create_only, name, bytes);
        seg.construct<Shared>("kv")(seg.get_segment_manager());
        return 0;
    } catch (const std::exception &e) {
        say(err, n, "creating the segment", e);
        return -1;
    }
}

void *bb_open(const char *name, char *err, size_t n)
{
    try {
        Handle *h = new Handle{ bip::managed_shared_memory(bip::open_only, name), nullptr };
        h->sh = h->seg.find<Shared>("kv").first;
        if (!h->sh) {
            std::snprintf(err, n, "boost: no map in segment %s", name);
            delete h;
            return nullptr;
        }
        return h;
    } catch (const std::exception &e) {
        say(err, n, "opening the segment", e);
        return nullptr;
    }
}

void bb_close(void *h)
{
    delete static_cast<Handle *>(h);
}

int bb_remove(const char *name)
{
    return bip::shared_memory_object::remove(name) ? 0 : -1;
}

int bb_stats(const char *name, uint64_t *keys, uint64_t *used, uint64_t *size, char *err,
             size_t n)
{
    Handle *h = static_cast<Handle *>(bb_open(name, err, n));
    if (!h)
        return -1;
    {
        bip::scoped_lock<bip::interprocess_mutex> lk(h->sh->mtx);
        *keys = h->sh->map.size();
        *size = h->seg.get_size();
        *used = *size - h->seg.get_free_memory();
    }
    bb_close(h);
    return 0;
}

int bb_get(void *hp, const unsigned char *k, size_t kl, unsigned char *buf, size_t cap,
           size_t *vl, char *err, size_t n)
{
    Shared *sh = static_cast<Handle *>(hp)->sh;
    try {
        bip::scoped_lock<bip::interprocess_mutex> lk(sh->mtx);
        Map::const_iterator it = sh->map.find(KeyView{ (const char *)k, kl }, Hash(), Eq());
        if (it == sh->map.end())
            return 1;
        *vl = it->second.size();
        if (*vl <= cap)
            std::memcpy(buf, it->second.data(), *vl);
        return 0;
    } catch (const std::exception &e) {
        say(err, n, "get", e);
        return -1;
    }
}

int bb_put(void *hp, const unsigned char *k, size_t kl, const unsigned char *v, size_t vl,
           char *err, size_t n)
{
    Handle *h = static_cast<Handle *>(hp);
    Shared *sh = h->sh;
    try {
        bip::scoped_lock<bip::interprocess_mutex> lk(sh->mtx);
        Map::iterator it = sh->map.find(KeyView{ (const char *)k, kl }, Hash(), Eq());
        if (it != sh->map.end()) {
            it->second.assign((const char *)v, (const char *)v + vl);
        } else {
            CharAlloc a(h->seg.get_segment_manager());
            sh->map.emplace(ShmString((const char *)k, kl, a), ShmString((const char *)v, vl, a));
        }
        return 0;
    } catch (const std::exception &e) {
        say(err, n, "put", e);
        return -1;
    }
}

int bb_del(void *hp, const unsigned char *k, size_t kl, char *err, size_t n)
{
    Shared *sh = static_cast<Handle *>(hp)->sh;
    try {
        bip::scoped_lock<bip::interprocess_mutex> lk(sh->mtx);
        Map::iterator it = sh->map.find(KeyView{ (const char *)k, kl }, Hash(), Eq());
        if (it == sh->map.end())
            return 1;
        sh->map.erase(it);
        return 0;
    } catch (const std::exception &e) {
        say(err, n, "del", e);
        return -1;
    }
}

} // extern "C"
