// fuzz/common/fuzz_entry.hpp — what every fuzz target shares: its entry point, a scratch folder
// for parsers that read files, and the rule that tells an expected refusal from a finding.
//
// A target is `PARLEY_FUZZ_ENTRY(name) { ... }` in fuzz/targets/<name>.cpp: a plain function
// `parley_fuzz_<name>(data, size)`. The libFuzzer build wraps it in LLVMFuzzerTestOneInput
// (fuzz/libfuzzer_main.cpp); the normal build's tests/fuzz_regressions replays the files of
// fuzz/regressions/<name>/ through it. A parser refusing bad input with its documented error
// (parley::Error and the like, caught by the target) is correct behaviour; anything else that
// escapes — another exception, a crash, a sanitizer report, a hang — is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>

#define PARLEY_FUZZ_ENTRY(name) extern "C" int parley_fuzz_##name(const uint8_t *data, size_t size)

namespace parley::fuzz {

inline std::string_view bytes(const uint8_t *data, size_t size) { return {reinterpret_cast<const char *>(data), size}; }

// A folder of this process's own (in /dev/shm when there is one: the loaders read a file per
// input), removed at exit.
inline const std::filesystem::path &scratch() {
    static const std::filesystem::path dir = [] {
        std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
        std::string tmpl = (base / "parley-fuzz-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("fuzz: mkdtemp failed");
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(scratch(), ec);
        });
        return std::filesystem::path(tmpl);
    }();
    return dir;
}

// Writes `content` to scratch()/<name> (creating folders) and returns the path.
inline std::string write_file(const std::string &name, std::string_view content) {
    const std::filesystem::path p = scratch() / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("fuzz: cannot write " + p.string());
    return p.string();
}

// The input cut at its first '\n': (before, after). No '\n': (all, "").
inline std::pair<std::string_view, std::string_view> split_line(std::string_view s) {
    const size_t nl = s.find('\n');
    if (nl == std::string_view::npos) return {s, {}};
    return {s.substr(0, nl), s.substr(nl + 1)};
}

} // namespace parley::fuzz
