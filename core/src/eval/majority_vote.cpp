#include "majority_vote.hpp"

namespace parley::core::eval {

VoteOutcome majority_vote(const std::vector<Ballot> &ballots) {
    VoteOutcome out;
    // Few voters (agents, samples): quadratic counting keeps first-in-order tie breaking obvious.
    for (size_t i = 0; i < ballots.size(); ++i) {
        if (!ballots[i].valid) continue;
        ++out.voters;
        int count = 0;
        for (const Ballot &b : ballots) count += b.valid && b.belief == ballots[i].belief;
        if (count > out.votes) {
            out.votes = count;
            out.winner = static_cast<int>(i);
        }
    }
    if (out.winner >= 0) {
        out.valid = true;
        out.belief = std::string(ballots[static_cast<size_t>(out.winner)].belief);
        out.unanimous = out.votes == static_cast<int>(ballots.size());
    }
    return out;
}

} // namespace parley::core::eval
