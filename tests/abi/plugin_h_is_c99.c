/* Compiled as strict C99 with -Werror -pedantic: the ABI header must stay plain C. */
#include <parley/plugin.h>
int parley_abi_c99_check(void) { return PARLEY_ABI_MAJOR; }
