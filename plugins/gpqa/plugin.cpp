// libparley-gpqa.so: the GPQA domain as component "gpqa/domain".
#include "gpqa.hpp"

PARLEY_PLUGIN("gpqa", "1.0.0", "GPQA (Rein et al.) as in Coral: CSV loader, seeded choice shuffle, prompts, extraction, scoring",
              parley::domain<parley::gpqa::Gpqa>("domain", 1, "GPQA multiple choice (Coral ts_gpqa)", parley::gpqa::kParams));
