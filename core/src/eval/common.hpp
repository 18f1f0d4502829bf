// What the evaluation protocols share about the requests they send and the answers they get: the
// seeds, the extractor's sampling, the name of a finish reason, and how failed requests are reported.
#pragma once

#include <parley/core/components.hpp>
#include <parley/core/hash.hpp>
#include <parley/core/log.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace parley::core {

// Every seed sent lies in 0 … 2^63 − 1: vLLM (and OpenAI's API) read `seed` as a signed 64-bit
// integer and refuse anything larger with HTTP 400.
constexpr uint64_t kMaxSeed = 0x7fffffffffffffffull;

// The seed of one (domain, item, trial): a hash of the item under the node's base seed, then
// consecutive per trial (distinct within an item; across items distinct but for hash collisions).
inline uint64_t trial_seed(int64_t base_seed, const std::string &domain_node, const std::string &item_id, int64_t trial) {
    return (splitmix(static_cast<uint64_t>(base_seed) ^ fnv1a(domain_node + "\x1f" + item_id)) + static_cast<uint64_t>(trial)) & kMaxSeed;
}

// The seed of request `index` within a conversation seeded `conversation_seed`: consecutive from a
// hash of the conversation's seed, so the requests of one trial and of the next (whose seeds are
// consecutive) do not share seeds.
inline uint64_t request_seed(uint64_t conversation_seed, uint64_t index) {
    return splitmix(splitmix(conversation_seed) + index) & kMaxSeed;
}

// The extractor's sampling as the official harness sends it: Coral passes temperature 0 and
// max_tokens (32 in every config), Matrix's `make_request` fills in top_p 0.9 and seed 42.
inline void set_extractor_sampling(GenerationRequest &q, int32_t max_tokens) {
    q.temperature = 0.0;
    q.top_p = 0.9;
    q.seed = 42;
    q.max_tokens = max_tokens;
}

// A choice's finish reason as records write it (OpenAI's names; "none": the backend gave none).
// The agent id extractor calls carry (agents are 0, 1, ...): they share no agent's prefix.
constexpr uint32_t kExtractorAgent = 0xFFFFFFFFu;

// A turn shown with its reasoning (a role whose reasoning its partner or the extractor sees): the
// think block as DeepSeek-R1 and Qwen3 write it, then the answer.
inline std::string with_reasoning(std::string_view reasoning, std::string_view content) {
    std::string s;
    s.reserve(reasoning.size() + content.size() + 20);
    s.append("<think>\n").append(reasoning).append("\n</think>\n\n").append(content);
    return s;
}

inline const char *finish_name(int32_t f) {
    switch (f) {
    case PARLEY_FINISH_STOP: return "stop";
    case PARLEY_FINISH_LENGTH: return "length";
    case PARLEY_FINISH_CANCELLED: return "cancelled";
    case PARLEY_FINISH_ERROR: return "error";
    default: return "none";
    }
}

// Failed requests, logged once per distinct cause (the error text with its numbers blanked, so
// "context of 5000 > 4096 tokens" and "of 5012 > 4096" are one cause) and counted; summary()
// logs the counts at the end of a run. The error text itself goes into each record.
class FailureLog {
  public:
    explicit FailureLog(std::string node) : node_(std::move(node)) {}

    // `what` names the kind of request ("request", "extractor request"), `where` the first
    // occurrence (domain, item id, trial...).
    void note(const std::string &what, const std::string &error, const std::string &where) {
        auto [it, first] = causes_.try_emplace(what + "\x1f" + blank_numbers(error), Cause{what, error, 0});
        if (++it->second.count == 1)
            logger().warn("[{}] {} failed: {} (first at {}; further failures with this cause are counted, not logged)", node_, what,
                          error, where);
    }

    void summary() const {
        for (auto &[key, c] : causes_) logger().warn("[{}] {} x {} failed: {}", node_, c.count, c.what, c.first_error);
    }

  private:
    static std::string blank_numbers(const std::string &s) {
        std::string out;
        for (size_t i = 0; i < s.size(); ++i) {
            const bool digit = s[i] >= '0' && s[i] <= '9';
            if (!digit) out += s[i];
            else if (i == 0 || s[i - 1] < '0' || s[i - 1] > '9') out += 'N';
        }
        return out;
    }

    std::string node_;
    struct Cause {
        std::string what, first_error;
        int64_t count = 0;
    };
    std::map<std::string, Cause> causes_; // by kind and error text with numbers blanked
};

} // namespace parley::core
