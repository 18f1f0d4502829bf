// MATH answer equivalence (plugins/math/grader.hpp, the PRM800K grader Coral uses): the input's
// first line is the given answer, the rest the ground truth; the whole input also goes through
// the \boxed{} readers.
#include "fuzz_entry.hpp"
#include "grader.hpp"
#include "math_domain.hpp"

PARLEY_FUZZ_ENTRY(math_equivalence) {
    namespace m = parley::math;
    const auto text = parley::fuzz::bytes(data, size);
    const auto [given, truth] = parley::fuzz::split_line(text);
    (void)m::grade_answer(given, truth);
    (void)m::grade_answer(truth, given);
    (void)m::normalize_answer(given);
    (void)m::mathd_normalize(given);
    (void)m::parse_answer(text);
    (void)m::coral_raw_answer(text);
    if (auto boxed = m::last_boxed_only_string(text)) (void)m::remove_boxed(*boxed);
    (void)m::last_boxed_content(text);
    (void)m::normalise_llm(text);
    return 0;
}
