# PARLEY_FUZZ=ON: everything in this build folder is compiled for libFuzzer with AddressSanitizer
# and UndefinedBehaviorSanitizer (coverage instrumentation everywhere, the fuzzer's main only in
# the fuzz_* executables: fuzz/CMakeLists.txt). Debian's clang; a folder of its own (fuzz/run.sh).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "PARLEY_FUZZ=ON needs clang (CMAKE_CXX_COMPILER=clang++): libFuzzer is clang's; use fuzz/run.sh")
endif()
set(PARLEY_FUZZ_SANITIZERS address,undefined)
add_compile_options(-fsanitize=${PARLEY_FUZZ_SANITIZERS},fuzzer-no-link -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=${PARLEY_FUZZ_SANITIZERS})
