# Warnings, sanitizers and fuzzing flags shared by every target of the project.
add_library(kiosk_compile_options INTERFACE)
target_compile_options(kiosk_compile_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wimplicit-fallthrough)
if(KIOSK_WERROR)
  target_compile_options(kiosk_compile_options INTERFACE -Werror)
endif()
target_include_directories(kiosk_compile_options INTERFACE ${CMAKE_SOURCE_DIR})

if(KIOSK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(KIOSK_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KIOSK_FUZZ needs clang (use the 'fuzz' preset)")
  endif()
  # libstdc++ 12 declares std::expected only when __cpp_concepts >= 202002L; clang 16 implements
  # what it needs (P0848) but still reports 201907L, so state the level it really supports.
  add_compile_options(-D__cpp_concepts=202002L -Wno-macro-redefined)
  # Instrument everything for coverage; only the fuzz targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
