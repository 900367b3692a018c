// Iteration through the scan cursor: each _scan call copies one piece of
// the table (a shard) and hands it to JavaScript, which yields its pairs.
#include "errors.h"
#include "table.h"

#include <cerrno>
#include <string>
#include <vector>

namespace {

// One piece's pairs: their bytes end to end, and the length of each part.
struct Piece {
    std::string bytes;
    std::vector<size_t> lengths; // key, value, key, value, ...
};

// Called by the library with each pair; only copies (no JavaScript runs
// inside the library's call), and never lets an exception through C.
int Collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    Piece *p = static_cast<Piece *>(ctx);
    try {
        p->bytes.append(static_cast<const char *>(key), klen);
        p->bytes.append(static_cast<const char *>(val), vlen);
        p->lengths.push_back(klen);
        p->lengths.push_back(vlen);
    } catch (...) {
        return -ENOMEM;
    }
    return 0;
}

} // namespace

// _scan(cursor): [next cursor (0n after the last piece), bytes, length of
// the first key, of its value, of the second key, ...], the pairs end to
// end in one Buffer.
Napi::Value Table::Scan(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    uint64_t cursor = ArgBigU64(info, 0, "cursor");
    Piece piece;
    int rc = shmkv_scan(Db(env), &cursor, Collect, &piece);
    if (rc)
        ThrowShmkv(env, rc, "shmkv_scan");
    Napi::Array out = Napi::Array::New(env, piece.lengths.size() + 2);
    out.Set(0u, Napi::BigInt::New(env, cursor));
    out.Set(1u, Napi::Buffer<char>::Copy(env, piece.bytes.data(), piece.bytes.size()));
    for (size_t j = 0; j < piece.lengths.size(); j++)
        out.Set(static_cast<uint32_t>(j + 2), Napi::Number::New(env, static_cast<double>(piece.lengths[j])));
    return out;
}
