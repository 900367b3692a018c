/*
 * shmkv.hpp - the C++17 interface to shmkv: one header over the C API of
 * shmkv.h, whose contract (atomicity, limits, processes, expiry) holds
 * unchanged; link with -lshmkv as for C.
 *
 *     shmkv::table t("sessions");                 // created if needed
 *     t.set("user:1", "ann");
 *     if (auto v = t.get("user:1")) use(*v);      // std::optional<std::string>
 *     for (auto& [key, value] : t) ...            // every pair (scan cursor)
 *     t.push("jobs", "j1");                       // a list, a queue for every process
 *     auto job = t.pop("jobs", shmkv::at::head, 5s); // waits up to 5 s for a push
 *
 * Keys and values are shmkv::bytes_view: from std::string_view, std::string,
 * a C string, (pointer, size), or any contiguous container of char,
 * unsigned char or std::byte (std::vector, std::array).  Lifetimes are
 * std::chrono::milliseconds, 0 for none.
 *
 * Errors: the library's negative errno becomes a std::error_code of
 * shmkv::category() (its message is shmkv_strerror's text; it compares
 * equal to the std::errc of the same errno).  Every call that can fail
 * throws std::system_error, and has an overload taking std::error_code&
 * that throws nothing of its own instead (std::bad_alloc aside).  An
 * absent key is not an error: get returns std::nullopt, erase false; nor
 * is an empty list: pop returns std::nullopt.
 *
 * A table may be used by any number of threads at once, and stays valid
 * in both processes after fork(); only moving, closing and destroying it
 * must not race with its use.
 */
#ifndef SHMKV_HPP
#define SHMKV_HPP

