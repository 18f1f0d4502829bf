// `parley merge`: joining the shards of a sharded run, with exactly-once checks.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace parley::core {

namespace fs = std::filesystem;

// Returns 0 when every (item, trial) appears exactly once, 1 otherwise (problems are logged).
int merge_shards(const fs::path &output_dir, const std::vector<std::string> &nodes = {});

} // namespace parley::core
