// What the integration tests that drive the `parley` executable share: running a command and
// capturing its output, the shared data folder, shell quoting, a temporary folder.
#pragma once

#include <catch2/catch.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace cli_test {

struct Result {
    int code;           // the exit status (-1: killed by a signal)
    std::string output; // stdout and stderr together
};

// Runs `cmd` through the shell, stderr into stdout. Safe on several threads at once: no Catch2
// assertion in here (Catch2 v2's are not thread-safe; TSan reported the race); a failed popen is
// a failed result that the caller's check names.
inline Result run(const std::string &cmd) {
    FILE *p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return {-1, std::string("popen failed: ") + std::strerror(errno)};
    std::string out;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    const int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// ../shared (data and models): $PARLEY_SHARED_DIR, else the folder the build was configured with.
inline std::string shared_dir() {
    const char *e = std::getenv("PARLEY_SHARED_DIR");
    return e && *e ? e : PARLEY_SHARED_DIR;
}

inline std::string quote(const std::filesystem::path &p) { return std::string(1, '\'').append(p.string()).append(1, '\''); }

// A fresh folder under the system's temporary folder, removed afterwards.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string &tag) {
        path = std::filesystem::temp_directory_path() / ("parley-test-" + tag + "-" + std::to_string(::getpid()));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
};

} // namespace cli_test
