# The fuzz targets' entry functions, parley_fuzz_<name>(data, size): one static library each,
# parley_fuzz_<name>, built from fuzz/targets/<name>.cpp with the parser it drives. Included by
# fuzz/CMakeLists.txt (the libFuzzer executables, PARLEY_FUZZ=ON) and by tests/fuzz_regressions
# (the normal build replays fuzz/regressions/<name>/ through the same functions). A target whose
# parser is not built here (no ggml for the trainer's GGUF reader) is left out.
set(PARLEY_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})

function(parley_fuzz_entry name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  foreach(dep IN LISTS ARG_LINK)
    if(dep MATCHES "::|^parley_" AND NOT TARGET ${dep})
      message(STATUS "fuzz: ${name} left out (no ${dep})")
      return()
    endif()
  endforeach()
  add_library(parley_fuzz_${name} STATIC ${PARLEY_FUZZ_DIR}/targets/${name}.cpp ${ARG_SOURCES})
  target_include_directories(parley_fuzz_${name} PRIVATE ${PARLEY_FUZZ_DIR}/common)
  target_link_libraries(parley_fuzz_${name} PUBLIC parley_sdk ${ARG_LINK})
  target_compile_features(parley_fuzz_${name} PUBLIC cxx_std_20)
  set_property(GLOBAL APPEND PROPERTY PARLEY_FUZZ_ENTRIES ${name})
endfunction()

find_package(nlohmann_json 3 REQUIRED)
parley_fuzz_entry(load_math LINK parley_math_domain)
parley_fuzz_entry(load_mmlu_pro LINK parley_mmlu_pro_domain)
parley_fuzz_entry(load_gpqa LINK parley_gpqa_domain)
parley_fuzz_entry(load_explore_tom LINK parley_explore_tom_domain)
parley_fuzz_entry(load_hitom LINK parley_hitom_domain)
parley_fuzz_entry(graph_validate LINK parley_core)
parley_fuzz_entry(answer_extraction LINK parley_hitom_domain parley_math_domain)
parley_fuzz_entry(math_equivalence LINK parley_math_domain)
parley_fuzz_entry(coral_records LINK parley_core_records)
parley_fuzz_entry(openai_response LINK parley_openai_response)

if(TARGET parley_fuzz_graph_validate)
  # Schemas come from the plugins this build makes (loaded once per process).
  target_compile_definitions(parley_fuzz_graph_validate PRIVATE PARLEY_FUZZ_PLUGIN_DIR="${PARLEY_PLUGIN_BUILD_DIR}")
  get_property(_fuzz_plugins GLOBAL PROPERTY PARLEY_PLUGIN_TARGETS)
  add_dependencies(parley_fuzz_graph_validate ${_fuzz_plugins})
endif()

# The trainer's GGUF reader needs only ggml (not libtorch): its source is compiled in directly.
if(NOT TARGET ggml::ggml-base)
  find_package(ggml QUIET)
endif()
if(TARGET ggml::ggml-base)
  parley_fuzz_entry(gguf_metadata SOURCES ${PROJECT_SOURCE_DIR}/plugins/trainer/src/gguf_io.cpp LINK ggml::ggml ggml::ggml-base)
  if(TARGET parley_fuzz_gguf_metadata)
    target_include_directories(parley_fuzz_gguf_metadata PRIVATE ${PROJECT_SOURCE_DIR}/plugins/trainer/src)
  endif()
else()
  message(STATUS "fuzz: gguf_metadata left out (no ggml; set CMAKE_PREFIX_PATH to llama.cpp's prefix)")
endif()
