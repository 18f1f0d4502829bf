// `parley compare RUN_A RUN_B [...]`: paired comparison of evaluation runs on the (domain, item,
// trial) they share, per domain and over the macro average: the difference B - A with a paired
// bootstrap interval and an exact McNemar test on the 0/1 outcomes. Works across protocols (a CoT
// run's `correct` against a Coral run's agreement correctness on the same items).
#pragma once

#include <parley/core/stats.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace parley::core {

struct CompareOptions {
    std::vector<std::filesystem::path> runs; // the first is the baseline A; each other is a B
    std::string metric;                      // empty: each run's headline
    bool allow_unpaired = false;
    bool json = false;
    std::optional<double> fail_if_worse;     // exit 1 when a B's macro difference is below -DELTA
    stats::Bootstrap bootstrap{};
};

// The comparison document (what --json prints). Throws on unreadable runs.
nlohmann::json compare_runs(const CompareOptions &options);
// The text table of a comparison document.
std::string format_comparison(const nlohmann::json &doc);
// The CLI: prints, returns the exit status (0; 1 worse than allowed; 2 refused: unpaired items).
int run_compare(const CompareOptions &options);

} // namespace parley::core
