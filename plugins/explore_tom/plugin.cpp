// libparley-explore_tom.so: the ExploreToM domain as component "explore_tom/domain".
#include "explore_tom.hpp"

PARLEY_PLUGIN("explore_tom", "1.0.0", "ExploreToM (Sclar et al.) as in Coral: CSV loader, prompts, extraction, scoring",
              parley::domain<parley::explore_tom::ExploreTom>("domain", 1, "ExploreToM free-form theory-of-mind (Coral ts_explore_tom)",
                                                              parley::explore_tom::kParams));
