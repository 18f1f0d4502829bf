# parley_add_test(<name> SOURCES <src>... [LINK <targets>...] [LABELS <labels>...] [SERIAL])
#
# A Catch2 (v2) test executable registered with CTest, one CTest test per test case. The Catch
# main lives in one object library compiled once (it takes ~12 s to compile).
# SERIAL: the tests use all cores (llama.cpp) or shared ports; they never run beside each other.
find_package(Catch2 REQUIRED)
include(Catch)

if(NOT TARGET parley_catch_main)
  file(WRITE ${CMAKE_BINARY_DIR}/parley_catch_main.cpp "#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n")
  add_library(parley_catch_main OBJECT ${CMAKE_BINARY_DIR}/parley_catch_main.cpp)
  target_link_libraries(parley_catch_main PUBLIC Catch2::Catch2)
endif()

function(parley_add_test name)
  cmake_parse_arguments(ARG "SERIAL" "" "SOURCES;LINK;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES} $<TARGET_OBJECTS:parley_catch_main>)
  target_link_libraries(${name} PRIVATE Catch2::Catch2 parley_sdk ${ARG_LINK})
  target_compile_definitions(${name} PRIVATE
    PARLEY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PARLEY_BINARY_DIR="${PROJECT_BINARY_DIR}"
    PARLEY_PLUGIN_DIR="${PARLEY_PLUGIN_BUILD_DIR}"
    PARLEY_SHARED_DIR="${PARLEY_SHARED_DIR}"
    PARLEY_LLAMA_TOOLS_DIR="${PARLEY_LLAMA_TOOLS_DIR}")
  set(props LABELS "${ARG_LABELS}")
  if(ARG_SERIAL)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  catch_discover_tests(${name} PROPERTIES ${props}
    ENVIRONMENT "PARLEY_SHARED_DIR=${PARLEY_SHARED_DIR}")
endfunction()
