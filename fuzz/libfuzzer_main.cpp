// The libFuzzer entry of one target: PARLEY_FUZZ_NAME is the target's name (fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>

#define PARLEY_FUZZ_CAT2(a, b) a##b
#define PARLEY_FUZZ_CAT(a, b) PARLEY_FUZZ_CAT2(a, b)
#define PARLEY_FUZZ_FN PARLEY_FUZZ_CAT(parley_fuzz_, PARLEY_FUZZ_NAME)

extern "C" int PARLEY_FUZZ_FN(const uint8_t *data, size_t size);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return PARLEY_FUZZ_FN(data, size); }
