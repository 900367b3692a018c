// test_table.cpp - include/shmkv.hpp, every call, thrown and error_code
// forms, the views, iteration, errors, processes.  bindings/cxx/run-tests.sh
// builds it with g++ and clang++, plain and under ASan+UBSan.
//
// Each part runs with $SHMKV_DIR at a private directory under /dev/shm,
// which must be empty again when the part ends; the program exits 1 if
// any check failed.
#include <shmkv.hpp>

#include "check.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
using std::string;

static void part_read_write()
{
    shmkv::table t("rw");
    CHECK(t);
    CHECK(t.size() == 0);
    CHECK(!t.get("k"));
    t.set("k", "v");
    CHECK(t.get("k") == string("v"));
    CHECK(t.contains("k") && !t.contains("other"));
    t.set("empty", "");
    CHECK(t.contains("empty") && t.get("empty") == string());
    CHECK(t.add("k", "x") == false && t.add("new", "n") == true);
    CHECK(t.replace("k", "w") == true && t.replace("absent", "w") == false);
    CHECK(!t.contains("absent"));
    CHECK(t.get("k") == string("w"));
    CHECK(t.erase("k") && !t.erase("k") && !t.get("k"));
    t.append("log", "a");
    t.append("log", "bc");
    CHECK(t.get("log") == string("abc"));
    CHECK(t.take("log") == string("abc") && !t.take("log") && !t.contains("log"));
    CHECK(t.incr("n") == 1 && t.incr("n", 41) == 42 && t.incr("n", -50) == -8);
    CHECK(t.get("n") == string("-8"));
    CHECK(t.size() == 3);
    t.clear();
    CHECK(t.size() == 0 && !t.get("n"));
    shmkv::table::unlink("rw");
}

static void part_views()
{
    shmkv::table t("views");
    const char bin[] = {'a', '\0', 'b'};
    t.set(shmkv::bytes_view(bin, sizeof bin), std::string_view("x\0y", 3));
    CHECK(t.get(string(bin, 3)) == string("x\0y", 3));
    std::vector<std::byte> vk{std::byte{1}, std::byte{2}};
    std::array<unsigned char, 3> av{{7, 8, 9}};
    t.set(vk, av);
    std::vector<unsigned char> out;
    CHECK(t.get_into(vk, out) && out == std::vector<unsigned char>({7, 8, 9}));
    string big(100000, 'b'), s;
    t.set(string("big"), big);
    CHECK(t.get("big") == big);
    s.reserve(10);
    CHECK(t.get_into("big", s) && s == big);      // grows the buffer
    CHECK(t.get_into("k", s) == false && s.empty());
    std::vector<char> vc;
    CHECK(t.get_into(std::string_view("big"), vc) && vc.size() == big.size());
    shmkv::table::unlink("views");
}

static void part_conditions_and_lifetimes()
{
    shmkv::table t("cond");
    shmkv::write_options w;
    w.if_absent = true;
    CHECK(t.set("k", "1", w) && !t.set("k", "2", w));
    w = {};
    w.if_equal = shmkv::bytes_view("1");
    CHECK(t.set("k", "2", w) && !t.set("k", "3", w) && t.get("k") == string("2"));
    w = {};
    w.if_present = true;
    CHECK(!t.set("absent", "x", w) && !t.contains("absent"));
    t.set("short", "v", 40ms);
    t.set("long", "v", std::chrono::hours(1));
    CHECK(t.ttl("k") == 0ms);                      // never expires
    CHECK(!t.ttl("absent"));
    auto left = t.ttl("long");
    CHECK(left && *left > 3240s && *left <= 3600s);
    w = {};
    w.keep_ttl = true;
    CHECK(t.set("long", "w", w) && *t.ttl("long") > 3240s);
    CHECK(t.expire("k", 10s) && *t.ttl("k") > 5s && t.expire("k", 0ms) && t.ttl("k") == 0ms);
    CHECK(!t.expire("absent", 1s));
    CHECK(t.add("a", "v", 40ms) && t.incr("c", 1, 40ms) == 1);
    usleep(100000);
    CHECK(!t.get("short") && !t.contains("a") && t.incr("c") == 1 && t.add("short", "again"));
    shmkv::table::unlink("cond");
}

