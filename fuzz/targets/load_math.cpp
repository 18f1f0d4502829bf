// MATH loader (plugins/math): the input as one problem file of the release layout
// (<subject>/<n>.json) and as a JSON Lines file with the same fields; both profiles.
#include "domain_load.hpp"
#include "fuzz_entry.hpp"
#include "math_domain.hpp"

PARLEY_FUZZ_ENTRY(load_math) {
    using parley::math::MathDomain;
    static const parley::Config coral_cfg = parley::fuzz::host().config({{"profile", std::string("coral")}});
    MathDomain coral(coral_cfg);
    static const parley::Config fixed_cfg = parley::fuzz::host().config({{"profile", std::string("fixed")}});
    MathDomain fixed(fixed_cfg);
    const auto text = parley::fuzz::bytes(data, size);
    parley::fuzz::write_file("math/test/algebra/1.json", text);
    const std::string dir = (parley::fuzz::scratch() / "math/test").string();
    const std::string jsonl = parley::fuzz::write_file("math.jsonl", text);
    for (MathDomain *d : {&coral, &fixed}) {
        parley::fuzz::load_and_use(*d, dir);
        parley::fuzz::load_and_use(*d, jsonl);
    }
    return 0;
}