// The C API's handle type is called shmkv, like this namespace, and C++
// allows no type and namespace of one name side by side; so here the C
// API lives in namespace shmkv::c (shmkv::c::shmkv_get, ...: the same C
// functions), and a C++ file includes this header instead of shmkv.h.
#ifdef SHMKV_H
#error "in C++, include <shmkv.hpp> only: it declares the C API as shmkv::c::*"
#endif
// What shmkv.h includes, first, so that it stays out of the namespace.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
namespace shmkv::c {
#include "shmkv.h"
} // namespace shmkv::c

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace shmkv {

// The C API's names are also shmkv::shmkv_get, shmkv::SHMKV_CREATE, ...
using namespace shmkv::c;

// ---- errors ----------------------------------------------------------------

class error_category_impl final : public std::error_category {
public:
    const char *name() const noexcept override { return "shmkv"; }
    std::string message(int ev) const override { return shmkv_strerror(-ev); }
    // so that ec == std::errc::no_such_file_or_directory works
    std::error_condition default_error_condition(int ev) const noexcept override
    {
        return std::generic_category().default_error_condition(ev);
    }
};

/** The category of shmkv's error codes (value: the positive errno). */
inline const std::error_category &category() noexcept
{
    static const error_category_impl c;
    return c;
}

/** The error code of a C API result (0: none). */
inline std::error_code make_error_code(int rc) noexcept
{
    return rc ? std::error_code(-rc, category()) : std::error_code();
}

namespace detail {

inline void throw_if(const std::error_code &ec, const char *what)
{
    if (ec)
        throw std::system_error(ec, what);
}

// the throwing form of a call with an error_code& form: f(ec)'s result,
// or std::system_error(ec, what)
template <class F>
auto or_throw(const char *what, F &&f)
{
    std::error_code ec;
    auto r = f(ec);
    throw_if(ec, what);
    return r;
}

// true if rc is 0; sets ec either way
inline bool ok(int rc, std::error_code &ec) noexcept
{
    ec = make_error_code(rc);
    return rc == 0;
}

// a contiguous container of bytes (not a C array: "abc" is a C string)
template <class T>
using data_t = decltype(std::data(std::declval<const T &>()));
template <class E>
constexpr bool is_byte = std::is_same_v<E, char> || std::is_same_v<E, unsigned char> ||
                         std::is_same_v<E, signed char> || std::is_same_v<E, std::byte>;
template <class T, class = void>
struct is_byte_range : std::false_type {};
template <class T>
struct is_byte_range<T, std::void_t<data_t<T>, decltype(std::size(std::declval<const T &>()))>>
    : std::bool_constant<!std::is_array_v<T> &&
                         is_byte<std::remove_cv_t<std::remove_pointer_t<data_t<T>>>>> {};

constexpr unsigned flag(bool on, unsigned f) noexcept
{
    return on ? f : 0u;
}

inline uint64_t ms(std::chrono::milliseconds d) noexcept
{
    // a negative lifetime is refused by the library as too long (-EINVAL)
    return d.count() < 0 ? UINT64_MAX : static_cast<uint64_t>(d.count());
}

} // namespace detail

// ---- views and options ---------------------------------------------------------

/** A key or value: bytes someone else owns, for the length of a call. */
class bytes_view {
public:
    constexpr bytes_view() noexcept = default;
    constexpr bytes_view(const void *data, std::size_t size) noexcept : data_(data), size_(size) {}
    constexpr bytes_view(std::string_view s) noexcept : data_(s.data()), size_(s.size()) {}
    bytes_view(const char *s) noexcept : bytes_view(std::string_view(s)) {}
    template <class C, std::enable_if_t<detail::is_byte_range<C>::value, int> = 0>
    constexpr bytes_view(const C &c) noexcept : data_(std::data(c)), size_(std::size(c)) {}

    constexpr const void *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    std::string_view str() const noexcept { return {static_cast<const char *>(data_), size_}; }

private:
    const void *data_ = "";
    std::size_t size_ = 0;
};

/** How to open a table (shmkv_options). */
struct options {
    bool create = true;           // create it if it does not exist
    bool exclusive = false;       // with create: fail (EEXIST) if it exists
    bool readonly = false;        // attach read-only: writes fail with EROFS
    bool cache = false;           // a new table is a cache (needs max_bytes)
    bool stats = false;           // a new table counts hits and misses
    unsigned mode = 0600;         // permission bits of a new file
    std::uint64_t max_bytes = 0;  // most memory the table may use; 0: no limit
    std::uint64_t expected_keys = 0; // sizing hint for the index
};

/** A write under conditions (shmkv_put_ex). */
struct write_options {
    std::chrono::milliseconds ttl{0};     // lifetime of the pair; 0: none
    bool if_absent = false;               // only if the key is absent
    bool if_present = false;              // only if it is present
    std::optional<bytes_view> if_equal;   // only if its value equals this (CAS)
    bool keep_ttl = false;                // keep the key's lifetime instead of ttl
};

/** What table::stats() returns (shmkv_stats of shmkv.h). */
using stats = shmkv_stats;


} // namespace shmkv

// The lists and queues of shmkv::table: detail::list_calls, a base of it.
#include "shmkv_lists.hpp"

namespace shmkv {

// ---- the table ------------------------------------------------------------------

class table : public detail::list_calls<table> {
public:
    using value_type = std::pair<std::string, std::string>;
    class iterator;
    struct sentinel {};

    table() noexcept = default;

    /** Open the table called name (shmkv_open's rules for names). */
    explicit table(const std::string &name, const options &o = {})
    {
        std::error_code ec;
        open(name, o, ec);
        if (ec)
            throw std::system_error(ec, "shmkv open " + name);
    }
    table(const std::string &name, const options &o, std::error_code &ec) noexcept
    {
        open(name, o, ec);
    }

