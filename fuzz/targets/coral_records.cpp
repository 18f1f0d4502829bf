// The Coral record reader (`parley metrics`, core::add_records): the input as a records file,
// under both agreement profiles, with and without a fixed max_turns. A "<file>:<line>: ..." error
// is the reader's refusal; anything else escaping is a finding.
#include "fuzz_entry.hpp"

#include <parley/core/coral_metrics.hpp>

#include <sstream>

PARLEY_FUZZ_ENTRY(coral_records) {
    namespace core = parley::core;
    const std::string text(parley::fuzz::bytes(data, size));
    for (const char *profile : {"coral", "matrix"}) {
        for (std::optional<int> max_turns : {std::optional<int>(), std::optional<int>(3)}) {
            core::MetricsAccumulator acc(true);
            std::istringstream in(text);
            try {
                core::add_records(in, "records.jsonl", max_turns, core::parse_profile(profile), acc);
            } catch (const std::runtime_error &e) {
                if (std::string_view(e.what()).rfind("records.jsonl:", 0) != 0) throw; // not the reader's own refusal
            }
            (void)acc.means().dump();
            (void)acc.stderrs().dump();
        }
    }
    return 0;
}
