// Lists and queues: push, pop and move that never wait, on the calling
// thread (a bounded push included: no room, no push); and the waits of
// popAsync, popManyAsync, moveAsync, pushAsync and pushManyAsync, which
// run on libuv's thread pool and settle a promise (the event loop never
// blocks).  index.js checks the options and passes them positionally;
// results holding many elements come as one Buffer and their lengths.
//
// A wait sleeps in the library (a futex), woken by a push (a pop, for a
// bounded push) from any process.  Each _popWait, _moveWait or _pushWait
// waits one slice at most (index.js asks for the next): a thread's
// teardown (a worker terminated) waits for the thread pool's work to end
// before it runs any finalizer, so a wait for ever on the pool would never
// let a worker thread end; and between slices close() is seen.  A wait
// holds the handle (Handle) and the JavaScript table while it runs.
#include "bytes.h"
#include "errors.h"
#include "table.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

namespace {

constexpr size_t kOneBytes = 16384;      // a wait's first buffer for one element
constexpr size_t kManyBytes = 64 * 1024; // and for many
constexpr size_t kManyMax = 65536;       // and the most lengths it asks for

int EndArg(const Napi::CallbackInfo &info, size_t i)
{
    uint64_t end = ArgU64(info, i, "end");
    if (end != SHMKV_HEAD && end != SHMKV_TAIL)
        ThrowRange(info.Env(), "end must be 0 (head) or 1 (tail)");
    return static_cast<int>(end);
}


// A list index: a safe integer, negative from the tail.
int64_t IndexArg(const Napi::CallbackInfo &info, size_t i, const char *what)
{
    if (!info[i].IsNumber())
        ThrowType(info.Env(), std::string(what) + " must be a number; got " + TypeName(info.Env(), info[i]));
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(std::fabs(d) <= 9007199254740991.0) || std::floor(d) != d)
        ThrowRange(info.Env(), std::string(what) + " must be a safe integer");
    return static_cast<int64_t>(d);
}

// One pop (of up to max elements) or move.  The keys are pointers into
// the call's arguments, or into copies for a wait that outlives them.
struct PopJob {
    PopJob(const Bytes &k, int end) : key(k.data()), klen(k.size()), from(end) {}
    PopJob(const Bytes &s, const Bytes &d, int f, int t)
        : key(s.data()), dst(d.data()), klen(s.size()), dlen(d.size()), moving(true), from(f), to(t)
    {
    }

    const char *key, *dst = nullptr;
    size_t klen, dlen = 0;
    bool moving = false;
    int from, to = SHMKV_TAIL;
    size_t max = 1, n = 0;
    std::vector<size_t> lens = std::vector<size_t>(1);
    char *buf = nullptr;
    size_t cap = 0;
    std::unique_ptr<char[]> own;
    std::string keyCopy, dstCopy;

    void Own(size_t size)
    {
        own.reset(new char[size]);
        buf = own.get();
        cap = size;
    }

    const char *Call() const { return moving ? "shmkv_move" : "shmkv_pop_many"; }

    // Room for up to max elements, in a buffer of its own.
    void Many(size_t count)
    {
        max = std::clamp<size_t>(count, 1, kManyMax);
        lens.resize(max);
        Own(max > 1 ? kManyBytes : kOneBytes);
    }

    // Copy the keys in, and own a buffer, for a wait on another thread.
    void Keep()
    {
        keyCopy.assign(key, klen);
        key = keyCopy.data();
        if (moving) {
            dstCopy.assign(dst, dlen);
            dst = dstCopy.data();
        }
        if (!own)
            Own(kOneBytes);
    }

    // One library call, waiting up to ms; an element too big for buf
    // (nothing removed) grows it for another call.
    int Run(shmkv *db, int64_t ms)
    {
        for (;;) {
            int rc = moving ? shmkv_move(db, key, klen, from, dst, dlen, to, buf, cap, lens.data(), ms)
                            : shmkv_pop_many(db, key, klen, from, buf, cap, lens.data(), max, &n, ms);
            if (moving)
                n = rc == 0;
            if (rc != -ENOBUFS)
                return rc;
            Own(std::max(lens[0], 2 * cap));
        }
    }
};

// The elements popped: [Buffer of them end to end, length, length, ...].
Napi::Array Popped(Napi::Env env, const PopJob &job, int rc)
{
    size_t n = rc == 0 ? job.n : 0, bytes = 0;
    for (size_t j = 0; j < n; j++)
        bytes += job.lens[j];
    Napi::Array out = Napi::Array::New(env, n + 1);
    out.Set(0u, Napi::Buffer<char>::Copy(env, job.buf, bytes));
    for (size_t j = 0; j < n; j++)
        out.Set(static_cast<uint32_t>(j + 1), Napi::Number::New(env, static_cast<double>(job.lens[j])));
    return out;
}

// The values of an array argument as elements, their bytes in place (a
// view's) or in bytes (a string's).
struct Values {
    std::unique_ptr<BatchBytes[]> bytes;
    std::vector<shmkv_elem> elems;
};

