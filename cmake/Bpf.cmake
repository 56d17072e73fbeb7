# Bpf.cmake — build a BPF C program into a bpftool skeleton header (the libbpf-bootstrap recipe).
#
#   synwarden_bpf_skeleton(<name> <source.bpf.c> [INCLUDES dir...])
#
# compiles <source> with clang -target bpf into <name>.bpf.o, generates <name>.skel.h with
# `bpftool gen skeleton`, and defines the INTERFACE target `<name>_skel` whose include path holds
# that header. The skeleton embeds the object bytes, so nothing reads a .o path at run time.
# The object rebuilds when the source or any header it includes changes (clang's depfile).

find_program(SYNWARDEN_BPF_CLANG NAMES clang clang-14 clang-16 clang-19
             DOC "clang able to target BPF (Debian 12: clang 14)")
find_program(SYNWARDEN_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin
             DOC "bpftool, for gen skeleton")
find_program(SYNWARDEN_LLVM_STRIP NAMES llvm-strip llvm-strip-14 llvm-strip-16 llvm-strip-19)
if(NOT SYNWARDEN_BPF_CLANG)
  message(FATAL_ERROR "clang not found: it compiles the XDP program. Install it with "
                      "scripts/install-deps.sh (package clang).")
endif()
if(NOT SYNWARDEN_BPFTOOL)
  message(FATAL_ERROR "bpftool not found: it generates the BPF skeleton. Install it with "
                      "scripts/install-deps.sh (package bpftool).")
endif()

# <asm/types.h> and friends live in the multiarch include dir on Debian; the BPF target does not
# search it by default.
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(SYNWARDEN_BPF_ARCH_INCLUDE /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
else()
  set(SYNWARDEN_BPF_ARCH_INCLUDE /usr/include/x86_64-linux-gnu)
endif()

set(SYNWARDEN_BPF_CFLAGS -g -O2 -target bpf
    # v3 = jmp32 + alu32 (kernel >= 5.1): fewer instructions, tighter 32-bit bounds for the
    # verifier of older kernels.
    -mcpu=v3
    -D__TARGET_ARCH_x86
    -Wall -Wextra -Wno-unused-parameter)
if(SYNWARDEN_WERROR)
  list(APPEND SYNWARDEN_BPF_CFLAGS -Werror)
endif()

function(synwarden_bpf_skeleton name source)
  cmake_parse_arguments(ARG "" "" "INCLUDES" ${ARGN})
  get_filename_component(src_abs ${source} ABSOLUTE)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf_skel)
  set(obj ${out_dir}/${name}.bpf.o)
  set(dep ${out_dir}/${name}.bpf.d)
  set(skel ${out_dir}/${name}.skel.h)
  set(includes -I${SYNWARDEN_BPF_ARCH_INCLUDE})
  foreach(dir ${ARG_INCLUDES})
    list(APPEND includes -I${dir})
  endforeach()

  set(strip_cmd)
  if(SYNWARDEN_LLVM_STRIP)
    # DWARF is only for debugging; BTF (kept) is what libbpf and the verifier need.
    set(strip_cmd COMMAND ${SYNWARDEN_LLVM_STRIP} -g ${obj})
  endif()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${SYNWARDEN_BPF_CLANG} ${SYNWARDEN_BPF_CFLAGS} ${includes}
            -MD -MF ${dep} -c ${src_abs} -o ${obj}
    ${strip_cmd}
    DEPENDS ${src_abs}
    DEPFILE ${dep}
    COMMENT "BPF ${name}: clang -target bpf"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "'${SYNWARDEN_BPFTOOL}' gen skeleton '${obj}' name ${name}_bpf > '${skel}.tmp'"
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "BPF ${name}: bpftool gen skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  # SYSTEM: the generated header holds the object as one long string literal, which
  # -Wpedantic (overlength-strings) would reject under -Werror.
  target_include_directories(${name}_skel SYSTEM INTERFACE ${out_dir})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
  set_property(TARGET ${name}_skel PROPERTY SYNWARDEN_BPF_OBJECT ${obj})
endfunction()
