#include "bytes.h"

#include "errors.h"

#include <shmkv.h>

#include <string>

const BytesKind kKey = {"key", 1, SHMKV_KEY_MAX};
const BytesKind kValue = {"value", 0, SHMKV_VAL_MAX};

static void CheckSize(napi_env env, const BytesKind &kind, uint64_t n)
{
    if (n < kind.min || n > kind.max)
        ThrowRange(env, std::string("a ") + kind.what + " must be " + std::to_string(kind.min) + " to " +
                            std::to_string(kind.max) + " bytes; this one is " + std::to_string(n));
}

void Bytes::Read(napi_env env, napi_value v, const BytesKind &kind, char *scratch, size_t cap)
{
    napi_valuetype t;
    Check(env, napi_typeof(env, v, &t));
    if (t == napi_string)
        ReadString(env, v, kind, scratch, cap);
    else if (t != napi_object || !ReadView(env, v))
        ThrowType(env, std::string("a ") + kind.what + " must be a string, Buffer or Uint8Array; got " +
                           TypeName(env, v));
    CheckSize(env, kind, n_);
}

void Bytes::ReadString(napi_env env, napi_value v, const BytesKind &kind, char *scratch, size_t cap)
{
    size_t len;
    Check(env, napi_get_value_string_utf8(env, v, scratch, cap, &len));
    // Node-API stops before a character that does not fit whole, and none
    // takes over 4 bytes: with 4 bytes to spare the string was all there.
    if (len + 4 < cap) {
        p_ = scratch;
        n_ = len;
        return;
    }
    Check(env, napi_get_value_string_utf8(env, v, nullptr, 0, &len));
    CheckSize(env, kind, len);
    heap_.reset(new char[len + 1]);
    Check(env, napi_get_value_string_utf8(env, v, heap_.get(), len + 1, &n_));
    p_ = heap_.get();
}

static size_t ElementSize(napi_typedarray_type type)
{
    switch (type) {
    case napi_int16_array:
    case napi_uint16_array:
        return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
        return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
        return 8;
    default:
        return 1;
    }
}

// A TypedArray or DataView: its bytes, in place.  A detached one has none.
bool Bytes::ReadView(napi_env env, napi_value v)
{
    bool is;
    void *data = nullptr;
    Check(env, napi_is_typedarray(env, v, &is));
    if (is) {
        napi_typedarray_type type;
        size_t length;
        Check(env, napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr));
        n_ = length * ElementSize(type);
    } else {
        Check(env, napi_is_dataview(env, v, &is));
        if (!is)
            return false;
        Check(env, napi_get_dataview_info(env, v, &n_, &data, nullptr, nullptr));
    }
    if (data)
        p_ = static_cast<const char *>(data);
    else
        n_ = 0;
    return true;
}
