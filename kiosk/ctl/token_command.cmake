# kioskctl_token: `kioskctl token list|enroll` through the real PKCS#11 driver (and, for enroll, the
# gateway's CA over the device link). Included from kiosk/ctl/CMakeLists.txt; tested in
# tests/integration/token_cli against SoftHSM2 and the real gateway.
add_library(kioskctl_token STATIC ${CMAKE_CURRENT_LIST_DIR}/token_command.cpp)
target_link_libraries(kioskctl_token
  PUBLIC kiosk_hal_token
  PRIVATE kiosk_compile_options kioskctl_cert OpenSSL::Crypto nlohmann_json::nlohmann_json)