Values ValuesArg(const Napi::CallbackInfo &info, size_t i)
{
    std::vector<napi_value> values = Elements(info, i, "values");
    Values v{std::unique_ptr<BatchBytes[]>(new BatchBytes[values.size()]), std::vector<shmkv_elem>(values.size())};
    for (size_t j = 0; j < values.size(); j++) {
        v.bytes[j].Set(info.Env(), values[j], kValue);
        v.elems[j] = shmkv_elem{v.bytes[j].data(), v.bytes[j].size()};
    }
    return v;
}

// A bounded push of copies of the key and elements (end to end in bytes),
// for a wait on another thread.
struct PushJob {
    PushJob(const Bytes &k, const Values &v, int e, uint64_t m) : key(k.data(), k.size()), end(e), max(m)
    {
        for (const shmkv_elem &x : v.elems) {
            bytes.append(static_cast<const char *>(x.val), x.vlen);
            elems.push_back(shmkv_elem{nullptr, x.vlen});
        }
    }

    std::string key, bytes;
    std::vector<shmkv_elem> elems; // the lengths; the bytes once kept
    int end;
    uint64_t max;

    const char *Call() const { return "shmkv_push_bounded"; }

    // Point the elements at the bytes, now that the job is in its place.
    void Keep()
    {
        size_t at = 0;
        for (shmkv_elem &x : elems) {
            x.val = bytes.data() + at;
            at += x.vlen;
        }
    }

    int Run(shmkv *db, int64_t ms)
    {
        return shmkv_push_bounded(db, key.data(), key.size(), elems.data(), elems.size(), end, max, ms);
    }
};

// What a wait's promise resolves to when the call succeeded (0) or found
// nothing to do within its wait (-EAGAIN): the elements popped; whether
// the push went in.
Napi::Value Settled(Napi::Env env, const PopJob &job, int rc)
{
    return Popped(env, job, rc);
}

Napi::Value Settled(Napi::Env env, const PushJob &, int rc)
{
    return Napi::Boolean::New(env, rc == 0);
}

// A pop or move (PopJob) or a bounded push (PushJob) that waits up to a
// slice, on the thread pool.
template <class Job> class Wait : public Napi::AsyncWorker {
  public:
    Wait(const Napi::Object &table, std::shared_ptr<Handle> handle, Job &&job, int64_t timeout)
        : Napi::AsyncWorker(table.Env(), "shmkv.wait"), deferred_(Napi::Promise::Deferred::New(table.Env())),
          table_(Napi::Persistent(table)), handle_(std::move(handle)), job_(std::move(job)), timeout_(timeout)
    {
        job_.Keep();
    }

    Napi::Promise Promise() const { return deferred_.Promise(); }

  protected:
    void Execute() override
    {
        do
            rc_ = handle_->closed ? -EBADF : job_.Run(handle_->db, timeout_);
        while (rc_ == -EINTR);
    }

    void OnOK() override
    {
        Napi::Env env = Env();
        if (rc_ == 0 || rc_ == -EAGAIN)
            deferred_.Resolve(Settled(env, job_, rc_));
        else if (rc_ == -EBADF)
            deferred_.Reject(ClosedError(env).Value());
        else
            deferred_.Reject(ShmkvError(env, rc_, job_.Call()).Value());
    }

  private:
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference table_; // the table lives while its wait does
    std::shared_ptr<Handle> handle_;
    Job job_;
    int64_t timeout_;
    int rc_ = 0;
};

// One element popped or moved without waiting: its length once it is in
// the scratch Buffer (index.js copies it out), or the element as a Buffer
// when it is longer, or undefined when there was none.
Napi::Value OneElement(Napi::Env env, shmkv *db, PopJob &job, char *scratch, size_t cap)
{
    job.buf = scratch;
    job.cap = cap;
    int rc = job.Run(db, 0);
    if (rc == -EAGAIN)
        return env.Undefined();
    if (rc)
        ThrowShmkv(env, rc, job.Call());
    if (!job.own)
        return Napi::Number::New(env, static_cast<double>(job.lens[0]));
    return Napi::Buffer<char>::Copy(env, job.buf, job.lens[0]);
}

// Queue a wait of up to ms for job: its promise.
template <class Job>
Napi::Value Queue(const Napi::CallbackInfo &info, std::shared_ptr<Handle> handle, Job &&job, int64_t ms)
{
    Wait<Job> *w = new Wait<Job>(info.This().As<Napi::Object>(), std::move(handle), std::move(job), ms);
    w->Queue();
    return w->Promise();
}

// A push's result: true, or false when a bound left no room (-EAGAIN).
Napi::Value Pushed(Napi::Env env, int rc, uint64_t max, const char *call)
{
    if (rc && !(rc == -EAGAIN && max))
        ThrowShmkv(env, rc, call);
    return Napi::Boolean::New(env, rc == 0);
}

} // namespace

