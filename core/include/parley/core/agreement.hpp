// The agreement rule, in one place: do the agents agree once a turn has been spoken?
// The engine's stop decision (coral_eval.cpp: `agrees`) and `parley metrics` on recorded beliefs
// (coral_metrics.cpp: agreement_turn) both call agree_after.
#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace parley::core {

enum class AgreementProfile {
    Coral,  // official: the last two turns carry equal valid beliefs; total_turns counts turn 0
    Matrix  // Matrix P2P: each role's latest valid belief; turn 0 not counted
};

AgreementProfile parse_profile(const std::string &name); // throws on an unknown name

namespace detail {
// A short list kept inline (no heap for two agents: agree_after runs for every candidate turn);
// entries past N spill into a vector.
template <class T, size_t N = 4> class ShortList {
  public:
    void push(T v) {
        if (n_ < N) head_[n_++] = std::move(v);
        else tail_.push_back(std::move(v));
    }
    size_t size() const { return n_ + tail_.size(); }
    const T &operator[](size_t i) const { return i < N ? head_[i] : tail_[i - N]; }
    template <class Pred> bool any(Pred p) const {
        for (size_t i = 0; i < size(); ++i)
            if (p((*this)[i])) return true;
        return false;
    }

  private:
    std::array<T, N> head_{};
    size_t n_ = 0;
    std::vector<T> tail_;
};
} // namespace detail

// Turns 0..last; `role(k)` is turn k's speaker, `belief(k)` its valid belief (false-y when it
// holds none: no annotation, a zero score, an invalid answer) compared with `*a == *b`.
//   Coral: Coral's stop_conv walks back overwriting one belief per role; checked after every
//     turn it amounts to: the last two turns (one per agent) hold equal valid beliefs.
//   Matrix: each role's latest valid belief; every role seen holds one, there are at least two,
//     and all are equal.
template <class RoleAt, class BeliefAt>
bool agree_after(size_t last, const RoleAt &role, const BeliefAt &belief, AgreementProfile profile) {
    if (profile == AgreementProfile::Coral) {
        if (last < 1 || role(last) == role(last - 1)) return false;
        auto a = belief(last), b = belief(last - 1);
        return a && b && *a == *b;
    }
    using Role = decltype(role(0));
    using Belief = decltype(belief(0));
    detail::ShortList<Role> roles;
    detail::ShortList<std::pair<Role, Belief>> latest;
    for (size_t k = last + 1; k-- > 0;) {
        Role r = role(k);
        if (!roles.any([&](const Role &x) { return x == r; })) roles.push({r});
        if (latest.any([&](const auto &x) { return x.first == r; })) continue;
        if (Belief b = belief(k)) latest.push({r, b});
    }
    if (latest.size() < 2 || latest.size() != roles.size()) return false;
    return !latest.any([&](const auto &x) { return !(*x.second == *latest[0].second); });
}

} // namespace parley::core
