// A run's budget (a node's `budget` table): once the tokens spent, or their price, reach it, no
// new episode starts; those in flight finish, the results so far are written and the run ends
// cleanly, so a re-run resumes it (work_plan.hpp) with a budget of its own.
//
//   budget = { tokens = 2_000_000 }                         # prompt + completion, every role
//   budget = { cost = 5.0, prices = { prompt = 3.0, completion = 15.0, cached = 0.3 } }
//                                                           # currency units, prices per million tokens
//
// Cached prompt tokens are priced at `prices.cached` (default: `prices.prompt`); reasoning tokens
// are completion tokens. The check runs between episodes: the episodes in flight when it is
// reached may overshoot it by their own spending.
#pragma once

#include "token_usage.hpp"

#include <parley/core/run.hpp>
#include <parley/core/schema.hpp>

namespace parley::core::eval {

// The `budget` key of an evaluation node's schema; `episodes` names what stops starting
// ("conversations", "samples", ...).
ParamSpec budget_param(const std::string &episodes);

class Budget {
  public:
    // Reads nodes.<node>.budget; none when absent. Throws naming the node and the key.
    static Budget read(const RunContext &ctx);

    bool active() const { return tokens_ > 0 || cost_ > 0; }
    // Reached by what `spent` counts?
    bool reached(const TokenCount &spent) const;
    double cost_of(const TokenCount &spent) const;
    // usage.budget: the limit, what was spent, and whether the run stopped before its plan's end.
    nlohmann::json to_json(const TokenCount &spent, bool stopped_early) const;

  private:
    int64_t tokens_ = 0;
    double cost_ = 0, prompt_ = 0, cached_ = 0, completion_ = 0; // prices per million tokens
};

} // namespace parley::core::eval