    table(table &&other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
    table &operator=(table &&other) noexcept
    {
        if (this != &other) {
            close();
            db_ = std::exchange(other.db_, nullptr);
        }
        return *this;
    }
    table(const table &) = delete;
    table &operator=(const table &) = delete;
    ~table() { close(); }

    /** Detach; the table itself stays (see unlink). */
    void close() noexcept
    {
        shmkv_close(db_);
        db_ = nullptr;
    }
    explicit operator bool() const noexcept { return db_ != nullptr; }
    shmkv *native_handle() const noexcept { return db_; }

    /** Remove a table's file; false (ec set) on failure. */
    static bool unlink(const std::string &name, std::error_code &ec) noexcept
    {
        return detail::ok(shmkv_unlink(name.c_str()), ec);
    }
    static void unlink(const std::string &name)
    {
        std::error_code ec;
        if (!unlink(name, ec))
            throw std::system_error(ec, "shmkv unlink " + name);
    }

    // ---- reads --------------------------------------------------------------

    /** The value of key, or std::nullopt if it is absent. */
    std::optional<std::string> get(bytes_view key, std::error_code &ec) const
    {
        char small[256];
        std::size_t vlen;
        int rc = shmkv_get(db_, key.data(), key.size(), small, sizeof small, &vlen);
        if (rc == 0) {
            ec.clear();
            return std::string(small, vlen);
        }
        std::string s;
        if (rc == -ENOBUFS && get_into(key, s, ec))
            return s;
        if (rc != -ENOBUFS)
            ec = rc == -ENOENT ? std::error_code() : make_error_code(rc);
        return std::nullopt;
    }
    std::optional<std::string> get(bytes_view key) const
    {
        return detail::or_throw("shmkv get", [&](std::error_code &ec) { return get(key, ec); });
    }

    /** Read key's value into buf (a std::string or a vector of bytes),
     *  reusing its memory; false if absent (buf is then empty). */
    template <class Buffer>
    bool get_into(bytes_view key, Buffer &buf, std::error_code &ec) const
    {
        static_assert(sizeof(*std::data(buf)) == 1, "get_into needs a buffer of bytes");
        for (;;) {
            buf.resize(buf.capacity());
            std::size_t vlen;
            int rc = shmkv_get(db_, key.data(), key.size(), std::data(buf), buf.size(), &vlen);
            if (rc == -ENOBUFS) {
                buf.resize(vlen);
                continue;
            }
            buf.resize(rc == 0 ? vlen : 0);
            ec = rc == -ENOENT ? std::error_code() : make_error_code(rc);
            return rc == 0;
        }
    }
    template <class Buffer>
    bool get_into(bytes_view key, Buffer &buf) const
    {
        return detail::or_throw("shmkv get",
                                [&](std::error_code &ec) { return get_into(key, buf, ec); });
    }

    /** Whether key holds a pair or a list. */
    bool contains(bytes_view key, std::error_code &ec) const noexcept
    {
        std::size_t vlen;
        int rc = shmkv_get(db_, key.data(), key.size(), nullptr, 0, &vlen);
        bool there = rc == 0 || rc == -ENOBUFS || rc == -EMEDIUMTYPE;
        ec = there || rc == -ENOENT ? std::error_code() : make_error_code(rc);
        return there;
    }
    bool contains(bytes_view key) const
    {
        return detail::or_throw("shmkv contains",
                                [&](std::error_code &ec) { return contains(key, ec); });
    }

    /** The values of keys (any range of key-likes), in order; nullopt for
     *  those absent.  Looked up in batches (shmkv_get_many). */
    template <class Keys>
    std::vector<std::optional<std::string>> get_many(const Keys &keys, std::error_code &ec) const
    {
        std::vector<std::optional<std::string>> out;
        std::vector<bytes_view> batch;
        ec.clear();
        for (const auto &k : keys) {
            batch.emplace_back(k);
            if (batch.size() == batch_size && !get_batch(batch, out, ec))
                return out;
        }
        get_batch(batch, out, ec);
        return out;
    }
    template <class Keys>
    std::vector<std::optional<std::string>> get_many(const Keys &keys) const
    {
        return detail::or_throw("shmkv get_many",
                                [&](std::error_code &ec) { return get_many(keys, ec); });
    }

    /** Time key has left: 0 if it never expires, nullopt if absent. */
    std::optional<std::chrono::milliseconds> ttl(bytes_view key, std::error_code &ec) const noexcept
    {
        uint64_t left;
        int rc = shmkv_ttl(db_, key.data(), key.size(), &left);
        ec = rc == -ENOENT ? std::error_code() : make_error_code(rc);
        if (rc)
            return std::nullopt;
        return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(left));
    }
    std::optional<std::chrono::milliseconds> ttl(bytes_view key) const
    {
        return detail::or_throw("shmkv ttl", [&](std::error_code &ec) { return ttl(key, ec); });
    }

