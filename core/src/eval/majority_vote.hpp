// The majority vote over extracted beliefs that multi-agent debate and self-consistency share.
//
// Only valid beliefs vote (an agent or sample with no usable answer abstains); beliefs are
// compared as the domain normalised them (extract() returns a canonical form). Ties go to the
// belief cast first in voter order — the lowest agent index (debate) or earliest sample
// (self-consistency) among the tied beliefs — as the released debate code's `most_frequent`
// does (the first maximum in list order). No valid belief: no answer (`valid` false).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley::core::eval {

struct Ballot {
    std::string_view belief;
    bool valid = false;
};

struct VoteOutcome {
    std::string belief;    // the winning belief ("" when none)
    bool valid = false;    // some voter had a valid belief
    int votes = 0;         // voters behind the winner
    int voters = 0;        // valid voters
    int winner = -1;       // index of the first voter holding the winner; -1 none
    bool unanimous = false; // every ballot (valid or not) holds the winner
};

VoteOutcome majority_vote(const std::vector<Ballot> &ballots);

} // namespace parley::core::eval
