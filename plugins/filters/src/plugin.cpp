// libparley-filters.so: data filters over Coral records and training rows (Coral §4.2–§4.3):
// filters/question, filters/belief, filters/dedupe, filters/length.
#include "filters.hpp"

namespace pf = parley::filters;

PARLEY_PLUGIN("filters", "1.0.0", "Data filters for Coral records and DPO/SFT rows: question, belief, dedupe, length",
              parley::filter<pf::QuestionFilter>("question", 1,
                  "Keep questions whose mean per-tree agreement_correctness is within [min_threshold, hard_threshold] (whole set)",
                  pf::kQuestionParams),
              parley::filter<pf::BeliefFilter>("belief", 1,
                  "Keep trees by belief/correctness: success, any_correct, contrastive or valid", pf::kBeliefParams),
              parley::filter<pf::DedupeFilter>("dedupe", 1, "Drop exact duplicate records or rows by a key",
                  pf::kDedupeParams),
              parley::filter<pf::LengthFilter>("length", 1,
                  "Bounds on target tokens, characters and turns", pf::kLengthParams));