    /** Number of keys: live pairs, and lists. */
    std::uint64_t size() const noexcept { return shmkv_count(db_); }

    shmkv_stats stats(std::error_code &ec) const noexcept
    {
        shmkv_stats st{};
        detail::ok(shmkv_stat(db_, &st), ec);
        return st;
    }
    shmkv_stats stats() const
    {
        return detail::or_throw("shmkv stats", [&](std::error_code &ec) { return stats(ec); });
    }

    /** Verify the table's file: no lines if sound, else one per problem
     *  (ec is then std::errc::bad_message). */
    std::vector<std::string> check(std::error_code &ec) const
    {
        char *text = nullptr;
        std::size_t len = 0;
        std::FILE *report = open_memstream(&text, &len);
        if (!report) {
            ec = std::error_code(ENOMEM, category());
            return {};
        }
        detail::ok(shmkv_check(db_, report), ec);
        std::fclose(report);
        std::vector<std::string> lines;
        for (std::string_view rest(text, len); !rest.empty();) {
            std::size_t nl = rest.find('\n');
            lines.emplace_back(rest.substr(0, nl));
            rest.remove_prefix(nl == rest.npos ? rest.size() : nl + 1);
        }
        std::free(text);
        return lines;
    }
    std::vector<std::string> check() const
    {
        std::error_code ec;
        auto lines = check(ec);
        if (ec && ec != std::errc::bad_message)
            throw std::system_error(ec, "shmkv check");
        return lines;
    }

    // ---- writes -------------------------------------------------------------

    /** Store value at key, with a lifetime (0: none). */
    bool set(bytes_view key, bytes_view value, std::chrono::milliseconds ttl,
             std::error_code &ec) noexcept
    {
        return detail::ok(shmkv_put_ttl(db_, key.data(), key.size(), value.data(), value.size(),
                                        detail::ms(ttl)), ec);
    }
    bool set(bytes_view key, bytes_view value, std::error_code &ec) noexcept
    {
        return set(key, value, std::chrono::milliseconds(0), ec);
    }
    void set(bytes_view key, bytes_view value, std::chrono::milliseconds ttl = {})
    {
        detail::or_throw("shmkv set",
                         [&](std::error_code &ec) { return set(key, value, ttl, ec); });
    }

    /** Store value if the conditions of w hold: false (ec clear) if not. */
    bool set(bytes_view key, bytes_view value, const write_options &w, std::error_code &ec) noexcept
    {
        shmkv_put_opts o{};
        o.flags = detail::flag(w.if_absent, SHMKV_IF_ABSENT) |
                  detail::flag(w.if_present, SHMKV_IF_PRESENT) |
                  detail::flag(w.if_equal.has_value(), SHMKV_IF_EQUAL) |
                  detail::flag(w.keep_ttl, SHMKV_KEEP_TTL);
        o.ttl_ms = detail::ms(w.ttl);
        if (w.if_equal) {
            o.expected = w.if_equal->data();
            o.elen = w.if_equal->size();
        }
        int rc = shmkv_put_ex(db_, key.data(), key.size(), value.data(), value.size(), &o);
        bool conditional = o.flags & (SHMKV_IF_ABSENT | SHMKV_IF_PRESENT | SHMKV_IF_EQUAL);
        if (conditional && (rc == -EEXIST || rc == -ENOENT || rc == -ECANCELED))
            rc = 1;
        ec = make_error_code(rc > 0 ? 0 : rc);
        return rc == 0;
    }
    bool set(bytes_view key, bytes_view value, const write_options &w)
    {
        return detail::or_throw("shmkv set",
                                [&](std::error_code &ec) { return set(key, value, w, ec); });
    }

