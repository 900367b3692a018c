// Errors as Node's own are: a failed shmkv call becomes an Error with code
// (the errno name, 'ENOENT'), errno (negative, as libuv's) and syscall (the
// C function), and path for calls on a table's name; bad arguments become a
// TypeError or RangeError with Node's codes (ERR_INVALID_ARG_TYPE,
// ERR_OUT_OF_RANGE).  Each function throws a C++ exception that
// node-addon-api hands to JavaScript when the method returns.
#ifndef SHMKV_NODE_ERRORS_H
#define SHMKV_NODE_ERRORS_H

#include <napi.h>
#include <string>

[[noreturn]] void ThrowShmkv(Napi::Env env, int rc, const char *call, const char *path = nullptr);
[[noreturn]] void ThrowClosed(Napi::Env env); // EBADF: used after close()
// The errors those throw, for a promise to reject with.
Napi::Error ShmkvError(Napi::Env env, int rc, const char *call, const char *path = nullptr);
Napi::Error ClosedError(Napi::Env env);
[[noreturn]] void ThrowType(Napi::Env env, const std::string &msg);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string &msg);

// Throws the pending JavaScript exception (or Node-API's last error) when
// a raw Node-API call failed.
inline void Check(napi_env env, napi_status status)
{
    if (status != napi_ok)
        throw Napi::Error::New(env);
}

// "number", "object", ... for messages about a wrong type.
const char *TypeName(napi_env env, napi_value v);

#endif
