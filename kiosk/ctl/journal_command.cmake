# kioskctl_journal: `kioskctl journal show` (read-only journal inspection). Included from
# kiosk/ctl/CMakeLists.txt; the tests in tests/unit/journal call run_journal_command() directly.
add_library(kioskctl_journal STATIC ${CMAKE_CURRENT_LIST_DIR}/journal_command.cpp)
target_link_libraries(kioskctl_journal PUBLIC kiosk_core PRIVATE kiosk_compile_options)
