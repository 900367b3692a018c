// The bytes of a key or value argument.  A string is encoded as UTF-8, into
// the object's own buffer when short; a Buffer, Uint8Array, any other
// TypedArray or a DataView is used in place, without a copy.  Converting
// runs no JavaScript, so nothing can close the table or detach a buffer
// between the conversion and the library call that uses the bytes.
#ifndef SHMKV_NODE_BYTES_H
#define SHMKV_NODE_BYTES_H

#include <napi.h>

#include <cstdint>
#include <memory>

// What an argument is, for its checks and messages.
struct BytesKind {
    const char *what; // "key", "value"
    size_t min;       // fewest bytes accepted
    uint64_t max;     // most bytes accepted
};
extern const BytesKind kKey;   // 1 to SHMKV_KEY_MAX bytes
extern const BytesKind kValue; // 0 to SHMKV_VAL_MAX bytes

class Bytes {
  public:
    Bytes() = default;
    Bytes(const Bytes &) = delete; // data() may point into the object
    Bytes &operator=(const Bytes &) = delete;

    const char *data() const { return p_; }
    size_t size() const { return n_; }

  protected:
    // Throws TypeError for another type, RangeError for a size out of
    // kind's bounds.  A short string goes to scratch (cap bytes).
    void Read(napi_env env, napi_value v, const BytesKind &kind, char *scratch, size_t cap);

  private:
    void ReadString(napi_env env, napi_value v, const BytesKind &kind, char *scratch, size_t cap);
    bool ReadView(napi_env env, napi_value v);

    const char *p_ = "";
    size_t n_ = 0;
    std::unique_ptr<char[]> heap_;
};

// Bytes with N bytes of room for a string: a call's key or value on the
// stack (N large), or the items of a batch (N small).
template <size_t N> class InlineBytes : public Bytes {
  public:
    InlineBytes() = default;
    InlineBytes(napi_env env, napi_value v, const BytesKind &kind) { Set(env, v, kind); }
    void Set(napi_env env, napi_value v, const BytesKind &kind) { Read(env, v, kind, buf_, N); }

  private:
    char buf_[N];
};

struct KeyArg : InlineBytes<512> {
    KeyArg(napi_env env, napi_value v) : InlineBytes(env, v, kKey) {}
};
struct ValueArg : InlineBytes<1024> {
    ValueArg(napi_env env, napi_value v) : InlineBytes(env, v, kValue) {}
};
using BatchBytes = InlineBytes<48>;

#endif
