// Iteration through the scan cursor: each _scan call copies one piece of
// the table (a shard) and hands it to JavaScript, which yields its pairs.
#include "errors.h"
#include "table.h"

#include <cerrno>
#include <new>
#include <string>
#include <vector>

namespace {

// One piece's pairs: their bytes end to end, and where each one ends.
struct Piece {
    std::string bytes;
    std::vector<size_t> ends; // key end, value end, key end, ...
};

// Called by the library with each pair; only copies (no JavaScript runs
// inside the library's call), and never lets an exception through C.
int Collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    Piece *p = static_cast<Piece *>(ctx);
    try {
        p->bytes.append(static_cast<const char *>(key), klen);
        p->ends.push_back(p->bytes.size());
        p->bytes.append(static_cast<const char *>(val), vlen);
        p->ends.push_back(p->bytes.size());
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    }
    return 0;
}

} // namespace

// _scan(cursor): [next cursor (0n after the last piece), k0, v0, k1, v1, ...]
// with Buffers for keys and values.
Napi::Value Table::Scan(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    uint64_t cursor = ArgBigU64(info, 0, "cursor");
    Piece piece;
    int rc = shmkv_scan(Db(env), &cursor, Collect, &piece);
    if (rc)
        ThrowShmkv(env, rc, "shmkv_scan");
    Napi::Array out = Napi::Array::New(env, piece.ends.size() + 1);
    out.Set(0u, Napi::BigInt::New(env, cursor));
    size_t start = 0;
    for (size_t j = 0; j < piece.ends.size(); j++) {
        size_t end = piece.ends[j];
        out.Set(static_cast<uint32_t>(j + 1), Napi::Buffer<char>::Copy(env, piece.bytes.data() + start, end - start));
        start = end;
    }
    return out;
}
