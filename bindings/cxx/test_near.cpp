// test_near.cpp - shmkv::near_cache (shmkv_near.hpp) against a real
// redis-server and agent (build/shmkv-redis), started and stopped per part
// by the near-cache tests' kit (near_kit.h) in the harness's private
// directory.  Writes go through hiredis, as an application's would.
//
//   build/cxx/near/test_near [PART...]     (make test-cxx, where hiredis is)
#include "shmkv_near.hpp"

#include "near_kit.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <thread>

using namespace std::chrono_literals;

#define CHECK(cond)                                    \
    do {                                               \
        if (!(cond))                                   \
            nk_fail(__FILE__, __LINE__, "CHECK(" #cond ") failed"); \
    } while (0)

// expr must throw std::system_error whose code has value err (an errno)
#define CHECK_THROWS(expr, err)                                                  \
    do {                                                                         \
        try {                                                                    \
            (void)(expr);                                                        \
            nk_fail(__FILE__, __LINE__, #expr " did not throw");                 \
        } catch (const std::system_error &e_) {                                  \
            if (e_.code().value() != (err) || e_.code().category() != shmkv::category()) \
                nk_fail(__FILE__, __LINE__, (#expr " threw " + std::string(e_.what())).c_str()); \
        }                                                                        \
    } while (0)

namespace {

constexpr auto bound = 3s; // the most a fill or an invalidation may take

// A redis-server, a cache table and (unless told not to) the agent on it
// tracking the prefix "n:", for one part; the destructor stops them.
struct servers {
    std::string addr;
    char name[64];
    shmkv::table t;
    redisContext *c = nullptr;
    bool agent = false;

    explicit servers(bool with_agent = true) : addr(nk_redis_start())
    {
        nk_table_name(name, sizeof name);
        shmkv::options o;
        o.exclusive = true;
        o.cache = true;
        o.stats = true;
        o.max_bytes = 16u << 20;
        t = shmkv::table(name, o);
        c = redisConnectUnix(addr.c_str());
        CHECK(c && !c->err);
        if (with_agent)
            start_agent();
    }
    ~servers()
    {
        stop_agent();
        if (c)
            redisFree(c);
        nk_redis_stop();
        t.close();
        std::error_code ec;
        CHECK(shmkv::table::unlink(name, ec));
    }
    void start_agent(std::initializer_list<const char *> extra = {})
    {
        std::vector<const char *> argv = {"--prefix", "n:", "--heartbeat", "2000"};
        argv.insert(argv.end(), extra);
        argv.push_back(nullptr);
        CHECK(nk_agent_start(name, t.native_handle(), argv.data(), 10) == 0);
        agent = true;
    }
    void stop_agent()
    {
        if (agent)
            nk_agent_stop();
        agent = false;
    }
    // one command through hiredis (printf-style, as redisCommand); its
    // reply's type
    template <class... A>
    int cmd(const char *fmt, A... args)
    {
        auto *r = static_cast<redisReply *>(redisCommand(c, fmt, args...));
        CHECK(r != nullptr);
        int type = r ? r->type : -1;
        freeReplyObject(r);
        return type;
    }
};

// get(key) until the table holds it, and still holds it 20 ms later: the
// fill right after a write may lose its lease to that write's own
// invalidation, or store the value before the agent applies that
// invalidation, which then deletes it (a miss, never a stale value; the C
// tests met it in CI: the value there, then gone)
std::optional<std::string> fill(shmkv::near_cache &near, const char *key)
{
    auto end = std::chrono::steady_clock::now() + bound;
    shmkv::near_source from = shmkv::near_source::redis;
    std::optional<std::string> v;
    while (std::chrono::steady_clock::now() < end) {
        v = near.get(key, &from);
        if (from == shmkv::near_source::redis)
            continue;
        std::this_thread::sleep_for(20ms);
        if (near.get(key, &from) == v && from == shmkv::near_source::table)
            return v;
    }
    CHECK(!"the table held the value within the bound");
    return v;
}

// until near.get(key) == want, within the bound
bool becomes(shmkv::near_cache &near, const char *key, const std::optional<std::string> &want)
{
    for (auto end = std::chrono::steady_clock::now() + bound; std::chrono::steady_clock::now() < end;
         std::this_thread::sleep_for(1ms))
        if (near.get(key) == want)
            return true;
    return false;
}

void part_fill_then_hit()
{
    servers s;
    shmkv::near_cache near(s.t, s.addr);
    CHECK(near);
    s.cmd("SET n:a %b PX 60000", "v\0\xff", size_t{3});
    CHECK(fill(near, "n:a") == std::string("v\0\xff", 3));
    CHECK(s.t.get("n:a") == std::string("v\0\xff", 3)); // Redis's bytes, in the table
    auto ttl = s.t.ttl("n:a");
    CHECK(ttl && *ttl > 0ms && *ttl <= 60000ms);
    shmkv::near_source from = shmkv::near_source::redis;
    auto hits = s.t.stats().hits;
    CHECK(near.get("n:a", &from) == std::string("v\0\xff", 3));
    CHECK(from == shmkv::near_source::table && s.t.stats().hits == hits + 1);
    // no lifetime in Redis: the reader's cap
    shmkv::near_options o;
    o.max_ttl = 500ms;
    shmkv::near_cache capped(s.t, s.addr, o);
    s.cmd("SET n:b two");
    CHECK(fill(capped, "n:b") == "two");
    ttl = s.t.ttl("n:b");
    CHECK(ttl && *ttl > 0ms && *ttl <= 500ms);
    // absent in Redis: nullopt, no error, nothing stored
    std::error_code ec = make_error_code(std::errc::io_error);
    CHECK(!near.get("n:none", ec, &from) && !ec && from == shmkv::near_source::redis);
    CHECK(!s.t.contains("n:none"));
    // the agent as it published itself
    auto info = shmkv::near_cache::agent(s.t);
    CHECK(info && info->heartbeat_ms == 2000 && info->prefixes == 1 && info->pid > 0);
    // moved: the old one is empty and refuses reads
    shmkv::near_cache moved = std::move(near);
    CHECK(moved && !near);
    CHECK(moved.get("n:a") == std::string("v\0\xff", 3));
    CHECK_THROWS(near.get("n:a"), EINVAL);
}

void part_write_invalidates()
{
    servers s;
    shmkv::near_cache near(s.t, s.addr);
    s.cmd("SET n:k old");
    CHECK(fill(near, "n:k") == "old");
    CHECK(near.get("n:k") == "old");
    s.cmd("SET n:k new");
    CHECK(becomes(near, "n:k", "new"));
    CHECK(fill(near, "n:k") == "new");
    s.cmd("APPEND n:k er");
    CHECK(becomes(near, "n:k", "newer"));
    s.cmd("DEL n:k");
    CHECK(becomes(near, "n:k", std::nullopt));
    CHECK(!s.t.contains("n:k"));
    // a key the agent does not track is read from Redis every time
    s.cmd("SET other v");
    shmkv::near_source from = shmkv::near_source::table;
    CHECK(near.get("other", &from) == "v" && from == shmkv::near_source::redis);
    CHECK(near.get("other", &from) == "v" && from == shmkv::near_source::redis);
    CHECK(!s.t.contains("other"));
}

void part_no_agent()
{
    servers s(false);
    shmkv::near_cache near(s.t, s.addr);
    CHECK(!shmkv::near_cache::agent(s.t));
    s.cmd("SET n:k v1");
    shmkv::near_source from = shmkv::near_source::table;
    for (int i = 0; i < 3; i++)
        CHECK(near.get("n:k", &from) == "v1" && from == shmkv::near_source::redis);
    CHECK(!s.t.contains("n:k"));
    // an agent comes, fills are stored; it stops: Redis again
    s.start_agent();
    CHECK(fill(near, "n:k") == "v1");
    s.stop_agent();
    CHECK(!shmkv::near_cache::agent(s.t));
    s.cmd("SET n:k v2");
    CHECK(near.get("n:k", &from) == "v2" && from == shmkv::near_source::redis);
}

void part_errors()
{
    servers s;
    shmkv::near_cache near(s.t, s.addr);
    CHECK_THROWS(near.get(""), EINVAL);
    s.cmd("RPUSH n:list a");
    CHECK_THROWS(near.get("n:list"), EMEDIUMTYPE);
    std::error_code ec;
    CHECK(!near.get("n:list", ec) && ec.value() == EMEDIUMTYPE);
    // bad addresses and options
    CHECK_THROWS(shmkv::near_cache(s.t, ""), EINVAL);
    CHECK_THROWS(shmkv::near_cache(s.t, "localhost:notaport"), EINVAL);
    shmkv::near_options o;
    o.lease = -1ms;
    CHECK_THROWS(shmkv::near_cache(s.t, s.addr, o), EINVAL);
    shmkv::near_cache none(s.t, s.addr + ".nothing-here", {}, ec);
    CHECK(!none && ec == std::errc::io_error);
    // Redis gone: EIO with the helper's text, in both forms
    s.cmd("SET n:k v");
    nk_redis_stop();
    try {
        near.get("n:k");
        nk_fail(__FILE__, __LINE__, "Redis gone: no exception");
    } catch (const std::system_error &e) {
        CHECK(e.code() == std::errc::io_error);
        CHECK(!near.last_error().empty() && std::string(e.what()).find(near.last_error()) != std::string::npos);
    }
    CHECK(!near.get("n:k", ec) && ec == std::errc::io_error);
}

// a part whose exceptions fail it (they must not cross the C harness)
template <void (*Part)()>
void guarded()
{
    try {
        Part();
    } catch (const std::exception &e) {
        nk_fail(__FILE__, __LINE__, (std::string("uncaught: ") + e.what()).c_str());
    }
}

} // namespace

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); // as shmkv-redis.h asks
    static const nk_part parts[] = {{"fill_then_hit", guarded<part_fill_then_hit>},
                                    {"write_invalidates", guarded<part_write_invalidates>},
                                    {"no_agent", guarded<part_no_agent>},
                                    {"errors", guarded<part_errors>}};
    return nk_main(argc, argv, "cxx_near", parts, sizeof parts / sizeof parts[0]);
}