// _push(key, value, end, maxLen): maxLen 0 (or undefined) for none; else
// nothing is pushed while the list holds maxLen elements or more.  As
// Pushed says.  Never waits.
Napi::Value Table::Push(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    ValueArg v(env, info[1]);
    int end = EndArg(info, 2);
    uint64_t max = ArgU64(info, 3, "maxLen");
    shmkv_elem e{v.data(), v.size()};
    int rc = max ? shmkv_push_bounded(Db(env), k.data(), k.size(), &e, 1, end, max, 0)
                 : shmkv_push(Db(env), k.data(), k.size(), v.data(), v.size(), end);
    return Pushed(env, rc, max, max ? "shmkv_push_bounded" : "shmkv_push");
}

// _pushMany(key, values, end, maxLen): all or nothing; maxLen as _push's.
Napi::Value Table::PushMany(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    Values v = ValuesArg(info, 1);
    int end = EndArg(info, 2);
    uint64_t max = ArgU64(info, 3, "maxLen");
    int rc = max ? shmkv_push_bounded(Db(env), k.data(), k.size(), v.elems.data(), v.elems.size(), end, max, 0)
                 : shmkv_push_many(Db(env), k.data(), k.size(), v.elems.data(), v.elems.size(), end);
    return Pushed(env, rc, max, max ? "shmkv_push_bounded" : "shmkv_push_many");
}

// _pushWait(key, values, end, maxLen, ms): a promise of true (pushed) or
// false (no room within ms).  The elements are copied for the wait.
Napi::Value Table::PushWait(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    Values v = ValuesArg(info, 1);
    PushJob job(k, v, EndArg(info, 2), ArgU64(info, 3, "maxLen"));
    int64_t ms = static_cast<int64_t>(ArgU64(info, 4, "ms"));
    Db(env);
    return Queue(info, handle_, std::move(job), ms);
}

// _pop(key, end): as OneElement says.  Never waits.
Napi::Value Table::Pop(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    PopJob job(k, EndArg(info, 1));
    return OneElement(env, Db(env), job, scratch_, scratchCap_);
}

// _popMany(key, end, max): [Buffer, length, ...] of up to max elements.
Napi::Value Table::PopMany(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    PopJob job(k, EndArg(info, 1));
    job.Many(ArgU64(info, 2, "count"));
    int rc = job.Run(Db(env), 0);
    if (rc && rc != -EAGAIN)
        ThrowShmkv(env, rc, job.Call());
    return Popped(env, job, rc);
}

// _move(src, dst, from, to): as OneElement says.  Never waits.
Napi::Value Table::Move(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg s(env, info[0]), d(env, info[1]);
    PopJob job(s, d, EndArg(info, 2), EndArg(info, 3));
    return OneElement(env, Db(env), job, scratch_, scratchCap_);
}

// _popWait(key, end, max, ms): a promise of [Buffer, length, ...] (no
// lengths: nothing came within ms).
Napi::Value Table::PopWait(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    PopJob job(k, EndArg(info, 1));
    job.Many(ArgU64(info, 2, "count"));
    int64_t ms = static_cast<int64_t>(ArgU64(info, 3, "ms"));
    Db(env);
    return Queue(info, handle_, std::move(job), ms);
}

// _moveWait(src, dst, from, to, ms): as _popWait, of one element.
Napi::Value Table::MoveWait(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg s(env, info[0]), d(env, info[1]);
    PopJob job(s, d, EndArg(info, 2), EndArg(info, 3));
    int64_t ms = static_cast<int64_t>(ArgU64(info, 4, "ms"));
    Db(env);
    return Queue(info, handle_, std::move(job), ms);
}

// llen(key): the number of elements, 0 when absent.
Napi::Value Table::Llen(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    uint64_t n;
    int rc = shmkv_llen(Db(env), k.data(), k.size(), &n);
    if (rc)
        ThrowShmkv(env, rc, "shmkv_llen");
    return Napi::Number::New(env, static_cast<double>(n));
}

namespace {

struct Range {
    std::string bytes;
    std::vector<size_t> lengths;
};

int CollectElement(void *ctx, const void *, size_t, const void *val, size_t vlen)
{
    Range *r = static_cast<Range *>(ctx);
    try {
        r->bytes.append(static_cast<const char *>(val), vlen);
        r->lengths.push_back(vlen);
    } catch (...) {
        return -ENOMEM;
    }
    return 0;
}

} // namespace

// _lrange(key, start, stop): [Buffer, length, ...]; no lengths when absent.
Napi::Value Table::Lrange(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    KeyArg k(env, info[0]);
    int64_t start = IndexArg(info, 1, "start"), stop = IndexArg(info, 2, "stop");
    Range r;
    int rc = shmkv_lrange(Db(env), k.data(), k.size(), start, stop, CollectElement, &r);
    if (rc && rc != -ENOENT)
        ThrowShmkv(env, rc, "shmkv_lrange");
    Napi::Array out = Napi::Array::New(env, r.lengths.size() + 1);
    out.Set(0u, Napi::Buffer<char>::Copy(env, r.bytes.data(), r.bytes.size()));
    for (size_t j = 0; j < r.lengths.size(); j++)
        out.Set(static_cast<uint32_t>(j + 1), Napi::Number::New(env, static_cast<double>(r.lengths[j])));
    return out;
}
