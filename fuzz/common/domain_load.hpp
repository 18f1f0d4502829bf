// fuzz/common/domain_load.hpp — a domain loader target's body: load a file strictly and with
// skip_malformed, then use what loaded the way a run does (every prompt text, extraction of the
// gold and of a canonical belief, scoring), so rows that parse but hold odd values are exercised.
#pragma once

#include <parley/sdk.hpp>
#include <parley/testing.hpp>

#include <algorithm>
#include <string>

namespace parley::fuzz {

// The stand-in host the domains read their configuration from; one per process. Its log is
// dropped: TestHost keeps every line, which would grow across inputs (and make LeakSanitizer
// check after each one).
inline parley::testing::TestHost &host() {
    static parley::testing::TestHost h;
    static parley_host_api quiet = [] {
        parley_host_api a = *h.api();
        a.log = [](void *, int32_t, const char *, const char *) {};
        return a;
    }();
    parley::detail::host_slot() = &quiet;
    return h;
}

inline void use_items(parley::DomainBase &d) {
    (void)d.info();
    const size_t n = std::min<size_t>(d.size(), 8);
    for (size_t i = 0; i < n; ++i) {
        const parley::Item &item = d.item(i);
        for (int what = PARLEY_TEXT_TASK; what <= PARLEY_TEXT_EXTRACTOR_PROMPT; ++what) {
            try {
                (void)d.render(i, what, "Short Answer: the answer is (A). \\boxed{1}");
            } catch (const parley::Error &) { // a text the domain does not have (e.g. teacher-first)
            }
        }
        for (int mode : {PARLEY_EXTRACT_RULE, PARLEY_EXTRACT_LLM_OUTPUT}) {
            for (const std::string &text : {item.gold, "The answer is (" + item.gold + ").", "Short Answer: " + item.gold,
                                            "\\boxed{" + item.gold + "}"}) {
                parley::Belief b = d.extract(i, mode, text);
                (void)d.score(i, b.text);
            }
        }
        (void)d.score(i, item.gold);
    }
}

// Loads `path` into `d` strictly and again skipping malformed rows; a parley::Error is the
// loader's refusal (expected), anything else escapes as a finding.
template <class D> void load_and_use(D &d, const std::string &path) {
    for (bool skip : {false, true}) {
        parley::LoadContext ctx("domain", skip);
        try {
            d.load(path, ctx);
        } catch (const parley::Error &) {
            continue;
        }
        use_items(d);
    }
}

} // namespace parley::fuzz
