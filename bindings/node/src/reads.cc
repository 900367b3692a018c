// The reads: lock-free in the library, so each is one call into it and
// the making of its result.
#include "bytes.h"
#include "errors.h"
#include "table.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

// Room on the stack for a value read as a string.
static constexpr size_t kStackValue = 16384;

enum class As { Buffer, String };

static Napi::Value Make(Napi::Env env, As as, const char *p, size_t n)
{
    if (as == As::String)
        return Napi::String::New(env, p, n);
    return Napi::Buffer<char>::Copy(env, p, n);
}

// A value too long for the room at hand: read into memory of its length,
// again while it keeps growing.  A Buffer is read into directly.
static int ReadLong(Napi::Env env, shmkv *db, const Bytes &k, As as, size_t vlen, Napi::Value *out)
{
    for (;;) {
        size_t cap = vlen;
        Napi::Buffer<char> b;
        std::unique_ptr<char[]> heap;
        char *p;
        if (as == As::Buffer) {
            b = Napi::Buffer<char>::New(env, cap);
            p = b.Data();
        } else {
            heap.reset(new char[cap]);
            p = heap.get();
        }
        int rc = shmkv_get(db, k.data(), k.size(), p, cap, &vlen);
        if (rc == -ENOBUFS)
            continue;
        if (rc == 0)
            *out = (as == As::Buffer && vlen == cap) ? b : Make(env, as, p, vlen);
        return rc;
    }
}

// _get(key): the value's length once it is in the scratch Buffer (index.js
// copies it out), or the value itself as a Buffer when it is longer than
// the scratch, or undefined when absent.
Napi::Value Table::GetToScratch(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    shmkv *db = Db(env);
    size_t vlen;
    Napi::Value v = env.Undefined();
    int rc = shmkv_get(db, k.data(), k.size(), scratch_, scratchCap_, &vlen);
    if (rc == 0)
        v = Napi::Number::New(env, static_cast<double>(vlen));
    else if (rc == -ENOBUFS)
        rc = ReadLong(env, db, k, As::Buffer, vlen, &v);
    if (rc && rc != -ENOENT)
        ThrowShmkv(env, rc, "shmkv_get");
    return v;
}

Napi::Value Table::GetString(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    shmkv *db = Db(env);
    char buf[kStackValue];
    size_t vlen;
    Napi::Value v = env.Undefined();
    int rc = shmkv_get(db, k.data(), k.size(), buf, sizeof buf, &vlen);
    if (rc == 0)
        v = Napi::String::New(env, buf, vlen);
    else if (rc == -ENOBUFS)
        rc = ReadLong(env, db, k, As::String, vlen, &v);
    if (rc && rc != -ENOENT)
        ThrowShmkv(env, rc, "shmkv_get");
    return v;
}

// has(key): a key holding a list is there too (size counts it).
Napi::Value Table::Has(const Napi::CallbackInfo &info)
{
    KeyArg k(info.Env(), info[0]);
    size_t vlen;
    int rc = shmkv_get(Db(info.Env()), k.data(), k.size(), nullptr, 0, &vlen);
    if (rc && rc != -ENOBUFS && rc != -ENOENT && rc != -EMEDIUMTYPE)
        ThrowShmkv(info.Env(), rc, "shmkv_get");
    return Napi::Boolean::New(info.Env(), rc != -ENOENT);
}

// ttl(key): ms left, 0 if it never expires, undefined if absent.
Napi::Value Table::Ttl(const Napi::CallbackInfo &info)
{
    KeyArg k(info.Env(), info[0]);
    uint64_t ms;
    int rc = shmkv_ttl(Db(info.Env()), k.data(), k.size(), &ms);
    if (rc == -ENOENT)
        return info.Env().Undefined();
    if (rc)
        ThrowShmkv(info.Env(), rc, "shmkv_ttl");
    return Napi::Number::New(info.Env(), static_cast<double>(ms));
}

std::vector<napi_value> Elements(const Napi::CallbackInfo &info, size_t i, const char *what)
{
    if (!info[i].IsArray())
        ThrowType(info.Env(), std::string(what) + " must be an array; got " + TypeName(info.Env(), info[i]));
    Napi::Array a = info[i].As<Napi::Array>();
    std::vector<napi_value> v(a.Length());
    for (uint32_t j = 0; j < v.size(); j++)
        v[j] = a.Get(j);
    return v;
}

