// The reads: lock-free in the library, so each is one call into it and
// the creation of its result.
#include "bytes.h"
#include "errors.h"
#include "table.h"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

// Room on the stack for a value; a longer one is read again into a buffer
// of the size the first read reported.
static constexpr size_t kStackValue = 16384;

enum class As { Buffer, String };

static Napi::Value Make(Napi::Env env, As as, const char *p, size_t n)
{
    if (as == As::String)
        return Napi::String::New(env, p, n);
    return Napi::Buffer<char>::Copy(env, p, n);
}

// A value too long for the stack: read into memory of its length, again
// while it keeps growing.  A Buffer is read into directly.
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

// The value of a key as a Buffer or string; undefined when absent.
static Napi::Value ReadValue(Napi::Env env, shmkv *db, const Bytes &k, As as)
{
    char buf[kStackValue];
    size_t vlen;
    Napi::Value v = env.Undefined();
    int rc = shmkv_get(db, k.data(), k.size(), buf, sizeof buf, &vlen);
    if (rc == 0)
        v = Make(env, as, buf, vlen);
    else if (rc == -ENOBUFS)
        rc = ReadLong(env, db, k, as, vlen, &v);
    if (rc && rc != -ENOENT)
        ThrowShmkv(env, rc, "shmkv_get");
    return v;
}

Napi::Value Table::Get(const Napi::CallbackInfo &info)
{
    KeyArg k(info.Env(), info[0]);
    return ReadValue(info.Env(), Db(info.Env()), k, As::Buffer);
}

Napi::Value Table::GetString(const Napi::CallbackInfo &info)
{
    KeyArg k(info.Env(), info[0]);
    return ReadValue(info.Env(), Db(info.Env()), k, As::String);
}

Napi::Value Table::Has(const Napi::CallbackInfo &info)
{
    KeyArg k(info.Env(), info[0]);
    size_t vlen;
    int rc = shmkv_get(Db(info.Env()), k.data(), k.size(), nullptr, 0, &vlen);
    if (rc && rc != -ENOBUFS && rc != -ENOENT)
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

// _getMany(keys): shmkv_get_many on chunks of the keys, each value into a
// slot of one buffer; a value too long for its slot is read again alone.
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
    Napi::Array out = Napi::Array::New(env, n);
    std::unique_ptr<char[]> slots(new char[kChunk * kSlot]);
    shmkv_item items[kChunk];
    for (size_t at = 0; at < n; at += kChunk) {
        size_t m = std::min(kChunk, n - at);
        for (size_t j = 0; j < m; j++)
            items[j] = shmkv_item{kb[at + j].data(), kb[at + j].size(), slots.get() + j * kSlot, kSlot, 0, 0};
        int found = shmkv_get_many(db, items, m);
        if (found < 0)
            ThrowShmkv(env, found, "shmkv_get_many");
        for (size_t j = 0; j < m; j++) {
            const shmkv_item &it = items[j];
            Napi::Value v = env.Undefined();
            if (it.rc == 0)
                v = Make(env, As::Buffer, static_cast<char *>(it.buf), it.vlen);
            else if (it.rc == -ENOBUFS)
                v = ReadValue(env, db, kb[at + j], As::Buffer);
            else if (it.rc != -ENOENT)
                ThrowShmkv(env, it.rc, "shmkv_get_many");
            out.Set(static_cast<uint32_t>(at + j), v);
        }
    }
    return out;
}

// _lease(key, leaseMs): the value (a Buffer) on a hit; on a miss the
// lease as a bigint, 0n when another caller holds the key's lease.
Napi::Value Table::Lease(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    uint64_t lease_ms = ArgU64(info, 1, "leaseMs");
    shmkv *db = Db(env);
    char buf[kStackValue];
    for (;;) {
        size_t vlen;
        uint64_t lease = 0;
        int rc = shmkv_get_lease(db, k.data(), k.size(), buf, sizeof buf, &vlen, lease_ms, &lease);
        if (rc == 0)
            return Make(env, As::Buffer, buf, vlen);
        if (rc == -ENOENT)
            return Napi::BigInt::New(env, lease);
        if (rc != -ENOBUFS)
            ThrowShmkv(env, rc, "shmkv_get_lease");
        Napi::Value v = ReadValue(env, db, k, As::Buffer); // a hit: no lease needed
        if (!v.IsUndefined())
            return v;
    }
}
