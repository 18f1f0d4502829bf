// STEP 9: the plugin's name is its library's: libparley-template.so serves "template/domain".
#include "template.hpp"

PARLEY_PLUGIN("template", "1.0.0", "A domain to copy: short answers from JSON Lines",
              parley::domain<parley::template_domain::TemplateDomain>("domain", 1, "short answers, exact match",
                                                                      parley::template_domain::kParams));
