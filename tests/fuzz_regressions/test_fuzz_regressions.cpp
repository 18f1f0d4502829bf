// Replays every file of fuzz/regressions/<target>/ through the fuzz target's entry function (the
// same code libFuzzer drives, fuzz/targets/<target>.cpp): each was a crash, hang or sanitizer
// report once. A target's entry catches the parser's documented refusals; anything else escaping
// fails here. Only file names are shown, never contents (GPQA-derived inputs are scrubbed anyway).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#define PARLEY_FUZZ_X(name) extern "C" int parley_fuzz_##name(const uint8_t *data, size_t size);
#include "fuzz_entries.inc"
#undef PARLEY_FUZZ_X

namespace fs = std::filesystem;

namespace {

const fs::path kRegressions = fs::path(PARLEY_SOURCE_DIR) / "fuzz" / "regressions";

std::vector<fs::path> inputs_of(const std::string &target) {
    std::vector<fs::path> files;
    if (fs::is_directory(kRegressions / target))
        for (auto &e : fs::directory_iterator(kRegressions / target))
            if (e.is_regular_file() && e.path().filename() != "README.md") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

void replay(const std::string &target, int (*entry)(const uint8_t *, size_t)) {
    for (const fs::path &f : inputs_of(target)) {
        std::ifstream in(f, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        INFO("fuzz/regressions/" << target << "/" << f.filename().string());
        CHECK_NOTHROW(entry(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size()));
    }
}

const std::set<std::string> kTargets = {
#define PARLEY_FUZZ_X(name) #name,
#include "fuzz_entries.inc"
#undef PARLEY_FUZZ_X
};

} // namespace

#define PARLEY_FUZZ_X(name) \
    TEST_CASE("fuzz regressions replay cleanly: " #name, "[fuzz]") { replay(#name, &parley_fuzz_##name); }
#include "fuzz_entries.inc"
#undef PARLEY_FUZZ_X

TEST_CASE("every fuzz/regressions folder names a fuzz target", "[fuzz]") {
    // A misspelt folder would otherwise be replayed by no one.
    if (!fs::is_directory(kRegressions)) return;
    for (auto &e : fs::directory_iterator(kRegressions)) {
        if (!e.is_directory()) continue;
        INFO(e.path().filename().string());
        CHECK(kTargets.count(e.path().filename().string()) == 1);
    }
}
