/*
 * shmkv_lists.hpp - the lists and queues of shmkv::table (include/shmkv.h's
 * shmkv_push, shmkv_pop, ...): detail::list_calls, a base of the table.
 * shmkv.hpp includes it; include that, not this.
 *
 *     t.push("jobs", "j1");                             // at the tail
 *     auto job = t.pop("jobs", shmkv::at::head, 5s);     // waits up to 5 s
 *     t.push_bounded("jobs", "j2", 1000, 5s);            // waits for room
 *
 * A key holds a pair or a list; the table's pair calls on a list's key,
 * and these on a pair's, fail with EMEDIUMTYPE (no std::errc names it:
 * code().value() == EMEDIUMTYPE) and change nothing.  erase deletes a list whole; size counts it and
 * contains finds it, but iteration visits pairs only.  Caches hold no
 * lists (errc::operation_not_supported).  Timeouts: 0 does not wait,
 * shmkv::forever (or any negative one) waits for ever; a wait sleeps in
 * the kernel until a push from any process, and a signal handler that
 * runs meanwhile ends it with errc::interrupted.  Every call has an
 * error_code& form, as the table's others do.
 */
#ifndef SHMKV_LISTS_HPP
#define SHMKV_LISTS_HPP

#ifndef SHMKV_HPP
#error "include <shmkv.hpp>: it includes shmkv_lists.hpp"
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shmkv {

/** An end of a list. */
enum class at { head = SHMKV_HEAD, tail = SHMKV_TAIL };

/** A timeout of pop and move that waits for ever (as any negative one). */
inline constexpr std::chrono::milliseconds forever{-1};

namespace detail {

/** The list calls of Table (shmkv::table), which gives the handle. */
template <class Table>
class list_calls {
public:
    /** Add value at an end of the list at key (created if absent). */
    bool push(bytes_view key, bytes_view value, at end, std::error_code &ec) noexcept
    {
        return detail::ok(shmkv_push(db(), key.data(), key.size(), value.data(), value.size(),
                                     static_cast<int>(end)), ec);
    }
    void push(bytes_view key, bytes_view value, at end = at::tail)
    {
        detail::or_throw("shmkv push", [&](std::error_code &ec) { return push(key, value, end, ec); });
    }

    /** Push the values of a range (of anything bytes_view takes) in one
     *  step, all or nothing; at the head they end up reversed. */
    template <class Values>
    bool push_many(bytes_view key, const Values &values, at end, std::error_code &ec)
    {
        std::vector<shmkv_elem> elems = elems_of(values);
        return detail::ok(shmkv_push_many(db(), key.data(), key.size(), elems.data(), elems.size(),
                                          static_cast<int>(end)), ec);
    }
    template <class Values>
    void push_many(bytes_view key, const Values &values, at end = at::tail)
    {
        detail::or_throw("shmkv push_many",
                         [&](std::error_code &ec) { return push_many(key, values, end, ec); });
    }

    /** A bounded queue's push (shmkv_push_bounded): push the values of a
     *  range in one step only while the list would then hold at most
     *  max_len elements, waiting up to timeout for room (a pop from any
     *  process makes it; the wait is as pop's).  true when pushed; false
     *  (ec clear) when no room came, nothing pushed.  max_len 0, or more
     *  values than max_len: errc::invalid_argument. */
    template <class Values>
    bool push_many_bounded(bytes_view key, const Values &values, std::uint64_t max_len,
                           std::chrono::milliseconds timeout, at end, std::error_code &ec)
    {
        std::vector<shmkv_elem> elems = elems_of(values);
        return push_bounded(key, elems.data(), elems.size(), max_len, timeout, end, ec);
    }
    template <class Values>
    bool push_many_bounded(bytes_view key, const Values &values, std::uint64_t max_len,
                           std::chrono::milliseconds timeout = {}, at end = at::tail)
    {
        return detail::or_throw("shmkv push_many_bounded", [&](std::error_code &ec) {
            return push_many_bounded(key, values, max_len, timeout, end, ec);
        });
    }
    /** One value: as push_many_bounded. */
    bool push_bounded(bytes_view key, bytes_view value, std::uint64_t max_len, std::chrono::milliseconds timeout,
                      at end, std::error_code &ec) noexcept
    {
        shmkv_elem e{value.data(), value.size()};
        return push_bounded(key, &e, 1, max_len, timeout, end, ec);
    }
    bool push_bounded(bytes_view key, bytes_view value, std::uint64_t max_len,
                      std::chrono::milliseconds timeout = {}, at end = at::tail)
    {
        return detail::or_throw("shmkv push_bounded", [&](std::error_code &ec) {
            return push_bounded(key, value, max_len, timeout, end, ec);
        });
    }

    /** Remove and return the element at an end, waiting up to timeout for
     *  one; nullopt (ec clear) if none came. */
    std::optional<std::string> pop(bytes_view key, at end, std::chrono::milliseconds timeout,
                                   std::error_code &ec)
    {
        return first(pop_or_move(key, nullptr, end, at::tail, 1, timeout, ec));
    }
    std::optional<std::string> pop(bytes_view key, at end = at::head,
                                   std::chrono::milliseconds timeout = {})
    {
        return detail::or_throw("shmkv pop",
                                [&](std::error_code &ec) { return pop(key, end, timeout, ec); });
    }

    /** Up to max elements from an end, in the order they come off it,
     *  waiting as pop for the first; none if none came.  A batch stops at
     *  64 KiB of elements (it always holds one). */
    std::vector<std::string> pop_many(bytes_view key, std::size_t max, at end,
                                      std::chrono::milliseconds timeout, std::error_code &ec)
    {
        return pop_or_move(key, nullptr, end, at::tail, max, timeout, ec);
    }
    std::vector<std::string> pop_many(bytes_view key, std::size_t max, at end = at::head,
                                      std::chrono::milliseconds timeout = {})
    {
        return detail::or_throw("shmkv pop_many", [&](std::error_code &ec) {
            return pop_many(key, max, end, timeout, ec);
        });
    }

    /** Atomically pop from an end of src and push at an end of dst (which
     *  may be src), waiting as pop; the element, or nullopt.  The reliable
     *  queue: a worker moves a job to a list of its own, and pops it from
     *  there when done. */
    std::optional<std::string> move(bytes_view src, bytes_view dst, at from, at to,
                                    std::chrono::milliseconds timeout, std::error_code &ec)
    {
        return first(pop_or_move(src, &dst, from, to, 1, timeout, ec));
    }
    std::optional<std::string> move(bytes_view src, bytes_view dst, at from = at::head,
                                    at to = at::tail, std::chrono::milliseconds timeout = {})
    {
        return detail::or_throw("shmkv move", [&](std::error_code &ec) {
            return move(src, dst, from, to, timeout, ec);
        });
    }

    /** Number of elements of the list at key (0 if absent). */
    std::uint64_t llen(bytes_view key, std::error_code &ec) const noexcept
    {
        std::uint64_t n = 0;
        detail::ok(shmkv_llen(db(), key.data(), key.size(), &n), ec);
        return n;
    }
    std::uint64_t llen(bytes_view key) const
    {
        return detail::or_throw("shmkv llen", [&](std::error_code &ec) { return llen(key, ec); });
    }

    /** The elements from index start to stop, both included (negative:
     *  from the tail, -1 the last, as Redis's LRANGE), not removed; none
     *  if absent. */
    std::vector<std::string> lrange(bytes_view key, std::int64_t start, std::int64_t stop,
                                    std::error_code &ec) const
    {
        std::vector<std::string> out;
        auto one = [](void *p, const void *, size_t, const void *v, size_t vl) {
            try {
                static_cast<std::vector<std::string> *>(p)->emplace_back(static_cast<const char *>(v), vl);
                return 0;
            } catch (...) {
                return -ENOMEM;
            }
        };
        int rc = shmkv_lrange(db(), key.data(), key.size(), start, stop, one, &out);
        ec = make_error_code(rc == -ENOENT ? 0 : rc);
        if (rc == -ENOMEM)
            throw std::bad_alloc();
        return out;
    }
    std::vector<std::string> lrange(bytes_view key, std::int64_t start = 0, std::int64_t stop = -1) const
    {
        return detail::or_throw("shmkv lrange",
                                [&](std::error_code &ec) { return lrange(key, start, stop, ec); });
    }

protected:
    ~list_calls() = default;

private:
    shmkv *db() const noexcept { return static_cast<const Table *>(this)->native_handle(); }

    // pop (dst null: up to max elements from src) or move (one, src to
    // dst), waiting up to timeout: the elements
    std::vector<std::string> pop_or_move(bytes_view src, const bytes_view *dst, at from, at to,
                                         std::size_t max, std::chrono::milliseconds timeout,
                                         std::error_code &ec)
    {
        using clock = std::chrono::steady_clock;
        // beyond any lifetime is for ever (and keeps the deadline's sum in range)
        bool ever = timeout.count() < 0 || static_cast<std::uint64_t>(timeout.count()) > SHMKV_TTL_MAX;
        auto deadline = clock::now() + (ever ? std::chrono::milliseconds(0) : timeout);
        std::string buf(max > 1 ? 65536 : 4096, '\0');
        std::vector<std::size_t> lens(std::min<std::size_t>(std::max<std::size_t>(max, 1), 65536));
        std::vector<std::string> out;
        for (;;) {
            std::int64_t ms = ever ? -1 : std::max<std::int64_t>(
                std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count(), 0);
            std::size_t n = 0;
            int rc = dst ? shmkv_move(db(), src.data(), src.size(), static_cast<int>(from), dst->data(),
                                      dst->size(), static_cast<int>(to), buf.data(), buf.size(),
                                      lens.data(), ms)
                         : shmkv_pop_many(db(), src.data(), src.size(), static_cast<int>(from), buf.data(),
                                          buf.size(), lens.data(), lens.size(), &n, ms);
            if (rc == -ENOBUFS) {                     // nothing taken: again, with room for it
                buf.resize(std::max(lens[0], 2 * buf.size()));
                continue;
            }
            n = dst ? rc == 0 : n;
            for (std::size_t i = 0, at_ = 0; rc == 0 && i < n; at_ += lens[i++])
                out.emplace_back(buf, at_, lens[i]);
            ec = make_error_code(rc == -EAGAIN ? 0 : rc);
            return out;
        }
    }

    // the values of a range (of anything bytes_view takes) as elements
    template <class Values>
    static std::vector<shmkv_elem> elems_of(const Values &values)
    {
        std::vector<shmkv_elem> elems;
        for (const auto &v : values) {
            bytes_view b(v);
            elems.push_back(shmkv_elem{b.data(), b.size()});
        }
        return elems;
    }

    bool push_bounded(bytes_view key, const shmkv_elem *elems, std::size_t n, std::uint64_t max_len,
                      std::chrono::milliseconds timeout, at end, std::error_code &ec) noexcept
    {
        // beyond any lifetime is for ever, as pop's
        bool ever = timeout.count() < 0 || static_cast<std::uint64_t>(timeout.count()) > SHMKV_TTL_MAX;
        int rc = shmkv_push_bounded(db(), key.data(), key.size(), elems, n, static_cast<int>(end), max_len,
                                    ever ? -1 : static_cast<std::int64_t>(timeout.count()));
        ec = make_error_code(rc == -EAGAIN ? 0 : rc);
        return rc == 0;
    }

    static std::optional<std::string> first(std::vector<std::string> &&v)
    {
        if (v.empty())
            return std::nullopt;
        return std::move(v[0]);
    }
};

} // namespace detail
} // namespace shmkv

#endif // SHMKV_LISTS_HPP
