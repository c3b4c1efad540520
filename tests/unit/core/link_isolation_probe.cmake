# Runs the layering checker on two throw-away projects: a clean one must configure, one whose
# core links (or includes) SDL must fail with the layering message.
file(REMOVE_RECURSE "${WORK_DIR}")
foreach(variant clean links includes)
  set(src "${WORK_DIR}/${variant}")
  file(MAKE_DIRECTORY "${src}/core")
  set(include_line "#include <vector>")
  set(link_line "")
  if(variant STREQUAL "links")
    set(link_line "add_library(fake_sdl INTERFACE)\nadd_library(PkgConfig::SDL2 ALIAS fake_sdl)\nadd_library(middle INTERFACE)\ntarget_link_libraries(middle INTERFACE PkgConfig::SDL2)\ntarget_link_libraries(core PRIVATE middle)")
  elseif(variant STREQUAL "includes")
    set(include_line "#include <SDL2/SDL.h>")
  endif()
  file(WRITE "${src}/core/core.cpp" "${include_line}\nint core_answer() { return 42; }\n")
  file(WRITE "${src}/CMakeLists.txt"
    "cmake_minimum_required(VERSION 3.25)\nproject(probe CXX)\ninclude(${CHECKER})\n"
    "add_library(core STATIC core/core.cpp)\n${link_line}\n"
    "kiosk_forbid_dependencies(TARGET core SOURCE_DIR \${CMAKE_SOURCE_DIR}/core PATTERNS \${KIOSK_CORE_FORBIDDEN_PATTERNS})\n")
  execute_process(COMMAND ${CMAKE_COMMAND} -S "${src}" -B "${src}/build" -G "${GENERATOR}"
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(variant STREQUAL "clean")
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "clean probe failed to configure:\n${err}")
    endif()
  else()
    if(result EQUAL 0 OR NOT err MATCHES "Layering violation")
      message(FATAL_ERROR "the '${variant}' probe was not caught by the layering check (result ${result}):\n${err}")
    endif()
  endif()
endforeach()
message(STATUS "layering check: clean project accepted, SDL link and SDL include rejected")
