// `parley score`: re-scoring saved responses with a domain's extractor and matcher, no model.
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace parley::core {

struct ScoreOptions {
    std::string domain;                       // plugin name, e.g. "math"
    std::filesystem::path data;               // the release file or folder
    std::filesystem::path responses;          // JSONL {"id", "response"}
    std::filesystem::path out;                // empty: stdout
    std::string profile;                      // "coral" | "fixed" | "" (the domain's default)
    std::vector<std::filesystem::path> plugin_paths;
    toml::table config;                       // --set key=value, as TOML values
};

// Returns 0, or 3 when some ids were unknown (they are reported, not skipped silently).
int score_responses(const ScoreOptions &options);

} // namespace parley::core
