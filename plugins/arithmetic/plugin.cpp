// libparley-arithmetic.so: generated multi-step integer arithmetic as component "arithmetic/domain".
#include "arithmetic.hpp"

PARLEY_PLUGIN("arithmetic", "1.0.0",
              "Multi-step integer arithmetic, generated from a seeded spec, with Coral's prompts and MATH's answer conventions",
              parley::domain<parley::arithmetic::ArithmeticDomain>(
                  "domain", 1, "left-to-right + and - chains; train/heldout splits disjoint by expression", parley::arithmetic::kParams));