    /** Store only if key is absent; false if it is present. */
    bool add(bytes_view key, bytes_view value, std::chrono::milliseconds ttl,
             std::error_code &ec) noexcept
    {
        return set(key, value, only_if(&write_options::if_absent, ttl), ec);
    }
    bool add(bytes_view key, bytes_view value, std::chrono::milliseconds ttl = {})
    {
        return detail::or_throw("shmkv add",
                                [&](std::error_code &ec) { return add(key, value, ttl, ec); });
    }

    /** Store only if key is present; false if it is absent. */
    bool replace(bytes_view key, bytes_view value, std::chrono::milliseconds ttl,
                 std::error_code &ec) noexcept
    {
        return set(key, value, only_if(&write_options::if_present, ttl), ec);
    }
    bool replace(bytes_view key, bytes_view value, std::chrono::milliseconds ttl = {})
    {
        return detail::or_throw("shmkv replace",
                                [&](std::error_code &ec) { return replace(key, value, ttl, ec); });
    }

    /** Add delta to the decimal integer at key (absent: 0, created with
     *  ttl); the new value.  errc::argument_out_of_domain if the value is
     *  not an integer, errc::result_out_of_range on overflow. */
    std::int64_t incr(bytes_view key, std::int64_t delta, std::chrono::milliseconds ttl,
                      std::error_code &ec) noexcept
    {
        std::int64_t result = 0;
        detail::ok(shmkv_incr(db_, key.data(), key.size(), delta, detail::ms(ttl), &result), ec);
        return result;
    }
    std::int64_t incr(bytes_view key, std::int64_t delta = 1, std::chrono::milliseconds ttl = {})
    {
        return detail::or_throw("shmkv incr",
                                [&](std::error_code &ec) { return incr(key, delta, ttl, ec); });
    }

    bool append(bytes_view key, bytes_view value, std::error_code &ec) noexcept
    {
        return detail::ok(shmkv_append(db_, key.data(), key.size(), value.data(), value.size()),
                          ec);
    }
    void append(bytes_view key, bytes_view value)
    {
        detail::or_throw("shmkv append",
                         [&](std::error_code &ec) { return append(key, value, ec); });
    }

    /** Remove key and return its value, atomically; nullopt if absent. */
    std::optional<std::string> take(bytes_view key, std::error_code &ec)
    {
        void *val;
        std::size_t vlen;
        int rc = shmkv_take(db_, key.data(), key.size(), &val, &vlen);
        ec = rc == -ENOENT ? std::error_code() : make_error_code(rc);
        if (rc)
            return std::nullopt;
        std::unique_ptr<void, void (*)(void *)> owner(val, std::free);
        return std::string(static_cast<const char *>(val), vlen);
    }
    std::optional<std::string> take(bytes_view key)
    {
        return detail::or_throw("shmkv take", [&](std::error_code &ec) { return take(key, ec); });
    }

    /** Delete key; false if it was absent. */
    bool erase(bytes_view key, std::error_code &ec) noexcept
    {
        int rc = shmkv_del(db_, key.data(), key.size());
        ec = rc == -ENOENT ? std::error_code() : make_error_code(rc);
        return rc == 0;
    }
    bool erase(bytes_view key)
    {
        return detail::or_throw("shmkv erase", [&](std::error_code &ec) { return erase(key, ec); });
    }

    /** Give key a new lifetime (0: none); false if it is absent. */
    bool expire(bytes_view key, std::chrono::milliseconds ttl, std::error_code &ec) noexcept
    {
        int rc = shmkv_expire(db_, key.data(), key.size(), detail::ms(ttl));
        ec = rc == -ENOENT ? std::error_code() : make_error_code(rc);
        return rc == 0;
    }
    bool expire(bytes_view key, std::chrono::milliseconds ttl)
    {
        return detail::or_throw("shmkv expire",
                                [&](std::error_code &ec) { return expire(key, ttl, ec); });
    }

