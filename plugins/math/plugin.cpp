// libparley-math.so: the MATH domain as component "math/domain".
#include "math_domain.hpp"

PARLEY_PLUGIN("math", "1.0.0", "MATH (Hendrycks et al.) as in Coral: loaders, prompts, extraction, PRM800K-style grading",
              parley::domain<parley::math::MathDomain>("domain", 1, "MATH free-form \\boxed{} answers (Coral ts_math)",
                                                        parley::math::kParams));
