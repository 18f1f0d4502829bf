#include "rate_limit.hpp"

#include <algorithm>

namespace parley::openai {

TokenBucket::TokenBucket(double per_minute, Clock::time_point now, double capacity) {
    if (per_minute <= 0) return; // disabled
    rate_ = per_minute / 60.0;
    capacity_ = std::max(1.0, capacity);
    level_ = capacity_;
    last_ = now;
}

void TokenBucket::refill(Clock::time_point now) {
    if (now <= last_) return;
    level_ = std::min(capacity_, level_ + rate_ * std::chrono::duration<double>(now - last_).count());
    last_ = now;
}

bool TokenBucket::ready(Clock::time_point now, double need) {
    if (!enabled()) return true;
    refill(now);
    return level_ >= std::min(need, capacity_) - 1e-9;
}

void TokenBucket::adjust(double units) {
    if (enabled()) level_ = std::min(capacity_, level_ + units);
}

TokenBucket::Clock::time_point TokenBucket::ready_at(Clock::time_point now, double need) {
    if (ready(now, need)) return now;
    const double missing = std::min(need, capacity_) - level_;
    return now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(missing / rate_)) + std::chrono::microseconds(1);
}

bool RateLimiter::admit(Clock::time_point now, double tokens) {
    if (!requests_.ready(now, 1) || !tokens_.ready(now, tokens)) return false;
    requests_.take(requests_.enabled() ? 1 : 0);
    tokens_.take(tokens_.enabled() ? tokens : 0);
    return true;
}

RateLimiter::Clock::time_point RateLimiter::ready_at(Clock::time_point now, double tokens) {
    return std::max(requests_.ready_at(now, 1), tokens_.ready_at(now, tokens));
}

} // namespace parley::openai
