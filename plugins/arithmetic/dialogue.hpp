// plugins/arithmetic/dialogue.hpp — synthetic SFT rows for the base model (bench/learns): single-
// agent solutions (Coral's CoT prompt) and two-agent dialogues in Coral's format (the collaborate
// system prompt, turn 0 the student's task message, the teacher first, each agent seeing its own
// turns as `assistant`), with a partner that is sometimes wrong. Every trained target is right:
// solving, agreeing with a right partner, challenging a wrong one, revising after a right
// challenge, standing firm against a wrong one. Wrong turns appear only as what the other said.
#pragma once

#include "arithmetic.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace parley::arithmetic {

struct SftOptions {
    double cot_share = 0.35;     // draws that are single-agent CoT solutions (a dialogue gives 2-3 rows)
    double teacher_wrong = 0.35; // dialogues whose first solution is wrong (the student corrects it)
    double student_wrong = 0.25; // dialogues where the student wrongly challenges a right solution
    uint64_t seed = 1;
};

struct ChatMessage {
    std::string role, content;
};

// One training row: the messages up to and including the trained (last, assistant) turn.
using SftRow = std::vector<ChatMessage>;

// The problem with one step's result off by 1 or 2 (kept >= 0) and the later steps recomputed.
Problem corrupt(const Problem &p, std::mt19937_64 &rng);

// The phrasings of the dialogue turns.
std::string agree_turn(const Problem &right);
std::string challenge_turn(const Problem &right);
std::string revise_turn(const Problem &right);
std::string stand_turn(const Problem &right);

// `rows` rows over the domain's items (drawn uniformly), as described above.
std::vector<SftRow> make_sft_rows(ArithmeticDomain &domain, size_t rows, const SftOptions &opt);

// Every text the model reads or writes, for building its vocabulary: the prompts of every kind
// for a sample problem and every turn phrasing.
std::string corpus(ArithmeticDomain &domain);

// The fixed texts every prompt or turn repeats verbatim (the system prompts, the task message up
// to the expression, the turn openers, the answer sentence around its number): the vocabulary
// gives each one token, so the 2-core training spends its time on the arithmetic.
std::vector<std::string> phrases(ArithmeticDomain &domain);

} // namespace parley::arithmetic
