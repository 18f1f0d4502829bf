// The table a graph run ends with: domains x evaluation nodes, each cell the node's headline
// metric (CoT: final_success_rate; Coral: agreement_correctness) with its 95% interval (or
// ± its standard error where results.json has no interval), read from each node's results.json.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace parley::core {

// `node_dirs`: the output folders of the graph's nodes in run order; those without a
// results.json are not evaluations and are left out. Empty when there is none.
std::string summary_table(const std::vector<std::filesystem::path> &node_dirs);

} // namespace parley::core
