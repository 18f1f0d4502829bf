// libparley-mmlu_pro.so: the MMLU-Pro domain as component "mmlu_pro/domain".
#include "mmlu_pro.hpp"

PARLEY_PLUGIN("mmlu_pro", "1.0.0", "MMLU-Pro (TIGER-Lab) as in Coral: loader, prompts, belief extraction, scoring",
              parley::domain<parley::mmlu_pro::MmluPro>("domain", 1, "MMLU-Pro multiple choice (Coral ts_mmlu_pro)",
                                                         parley::mmlu_pro::kParams));
