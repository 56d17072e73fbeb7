# synwarden_add_fuzz_target(): one call per fuzz target (see tests/fuzz/README.md).
#
#   synwarden_add_fuzz_target(<name> LIBS <libs...> [DICT <file>] [ARGS <libFuzzer flags...>])
#
# expects tests/fuzz/fuzz_<name>.cpp (defining LLVMFuzzerTestOneInput) and a seed corpus in
# tests/fuzz/corpus/<name>/, and always creates
#   fuzz_replay_<name>   the target linked with replay_main.cpp instead of libFuzzer (any compiler)
#                        (the target's source is compiled once, into fuzz_target_<name>, for both)
#   test fuzz.corpus.<name> (label unit): replays every seed, so a corpus regression fails the
#                        normal test run
# when the unit tier is built (synwarden_add_test), and, with SYNWARDEN_FUZZ=ON (clang only), also
#   fuzz_<name>          the libFuzzer binary (-fsanitize=fuzzer,address,undefined), with LIBS
#                        compiled with coverage instrumentation (-fsanitize=fuzzer-no-link)
# and appends a line to ${CMAKE_BINARY_DIR}/fuzz_targets.tsv that scripts/fuzz.sh runs from:
#   name <TAB> binary <TAB> seed corpus <TAB> extra libFuzzer flags
include_guard(GLOBAL)

set(SYNWARDEN_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
set(SYNWARDEN_FUZZ_LIST ${CMAKE_BINARY_DIR}/fuzz_targets.tsv)
set_property(GLOBAL PROPERTY _synwarden_fuzz_list "")

# Written once every target of the including directory is known (binary paths are generator
# expressions, so file(GENERATE) rather than file(WRITE)).
function(_synwarden_fuzz_write_list)
  get_property(content GLOBAL PROPERTY _synwarden_fuzz_list)
  file(GENERATE OUTPUT ${SYNWARDEN_FUZZ_LIST} CONTENT "${content}")
endfunction()
cmake_language(DEFER CALL _synwarden_fuzz_write_list)

if(SYNWARDEN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SYNWARDEN_FUZZ=ON needs clang (libFuzzer), but CMAKE_CXX_COMPILER is "
                        "${CMAKE_CXX_COMPILER_ID}. Configure a separate build dir with "
                        "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++, or run scripts/fuzz.sh.")
  endif()
  if(NOT SYNWARDEN_SANITIZE)
    # Without it the libraries under test would be fuzzed with no memory checks at all: the
    # fuzz binaries carry ASan, but code outside them would not report its overflows.
    message(FATAL_ERROR "SYNWARDEN_FUZZ=ON needs SYNWARDEN_SANITIZE=ON as well, so the libraries "
                        "under test are built with ASan+UBSan (scripts/fuzz.sh sets both).")
  endif()
  add_custom_target(synwarden_fuzz_all)
endif()

# Coverage instrumentation for a library the fuzz targets exercise. Without it libFuzzer sees
# only the edges of the target file itself and mutates blind. Applied once per library; every
# consumer in this (fuzz-only) build dir then links the sanitizer runtime that provides the
# coverage hooks, which SYNWARDEN_SANITIZE guarantees.
function(_synwarden_fuzz_instrument lib)
  get_property(done GLOBAL PROPERTY _synwarden_fuzz_instrumented_${lib})
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY _synwarden_fuzz_instrumented_${lib} TRUE)
  target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link)
endfunction()

function(synwarden_add_fuzz_target name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "DICT" "LIBS;ARGS")
  set(src ${SYNWARDEN_FUZZ_DIR}/fuzz_${name}.cpp)
  set(corpus ${SYNWARDEN_FUZZ_DIR}/corpus/${name})
  if(NOT EXISTS ${src})
    message(FATAL_ERROR "fuzz target ${name}: ${src} does not exist")
  endif()
  if(NOT IS_DIRECTORY ${corpus})
    message(FATAL_ERROR "fuzz target ${name}: seed corpus ${corpus}/ does not exist; add at "
                        "least one meaningful seed (tests/fuzz/README.md)")
  endif()

  synwarden_tier_enabled(unit with_unit)
  if(NOT with_unit AND NOT SYNWARDEN_FUZZ)
    return()
  endif()
  # The target's source is compiled once: the replay binary and the libFuzzer binary link the same
  # object. In a fuzz build it carries libFuzzer's coverage instrumentation
  # (-fsanitize=fuzzer-no-link), as the libraries under test do; the sanitizer runtime provides
  # its hooks where libFuzzer is not linked (the replay binary).
  add_library(fuzz_target_${name} OBJECT ${src})
  target_include_directories(fuzz_target_${name} PRIVATE ${SYNWARDEN_FUZZ_DIR})
  target_compile_options(fuzz_target_${name} PRIVATE ${SYNWARDEN_WARNINGS}
                         ${SYNWARDEN_TEST_COMPILE_OPTIONS})
  target_link_libraries(fuzz_target_${name} PRIVATE ${ARG_LIBS})
  if(SYNWARDEN_FUZZ)
    target_compile_options(fuzz_target_${name} PRIVATE -fsanitize=fuzzer-no-link)
  endif()

  if(with_unit)
    # replay_main.cpp compiled once for every replay binary.
    if(NOT TARGET synwarden_fuzz_replay_main)
      add_library(synwarden_fuzz_replay_main OBJECT ${SYNWARDEN_FUZZ_DIR}/replay_main.cpp)
      target_include_directories(synwarden_fuzz_replay_main PRIVATE ${SYNWARDEN_FUZZ_DIR})
      target_compile_options(synwarden_fuzz_replay_main PRIVATE ${SYNWARDEN_WARNINGS}
                             ${SYNWARDEN_TEST_COMPILE_OPTIONS})
    endif()
    add_executable(fuzz_replay_${name} $<TARGET_OBJECTS:fuzz_target_${name}>
                   $<TARGET_OBJECTS:synwarden_fuzz_replay_main>)
    set_target_properties(fuzz_replay_${name} PROPERTIES LINKER_LANGUAGE CXX)
    target_link_libraries(fuzz_replay_${name} PRIVATE ${ARG_LIBS})
    synwarden_add_test(fuzz.corpus.${name} TIER unit COMMAND fuzz_replay_${name} ${corpus}
                       PROPERTIES TIMEOUT 300)
  endif()

  if(SYNWARDEN_FUZZ)
    foreach(lib ${ARG_LIBS})
      _synwarden_fuzz_instrument(${lib})
    endforeach()
    add_executable(fuzz_${name} $<TARGET_OBJECTS:fuzz_target_${name}>)
    set_target_properties(fuzz_${name} PROPERTIES LINKER_LANGUAGE CXX)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${name} PRIVATE ${ARG_LIBS})
    add_dependencies(synwarden_fuzz_all fuzz_${name})
    set(flags ${ARG_ARGS})
    if(ARG_DICT)
      list(APPEND flags -dict=${SYNWARDEN_FUZZ_DIR}/${ARG_DICT})
    endif()
    list(JOIN flags " " flags)
    set_property(GLOBAL APPEND_STRING PROPERTY _synwarden_fuzz_list
                 "${name}\t$<TARGET_FILE:fuzz_${name}>\t${corpus}\t${flags}\n")
  endif()
endfunction()