static void part_batches()
{
    shmkv::table t("batch");
    std::map<string, string> pairs;
    for (int i = 0; i < 1000; i++)
        pairs["key" + std::to_string(i)] = string(static_cast<size_t>(i % 300), 'v');
    CHECK(t.put_many(pairs) == 1000);
    std::vector<std::pair<std::string_view, std::string_view>> more{{"a", "1"}, {"b", "2"}};
    CHECK(t.put_many(more, 1h) == 2 && t.ttl("a") > 3240s);
    std::vector<string> keys;
    for (int i = 0; i < 1000; i++)
        keys.push_back("key" + std::to_string(i));
    keys.push_back("absent");
    auto got = t.get_many(keys);
    CHECK(got.size() == 1001 && !got[1000]);
    bool all = true;
    for (int i = 0; i < 1000; i++)
        all = all && got[static_cast<size_t>(i)] == pairs[keys[static_cast<size_t>(i)]];
    CHECK(all);
    std::vector<std::pair<string, string>> bad{{"ok", "1"}, {string(70000, 'k'), "2"}, {"ok2", "3"}};
    std::error_code ec;
    CHECK(t.put_many(bad, 0ms, ec) == 2 && ec == std::errc::argument_list_too_long);
    CHECK(t.contains("ok2"));
    shmkv::table::unlink("batch");
}

static void part_iteration()
{
    shmkv::table t("iter");
    std::map<string, string> pairs;
    for (int i = 0; i < 2000; i++)
        pairs["k" + std::to_string(i)] = "v" + std::to_string(i);
    t.put_many(pairs);
    std::map<string, string> seen;
    size_t n = 0;
    for (const auto &[k, v] : t) {
        seen[k] = v;
        n++;
        t.set("new" + std::to_string(n), "x");     // writing meanwhile is fine
        t.erase("new" + std::to_string(n - 1));
    }
    for (const auto &kv : pairs)
        CHECK(seen.count(kv.first) && seen[kv.first] == kv.second);
    size_t visits = 0;
    t.for_each([&](std::string_view, std::string_view) { return ++visits < 10; });
    CHECK(visits == 10);
    size_t all = 0;
    t.for_each([&](std::string_view k, std::string_view v) { all += k.size() && !v.empty(); });
    CHECK(all == t.size());
    bool passed_on = false;
    try {
        t.for_each([](std::string_view, std::string_view) -> bool { throw std::runtime_error("x"); });
    } catch (const std::runtime_error &) {
        passed_on = true;
    }
    CHECK(passed_on);
    shmkv::table empty("iter-empty");
    CHECK(empty.begin() == empty.end());
    shmkv::table::unlink("iter");
    shmkv::table::unlink("iter-empty");
}

