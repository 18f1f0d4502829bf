// GPQA loader (plugins/gpqa): the input as the release's CSV (RFC 4180, multi-line quoted cells);
// both profiles. Nothing here prints item text.
#include "domain_load.hpp"
#include "fuzz_entry.hpp"
#include "gpqa.hpp"

PARLEY_FUZZ_ENTRY(load_gpqa) {
    using parley::gpqa::Gpqa;
    static const parley::Config coral_cfg = parley::fuzz::host().config({{"profile", std::string("coral")}});
    Gpqa coral(coral_cfg);
    static const parley::Config fixed_cfg = parley::fuzz::host().config({{"profile", std::string("fixed")}});
    Gpqa fixed(fixed_cfg);
    const std::string path = parley::fuzz::write_file("gpqa.csv", parley::fuzz::bytes(data, size));
    for (Gpqa *d : {&coral, &fixed}) parley::fuzz::load_and_use(*d, path);
    return 0;
}
