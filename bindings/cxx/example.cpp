// The C++ example of the README: a table shared by every process that
// opens it, with a counter and a lifetime.
#include <shmkv.hpp>

#include <chrono>
#include <iostream>

int main()
{
    using namespace std::chrono_literals;
    try {
        shmkv::table t("cxx-example");                  // /dev/shm/cxx-example
        t.set("greeting", "hello");
        t.set("session:42", "ann", 30s);                // expires in 30 s
        std::cout << "visits: " << t.incr("visits") << "\n";
        if (auto v = t.get("greeting"))                 // std::optional<std::string>
            std::cout << "greeting: " << *v << "\n";
        for (const auto &[key, value] : t)              // every pair
            std::cout << key << " = " << value << "\n";

        std::error_code ec;                             // or without exceptions
        if (!t.erase("greeting", ec) && !ec)
            std::cout << "already gone\n";
        shmkv::table::unlink("cxx-example");
    } catch (const std::system_error &e) {              // e.code(): errno, shmkv's text
        std::cerr << e.what() << "\n";
        return 1;
    }
}
