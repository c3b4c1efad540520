# kioskctl_policy: the `policy` and `rulepack` command groups of kioskctl (kiosk/ctl/policy_command.cpp).
include_guard(GLOBAL)
include(GNUInstallDirs)
add_library(kioskctl_policy STATIC ${CMAKE_CURRENT_LIST_DIR}/policy_command.cpp)
target_link_libraries(kioskctl_policy PUBLIC kiosk_core kiosk_compile_options)
# Where the default rule pack lives when it is not beside the program (see default_rule_pack_path()).
target_compile_definitions(kioskctl_policy PRIVATE
  KIOSK_CTL_INSTALLED_RULE_PACK="${CMAKE_INSTALL_FULL_DATADIR}/csdc-kiosk/default-rulepack.toml"
  KIOSK_CTL_BUILD_TREE_RULE_PACK="${CMAKE_BINARY_DIR}/share/csdc-kiosk/default-rulepack.toml")
