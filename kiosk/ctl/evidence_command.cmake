# kioskctl_evidence: `kioskctl evidence verify` (check, and with a recipient key decrypt, an evidence
# package). Included from kiosk/ctl/CMakeLists.txt; the tests in tests/unit/evidence_command call
# run_evidence_command() on packages sealed from a real journal transaction.
include_guard(GLOBAL)
add_library(kioskctl_evidence STATIC ${CMAKE_CURRENT_LIST_DIR}/evidence_command.cpp)
target_link_libraries(kioskctl_evidence
  PRIVATE kiosk_compile_options kiosk_sync_package kiosk_core OpenSSL::Crypto nlohmann_json::nlohmann_json)
