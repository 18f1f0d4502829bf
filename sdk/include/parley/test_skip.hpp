// parley/test_skip.hpp — PARLEY_SKIP(reason): leave the current test function as *skipped*.
//
// A test case that cannot run where it is (a plugin or tool not built, no server binary) says so
// instead of passing silently. The line it prints makes CTest report the test as skipped:
// parley_add_test (cmake/ParleyTesting.cmake, PARLEY_SKIP_REGEX) sets SKIP_REGULAR_EXPRESSION to
// match it, and scripts/test.sh fails on skips where everything is installed. `reason` is anything
// that can be written to a std::ostream. Free of namespaces so that any test file can include it.
#pragma once

#include <iostream>

#define PARLEY_SKIP(reason)                                                                        \
    do {                                                                                           \
        std::cout << "\n[parley-skip] " << reason << std::endl;                                    \
        return;                                                                                    \
    } while (0)
