# `kioskctl audit ...` and `kioskctl staff ...` as small libraries, so kioskctl's main.cpp can
# dispatch to them and tests can call them directly. Included from kiosk/ctl/CMakeLists.txt (and
# by the unit tests when that has not happened yet).
include_guard(GLOBAL)

add_library(kioskctl_audit STATIC ${CMAKE_CURRENT_LIST_DIR}/audit_command.cpp)
target_link_libraries(kioskctl_audit PUBLIC kiosk_compile_options PRIVATE kiosk_core)

add_library(kioskctl_staff STATIC ${CMAKE_CURRENT_LIST_DIR}/staff_command.cpp)
target_link_libraries(kioskctl_staff PUBLIC kiosk_compile_options PRIVATE kiosk_core)
