#include "errors.h"

#include <shmkv.h>

#include <cerrno>
#include <string.h>

// An Error with Node's code and errno for a negative errno value.  glibc
// names every errno (the library relies on glibc's strerrordesc_np for its
// messages already).
static Napi::Error ErrnoError(Napi::Env env, int rc, const std::string &what)
{
    const char *name = rc < 0 ? strerrorname_np(-rc) : nullptr;
    std::string code = name ? name : "UNKNOWN";
    Napi::Error e = Napi::Error::New(env, code + ": " + what);
    e.Set("errno", Napi::Number::New(env, rc));
    e.Set("code", Napi::String::New(env, code));
    return e;
}

Napi::Error ShmkvError(Napi::Env env, int rc, const char *call, const char *path)
{
    std::string what = std::string(shmkv_strerror(rc)) + ", " + call;
    if (path)
        what = what + " '" + path + "'";
    Napi::Error e = ErrnoError(env, rc, what);
    e.Set("syscall", Napi::String::New(env, call));
    if (path)
        e.Set("path", Napi::String::New(env, path));
    return e;
}

void ThrowShmkv(Napi::Env env, int rc, const char *call, const char *path)
{
    throw ShmkvError(env, rc, call, path);
}

Napi::Error ClosedError(Napi::Env env)
{
    return ErrnoError(env, -EBADF, "the table is closed");
}

void ThrowClosed(Napi::Env env)
{
    throw ClosedError(env);
}

void ThrowType(Napi::Env env, const std::string &msg)
{
    Napi::TypeError e = Napi::TypeError::New(env, msg);
    e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
    throw e;
}

void ThrowRange(Napi::Env env, const std::string &msg)
{
    Napi::RangeError e = Napi::RangeError::New(env, msg);
    e.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
    throw e;
}

const char *TypeName(napi_env env, napi_value v)
{
    static const char *const names[] = {"undefined", "null",   "boolean",  "number", "string",
                                        "symbol",    "object", "function", "external", "bigint"};
    napi_valuetype t;
    if (napi_typeof(env, v, &t) != napi_ok || t < 0 || t > napi_bigint)
        return "unknown";
    return names[t];
}
