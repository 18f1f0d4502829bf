/* Compiled as strict C99 with -Werror -pedantic: the ABI header must stay plain C. */
#include <parley/plugin.h>
int parley_abi_c99_check(void) { return PARLEY_ABI_MAJOR; }

/* ABI 1.4 parameter specs, as a C plugin writes them: designated initializers, static choices. */
static const char *const kChoices[] = {"rule", "llm"};
static const parley_param kSpecs[] = {
    {.key = "extraction", .type = PARLEY_TYPE_STRING, .flags = PARLEY_PARAM_HAS_DEFAULT, .doc = "how beliefs are read",
     .choices = kChoices, .n_choices = 2, .default_string = "llm"},
    {.key = "max_turns", .type = PARLEY_TYPE_INT, .flags = PARLEY_PARAM_HAS_DEFAULT | PARLEY_PARAM_HAS_MIN,
     .doc = "turns at most", .min_value = 1, .default_int = 20},
};
const parley_component parley_abi_c99_component = {.struct_size = sizeof(parley_component), .kind = PARLEY_KIND_DOMAIN,
                                                   .name = "c99", .params = kSpecs, .n_params = 2,
                                                   .param_size = sizeof(parley_param)};
