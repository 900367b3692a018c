// The writes.  index.js checks the options and passes them positionally;
// a condition that fails is a result (false), not an error.
#include "bytes.h"
#include "errors.h"
#include "table.h"

#include <cerrno>
#include <cstdlib>
#include <memory>

static Napi::Value Done(Napi::Env env, int rc, const char *call, int no)
{
    if (rc && rc != no)
        ThrowShmkv(env, rc, call);
    return Napi::Boolean::New(env, rc == 0);
}

// _put(key, value, flags, ttl, expected): true if it wrote, false if its
// condition (SHMKV_IF_*) did not hold.
Napi::Value Table::Put(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    ValueArg v(env, info[1]);
    shmkv_put_opts o = {};
    o.flags = static_cast<unsigned>(ArgU64(info, 2, "flags"));
    o.ttl_ms = ArgU64(info, 3, "ttl");
    std::unique_ptr<ValueArg> expected;
    if (o.flags & SHMKV_IF_EQUAL) {
        expected.reset(new ValueArg(env, info[4]));
        o.expected = expected->data();
        o.elen = expected->size();
    }
    int rc = shmkv_put_ex(Db(env), k.data(), k.size(), v.data(), v.size(), &o);
    if ((rc == -EEXIST && (o.flags & SHMKV_IF_ABSENT)) ||
        (rc == -ENOENT && (o.flags & (SHMKV_IF_PRESENT | SHMKV_IF_EQUAL))) ||
        (rc == -ECANCELED && (o.flags & SHMKV_IF_EQUAL)))
        return Napi::Boolean::New(env, false);
    return Done(env, rc, "shmkv_put_ex", 0);
}

// _putLeased(key, value, ttl, lease): false if the lease was voided.
Napi::Value Table::PutLeased(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    ValueArg v(env, info[1]);
    uint64_t ttl = ArgU64(info, 2, "ttl");
    uint64_t lease = ArgBigU64(info, 3, "lease");
    int rc = shmkv_put_leased(Db(env), k.data(), k.size(), v.data(), v.size(), ttl, lease);
    return Done(env, rc, "shmkv_put_leased", -ECANCELED);
}

// _putMany([k0, v0, k1, v1, ...], ttl): the number stored.  A pair that
// fails throws its error with err.index; the others are stored all the same.
Napi::Value Table::PutMany(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    std::vector<napi_value> flat = Elements(info, 0, "entries");
    uint64_t ttl = ArgU64(info, 1, "ttl");
    size_t n = flat.size() / 2;
    std::unique_ptr<BatchBytes[]> bytes(new BatchBytes[2 * n]);
    std::vector<shmkv_pair> pairs(n);
    for (size_t j = 0; j < n; j++) {
        BatchBytes &k = bytes[2 * j], &v = bytes[2 * j + 1];
        k.Set(env, flat[2 * j], kKey);
        v.Set(env, flat[2 * j + 1], kValue);
        pairs[j] = shmkv_pair{k.data(), k.size(), v.data(), v.size(), ttl, 0};
    }
    int stored = shmkv_put_many(Db(env), pairs.data(), n);
    if (stored < 0)
        ThrowShmkv(env, stored, "shmkv_put_many");
    for (size_t j = 0; j < n; j++) {
        if (pairs[j].rc == 0)
            continue;
        try {
            ThrowShmkv(env, pairs[j].rc, "shmkv_put_many");
        } catch (Napi::Error &e) {
            e.Set("index", Napi::Number::New(env, static_cast<double>(j)));
            throw;
        }
    }
    return Napi::Number::New(env, stored);
}

// delete(key): true if it was there.
Napi::Value Table::Delete(const Napi::CallbackInfo &info)
{
    KeyArg k(info.Env(), info[0]);
    return Done(info.Env(), shmkv_del(Db(info.Env()), k.data(), k.size()), "shmkv_del", -ENOENT);
}

// take(key): the value, deleted in the same step; undefined if absent.
Napi::Value Table::Take(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    void *val;
    size_t vlen;
    int rc = shmkv_take(Db(env), k.data(), k.size(), &val, &vlen);
    if (rc == -ENOENT)
        return env.Undefined();
    if (rc)
        ThrowShmkv(env, rc, "shmkv_take");
    std::unique_ptr<void, decltype(&free)> owned(val, free);
    return Napi::Buffer<char>::Copy(env, static_cast<char *>(val), vlen);
}

// A delta for _incr: a safe integer or a bigint within int64.
static int64_t DeltaArg(const Napi::CallbackInfo &info, size_t i)
{
    if (info[i].IsBigInt()) {
        bool lossless;
        int64_t d = info[i].As<Napi::BigInt>().Int64Value(&lossless);
        if (!lossless)
            ThrowRange(info.Env(), "delta must be within the signed 64-bit range");
        return d;
    }
    if (!info[i].IsNumber())
        ThrowType(info.Env(), std::string("delta must be a number or bigint; got ") + TypeName(info.Env(), info[i]));
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(d >= -9007199254740991.0 && d <= 9007199254740991.0) || static_cast<double>(static_cast<int64_t>(d)) != d)
        ThrowRange(info.Env(), "delta must be a safe integer (or a bigint)");
    return static_cast<int64_t>(d);
}

// _incr(key, delta, ttl): the new value, a number while it is a safe
// integer, a bigint beyond.
Napi::Value Table::Incr(const Napi::CallbackInfo &info)
{
    static constexpr int64_t kSafe = 9007199254740991; // 2^53 - 1
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    int64_t delta = DeltaArg(info, 1);
    uint64_t ttl = ArgU64(info, 2, "ttl");
    int64_t result;
    int rc = shmkv_incr(Db(env), k.data(), k.size(), delta, ttl, &result);
    if (rc)
        ThrowShmkv(env, rc, "shmkv_incr");
    if (result >= -kSafe && result <= kSafe)
        return Napi::Number::New(env, static_cast<double>(result));
    return Napi::BigInt::New(env, result);
}

Napi::Value Table::Append(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    ValueArg v(env, info[1]);
    int rc = shmkv_append(Db(env), k.data(), k.size(), v.data(), v.size());
    if (rc)
        ThrowShmkv(env, rc, "shmkv_append");
    return env.Undefined();
}

// _expire(key, ttl): false if the key is absent.
Napi::Value Table::Expire(const Napi::CallbackInfo &info)
{
    KeyArg k(info.Env(), info[0]);
    uint64_t ttl = ArgU64(info, 1, "ttl");
    return Done(info.Env(), shmkv_expire(Db(info.Env()), k.data(), k.size(), ttl), "shmkv_expire", -ENOENT);
}

Napi::Value Table::Clear(const Napi::CallbackInfo &info)
{
    int rc = shmkv_clear(Db(info.Env()));
    if (rc)
        ThrowShmkv(info.Env(), rc, "shmkv_clear");
    return info.Env().Undefined();
}
