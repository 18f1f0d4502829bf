// Hi-ToM loader (plugins/hitom): the input as the release's JSON {"data": [...]}; free-form and
// multiple-choice variants, both profiles.
#include "domain_load.hpp"
#include "fuzz_entry.hpp"
#include "hitom.hpp"

PARLEY_FUZZ_ENTRY(load_hitom) {
    using parley::hitom::HiTom;
    static const parley::Config coral_cfg = parley::fuzz::host().config({{"profile", std::string("coral")}});
    HiTom coral(coral_cfg);
    static const parley::Config fixed_mc_cfg = parley::fuzz::host().config({{"profile", std::string("fixed")}, {"multiple_choice", true}});
    HiTom fixed_mc(fixed_mc_cfg);
    static const parley::Config coral_mc_cfg = parley::fuzz::host().config({{"profile", std::string("coral")}, {"multiple_choice", true}});
    HiTom coral_mc(coral_mc_cfg);
    const std::string path = parley::fuzz::write_file("hitom.json", parley::fuzz::bytes(data, size));
    for (HiTom *d : {&coral, &fixed_mc, &coral_mc}) {
        parley::fuzz::load_and_use(*d, path);
        for (size_t i = 0; i < std::min<size_t>(d->size(), 8); ++i) (void)d->shown_question(i);
    }
    return 0;
}