// A value too long for its slot in _getMany, read again alone and added
// to the batch's bytes; false if it is gone meanwhile.
static bool AppendLong(Napi::Env env, shmkv *db, const Bytes &k, std::string *bytes)
{
    void *val;
    size_t vlen;
    int rc = shmkv_get_alloc(db, k.data(), k.size(), &val, &vlen);
    if (rc == -ENOENT)
        return false;
    if (rc)
        ThrowShmkv(env, rc, "shmkv_get_alloc");
    std::unique_ptr<void, decltype(&free)> owned(val, free);
    bytes->append(static_cast<char *>(val), vlen);
    return true;
}

// _getMany(keys): [bytes, length of the first value or -1 if absent, ...],
// the values end to end in one Buffer.  shmkv_get_many runs on chunks of
// the keys, each value into a slot of one buffer.
Napi::Value Table::GetMany(const Napi::CallbackInfo &info)
{
    static constexpr size_t kChunk = 128, kSlot = 256;
    Napi::Env env = info.Env();
    std::vector<napi_value> keys = Elements(info, 0, "keys");
    size_t n = keys.size();
    std::unique_ptr<BatchBytes[]> kb(new BatchBytes[n]);
    for (size_t j = 0; j < n; j++)
        kb[j].Set(env, keys[j], kKey);
    shmkv *db = Db(env);
    std::unique_ptr<char[]> slots(new char[kChunk * kSlot]);
    shmkv_item items[kChunk];
    std::string bytes;
    std::vector<double> lengths(n, -1);
    for (size_t at = 0; at < n; at += kChunk) {
        size_t m = std::min(kChunk, n - at);
        for (size_t j = 0; j < m; j++)
            items[j] = shmkv_item{kb[at + j].data(), kb[at + j].size(), slots.get() + j * kSlot, kSlot, 0, 0};
        int found = shmkv_get_many(db, items, m);
        if (found < 0)
            ThrowShmkv(env, found, "shmkv_get_many");
        for (size_t j = 0; j < m; j++) {
            size_t before = bytes.size();
            bool found = items[j].rc == 0;
            if (found)
                bytes.append(static_cast<char *>(items[j].buf), items[j].vlen);
            else if (items[j].rc == -ENOBUFS)
                found = AppendLong(env, db, kb[at + j], &bytes);
            else if (items[j].rc != -ENOENT)
                ThrowShmkv(env, items[j].rc, "shmkv_get_many");
            if (found)
                lengths[at + j] = static_cast<double>(bytes.size() - before);
        }
    }
    Napi::Array out = Napi::Array::New(env, n + 1);
    out.Set(0u, Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size()));
    for (size_t j = 0; j < n; j++)
        out.Set(static_cast<uint32_t>(j + 1), Napi::Number::New(env, lengths[j]));
    return out;
}

// _lease(key, leaseMs): on a hit, as _get: the value's length in the
// scratch Buffer (or a Buffer); on a miss the lease as a bigint, 0n when
// another caller holds the key's lease.
Napi::Value Table::Lease(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    uint64_t lease_ms = ArgU64(info, 1, "leaseMs");
    shmkv *db = Db(env);
    for (;;) {
        size_t vlen;
        uint64_t lease = 0;
        int rc = shmkv_get_lease(db, k.data(), k.size(), scratch_, scratchCap_, &vlen, lease_ms, &lease);
        if (rc == 0)
            return Napi::Number::New(env, static_cast<double>(vlen));
        if (rc == -ENOENT)
            return Napi::BigInt::New(env, lease);
        if (rc != -ENOBUFS)
            ThrowShmkv(env, rc, "shmkv_get_lease");
        Napi::Value v; // a hit too long for the scratch: no lease needed
        rc = ReadLong(env, db, k, As::Buffer, vlen, &v);
        if (rc == 0)
            return v;
        if (rc != -ENOENT)
            ThrowShmkv(env, rc, "shmkv_get");
    }
}