    bool clear(std::error_code &ec) noexcept { return detail::ok(shmkv_clear(db_), ec); }
    void clear()
    {
        detail::or_throw("shmkv clear", [&](std::error_code &ec) { return clear(ec); });
    }

    /** Store the pairs of a range (a map, a vector of pairs: anything with
     *  .first and .second that convert to bytes_view), each its own atomic
     *  write, in batches (shmkv_put_many).  Returns how many were stored;
     *  ec (or the exception) is the first failure's, after trying all. */
    template <class Pairs>
    std::size_t put_many(const Pairs &pairs, std::chrono::milliseconds ttl, std::error_code &ec)
    {
        std::vector<shmkv_pair> batch;
        for (const auto &p : pairs) {
            bytes_view k(p.first), v(p.second);
            batch.push_back(shmkv_pair{k.data(), k.size(), v.data(), v.size(), detail::ms(ttl), 0});
        }
        int stored = shmkv_put_many(db_, batch.data(), batch.size());
        ec = make_error_code(stored < 0 ? stored : 0);
        for (std::size_t i = 0; i < batch.size() && !ec; i++)
            ec = make_error_code(batch[i].rc);
        return stored < 0 ? 0 : static_cast<std::size_t>(stored);
    }
    template <class Pairs>
    std::size_t put_many(const Pairs &pairs, std::chrono::milliseconds ttl = {})
    {
        return detail::or_throw("shmkv put_many",
                                [&](std::error_code &ec) { return put_many(pairs, ttl, ec); });
    }

    // ---- iteration ------------------------------------------------------------
    // (pairs only: lists are not visited)
    //
    // Lists: push, push_many, pop, pop_many, move, llen, lrange (shmkv_lists.hpp).

    /** Call f(std::string_view key, std::string_view value) for each pair
     *  (shmkv_foreach: every pair present throughout, once); f returning
     *  false stops it.  An exception from f is passed on.  False on an
     *  error (ec). */
    template <class F>
    bool for_each(F &&f, std::error_code &ec) const
    {
        struct ctx {
            F &f;
            std::exception_ptr error;
        } c{f, nullptr};
        auto one = [](void *p, const void *k, size_t kl, const void *v, size_t vl) {
            auto &cx = *static_cast<ctx *>(p);
            try {
                return visit(cx.f, std::string_view(static_cast<const char *>(k), kl),
                             std::string_view(static_cast<const char *>(v), vl)) ? 0 : 1;
            } catch (...) {
                cx.error = std::current_exception();
                return 1;
            }
        };
        int rc = shmkv_foreach(db_, one, &c);
        if (c.error)
            std::rethrow_exception(c.error);
        return detail::ok(rc > 0 ? 0 : rc, ec);
    }
    template <class F>
    void for_each(F &&f) const
    {
        detail::or_throw("shmkv for_each", [&](std::error_code &ec) { return for_each(f, ec); });
    }

    /** Range-for over the pairs (std::pair<std::string, std::string>),
     *  through the scan cursor, a piece of the table at a time: safe while
     *  other processes write.  Errors throw std::system_error. */
    iterator begin() const;
    sentinel end() const noexcept { return {}; }

private:
    static constexpr std::size_t batch_size = 128;
    static constexpr std::size_t slot = 256;

    void open(const std::string &name, const options &o, std::error_code &ec) noexcept
    {
        shmkv_options c{};
        c.flags = detail::flag(o.create, SHMKV_CREATE) | detail::flag(o.exclusive, SHMKV_EXCL) |
                  detail::flag(o.readonly, SHMKV_RDONLY) | detail::flag(o.cache, SHMKV_CACHE) |
                  detail::flag(o.stats, SHMKV_STATS);
        c.mode = o.mode;
        c.max_bytes = o.max_bytes;
        c.expected_keys = o.expected_keys;
        detail::ok(shmkv_open(name.c_str(), &c, &db_), ec);
    }

