// test_lists.cpp - the lists and queues of include/shmkv.hpp
// (shmkv_lists.hpp): every call in both forms, both ends, sizes, lrange's
// indexes, errors both ways, waits that time out or are woken by another
// process or ended by a signal, and producers, consumers and movers in
// forked processes losing or doubling nothing.  make test-cxx builds it
// as test_table.cpp is built, and runs it.
//
// Each part runs with $SHMKV_DIR at a private directory under /dev/shm,
// which must be empty again when the part ends; the program exits 1 if
// any check failed.
#include <shmkv.hpp>

#include "check.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
using std::string;
using strings = std::vector<string>;
using shmkv::at;

static double seconds_since(std::chrono::steady_clock::time_point t)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Run body in a forked child (the table's handle lives on there); its
// pid.  The child exits 0 if body returns true.
template <class F>
static pid_t child(F body)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(body() ? 0 : 1);
    return pid;
}

// Wait for the children; how many failed.
static int failed(const std::vector<pid_t> &pids)
{
    int bad = 0, status;
    for (pid_t p : pids)
        bad += waitpid(p, &status, 0) != p || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    return bad;
}

static void part_push_pop()
{
    shmkv::table t("lists");
    t.push("q", "b");
    t.push("q", string("c"), at::tail);
    t.push("q", std::array<unsigned char, 1>{'a'}, at::head);
    t.push("q", "");                                   // an empty element is one
    CHECK(t.llen("q") == 4);
    CHECK(t.lrange("q") == (strings{"a", "b", "c", ""}));
    CHECK(t.pop("q") == string("a"));
    CHECK(t.pop("q", at::tail) == string(""));
    CHECK(t.pop("q", at::tail, 0ms) == string("c"));
    CHECK(t.pop("q", at::head) == string("b"));
    CHECK(!t.pop("q") && !t.pop("absent") && t.llen("q") == 0 && t.llen("absent") == 0);

    t.push_many("m", strings{"1", "2", "3"});
    t.push_many("m", std::vector<std::string_view>{"0", "-1"}, at::head);  // reversed, as one by one
    t.push_many("m", strings{});
    CHECK(t.lrange("m") == (strings{"-1", "0", "1", "2", "3"}));
    CHECK(t.pop_many("m", 2) == (strings{"-1", "0"}));
    CHECK(t.pop_many("m", 2, at::tail) == (strings{"3", "2"}));
    CHECK(t.pop_many("m", SIZE_MAX) == strings{"1"});
    CHECK(t.pop_many("m", 5).empty() && t.pop_many("absent", 5).empty());

    std::vector<string> sizes;                         // every path of the buffer
    for (size_t n : {0, 1, 4095, 4096, 4097, 70000, 300000})
        sizes.push_back(string(n, static_cast<char>('a' + sizes.size())));
    t.push_many("big", sizes);
    for (const auto &s : sizes)
        CHECK(t.pop("big") == s);
    sizes.insert(sizes.end(), 100, string(1000, 'v'));
    t.push_many("big", sizes);
    strings all;
    while (t.llen("big")) {
        strings batch = t.pop_many("big", 50);        // a batch stops at what fits
        CHECK(!batch.empty());
        all.insert(all.end(), batch.begin(), batch.end());
    }
    CHECK(all == sizes);
    t.push("m", string(100000, 'x'));
    CHECK(t.move("m", "n") == string(100000, 'x'));

    t.push_many("r", strings{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
    CHECK(t.lrange("r", 2, 4) == (strings{"2", "3", "4"}));
    CHECK(t.lrange("r", -3, -1) == (strings{"7", "8", "9"}));
    CHECK(t.lrange("r", -100, 1) == (strings{"0", "1"}));
    CHECK(t.lrange("r", 8, 2).empty() && t.lrange("r", 10, 20).empty());
    CHECK(t.lrange("r", 7) == (strings{"7", "8", "9"}));
    CHECK(t.lrange("r", 0, INT64_MAX).size() == 10 && t.lrange("r", INT64_MIN, 0) == strings{"0"});
    CHECK(t.lrange("absent").empty() && t.llen("r") == 10);
    shmkv::table::unlink("lists");
}

static void part_move_and_the_table()
{
    shmkv::table t("move");
    t.push_many("src", strings{"a", "b", "c"});
    CHECK(t.move("src", "dst") == string("a"));       // head to tail
    CHECK(t.move("src", "dst", at::tail, at::head) == string("c"));
    CHECK(t.lrange("dst") == (strings{"c", "a"}));
    CHECK(t.move("dst", "dst") == string("c"));       // a rotation
    CHECK(t.lrange("dst") == (strings{"a", "c"}));
    CHECK(t.move("src", "src", at::head, at::head) == string("b") && t.lrange("src") == strings{"b"});
    t.pop("src");
    CHECK(!t.move("src", "dst") && !t.move("absent", "dst2") && !t.contains("dst2"));

    t.set("pair", "v");
    CHECK(t.contains("dst") && t.size() == 3);        // a list is a key ...
    int pairs = 0;
    for (const auto &kv : t)                           // ... iteration visits pairs only
        pairs += kv.first == "pair";
    CHECK(pairs == 1);
    t.for_each([&](std::string_view k, std::string_view) { CHECK(k == "pair"); });
    CHECK(t.erase("dst") && !t.contains("dst") && t.llen("dst") == 0);  // deleted whole
    t.push("dst", "anew");
    CHECK(t.lrange("dst") == strings{"anew"});
    t.pop("dst");
    CHECK(t.contains("dst"));                          // emptied, it stays a key
    t.clear();
    CHECK(t.size() == 0 && t.check().empty());
    shmkv::table::unlink("move");
}

static void part_errors()
{
    shmkv::table t("errors");
    t.set("pair", "v");
    t.push("list", "e");
    const std::error_code wrong(EMEDIUMTYPE, shmkv::category()); // no std::errc names it
    CHECK_THROWS(t.push("pair", "x"), wrong);
    CHECK_THROWS(t.push_many("pair", strings{"x"}), wrong);
    CHECK_THROWS(t.pop("pair"), wrong);
    CHECK_THROWS(t.pop("pair", at::head, 5s), wrong);
    CHECK_THROWS(t.pop_many("pair", 2), wrong);
    CHECK_THROWS(t.move("pair", "list"), wrong);
    CHECK_THROWS(t.move("list", "pair"), wrong);
    CHECK_THROWS(t.llen("pair"), wrong);
    CHECK_THROWS(t.lrange("pair"), wrong);
    CHECK_THROWS(t.get("list"), wrong);
    CHECK_THROWS(t.set("list", "x"), wrong);
    CHECK_THROWS(t.add("list", "x"), wrong);
    CHECK_THROWS(t.incr("list"), wrong);
    CHECK_THROWS(t.append("list", "x"), wrong);
    CHECK_THROWS(t.take("list"), wrong);
    CHECK_THROWS(t.ttl("list"), wrong);
    CHECK_THROWS(t.get_many(strings{"list"}), wrong);
    CHECK(t.get("pair") == string("v") && t.lrange("list") == strings{"e"});

    std::error_code ec;                                // the error_code forms
    CHECK(!t.push("pair", "x", at::tail, ec) && ec == wrong);
    CHECK(!t.pop("pair", at::head, 0ms, ec) && ec == wrong);
    CHECK(t.pop_many("pair", 3, at::head, 0ms, ec).empty() && ec == wrong);
    CHECK(!t.move("list", "pair", at::head, at::tail, 0ms, ec) && ec == wrong);
    CHECK(t.llen("pair", ec) == 0 && ec == wrong);
    CHECK(t.lrange("pair", 0, -1, ec).empty() && ec == wrong);
    CHECK(t.push_many("list", strings{"f"}, at::tail, ec) && !ec);
    CHECK(t.pop("list", at::tail, 0ms, ec) == string("f") && !ec);
    CHECK(!t.pop("none", at::tail, 0ms, ec) && !ec);   // empty is no error
    t.push("list", "g");
    CHECK(t.pop("list", at::tail, std::chrono::milliseconds::max()) == string("g"));  // for ever: no overflow
    CHECK(t.llen("list", ec) == 1 && !ec && t.lrange("list", 0, 0, ec) == strings{"e"} && !ec);
    CHECK(!t.push("", "x", at::tail, ec) && ec == std::errc::invalid_argument);
    CHECK_THROWS(t.move("list", ""), std::errc::invalid_argument);

    shmkv::options ro;
    ro.readonly = true;
    shmkv::table r("errors", ro);
    CHECK(r.llen("list") == 1 && r.lrange("list") == strings{"e"});
    CHECK_THROWS(r.push("list", "x"), std::errc::read_only_file_system);
    CHECK_THROWS(r.pop("list"), std::errc::read_only_file_system);
    shmkv::options co;
    co.cache = true;
    co.max_bytes = 1 << 20;
    shmkv::table c("cache", co);
    CHECK_THROWS(c.push("q", "x"), std::errc::operation_not_supported);
    CHECK_THROWS(c.pop("q", at::head, 1s), std::errc::operation_not_supported);
    CHECK_THROWS(c.move("q", "r"), std::errc::operation_not_supported);
    CHECK(c.llen("q") == 0 && c.lrange("q").empty());
    shmkv::table::unlink("errors");
    shmkv::table::unlink("cache");
}

static void on_signal(int) {}

static void part_waits()
{
    shmkv::table t("waits");
    for (int which = 0; which < 3; which++) {          // a timeout: nothing, after about that long
        auto start = std::chrono::steady_clock::now();
        bool none = which == 0 ? !t.pop("q", at::head, 200ms)
                  : which == 1 ? t.pop_many("q", 3, at::head, 200ms).empty()
                               : !t.move("q", "d", at::head, at::tail, 200ms);
        double took = seconds_since(start);
        CHECK(none && took >= 0.19 && took < 2.0);
    }
    for (auto timeout : {shmkv::forever, std::chrono::milliseconds(30s)}) {
        auto start = std::chrono::steady_clock::now();
        pid_t pid = child([&] {
            usleep(200000);
            t.push("wake", "pushed");
            return true;
        });
        CHECK(t.pop("wake", at::head, timeout) == string("pushed"));
        double took = seconds_since(start);
        CHECK(took >= 0.15 && took < 5.0);            // woken, not timed out
        CHECK(failed({pid}) == 0);
    }
    pid_t pid = child([&] {
        usleep(200000);
        t.push_many("jobs", strings{"j1", "j2"});
        return true;
    });
    CHECK(t.move("jobs", "mine", at::head, at::tail, 30s) == string("j1"));
    CHECK(t.pop_many("jobs", 5, at::head, 30s) == strings{"j2"});
    CHECK(failed({pid}) == 0 && t.lrange("mine") == strings{"j1"});

    struct sigaction sa = {}, old;                     // a handler ends the wait: EINTR
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, &old);
    pid_t me = getpid();
    pid = child([me] {
        usleep(250000);                                // amid one of the library's sleeps
        return kill(me, SIGUSR1) == 0;
    });
    std::error_code ec;
    auto start = std::chrono::steady_clock::now();
    CHECK(!t.pop("never", at::head, shmkv::forever, ec) && ec == std::errc::interrupted);
    CHECK(seconds_since(start) < 3.0 && failed({pid}) == 0);
    sigaction(SIGUSR1, &old, nullptr);
    shmkv::table::unlink("waits");
}

// push_bounded and push_many_bounded: room, none at once, none after a
// wait, room made by a pop in another process, errors, both ends.
static void part_bounded()
{
    shmkv::table t("bounded");
    std::error_code ec;
    CHECK(t.push_many_bounded("q", strings{"a", "b"}, 3));
    CHECK(t.push_bounded("q", "c", 3, 0ms, at::tail, ec) && !ec);
    CHECK(!t.push_bounded("q", "d", 3) && !t.push_many_bounded("q", strings{"d"}, 3, 0ms, at::head, ec) && !ec);
    CHECK(!t.push_many_bounded("q", strings{"d", "e"}, 4));          // all or nothing
    CHECK(t.push_many_bounded("q", strings{"d"}, 4, 0ms, at::head) && t.lrange("q") == (strings{"d", "a", "b", "c"}));
    auto start = std::chrono::steady_clock::now();
    CHECK(!t.push_bounded("q", "e", 4, 200ms, at::tail, ec) && !ec);
    double took = seconds_since(start);
    CHECK(took >= 0.19 && took < 2.0);
    for (auto timeout : {shmkv::forever, std::chrono::milliseconds(30s)}) {
        start = std::chrono::steady_clock::now();
        pid_t pid = child([&] {
            usleep(200000);
            return t.pop("q") == string("d");
        });
        CHECK(t.push_bounded("q", "e", 4, timeout));
        took = seconds_since(start);
        CHECK(took >= 0.15 && took < 5.0);            // woken by the pop, not timed out
        CHECK(failed({pid}) == 0 && t.llen("q") == 4);
        t.pop("q", at::tail);                          // "e" again next round
        t.push("q", "d", at::head);
    }
    CHECK(t.lrange("q") == (strings{"d", "a", "b", "c"}));
    CHECK(!t.push_bounded("q", "x", 0, 0ms, at::tail, ec) && ec == std::errc::invalid_argument);
    CHECK_THROWS(t.push_many_bounded("q", strings{"x", "y"}, 1), std::errc::invalid_argument);
    t.set("pair", "v");                                // a pair's key: as push, the other kind
    CHECK(!t.push_bounded("pair", "x", 5, 0ms, at::tail, ec) && ec.value() == EMEDIUMTYPE);
    CHECK(t.get("pair") == string("v"));
    shmkv::table::unlink("bounded");
}

static void part_processes()
{
    shmkv::table t("procs");
    std::vector<pid_t> consumers, producers, movers;
    for (int c = 0; c < 3; c++)
        consumers.push_back(child([&] {
            strings got;
            for (;;) {
                auto job = t.pop("jobs", at::head, 30s);
                if (!job)
                    return false;                      // starved
                if (*job == "stop")
                    break;
                got.push_back(*job);
            }
            t.push_many("got", got);
            return true;
        }));
    for (int p = 0; p < 3; p++)
        producers.push_back(child([&, p] {
            for (int i = 0; i < 1000; i += 10) {
                strings batch;
                for (int j = i; j < i + 10; j++)
                    batch.push_back(std::to_string(p) + ":" + std::to_string(j));
                t.push_many("jobs", batch);
            }
            return true;
        }));
    CHECK(failed(producers) == 0);
    t.push_many("jobs", strings{"stop", "stop", "stop"});   // behind every job
    CHECK(failed(consumers) == 0);
    strings got = t.lrange("got"), expected;
    for (int p = 0; p < 3; p++)
        for (int j = 0; j < 1000; j++)
            expected.push_back(std::to_string(p) + ":" + std::to_string(j));
    std::sort(got.begin(), got.end());
    std::sort(expected.begin(), expected.end());
    CHECK(got == expected && t.llen("jobs") == 0);     // nothing lost or doubled

    strings every;
    for (int i = 0; i < 3000; i++)
        every.push_back(std::to_string(i));
    t.push_many("a", every);
    for (int m = 0; m < 4; m++)
        movers.push_back(child([&, m] {
            auto end = std::chrono::steady_clock::now() + 500ms;
            string mine = "mine" + std::to_string(m);
            for (int moved = 0; std::chrono::steady_clock::now() < end;) {
                bool ab = (moved + m) % 2 == 0;
                const char *src = ab ? "a" : "b", *dst = ab ? "b" : "a";
                if (t.move(src, dst, m % 2 ? at::tail : at::head, moved % 2 ? at::head : at::tail,
                           moved % 7 ? 0ms : 5ms))
                    moved++;
                if (moved % 50 == 0 && t.move(src, mine) && !t.move(mine, dst))
                    return false;
            }
            return t.llen(mine) == 0;
        }));
    CHECK(failed(movers) == 0);
    strings after = t.lrange("a"), b = t.lrange("b");
    after.insert(after.end(), b.begin(), b.end());
    std::sort(after.begin(), after.end());
    std::sort(every.begin(), every.end());
    CHECK(after == every);
    CHECK(t.check().empty());
    shmkv::table::unlink("procs");
}

int main()
{
    return run_parts("lists", {{"push_pop", part_push_pop}, {"move_and_the_table", part_move_and_the_table},
                     {"errors", part_errors}, {"waits", part_waits}, {"bounded", part_bounded},
                     {"processes", part_processes}});
}
