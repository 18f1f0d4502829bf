# PARLEY_SANITIZE: a sanitizer build of Parley's own code (scripts/sanitize.sh drives it).
#   "address;undefined"  ASan + UBSan (LeakSanitizer included), every UB report fatal
#   "thread"             TSan
# The flags go to everything this project compiles (host, SDK, plugins, tests, the llama.cpp jinja
# sources compiled into plugins/common/chat_template). Prebuilt libraries (llama.cpp/ggml, libtorch,
# gRPC, the C++ runtime) stay uninstrumented: ASan does not see their out-of-bounds accesses, TSan
# does not see their memory accesses or their own synchronisation (ggml's and OpenMP's spin
# barriers), and LSan still reports their leaks (scripts/sanitizers/*.supp lists the known ones).
set(_parley_sanitizers ${PARLEY_SANITIZE})
list(SORT _parley_sanitizers)
if(NOT _parley_sanitizers STREQUAL "address;undefined" AND NOT _parley_sanitizers STREQUAL "thread")
  message(FATAL_ERROR "PARLEY_SANITIZE='${PARLEY_SANITIZE}': expected \"address;undefined\" or \"thread\"")
endif()
list(JOIN _parley_sanitizers "," _parley_sanitize_list)
set(_parley_sanitize_flags -fsanitize=${_parley_sanitize_list} -fno-omit-frame-pointer)
if("undefined" IN_LIST _parley_sanitizers)
  list(APPEND _parley_sanitize_flags -fno-sanitize-recover=undefined)
endif()
# -O1 -g1 (after the build type's flags, so they win): file:line in every stack at a fraction of
# -O0's run time; scripts/sanitize.sh builds type Debug, so asserts stay on.
add_compile_options(${_parley_sanitize_flags} -O1 -g1)
add_link_options(-fsanitize=${_parley_sanitize_list})
# jemalloc would replace the allocator the sanitizers intercept.
set(PARLEY_WITH_JEMALLOC OFF CACHE BOOL "link the parley executable with jemalloc when found" FORCE)
message(STATUS "parley: sanitizers ${_parley_sanitize_list} (jemalloc off)")
