// Iteration through the scan cursor: each _scan call copies one piece of
// the table (a shard) and hands it to JavaScript, which yields its pairs;
// _scanLists does the same for the lists (shmkv_scan_all).
#include "errors.h"
#include "table.h"

#include <cerrno>
#include <cstring>
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

// shmkv_scan_all's callback: the lists only, each as its key, then its
// elements (their lengths: the number of them, then each one's).
int CollectList(void *ctx, int kind, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (kind != SHMKV_KIND_LIST)
        return 0;
    Piece *p = static_cast<Piece *>(ctx);
    const char *e = static_cast<const char *>(val);
    try {
        p->bytes.append(static_cast<const char *>(key), klen);
        p->lengths.push_back(klen);
        size_t count = p->lengths.size();
        p->lengths.push_back(0);
        for (size_t at = 0; at + 4 <= vlen; p->lengths[count]++) {
            uint32_t n;
            std::memcpy(&n, e + at, 4);
            p->bytes.append(e + at + 4, n);
            p->lengths.push_back(n);
            at += 4 + static_cast<size_t>(n);
        }
    } catch (...) {
        return -ENOMEM;
    }
    return 0;
}

// One call of scan (shmkv_scan or shmkv_scan_all) from the cursor
// argument, with collect: [next cursor, Buffer of the piece, its
// lengths...].  db() gives the handle once the cursor is converted.
template <class GetDb, class Fn>
Napi::Value ScanPiece(const Napi::CallbackInfo &info, GetDb db, int (*scan)(shmkv *, uint64_t *, Fn, void *),
                      Fn collect, const char *call)
{
    Napi::Env env = info.Env();
    uint64_t cursor = ArgBigU64(info, 0, "cursor");
    Piece piece;
    int rc = scan(db(env), &cursor, collect, &piece);
    if (rc)
        ThrowShmkv(env, rc, call);
    Napi::Array out = Napi::Array::New(env, piece.lengths.size() + 2);
    out.Set(0u, Napi::BigInt::New(env, cursor));
    out.Set(1u, Napi::Buffer<char>::Copy(env, piece.bytes.data(), piece.bytes.size()));
    for (size_t j = 0; j < piece.lengths.size(); j++)
        out.Set(static_cast<uint32_t>(j + 2), Napi::Number::New(env, static_cast<double>(piece.lengths[j])));
    return out;
}

} // namespace

// _scan(cursor): [next cursor (0n after the last piece), bytes, length of
// the first key, of its value, of the second key, ...], the pairs end to
// end in one Buffer.
Napi::Value Table::Scan(const Napi::CallbackInfo &info)
{
    return ScanPiece(info, [this](Napi::Env env) { return Db(env); }, shmkv_scan, Collect, "shmkv_scan");
}

// _scanLists(cursor): as _scan, for the lists of the next piece:
// [next cursor, bytes, length of the first list's key, its number of
// elements, the length of each, then the next list's key, ...].
Napi::Value Table::ScanLists(const Napi::CallbackInfo &info)
{
    return ScanPiece(info, [this](Napi::Env env) { return Db(env); }, shmkv_scan_all, CollectList,
                     "shmkv_scan_all");
}
