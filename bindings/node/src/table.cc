#include "table.h"

#include "bytes.h"
#include "errors.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

Napi::Function Table::Define(Napi::Env env)
{
    return DefineClass(env, "NativeTable",
                       {
                           StaticMethod<&Table::Unlink>("unlink"),
                           InstanceMethod<&Table::Close>("close"),
                           InstanceMethod<&Table::Noop>("_noop"),
                           InstanceAccessor<&Table::Size>("size"),
                           InstanceMethod<&Table::Stats>("stats"),
                           InstanceMethod<&Table::CheckTable>("check"),
                           InstanceMethod<&Table::GetToScratch>("_get"),
                           InstanceMethod<&Table::GetString>("getString"),
                           InstanceMethod<&Table::Has>("has"),
                           InstanceMethod<&Table::Ttl>("ttl"),
                           InstanceMethod<&Table::GetMany>("_getMany"),
                           InstanceMethod<&Table::Lease>("_lease"),
                           InstanceMethod<&Table::Put>("_put"),
                           InstanceMethod<&Table::PutLeased>("_putLeased"),
                           InstanceMethod<&Table::PutMany>("_putMany"),
                           InstanceMethod<&Table::Delete>("delete"),
                           InstanceMethod<&Table::Take>("take"),
                           InstanceMethod<&Table::Incr>("_incr"),
                           InstanceMethod<&Table::Append>("append"),
                           InstanceMethod<&Table::Expire>("_expire"),
                           InstanceMethod<&Table::Clear>("clear"),
                           InstanceMethod<&Table::Scan>("_scan"),
                           InstanceMethod<&Table::ScanLists>("_scanLists"),
                           InstanceMethod<&Table::Push>("_push"),
                           InstanceMethod<&Table::PushMany>("_pushMany"),
                           InstanceMethod<&Table::Pop>("_pop"),
                           InstanceMethod<&Table::PopMany>("_popMany"),
                           InstanceMethod<&Table::Move>("_move"),
                           InstanceMethod<&Table::PopWait>("_popWait"),
                           InstanceMethod<&Table::MoveWait>("_moveWait"),
                           InstanceMethod<&Table::PushWait>("_pushWait"),
                           InstanceMethod<&Table::Llen>("llen"),
                           InstanceMethod<&Table::Lrange>("_lrange"),
                       });
}

// A table name as the C library takes it: a string without NUL bytes.
static std::string NameArg(const Napi::CallbackInfo &info)
{
    if (!info[0].IsString())
        ThrowType(info.Env(), std::string("the name must be a string; got ") + TypeName(info.Env(), info[0]));
    std::string name = info[0].As<Napi::String>().Utf8Value();
    if (name.empty() || name.find('\0') != std::string::npos)
        ThrowType(info.Env(), "the name must be a non-empty string without NUL characters");
    return name;
}

// new NativeTable(name, flags, mode, maxBytes, expectedKeys, scratch)
Table::Table(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Table>(info)
{
    std::string name = NameArg(info);
    if (!info[5].IsBuffer())
        ThrowType(info.Env(), std::string("scratch must be a Buffer; got ") + TypeName(info.Env(), info[5]));
    Napi::Buffer<char> scratch = info[5].As<Napi::Buffer<char>>();
    scratchRef_ = Napi::Persistent(scratch);
    scratch_ = scratch.Data();
    scratchCap_ = scratch.Length();
    shmkv_options o = {};
    o.flags = static_cast<unsigned>(ArgU64(info, 1, "flags"));
    o.mode = static_cast<unsigned>(ArgU64(info, 2, "mode"));
    o.max_bytes = ArgU64(info, 3, "maxBytes");
    o.expected_keys = ArgU64(info, 4, "expectedKeys");
    int rc = shmkv_open(name.c_str(), &o, &db_);
    if (rc)
        ThrowShmkv(info.Env(), rc, "shmkv_open", name.c_str());
    handle_ = std::make_shared<Handle>(db_);
}

Table::~Table()
{
    Release();
}

void Table::Release()
{
    db_ = nullptr;
    if (handle_)
        handle_->closed = true;
    handle_.reset();
}

shmkv *Table::Db(Napi::Env env) const
{
    if (!db_)
        ThrowClosed(env);
    return db_;
}

uint64_t ArgU64(const Napi::CallbackInfo &info, size_t i, const char *what)
{
    if (info[i].IsUndefined())
        return 0;
    if (!info[i].IsNumber())
        ThrowType(info.Env(), std::string(what) + " must be a number; got " + TypeName(info.Env(), info[i]));
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0) || std::floor(d) != d)
        ThrowRange(info.Env(), std::string(what) + " must be an integer from 0 to 2^53 - 1");
    return static_cast<uint64_t>(d);
}

uint64_t ArgBigU64(const Napi::CallbackInfo &info, size_t i, const char *what)
{
    if (!info[i].IsBigInt())
        ThrowType(info.Env(), std::string(what) + " must be a bigint; got " + TypeName(info.Env(), info[i]));
    bool lossless;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless)
        ThrowRange(info.Env(), std::string(what) + " must be from 0 to 2^64 - 1");
    return v;
}

