# kioskctl_cert: `kioskctl cert status` over the device's mutual-TLS link, and the device-link helpers
# token enroll shares. Included from kiosk/ctl/CMakeLists.txt; tested in tests/integration/token_cli.
add_library(kioskctl_cert STATIC ${CMAKE_CURRENT_LIST_DIR}/cert_command.cpp)
target_link_libraries(kioskctl_cert
  PUBLIC kiosk_sync_client
  PRIVATE kiosk_compile_options nlohmann_json::nlohmann_json)
