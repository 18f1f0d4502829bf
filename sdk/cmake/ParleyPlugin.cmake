# parley_add_plugin(<name> SOURCES <src>... [LINK <targets>...] [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
#
# Builds libparley-<name>.so: a MODULE with hidden visibility and a version script that exports
# only parley_plugin_init. The file name is what the host looks for when a graph says "<name>/...".
# A global property, so the function works from any directory scope.
set_property(GLOBAL PROPERTY PARLEY_PLUGIN_MAP "${CMAKE_CURRENT_LIST_DIR}/plugin.map")

function(parley_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIRECTORY" "SOURCES;LINK" ${ARGN})
  set(target parley_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET parley::sdk)
    target_link_libraries(${target} PRIVATE parley::sdk)
  else()
    target_link_libraries(${target} PRIVATE parley_sdk)
  endif()
  if(ARG_LINK)
    target_link_libraries(${target} PRIVATE ${ARG_LINK})
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY AND DEFINED PARLEY_PLUGIN_BUILD_DIR)
    set(ARG_OUTPUT_DIRECTORY ${PARLEY_PLUGIN_BUILD_DIR})
    set_property(GLOBAL APPEND PROPERTY PARLEY_PLUGIN_TARGETS ${target}) # what tests/conformance runs over
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib" OUTPUT_NAME "parley-${name}"
    CXX_VISIBILITY_PRESET hidden C_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
  get_property(map GLOBAL PROPERTY PARLEY_PLUGIN_MAP)
  target_link_options(${target} PRIVATE "LINKER:--version-script=${map}" "LINKER:--no-undefined")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${map}")
  if(NOT ARG_NO_INSTALL AND DEFINED PARLEY_PLUGIN_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${PARLEY_PLUGIN_INSTALL_DIR})
  endif()
endfunction()

# parley_add_domain(<name> SOURCES <src>... [PLUGIN <src>...] [LINK <targets>...] [TESTS <src>...])
#
# A domain plugin in one call: libparley-<name>.so built from SOURCES (with nlohmann_json and
# toml++, which parley/domain.hpp needs). With PLUGIN (the file holding PARLEY_PLUGIN), SOURCES
# become the static library parley_<name>_domain that the plugin and the unit tests link; TESTS
# (in-tree, where parley_add_test exists) become the Catch2 test test_<name>, labelled "domain".
function(parley_add_domain name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PLUGIN;LINK;TESTS" ${ARGN})
  find_package(nlohmann_json 3 REQUIRED)
  find_package(tomlplusplus REQUIRED)
  set(deps nlohmann_json::nlohmann_json tomlplusplus::tomlplusplus ${ARG_LINK})
  if(NOT ARG_PLUGIN)
    parley_add_plugin(${name} SOURCES ${ARG_SOURCES} LINK ${deps})
    return()
  endif()
  set(lib parley_${name}_domain)
  add_library(${lib} STATIC ${ARG_SOURCES})
  target_include_directories(${lib} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  if(TARGET parley::sdk)
    target_link_libraries(${lib} PUBLIC parley::sdk ${deps})
  else()
    target_link_libraries(${lib} PUBLIC parley_sdk ${deps})
  endif()
  set_target_properties(${lib} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  parley_add_plugin(${name} SOURCES ${ARG_PLUGIN} LINK ${lib})
  if(ARG_TESTS AND PARLEY_BUILD_TESTS AND COMMAND parley_add_test)
    parley_add_test(test_${name} SOURCES ${ARG_TESTS} LINK ${lib} LABELS domain)
    target_include_directories(test_${name} PRIVATE ${PROJECT_SOURCE_DIR}/plugins) # common/test_util.hpp
    target_compile_definitions(test_${name} PRIVATE PARLEY_COMMON_DIR="${PROJECT_SOURCE_DIR}/plugins/common")
  endif()
endfunction()
