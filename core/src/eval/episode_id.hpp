// Which (domain, item, trial) an episode of a protocol is, and its seed (common.hpp
// trial_seed): what records name and what the protocol seeds its requests from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace parley::core::eval {

struct EpisodeId {
    std::string domain, id, gold; // domain node, item id, gold answer
    size_t index = 0;             // the item's index in its domain (lm-eval's doc_id)
    int64_t trial = 0;
    uint64_t seed = 0;
    size_t unit = 0;              // its index in the node's work plan
};

} // namespace parley::core::eval
