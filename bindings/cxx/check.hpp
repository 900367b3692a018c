// check.hpp - what the C++ tests (test_*.cpp) share: CHECK, CHECK_THROWS,
// and run_parts, which runs each part of a test program in a private
// $SHMKV_DIR under /dev/shm that must be empty again when the part ends.
#ifndef SHMKV_CXX_CHECK_HPP
#define SHMKV_CXX_CHECK_HPP

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

inline int failures;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            failures++;                                                      \
        }                                                                    \
    } while (0)

// expr must throw std::system_error whose code equals errc
#define CHECK_THROWS(expr, errc)                                             \
    do {                                                                     \
        bool thrown_ = false;                                                \
        try {                                                                \
            (void)(expr);                                                    \
        } catch (const std::system_error &e) {                               \
            thrown_ = true;                                                  \
            if (e.code() != (errc))                                          \
                std::fprintf(stderr, "%s:%d: %s threw %s\n", __FILE__, __LINE__, #expr, e.what()); \
            failures += e.code() != (errc);                                  \
        }                                                                    \
        if (!thrown_) {                                                      \
            std::fprintf(stderr, "%s:%d: %s did not throw\n", __FILE__, __LINE__, #expr); \
            failures++;                                                      \
        }                                                                    \
    } while (0)

struct test_part {
    const char *name;
    void (*fn)();
};

// Run the parts of program (its name, for messages), each with $SHMKV_DIR
// at one private directory, which each part must leave empty; a line per
// part.  The exit status: 0 if every check held, 1 if not, 2 if the
// directory could not be made.
inline int run_parts(const char *program, std::initializer_list<test_part> parts)
{
    std::string dir = std::string("/dev/shm/shmkv-cxx-") + program + "-XXXXXX";
    if (!mkdtemp(dir.data()) || setenv("SHMKV_DIR", dir.c_str(), 1)) {
        std::fprintf(stderr, "%s: private directory: %s\n", program, std::strerror(errno));
        return 2;
    }
    for (const auto &p : parts) {
        int before = failures;
        try {
            p.fn();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "%s: uncaught %s\n", p.name, e.what());
            failures++;
        }
        if (rmdir(dir.c_str()) != 0) {                // not empty: left behind
            std::fprintf(stderr, "%s: tables left in %s\n", p.name, dir.c_str());
            failures++;
        } else if (mkdir(dir.c_str(), 0700) != 0) {
            failures++;
        }
        std::printf("%-26s %s\n", p.name, failures == before ? "ok" : "FAILED");
    }
    if (std::system(("rm -rf " + dir).c_str()) != 0)
        failures++;
    return failures ? 1 : 0;
}

#endif
