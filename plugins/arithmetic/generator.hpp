// plugins/arithmetic/generator.hpp — multi-step integer arithmetic problems, generated from a
// seeded specification. Each problem is a left-to-right chain of + and - steps; the train and
// held-out splits are disjoint by construction: a problem's split is a function of its expression
// alone (a hash), whatever the seed, count or operand range that drew it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parley::arithmetic {

enum class Split { Train, Heldout };

struct Spec {
    Split split = Split::Train;
    int64_t count = 100;      // problems to draw (distinct expressions)
    uint64_t seed = 1;
    int min_steps = 1;        // operations per problem
    int max_steps = 2;
    int64_t operand_min = 0;  // inclusive range of every operand
    int64_t operand_max = 9;
    std::string ops = "+-";   // a non-empty subset of "+-"
    bool nonnegative = true;  // redraw a problem whose running total goes below 0
    int heldout_percent = 20; // share of all expressions that belong to the held-out split
};

struct Step {
    int64_t a = 0;
    char op = '+';
    int64_t b = 0;
    int64_t result = 0;
};

struct Problem {
    std::string id;          // "<split>-<n>", n from 0 in draw order
    std::string expression;  // "3 + 4 - 2"
    std::vector<Step> steps; // left to right
    int64_t answer = 0;
};

const char *split_name(Split s);
Split split_of(const std::string &expression, int heldout_percent);

// The problems of `spec`, in draw order: a larger count extends a smaller one's list. Throws
// parley::Error (INVALID_ARGUMENT) for an impossible spec, or when the split has fewer distinct
// expressions than `count`.
std::vector<Problem> generate(const Spec &spec);

// Steps and answer of an expression as generate() writes it ("3 + 4 - 2"); throws on another shape.
Problem parse_expression(const std::string &expression);

// The question shown to the model: "What is 3 + 4 - 2?"
std::string question(const Problem &p);
// "3 + 4 = 7." for one step.
std::string step_text(const Step &s);
// "The answer is $\boxed{5}$." — the form MATH's extractor normalises a boxed answer to.
std::string answer_sentence(int64_t answer);
// The worked solution: every step, then the answer sentence.
std::string solution(const Problem &p);

} // namespace parley::arithmetic