// NativeTable.unlink(name): true if removed, false if there was none.
Napi::Value Table::Unlink(const Napi::CallbackInfo &info)
{
    std::string name = NameArg(info);
    int rc = shmkv_unlink(name.c_str());
    if (rc && rc != -ENOENT)
        ThrowShmkv(info.Env(), rc, "shmkv_unlink", name.c_str());
    return Napi::Boolean::New(info.Env(), rc == 0);
}

// Closing twice is harmless; every other method then throws EBADF.
Napi::Value Table::Close(const Napi::CallbackInfo &info)
{
    Release();
    return info.Env().Undefined();
}

// What every call costs besides the library: the method call, the handle,
// a key's conversion.  For the benchmark.
Napi::Value Table::Noop(const Napi::CallbackInfo &info)
{
    KeyArg k(info.Env(), info[0]);
    Db(info.Env());
    return info.Env().Undefined();
}

Napi::Value Table::Size(const Napi::CallbackInfo &info)
{
    return Napi::Number::New(info.Env(), static_cast<double>(shmkv_count(Db(info.Env()))));
}

Napi::Value Table::Stats(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    shmkv_stats s;
    int rc = shmkv_stat(Db(env), &s);
    if (rc)
        ThrowShmkv(env, rc, "shmkv_stat");
    Napi::Object o = Napi::Object::New(env);
    auto num = [&](const char *name, uint64_t v) { o.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
    num("keys", s.keys);
    num("liveBytes", s.live_bytes);
    num("usedBytes", s.used_bytes);
    num("maxBytes", s.max_bytes);
    num("fileBytes", s.file_bytes);
    num("shards", s.shards);
    num("buckets", s.buckets);
    num("overflowBuckets", s.overflow_buckets);
    num("indexBytes", s.index_bytes);
    num("logBytes", s.log_bytes);
    num("garbageBytes", s.garbage_bytes);
    num("freeBytes", s.free_bytes);
    o.Set("loadFactor", Napi::Number::New(env, s.load_factor));
    num("puts", s.puts);
    num("dels", s.dels);
    num("splits", s.splits);
    num("runsCleaned", s.runs_cleaned);
    num("lockWaits", s.lock_waits);
    num("lockRecoveries", s.lock_recoveries);
    o.Set("readStats", Napi::Boolean::New(env, s.read_stats != 0));
    num("hits", s.hits);
    num("misses", s.misses);
    o.Set("cache", Napi::Boolean::New(env, s.cache != 0));
    num("evictions", s.evictions);
    num("expirations", s.expirations);
    num("leasesGranted", s.leases_granted);
    num("leasesFilled", s.leases_filled);
    num("leasesVoided", s.leases_voided);
    return o;
}

// check(): the problems shmkv_check finds, one string each; [] when sound.
Napi::Value Table::CheckTable(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    shmkv *db = Db(env);
    char *text = nullptr;
    size_t len = 0;
    FILE *report = open_memstream(&text, &len);
    if (!report)
        ThrowShmkv(env, -errno, "open_memstream");
    int rc = shmkv_check(db, report);
    fclose(report);
    std::string all(text, len);
    free(text);
    if (rc && rc != -EBADMSG)
        ThrowShmkv(env, rc, "shmkv_check");
    Napi::Array problems = Napi::Array::New(env);
    for (size_t at = 0, end; at < all.size(); at = end + 1) {
        end = all.find('\n', at);
        if (end == std::string::npos)
            end = all.size();
        if (end > at)
            problems.Set(problems.Length(), Napi::String::New(env, all.data() + at, end - at));
    }
    if (rc && problems.Length() == 0)
        problems.Set(0u, Napi::String::New(env, shmkv_strerror(rc)));
    return problems;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
    exports.Set("NativeTable", Table::Define(env));
    auto num = [&](const char *name, double v) { exports.Set(name, Napi::Number::New(env, v)); };
    num("KEY_MAX", SHMKV_KEY_MAX);
    num("VAL_MAX", SHMKV_VAL_MAX);
    num("TTL_MAX", static_cast<double>(SHMKV_TTL_MAX));
    num("MIN_BYTES", SHMKV_MIN_BYTES);
    num("CREATE", SHMKV_CREATE);
    num("EXCL", SHMKV_EXCL);
    num("RDONLY", SHMKV_RDONLY);
    num("STATS", SHMKV_STATS);
    num("CACHE", SHMKV_CACHE);
    num("IF_ABSENT", SHMKV_IF_ABSENT);
    num("IF_PRESENT", SHMKV_IF_PRESENT);
    num("IF_EQUAL", SHMKV_IF_EQUAL);
    num("KEEP_TTL", SHMKV_KEEP_TTL);
    num("HEAD", SHMKV_HEAD);
    num("TAIL", SHMKV_TAIL);
    exports.Set("version", Napi::String::New(env, SHMKV_VERSION_STRING));
    return exports;
}

NODE_API_MODULE(shmkv, Init)
