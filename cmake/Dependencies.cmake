# Every dependency is a Debian 12 package listed in image/packages/build.txt.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CURL REQUIRED)
find_package(Boost 1.74 REQUIRED)          # header-only parts: Asio and Beast
find_package(nlohmann_json 3 REQUIRED)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(SDL2 REQUIRED IMPORTED_TARGET sdl2)
pkg_check_modules(IMGUI REQUIRED IMPORTED_TARGET imgui)
pkg_check_modules(QRENCODE REQUIRED IMPORTED_TARGET libqrencode)  # the soft-certificate QR code

if(KIOSK_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
