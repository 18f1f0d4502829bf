// Answer extraction (Coral's regexes as the domains apply them): the multiple-choice letter rule
// and normalisation (MMLU-Pro, GPQA), the theory-of-mind beliefs and matchers (ExploreToM, Hi-ToM
// with its choices), MATH's boxed answers; each for a rule read of a turn and for an extractor
// reply, in both profiles. The input's first line is the gold answer (or Hi-ToM choices string),
// the rest the text read.
#include "fuzz_entry.hpp"
#include "hitom.hpp"
#include "math_domain.hpp"

#include <parley/common/coral.hpp>
#include <parley/common/mc.hpp>
#include <parley/common/tom.hpp>

PARLEY_FUZZ_ENTRY(answer_extraction) {
    namespace c = parley::common;
    const auto [gold, text] = parley::fuzz::split_line(parley::fuzz::bytes(data, size));
    const char gold_letter = gold.empty() ? 'A' : gold[0];
    const auto choices = parley::hitom::parse_choices(gold);
    for (c::Profile p : {c::Profile::Coral, c::Profile::Fixed}) {
        for (int mode : {PARLEY_EXTRACT_RULE, PARLEY_EXTRACT_LLM_OUTPUT}) {
            for (int n_options : {4, 10}) {
                parley::Belief b = c::mc::extract(mode, text, n_options, p);
                (void)c::mc::correct(b.text, gold_letter, p);
            }
            for (bool hitom : {false, true}) {
                parley::Belief b = c::tom::extract(mode, text, hitom, p);
                (void)c::tom::match(b.text, gold, p);
                if (hitom && choices) (void)parley::hitom::resolve_choice(b.text, *choices);
            }
        }
        (void)c::mc::correct(text, gold_letter, p);
        (void)c::tom::match(text, gold, p);
        (void)c::valid_belief(text, p);
    }
    (void)c::mc::extract_letter_coral(text);
    (void)c::mc::extract_letter_fixed(text);
    if (choices) (void)parley::hitom::resolve_choice(text, *choices);
    (void)parley::math::last_boxed_content(text);
    (void)parley::math::normalise_llm(text);
    (void)c::extractor_prompt(text);
    return 0;
}
