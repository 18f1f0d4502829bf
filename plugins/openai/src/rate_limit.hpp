// openai/rate_limit.hpp — client-side pacing for rate-limited API providers: requests per minute
// and tokens per minute, each a token bucket that banks a single unit, so requests leave evenly
// spaced at the limit's rate. A bucket that banks more sends bursts: one holding a second's worth
// sends up to twice the rate within a second, which providers that enforce their per-minute
// quotas over short windows answer with 429. Pure arithmetic over a clock value, unit-tested
// without a network.
#pragma once

#include <chrono>
#include <cstdint>

namespace parley::openai {

// A token bucket: `rate` units per second, at most `capacity` banked. The level may go negative
// (a request larger than the bucket, or a usage correction after the fact): the debt is paid back
// by refill before anything else is admitted, so the long-run rate holds.
class TokenBucket {
  public:
    using Clock = std::chrono::steady_clock;
    TokenBucket() = default;
    TokenBucket(double per_minute, Clock::time_point now, double capacity = 1);

    bool enabled() const { return rate_ > 0; }
    // Whether `need` units may go now (needs level >= min(need, capacity)).
    bool ready(Clock::time_point now, double need);
    void take(double units) { level_ -= units; }
    // Gives back (or, negative, charges) units: a refund for an attempt the server refused, or the
    // difference between a request's estimate and its reported usage.
    void adjust(double units);
    // When ready(need) will first hold (now if it holds already).
    Clock::time_point ready_at(Clock::time_point now, double need);

  private:
    void refill(Clock::time_point now);
    double rate_ = 0, capacity_ = 0, level_ = 0;
    Clock::time_point last_{};
};

// Requests/minute and tokens/minute together: an attempt goes when both buckets allow it.
class RateLimiter {
  public:
    using Clock = TokenBucket::Clock;
    RateLimiter() = default;
    RateLimiter(double requests_per_minute, double tokens_per_minute, Clock::time_point now)
        : requests_(requests_per_minute, now), tokens_(tokens_per_minute, now) {}

    bool enabled() const { return requests_.enabled() || tokens_.enabled(); }
    // Admits one attempt estimated at `tokens` (prompt + max_tokens x n), charging both buckets;
    // false (nothing charged) when either bucket is short.
    bool admit(Clock::time_point now, double tokens);
    // The attempt's real usage is known (0 for a refused attempt): corrects the token bucket.
    void settle(double estimated, double actual) { tokens_.adjust(estimated - actual); }
    // When admit(tokens) can next succeed.
    Clock::time_point ready_at(Clock::time_point now, double tokens);

  private:
    TokenBucket requests_, tokens_;
};

// A request's token estimate before the server has counted it: 4 characters a prompt token (the
// usual English figure for BPE vocabularies) plus every token it may generate.
inline double estimate_tokens(size_t prompt_chars, int64_t max_tokens, int64_t n) {
    return static_cast<double>(prompt_chars) / 4.0 + static_cast<double>(max_tokens > 0 ? max_tokens : 0) * static_cast<double>(n > 1 ? n : 1);
}

} // namespace parley::openai
