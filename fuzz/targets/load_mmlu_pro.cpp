// MMLU-Pro loader (plugins/mmlu_pro): the input as the release's rows in JSON Lines; both profiles.
#include "domain_load.hpp"
#include "fuzz_entry.hpp"
#include "mmlu_pro.hpp"

PARLEY_FUZZ_ENTRY(load_mmlu_pro) {
    using parley::mmlu_pro::MmluPro;
    static const parley::Config coral_cfg = parley::fuzz::host().config({{"profile", std::string("coral")}});
    MmluPro coral(coral_cfg);
    static const parley::Config fixed_cfg = parley::fuzz::host().config({{"profile", std::string("fixed")}});
    MmluPro fixed(fixed_cfg);
    const std::string path = parley::fuzz::write_file("mmlu_pro.jsonl", parley::fuzz::bytes(data, size));
    for (MmluPro *d : {&coral, &fixed}) parley::fuzz::load_and_use(*d, path);
    return 0;
}
