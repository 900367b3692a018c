/*
 * shmkv_near.hpp - the Redis near cache's reader for C++ (docs/near-cache.md):
 * shmkv::near_cache, RAII over the C helper of shmkv-redis.h
 * (libshmkv-redis.a, built where hiredis is; link -lshmkv-redis -lshmkv
 * -lhiredis -pthread).
 *
 *     shmkv::table t("app-cache");                          // the agent's table
 *     shmkv::near_cache near(t, "/run/redis/redis.sock");   // or "HOST:PORT"
 *     if (auto v = near.get("user:42")) use(*v);            // as Redis GET
 *
 * One table per host, kept consistent with Redis by one agent (`shmkv-redis
 * sync`), holds copies of Redis's string values for every process of the
 * host.  get() reads shared memory while the agent's heartbeat is there;
 * a miss fills the table from Redis under a lease, so that a write racing
 * with the fill never leaves a stale value.  Writes go to Redis with any
 * client (hiredis, say): the agent learns of them from Redis.
 *
 * Errors as in shmkv.hpp: std::system_error of shmkv::category() (EIO:
 * Redis unreachable or answering an error, whose text what() and
 * last_error() give; EMEDIUMTYPE: a key of another type than a string;
 * EINVAL: an empty key, an address that does not parse, a negative
 * duration), or the overload's std::error_code.  A key Redis does not have
 * is no error: std::nullopt.
 *
 * A near_cache owns Redis connections: one thread at a time uses it (give
 * each thread its own; they may share the table), and it must not cross
 * fork().  Ignore SIGPIPE in a process that uses it (hiredis writes with
 * write(2)).
 */
#ifndef SHMKV_NEAR_HPP
#define SHMKV_NEAR_HPP

#include "shmkv.hpp"

// Beside the rest of the C API, in shmkv::c (shmkv.h, which it includes,
// is already there).
namespace shmkv::c {
#include "shmkv-redis.h"
} // namespace shmkv::c

namespace shmkv {

/** How a near_cache reads (shmkv_redis_options); 0 ms: the C helper's default. */
struct near_options {
    bool cluster = false;                  // the address is any node of a Redis Cluster
    std::chrono::milliseconds timeout{0};  // connecting and each reply (default 1000)
    std::chrono::milliseconds lease{0};    // a fill's lease: a Redis round trip (default 1000)
    std::chrono::milliseconds max_ttl{0};  // longest lifetime of a fill (default: no cap of its own)
    std::chrono::milliseconds wait{0};     // wait for another process's fill (default 5)
};

/** Where get() found a value. */
enum class near_source {
    table = SHMKV_REDIS_FROM_TABLE,  // shared memory: a hit
    filled = SHMKV_REDIS_FILLED,     // Redis, stored for every process
    redis = SHMKV_REDIS_FROM_REDIS,  // Redis, not stored (no agent, untracked key, a write won the lease...)
};

/** What the agent publishes (shmkv_redis_agent_info). */
using near_agent = shmkv_redis_agent_info;

class near_cache {
public:
    near_cache() noexcept = default;

    /** A reader of t (kept open by the caller while this lives) filling
     *  from the Redis server at addr ("HOST:PORT", "unix:PATH" or "/PATH";
     *  with cluster, nodes separated by commas). */
    near_cache(const table &t, const std::string &addr, const near_options &o = {})
    {
        std::error_code ec;
        open(t, addr, o, ec);
        detail::throw_if(ec, ("shmkv near_cache " + addr).c_str());
    }
    near_cache(const table &t, const std::string &addr, const near_options &o, std::error_code &ec) noexcept
    {
        open(t, addr, o, ec);
    }

    near_cache(near_cache &&other) noexcept : r_(std::exchange(other.r_, nullptr)) {}
    near_cache &operator=(near_cache &&other) noexcept
    {
        if (this != &other) {
            close();
            r_ = std::exchange(other.r_, nullptr);
        }
        return *this;
    }
    near_cache(const near_cache &) = delete;
    near_cache &operator=(const near_cache &) = delete;
    ~near_cache() { close(); }

    /** Close the Redis connections (the table stays open). */
    void close() noexcept
    {
        shmkv_redis_close(r_);
        r_ = nullptr;
    }
    explicit operator bool() const noexcept { return r_ != nullptr; }
    shmkv_redis *native_handle() const noexcept { return r_; }

    /** Redis's value of key, like GET: std::nullopt when Redis has no such
     *  key.  source (may be null) says where it came from. */
    std::optional<std::string> get(bytes_view key, std::error_code &ec, near_source *source = nullptr)
    {
        void *val = nullptr;
        std::size_t vlen = 0;
        int from = SHMKV_REDIS_FROM_REDIS;
        int rc = shmkv_redis_get(r_, key.data(), key.size(), &val, &vlen, &from);
        ec = rc == -ENOENT ? std::error_code() : make_error_code(rc);
        if (source)
            *source = static_cast<near_source>(from);
        if (rc)
            return std::nullopt;
        std::unique_ptr<void, decltype(&std::free)> owned(val, &std::free);
        return std::string(static_cast<const char *>(val), vlen);
    }
    std::optional<std::string> get(bytes_view key, near_source *source = nullptr)
    {
        std::error_code ec;
        auto v = get(key, ec, source);
        if (ec)
            throw std::system_error(ec, "shmkv near_cache get" + detail_of(last_error()));
        return v;
    }

    /** The text of the last EIO (or failure to store a fill); "" if none. */
    std::string last_error() const { return r_ ? shmkv_redis_error(r_) : ""; }

    /** The agent keeping t consistent now, or std::nullopt when there is
     *  none (readers then read Redis).  ec: EBADMSG for a record this
     *  library does not understand. */
    static std::optional<near_agent> agent(const table &t, std::error_code &ec) noexcept
    {
        near_agent info{};
        int rc = shmkv_redis_agent(t.native_handle(), &info);
        ec = rc == -ENOENT ? std::error_code() : make_error_code(rc);
        return rc == 0 ? std::optional<near_agent>(info) : std::nullopt;
    }
    static std::optional<near_agent> agent(const table &t)
    {
        return detail::or_throw("shmkv near_cache agent", [&](std::error_code &ec) { return agent(t, ec); });
    }

private:
    static std::string detail_of(const std::string &text) { return text.empty() ? text : " (" + text + ")"; }

    void open(const table &t, const std::string &addr, const near_options &o, std::error_code &ec) noexcept
    {
        const std::chrono::milliseconds durations[] = {o.timeout, o.lease, o.max_ttl, o.wait};
        for (auto d : durations)
            if (d.count() < 0) {
                ec = make_error_code(-EINVAL);
                return;
            }
        shmkv_redis_options c{};
        c.flags = detail::flag(o.cluster, SHMKV_REDIS_CLUSTER);
        c.timeout_ms = detail::ms(o.timeout);
        c.lease_ms = detail::ms(o.lease);
        c.ttl_ms = detail::ms(o.max_ttl);
        c.wait_ms = detail::ms(o.wait);
        detail::ok(shmkv_redis_open(t.native_handle(), addr.c_str(), &c, &r_), ec);
    }

    shmkv_redis *r_ = nullptr;
};

} // namespace shmkv

#endif
