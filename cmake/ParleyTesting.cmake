# parley_add_test(<name> SOURCES <src>... [LINK <targets>...] [LABELS <labels>...]
#                  [ENVIRONMENT <VAR=value>...] [SERIAL])
#
# A Catch2 (v2) test executable registered with CTest, one CTest test per test case, discovered
# after each link by ParleyCatchAddTests.cmake (names are never list-split; an entry that selects
# no test case fails). The Catch main lives in one object library compiled once (~12 s).
# SERIAL: the tests use all cores (llama.cpp) or shared ports; they never run beside each other.
#
# A test case that cannot run here calls PARLEY_SKIP(reason) (sdk/include/parley/testing.hpp):
# CTest then reports it as skipped, never passed, and scripts/test.sh fails on skips unless the
# set-up is a reduced one (PARLEY_ALLOW_SKIPS).
find_package(Catch2 REQUIRED)

set(PARLEY_SKIP_REGEX "\\[parley-skip\\]")
set(PARLEY_CATCH_ADD_TESTS ${CMAKE_CURRENT_LIST_DIR}/ParleyCatchAddTests.cmake)

if(NOT TARGET parley_catch_main)
  file(WRITE ${CMAKE_BINARY_DIR}/parley_catch_main.cpp "#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n")
  add_library(parley_catch_main OBJECT ${CMAKE_BINARY_DIR}/parley_catch_main.cpp)
  target_link_libraries(parley_catch_main PUBLIC Catch2::Catch2)
endif()

function(parley_add_test name)
  cmake_parse_arguments(ARG "SERIAL" "" "SOURCES;LINK;LABELS;ENVIRONMENT" ${ARGN})
  add_executable(${name} ${ARG_SOURCES} $<TARGET_OBJECTS:parley_catch_main>)
  target_link_libraries(${name} PRIVATE Catch2::Catch2 parley_sdk ${ARG_LINK})
  target_compile_definitions(${name} PRIVATE
    PARLEY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PARLEY_BINARY_DIR="${PROJECT_BINARY_DIR}"
    PARLEY_PLUGIN_DIR="${PARLEY_PLUGIN_BUILD_DIR}"
    PARLEY_SHARED_DIR="${PARLEY_SHARED_DIR}"
    PARLEY_LLAMA_TOOLS_DIR="${PARLEY_LLAMA_TOOLS_DIR}")

  set(ctest_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_tests.cmake")
  set(serial OFF)
  if(ARG_SERIAL)
    set(serial ON)
  endif()
  # A list separator would split the command's arguments: the script splits these itself.
  string(REPLACE ";" "," labels "${ARG_LABELS}")
  set(environment "PARLEY_SHARED_DIR=${PARLEY_SHARED_DIR}" ${ARG_ENVIRONMENT})
  string(REPLACE ";" "|" environment "${environment}")
  add_custom_command(TARGET ${name} POST_BUILD
    BYPRODUCTS "${ctest_file}"
    COMMAND "${CMAKE_COMMAND}"
      -D "TEST_EXECUTABLE=$<TARGET_FILE:${name}>"
      -D "TEST_WORKING_DIR=${CMAKE_CURRENT_BINARY_DIR}"
      -D "CTEST_FILE=${ctest_file}"
      -D "TEST_LABELS=${labels}"
      -D "TEST_RUN_SERIAL=${serial}"
      -D "TEST_ENVIRONMENT=${environment}"
      -D "TEST_SKIP_REGEX=${PARLEY_SKIP_REGEX}"
      -P "${PARLEY_CATCH_ADD_TESTS}"
    VERBATIM)
  # CTest reads the file when it starts; until the first build it is absent (no tests yet).
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_include.cmake")
  file(WRITE "${include_file}"
    "if(EXISTS \"${ctest_file}\")\n  include(\"${ctest_file}\")\nelse()\n"
    "  add_test(${name}_NOT_BUILT ${name}_NOT_BUILT)\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
