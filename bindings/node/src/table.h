// NativeTable: one shmkv handle, wrapped for JavaScript.  index.js extends
// it into Table, which checks options, iterates and runs getOrSet in
// JavaScript; the calls that must be fast (getString, has, _put, ...) are
// these methods themselves, with positional arguments.  Results holding
// many values (_getMany, _scan) come as one Buffer and the lengths of its
// parts, which JavaScript cuts into views: a Buffer made here costs a
// microsecond or more, a view a few dozen nanoseconds.
//
// Every method converts its arguments first and takes the handle last
// (Db()), just before the library call: converting may run user code (an
// array's getters), which could close the table.
#ifndef SHMKV_NODE_TABLE_H
#define SHMKV_NODE_TABLE_H

#include <napi.h>
#include <shmkv.h>

#include <atomic>
#include <memory>
#include <vector>

// The C handle, shared with the waits that run on the thread pool
// (lists.cc): close() and the finalizer mark it closed, which ends those
// waits within a slice of theirs, and the last holder closes it.
struct Handle {
    explicit Handle(shmkv *d) : db(d) {}
    ~Handle() { shmkv_close(db); }
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    shmkv *const db;
    std::atomic<bool> closed{false};
};

class Table : public Napi::ObjectWrap<Table> {
  public:
    static Napi::Function Define(Napi::Env env);
    explicit Table(const Napi::CallbackInfo &info);
    ~Table() override;

  private:
    shmkv *Db(Napi::Env env) const; // throws EBADF once closed
    void Release();                 // close (the handle lives on while waits hold it)

    // table.cc: life, and the figures
    static Napi::Value Unlink(const Napi::CallbackInfo &info);
    Napi::Value Close(const Napi::CallbackInfo &info);
    Napi::Value Noop(const Napi::CallbackInfo &info);
    Napi::Value Size(const Napi::CallbackInfo &info);
    Napi::Value Stats(const Napi::CallbackInfo &info);
    Napi::Value CheckTable(const Napi::CallbackInfo &info);
    // reads.cc
    Napi::Value GetToScratch(const Napi::CallbackInfo &info);
    Napi::Value GetString(const Napi::CallbackInfo &info);
    Napi::Value Has(const Napi::CallbackInfo &info);
    Napi::Value Ttl(const Napi::CallbackInfo &info);
    Napi::Value GetMany(const Napi::CallbackInfo &info);
    Napi::Value Lease(const Napi::CallbackInfo &info);
    // writes.cc
    Napi::Value Put(const Napi::CallbackInfo &info);
    Napi::Value PutLeased(const Napi::CallbackInfo &info);
    Napi::Value PutMany(const Napi::CallbackInfo &info);
    Napi::Value Delete(const Napi::CallbackInfo &info);
    Napi::Value Take(const Napi::CallbackInfo &info);
    Napi::Value Incr(const Napi::CallbackInfo &info);
    Napi::Value Append(const Napi::CallbackInfo &info);
    Napi::Value Expire(const Napi::CallbackInfo &info);
    Napi::Value Clear(const Napi::CallbackInfo &info);
    // lists.cc
    Napi::Value Push(const Napi::CallbackInfo &info);
    Napi::Value PushMany(const Napi::CallbackInfo &info);
    Napi::Value Pop(const Napi::CallbackInfo &info);
    Napi::Value PopMany(const Napi::CallbackInfo &info);
    Napi::Value Move(const Napi::CallbackInfo &info);
    Napi::Value PopWait(const Napi::CallbackInfo &info);
    Napi::Value MoveWait(const Napi::CallbackInfo &info);
    Napi::Value PushWait(const Napi::CallbackInfo &info);
    Napi::Value Llen(const Napi::CallbackInfo &info);
    Napi::Value Lrange(const Napi::CallbackInfo &info);
    // scan.cc
    Napi::Value Scan(const Napi::CallbackInfo &info);
    Napi::Value ScanLists(const Napi::CallbackInfo &info);

    shmkv *db_ = nullptr;           // handle_->db, for the calls made here
    std::shared_ptr<Handle> handle_;
    // The scratch Buffer of index.js (one per thread, given to each of its
    // tables): _get copies a value there and JavaScript copies it out into
    // a pooled Buffer, several times cheaper than a Buffer made here for
    // each value.  Held by a reference, so it lives as long as the table.
    Napi::Reference<Napi::Buffer<char>> scratchRef_;
    char *scratch_ = nullptr;
    size_t scratchCap_ = 0;
};

// Arguments that index.js has checked already; these only make sure that
// a direct caller of NativeTable cannot pass something meaningless.
uint64_t ArgU64(const Napi::CallbackInfo &info, size_t i, const char *what);
uint64_t ArgBigU64(const Napi::CallbackInfo &info, size_t i, const char *what);
// The elements of an array argument, all read before any is converted
// (reading may run getters).
std::vector<napi_value> Elements(const Napi::CallbackInfo &info, size_t i, const char *what);

#endif