static void part_errors()
{
    CHECK_THROWS(shmkv::table("absent", {false}), std::errc::no_such_file_or_directory);
    try {
        shmkv::options o;
        o.create = false;
        shmkv::table t("absent", o);
    } catch (const std::system_error &e) {
        CHECK(e.code().category() == shmkv::category());
        CHECK(e.code().value() == ENOENT);
        CHECK(string(e.what()).find("no such key or table") != string::npos);
        CHECK(string(e.what()).find("absent") != string::npos);
        CHECK(string(e.code().category().name()) == "shmkv");
    }
    std::error_code ec;
    shmkv::options o;
    o.create = false;
    shmkv::table none("absent", o, ec);
    CHECK(!none && ec == std::errc::no_such_file_or_directory);
    CHECK(!shmkv::table::unlink("absent", ec) && ec == std::errc::no_such_file_or_directory);
    CHECK_THROWS(shmkv::table::unlink("absent"), std::errc::no_such_file_or_directory);
    o = {};
    o.cache = true;                                   // without max_bytes
    CHECK_THROWS(shmkv::table("c", o), std::errc::invalid_argument);

    shmkv::table t("errors");
    string long_key(SHMKV_KEY_MAX + 1, 'k');
    CHECK_THROWS(t.get(long_key), std::errc::argument_list_too_long);
    CHECK_THROWS(t.set(long_key, "v"), std::errc::argument_list_too_long);
    CHECK_THROWS(t.set("", "v"), std::errc::invalid_argument);
    CHECK_THROWS(t.set("k", "v", -1ms), std::errc::invalid_argument);
    CHECK(!t.set(long_key, "v", ec) && ec == std::errc::argument_list_too_long);
    CHECK(!t.get(long_key, ec) && ec == std::errc::argument_list_too_long);
    CHECK(!t.get("fine", ec) && !ec);                 // absent is not an error
    t.set("text", "12a");
    CHECK_THROWS(t.incr("text"), std::errc::argument_out_of_domain);
    t.set("max", "9223372036854775807");
    CHECK_THROWS(t.incr("max"), std::errc::result_out_of_range);
    CHECK(t.incr("max", 1, 0ms, ec) == 0 && ec == std::errc::result_out_of_range);
    CHECK(t.check().empty());

    o = {};
    o.readonly = true;
    shmkv::table r("errors", o);
    CHECK(r.get("text") == string("12a"));
    CHECK_THROWS(r.set("k", "v"), std::errc::read_only_file_system);
    CHECK_THROWS(r.erase("text"), std::errc::read_only_file_system);
    CHECK(r.check(ec).empty() && !ec);

    shmkv::table moved(std::move(t));
    CHECK(!t && moved && moved.get("text"));
    CHECK_THROWS(t.get("text"), std::errc::invalid_argument);   // a moved-from table
    t = std::move(moved);
    CHECK(t && !moved);
    t.close();
    CHECK(!t);
    shmkv::table::unlink("errors");
}

static void part_stats_and_cache()
{
    shmkv::options o;
    o.cache = true;
    o.max_bytes = SHMKV_MIN_BYTES;
    shmkv::table t("cache", o);
    for (int i = 0; i < 2000; i++)
        t.set("k" + std::to_string(i), string(500, 'v'));
    shmkv::stats st = t.stats();
    CHECK(st.cache == 1 && st.evictions > 0 && st.keys < 2000 && st.keys == t.size());
    CHECK(t.check().empty());
    shmkv::table::unlink("cache");
}

static void part_processes()
{
    shmkv::table t("procs");
    const int procs = 4, each = 2000;
    for (int p = 0; p < procs; p++) {
        if (fork() == 0) {                            // the handle lives on in the child
            std::vector<std::thread> threads;
            for (int th = 0; th < 2; th++)
                threads.emplace_back([&] {
                    for (int i = 0; i < each / 2; i++)
                        t.incr("count");
                });
            for (auto &th : threads)
                th.join();
            t.set("child" + std::to_string(p), std::to_string(getpid()));
            _exit(0);
        }
    }
    int ok = 0, status;
    while (wait(&status) > 0)
        ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    CHECK(ok == procs);
    CHECK(t.get("count") == std::to_string(procs * each));
    CHECK(t.size() == 1 + procs);
    shmkv::table::unlink("procs");
}

int main()
{
    return run_parts("table", {{"read_write", part_read_write}, {"views", part_views},
                     {"conditions_and_lifetimes", part_conditions_and_lifetimes},
                     {"batches", part_batches}, {"iteration", part_iteration},
                     {"errors", part_errors}, {"stats_and_cache", part_stats_and_cache},
                     {"processes", part_processes}});
}
