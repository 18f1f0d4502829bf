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
