// The agreement rule, in one place: do the agents agree once a turn has been spoken?
// The engine's stop decision (coral_eval.cpp: `agrees`) and `parley metrics` on recorded beliefs
// (coral_metrics.cpp: agreement_turn) both call agree_after.
#pragma once

#include <algorithm>
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
    std::vector<Role> roles;
    std::vector<std::pair<Role, Belief>> latest;
    for (size_t k = last + 1; k-- > 0;) {
        Role r = role(k);
        if (std::find(roles.begin(), roles.end(), r) == roles.end()) roles.push_back(r);
        auto held = [&](const auto &x) { return x.first == r; };
        if (std::find_if(latest.begin(), latest.end(), held) != latest.end()) continue;
        if (Belief b = belief(k)) latest.emplace_back(r, b);
    }
    if (latest.size() < 2 || latest.size() != roles.size()) return false;
    for (auto &entry : latest)
        if (!(*entry.second == *latest.front().second)) return false;
    return true;
}

} // namespace parley::core
