# kioskctl_softcert: `kioskctl softcert download` (the investor's software for soft certificates,
# over the gateway's console listener). Included from kiosk/ctl/CMakeLists.txt; tested in
# tests/integration/softcert against the real gateway.
include_guard(GLOBAL)
add_library(kioskctl_softcert STATIC ${CMAKE_CURRENT_LIST_DIR}/softcert_command.cpp)
target_link_libraries(kioskctl_softcert
  PRIVATE kiosk_compile_options kioskctl_cert kiosk_sync_client OpenSSL::Crypto nlohmann_json::nlohmann_json)
