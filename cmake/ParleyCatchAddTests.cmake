# Run by parley_add_test after each link (cmake -P): lists a Catch2 (v2) executable's test cases and
# writes a CTest file registering one CTest test per case.
#
# Why not Catch2's own CatchAddTests.cmake: it keeps the names in a CMake list, so a name holding
# `;` is split into pieces that match no test case, and Catch2 then exits 0 having run nothing,
# which CTest counts as a pass. Here names never pass through a list (each line of the listing is
# cut out by position), every entry runs with `-w NoTests` (an entry whose filter selects no test
# case fails), and every case becomes an entry or the build fails.
#
# Inputs (-D): TEST_EXECUTABLE, TEST_WORKING_DIR, CTEST_FILE, TEST_LABELS, TEST_RUN_SERIAL,
# TEST_ENVIRONMENT, TEST_SKIP_REGEX.

execute_process(
  COMMAND "${TEST_EXECUTABLE}" --list-test-names-only
  OUTPUT_VARIABLE listing
  RESULT_VARIABLE result
  WORKING_DIRECTORY "${TEST_WORKING_DIR}")
# Catch2 v2 exits with the number of test cases listed (at most 255); anything else is a crash.
if(NOT result MATCHES "^[0-9]+$" OR result EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE}: listing its test cases failed or found none (result: ${result})\n${listing}")
endif()

# Quote a value as a CMake bracket argument: nothing in it is list-split or expanded.
function(bracket out value)
  set(eq "=")
  while(value MATCHES "\\]${eq}\\]")
    string(APPEND eq "=")
  endwhile()
  set(${out} "[${eq}[${value}]${eq}]" PARENT_SCOPE)
endfunction()

bracket(exe "${TEST_EXECUTABLE}")
bracket(wd "${TEST_WORKING_DIR}")
string(REPLACE "," ";" TEST_LABELS "${TEST_LABELS}")            # LABELS a,b
string(REPLACE "|" ";" TEST_ENVIRONMENT "${TEST_ENVIRONMENT}")  # ENVIRONMENT A=1|B=2
bracket(labels "${TEST_LABELS}")
bracket(env "${TEST_ENVIRONMENT}")
bracket(skip "${TEST_SKIP_REGEX}")
set(script "")
set(count 0)
string(LENGTH "${listing}" remaining)
while(remaining GREATER 0)
  string(FIND "${listing}" "\n" eol)
  if(eol EQUAL -1)
    set(line "${listing}")
    set(listing "")
  else()
    string(SUBSTRING "${listing}" 0 ${eol} line)
    math(EXPR next "${eol} + 1")
    string(SUBSTRING "${listing}" ${next} -1 listing)
  endif()
  string(LENGTH "${listing}" remaining)
  string(REGEX REPLACE "\r$" "" line "${line}")
  if(line STREQUAL "")
    continue()
  endif()
  # Catch2 quotes names that start with '#' in this listing.
  if(line MATCHES "^\"#.*\"$")
    string(REGEX REPLACE "^\"(.*)\"$" "\\1" line "${line}")
  endif()
  # The test spec Catch2 parses: escape what it would read as syntax (\ , [ ] * ~ ").
  set(spec "${line}")
  foreach(ch "\\" "," "[" "]" "*" "\"")
    string(REPLACE "${ch}" "\\${ch}" spec "${spec}")
  endforeach()
  if(spec MATCHES "^~")
    string(PREPEND spec "\\")
  endif()
  bracket(name "${line}")
  bracket(filter "${spec}")
  string(APPEND script
    "add_test(${name} ${exe} ${filter} -w NoTests)\n"
    "set_tests_properties(${name} PROPERTIES WORKING_DIRECTORY ${wd} LABELS ${labels} ENVIRONMENT ${env} SKIP_REGULAR_EXPRESSION ${skip}")
  if(TEST_RUN_SERIAL)
    string(APPEND script " RUN_SERIAL TRUE")
  endif()
  string(APPEND script ")\n")
  math(EXPR count "${count} + 1")
endwhile()

set(expected ${count})
if(expected GREATER 255)
  set(expected 255)
endif()
if(NOT expected EQUAL result)
  message(FATAL_ERROR "${TEST_EXECUTABLE}: ${result} test cases, but ${count} names read from the listing")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
