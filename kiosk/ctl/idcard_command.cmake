# kioskctl_idcard: `kioskctl idcard read|sam` through the real ID-card reader driver. Included from
# kiosk/ctl/CMakeLists.txt; tests/integration/idcard runs it against idcard-sim.
add_library(kioskctl_idcard STATIC ${CMAKE_CURRENT_LIST_DIR}/idcard_command.cpp)
target_link_libraries(kioskctl_idcard
  PUBLIC kiosk_hal_idcard
  PRIVATE kiosk_compile_options nlohmann_json::nlohmann_json)
