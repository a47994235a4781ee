# Build time on a 2-core machine: the third-party headers (nlohmann-json, toml++, fmt, CLI11,
# GoogleTest) cost more to parse and instantiate than our own code, so each target compiles them
# once into a precompiled header, and unity batches let one compiler run share the templates they
# instantiate. ccache, when present, keeps unchanged objects across build trees.

option(MEMVISOR_PCH "Precompile the third-party headers" ON)
# A clean build is what CI, a packager and a first-time user run; while editing one file,
# -DMEMVISOR_UNITY=OFF rebuilds that file alone instead of its batch.
option(MEMVISOR_UNITY "Unity (jumbo) builds of the larger targets" ON)

find_program(MEMVISOR_CCACHE ccache)
if(MEMVISOR_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  # The sloppiness that precompiled headers need (ccache's manual, "Precompiled headers"); the
  # base directory makes objects shareable between build trees of different checkouts.
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      CCACHE_BASEDIR=${PROJECT_SOURCE_DIR} CCACHE_NOHASHDIR=1 ${MEMVISOR_CCACHE})
endif()

# The heavy headers, in the order our sources include them.
set(memvisor_pch_core <algorithm> <chrono> <cstdint> <map> <memory> <optional> <string>
    <string_view> <vector> <fmt/format.h> <nlohmann/json.hpp> <toml++/toml.h>)
set(memvisor_pch_cli ${memvisor_pch_core} <CLI/CLI.hpp>)
# The worker library has only nlohmann-json (header-only: no run-time dependency).
set(memvisor_pch_client <string> <vector> <nlohmann/json.hpp>)

# memvisor_build_speed(TARGET [PCH list-name | PCH_FROM other-target] [UNITY])
# PCH_FROM reuses another target's precompiled header, which saves compiling a 140-190 MB header
# per target. GCC takes it only with the same options and with every macro it was built with
# defined alike, so the target gets that target's definitions too (more of its own are fine).
function(memvisor_build_speed target)
  cmake_parse_arguments(arg "UNITY" "PCH;PCH_FROM" "" ${ARGN})
  if(MEMVISOR_PCH AND arg_PCH)
    target_precompile_headers(${target} PRIVATE ${${arg_PCH}})
  endif()
  if(MEMVISOR_PCH AND arg_PCH_FROM)
    target_precompile_headers(${target} REUSE_FROM ${arg_PCH_FROM})
    get_target_property(definitions ${arg_PCH_FROM} COMPILE_DEFINITIONS)
    if(definitions)
      target_compile_definitions(${target} PRIVATE ${definitions})
    endif()
  endif()
  if(MEMVISOR_UNITY AND arg_UNITY)
    # Larger batches share more of the templates they instantiate; 16 keeps a batch's compile
    # under a minute and its memory under 1.5 GB.
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 16)
  endif()
endfunction()

# The tests' own code (GoogleTest's macros expand to a lot of it) at -O1 with line tables only: a
# release build's tests still exercise the libraries as shipped (-O2 -g), and a failing test still
# has file:line backtraces. Every test target reuses one precompiled header, so all get the same.
function(memvisor_test_options target)
  target_compile_options(${target} PRIVATE $<$<CONFIG:RelWithDebInfo,Release>:-O1 -g1>)
endfunction()
