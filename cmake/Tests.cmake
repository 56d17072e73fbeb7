# synwarden_add_test(): the one way a test is registered, in every folder.
#
#   synwarden_add_test(<name> TIER <unit|bpf|integration|vm>
#                      [SOURCES <file...> [TARGET <exe>] [LIBS <lib...>] [DEFINES <def...>]
#                       [INCLUDES <dir...>] [DEPENDS <target...>] [GTEST [PREFIX <p>]]]
#                      [COMMAND <cmd...>] [WORKING_DIRECTORY <dir>]
#                      [PROPERTIES <ctest property value...>])
#
# - TIER must be in SYNWARDEN_TEST_TIERS, otherwise the call does nothing: no executable is
#   compiled and no test registered. A sanitizer build (tiers "unit") or the Debian package build
#   (no tier) thus compiles only what it runs.
# - SOURCES builds executable TARGET (default <name>) with the project's warnings, linked with
#   LIBS plus GoogleTest's main and Threads. With GTEST every gtest case becomes its own ctest
#   entry (gtest_discover_tests, names prefixed with PREFIX); without it the test runs COMMAND,
#   or the executable itself with --gtest_color=no.
# - COMMAND alone registers a script or an executable built elsewhere.
# - Every test carries LABELS <tier>: scripts/test.sh runs tiers by label.
#
# synwarden_tier_enabled(<tier> <out-var>) tells whether a tier is built, for helpers (tools,
# libraries, BPF objects) that only a tier's tests use. Test code compiles with
# ${SYNWARDEN_TEST_COMPILE_OPTIONS} (SYNWARDEN_TEST_DEBUG below); helpers add it themselves.
include_guard(GLOBAL)
include(GoogleTest)

set(SYNWARDEN_KNOWN_TIERS unit bpf integration vm)

# Debug information of test code (test binaries, their helpers and the VM tier's guest tools; never
# the product): "full" keeps the build type's -g, "lines" adds -g1 (function names and line
# tables: backtraces and gtest's file:line, no local variables). Measured on this project's test
# files with g++ -O2: a third less compile time each (codec_test 9.4 s -> 6.2 s of CPU).
# scripts/test.sh builds with "lines"; scripts/build.sh defaults to "full".
set(SYNWARDEN_TEST_DEBUG full CACHE STRING "Debug info of test code: full or lines (-g1)")
set_property(CACHE SYNWARDEN_TEST_DEBUG PROPERTY STRINGS full lines)
if(SYNWARDEN_TEST_DEBUG STREQUAL "lines")
  set(SYNWARDEN_TEST_COMPILE_OPTIONS -g1)
elseif(SYNWARDEN_TEST_DEBUG STREQUAL "full")
  set(SYNWARDEN_TEST_COMPILE_OPTIONS)
else()
  message(FATAL_ERROR "SYNWARDEN_TEST_DEBUG must be full or lines, got '${SYNWARDEN_TEST_DEBUG}'")
endif()

function(synwarden_tier_enabled tier out)
  if(tier IN_LIST SYNWARDEN_TEST_TIERS)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

function(synwarden_add_test name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "GTEST" "TIER;TARGET;PREFIX;WORKING_DIRECTORY"
                        "SOURCES;LIBS;DEFINES;INCLUDES;DEPENDS;COMMAND;PROPERTIES")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "synwarden_add_test(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_TIER IN_LIST SYNWARDEN_KNOWN_TIERS)
    message(FATAL_ERROR "synwarden_add_test(${name}): TIER must be one of "
                        "${SYNWARDEN_KNOWN_TIERS}, got '${ARG_TIER}'")
  endif()
  if(NOT ARG_TIER IN_LIST SYNWARDEN_TEST_TIERS)
    return()
  endif()
  if(NOT ARG_SOURCES AND NOT ARG_COMMAND)
    message(FATAL_ERROR "synwarden_add_test(${name}): give SOURCES, COMMAND or both")
  endif()
  if(ARG_GTEST AND NOT ARG_SOURCES)
    message(FATAL_ERROR "synwarden_add_test(${name}): GTEST needs SOURCES")
  endif()
  set(props LABELS ${ARG_TIER} ${ARG_PROPERTIES})

  if(ARG_SOURCES)
    set(exe ${name})
    if(ARG_TARGET)
      set(exe ${ARG_TARGET})
    endif()
    add_executable(${exe} ${ARG_SOURCES})
    target_compile_options(${exe} PRIVATE ${SYNWARDEN_WARNINGS} ${SYNWARDEN_TEST_COMPILE_OPTIONS})
    target_link_libraries(${exe} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main GTest::gmock
                          Threads::Threads)
    if(ARG_DEFINES)
      target_compile_definitions(${exe} PRIVATE ${ARG_DEFINES})
    endif()
    if(ARG_INCLUDES)
      target_include_directories(${exe} PRIVATE ${ARG_INCLUDES})
    endif()
    if(ARG_DEPENDS)
      add_dependencies(${exe} ${ARG_DEPENDS})
    endif()
    if(ARG_GTEST)
      gtest_discover_tests(${exe} TEST_PREFIX "${ARG_PREFIX}" PROPERTIES ${props}
                           DISCOVERY_TIMEOUT 60)
      return()
    endif()
    if(NOT ARG_COMMAND)
      set(ARG_COMMAND ${exe} --gtest_color=no)
    endif()
  endif()

  if(ARG_WORKING_DIRECTORY)
    add_test(NAME ${name} COMMAND ${ARG_COMMAND} WORKING_DIRECTORY ${ARG_WORKING_DIRECTORY})
  else()
    add_test(NAME ${name} COMMAND ${ARG_COMMAND})
  endif()
  set_tests_properties(${name} PROPERTIES ${props})
endfunction()

# synwarden_add_bench(<name> SOURCES <file...> LIBS <lib...>): a benchmark program.
# SYNWARDEN_BUILD_BENCH=ON builds the executable; COMPILE (test builds, scripts/build.sh) compiles
# its sources into an object library that nothing links or runs, so a test build still fails when
# a benchmark stops compiling but spends nothing on programs it never runs; OFF skips it.
function(synwarden_add_bench name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "SOURCES;LIBS")
  if(NOT SYNWARDEN_BENCH_MODE)
    return()
  endif()
  if(SYNWARDEN_BENCH_MODE STREQUAL "COMPILE")
    add_library(${name}_compile_check OBJECT ${ARG_SOURCES})
    set(target ${name}_compile_check)
  else()
    add_executable(${name} ${ARG_SOURCES})
    set(target ${name})
  endif()
  target_compile_options(${target} PRIVATE ${SYNWARDEN_WARNINGS})
  target_link_libraries(${target} PRIVATE ${ARG_LIBS})
endfunction()