    static write_options only_if(bool write_options::*condition,
                                 std::chrono::milliseconds ttl) noexcept
    {
        write_options w;
        w.ttl = ttl;
        w.*condition = true;
        return w;
    }

    template <class F>
    static bool visit(F &f, std::string_view k, std::string_view v)
    {
        if constexpr (std::is_same_v<decltype(f(k, v)), void>) {
            f(k, v);
            return true;
        } else {
            return static_cast<bool>(f(k, v));
        }
    }

    // one shmkv_get_many call; appends to out; false on an error
    bool get_batch(std::vector<bytes_view> &batch, std::vector<std::optional<std::string>> &out,
                   std::error_code &ec) const
    {
        std::vector<char> arena(batch.size() * slot);
        std::vector<shmkv_item> items(batch.size());
        for (std::size_t i = 0; i < batch.size(); i++)
            items[i] = shmkv_item{batch[i].data(), batch[i].size(), &arena[i * slot], slot, 0, 0};
        int rc = shmkv_get_many(db_, items.data(), items.size());
        if (rc < 0 && !detail::ok(rc, ec))
            return false;
        for (std::size_t i = 0; i < items.size(); i++) {
            rc = items[i].rc;
            if (rc == 0)
                out.emplace_back(
                    std::string(static_cast<const char *>(items[i].buf), items[i].vlen));
            else if (rc == -ENOBUFS)
                out.push_back(get(batch[i], ec)); // bigger than its slot: on its own
            else if (rc == -ENOENT)
                out.emplace_back();
            else
                ec = make_error_code(rc);
            if (ec)
                return false;
        }
        batch.clear();
        return true;
    }

    shmkv *db_ = nullptr;
};

/** An input iterator over a table's pairs, one piece (shard) at a time. */
class table::iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = table::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type *;
    using reference = const value_type &;

    iterator() = default;
    reference operator*() const { return piece_[i_]; }
    pointer operator->() const { return &piece_[i_]; }
    iterator &operator++()
    {
        if (++i_ == piece_.size())
            next_piece();
        return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator &it, sentinel) noexcept
    {
        return it.i_ == it.piece_.size();
    }
    friend bool operator!=(const iterator &it, sentinel s) noexcept { return !(it == s); }
    friend bool operator==(sentinel s, const iterator &it) noexcept { return it == s; }
    friend bool operator!=(sentinel s, const iterator &it) noexcept { return !(it == s); }

private:
    friend class table;
    explicit iterator(shmkv *db) : db_(db) { next_piece(); }

    // the next piece with pairs in it, or the end
    void next_piece()
    {
        piece_.clear();
        i_ = 0;
        while (piece_.empty() && !last_) {
            struct ctx {
                std::vector<value_type> &out;
                std::exception_ptr error;
            } c{piece_, nullptr};
            auto one = [](void *p, const void *k, size_t kl, const void *v, size_t vl) {
                auto &cx = *static_cast<ctx *>(p);
                try {
                    cx.out.emplace_back(std::string(static_cast<const char *>(k), kl),
                                        std::string(static_cast<const char *>(v), vl));
                    return 0;
                } catch (...) {
                    cx.error = std::current_exception();
                    return 1;
                }
            };
            int rc = shmkv_scan(db_, &cursor_, one, &c);
            if (c.error)
                std::rethrow_exception(c.error);
            detail::throw_if(make_error_code(rc), "shmkv scan");
            last_ = cursor_ == 0;
        }
    }

    shmkv *db_ = nullptr;
    uint64_t cursor_ = 0;
    bool last_ = false;
    std::vector<value_type> piece_;
    std::size_t i_ = 0;
};

inline table::iterator table::begin() const
{
    return iterator(db_);
}

} // namespace shmkv

#endif // SHMKV_HPP
