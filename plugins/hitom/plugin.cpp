// libparley-hitom.so: the Hi-ToM domain as component "hitom/domain".
#include "hitom.hpp"

PARLEY_PLUGIN("hitom", "1.0.0", "Hi-ToM (He et al.) as in Coral: JSON loader, prompts, extraction, scoring; optional multiple choice",
              parley::domain<parley::hitom::HiTom>("domain", 1, "Hi-ToM higher-order theory-of-mind (Coral ts_hi_tom)",
                                                   parley::hitom::kParams));
