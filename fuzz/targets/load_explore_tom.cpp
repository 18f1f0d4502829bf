// ExploreToM loader (plugins/explore_tom): the input as the release's CSV; both profiles and both
// story columns.
#include "domain_load.hpp"
#include "explore_tom.hpp"
#include "fuzz_entry.hpp"

PARLEY_FUZZ_ENTRY(load_explore_tom) {
    using parley::explore_tom::ExploreTom;
    static const parley::Config coral_cfg = parley::fuzz::host().config({{"profile", std::string("coral")}});
    ExploreTom coral(coral_cfg);
    static const parley::Config fixed_cfg = parley::fuzz::host().config(
        {{"profile", std::string("fixed")}, {"story_field", std::string("infilled_story")}});
    ExploreTom fixed(fixed_cfg);
    const std::string path = parley::fuzz::write_file("explore_tom.csv", parley::fuzz::bytes(data, size));
    for (ExploreTom *d : {&coral, &fixed}) parley::fuzz::load_and_use(*d, path);
    return 0;
}
