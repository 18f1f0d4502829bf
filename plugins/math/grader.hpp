// plugins/math/grader.hpp — MATH answer equivalence, a C++ re-creation of the grader Coral uses
// ([mft] multiagent-ft grader.py = openai/prm800k prm800k/grading/grader.py + math_normalize.py, which
// is Hendrycks' modeling/math_equivalence.py). No dependencies beyond the C++20 standard library.
//
// Every function is total: malformed input never throws, work is bounded by the input length.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::math {

// The last "\boxed" (or, when there is none, the last "\fbox") with its balanced-brace argument, e.g.
// "\boxed{\frac{1}{2}}" (Hendrycks modeling/dataset/util.py). "\boxed 5" (no brace: the argument runs up
// to the next '$' or newline, as in the Minerva/lm-eval variant) gives "\boxed 5". nullopt when there is
// no box or its braces never close.
std::optional<std::string> last_boxed_only_string(std::string_view s);

// The argument of a string returned by last_boxed_only_string: "\boxed{X}" / "\boxed {X}" / "\fbox{X}" -> X,
// "\boxed X" -> X. nullopt for anything else.
std::optional<std::string> remove_boxed(std::string_view s);

// remove_boxed(last_boxed_only_string(s)) — [mft] eval_math.parse_answer.
std::optional<std::string> parse_answer(std::string_view s);

// Coral's MATHMatchEvaluator answer: parse_answer(s) when it is non-empty, otherwise
// s.lstrip(r"The answer is $\boxed{").rstrip(r"}$.") (character-set strips, as in the Python).
std::string coral_raw_answer(std::string_view s);

// PRM800K math_normalize.normalize_answer, i.e. Hendrycks' _strip_string after removing an enclosing
// "\text{...}" (the "mathd" normalisation). Returns the input (stripped) where the Python raises.
std::string mathd_normalize(std::string_view answer);

// PRM800K grader._normalize: \text{} / $ / % / units / "\!" / latex->text (a re-implementation of the
// pylatexenc 2.10 LatexNodes2Text conversion it relies on) / mixed numbers / lowercase / integers.
std::string normalize_answer(std::string_view answer);

// PRM800K grader.grade_answer(given_answer, ground_truth): mathd equality, else _normalize equality,
// else element-wise tuple/interval comparison where each element pair is decided by the integer and
// unreduced-fraction rules and otherwise by an expression evaluator standing in for
// sympy.simplify(gt - given) == 0 (exact rational arithmetic where possible, numeric identity testing
// at random points where not).
bool grade_answer(std::string_view given, std::string_view ground_truth);

} // namespace parley::math
