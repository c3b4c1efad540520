// The shipped catalogs: both parse, carry the same keys, and leave no text empty.
#include <gtest/gtest.h>

#include "kiosk/core/operation.hpp"
#include "ui/common/po_catalog.hpp"

namespace kiosk::ui {
namespace {

TEST(ShippedCatalogs, LoadAndHaveTheSameKeys) {
  const auto set = load_catalogs(KIOSK_I18N_DIR);
  ASSERT_TRUE(set) << set.error().to_string();
  std::vector<std::string> zh_keys;
  std::vector<std::string> en_keys;
  for (const auto& [key, text] : set->zh_CN.entries()) zh_keys.push_back(key);
  for (const auto& [key, text] : set->en.entries()) en_keys.push_back(key);
  EXPECT_EQ(zh_keys, en_keys);
  for (const auto& [key, text] : set->zh_CN.entries()) EXPECT_FALSE(text.empty()) << key;
  for (const auto& [key, text] : set->en.entries()) EXPECT_FALSE(text.empty()) << key;
}

TEST(ShippedCatalogs, CoverEveryScreenString) {
  const auto set = load_catalogs(KIOSK_I18N_DIR);
  ASSERT_TRUE(set) << set.error().to_string();
  std::vector<std::string> required = {
      "attract.title",           "attract.subtitle", "attract.prompt",         "menu.title",
      "unavailable.title",       "unavailable.body", "unavailable.back",       "idle.title",
      "idle.countdown",          "idle.still_here",  "status.gateway.online",  "status.gateway.offline",
      "status.gateway.checking", "status.device",    "status.language_toggle", "status.end_session"};
  for (const Operation op : kAllOperations) {
    required.push_back("op." + std::string(to_string(op)) + ".name");
    required.push_back("op." + std::string(to_string(op)) + ".desc");
  }
  for (const char* role : {"witness", "operator", "reviewer"}) required.push_back(std::string("staff.role.") + role);
  for (const std::string& key : required) EXPECT_TRUE(set->zh_CN.contains(key)) << key;
  EXPECT_EQ(set->zh_CN.text("attract.title"), "数字证书自助服务");
  EXPECT_EQ(set->en.text("attract.title"), "Digital Certificate Self-Service");
  EXPECT_EQ(set->zh_CN.text("idle.countdown", {{"seconds", "20"}}), "20 秒后将结束本次办理并清除您的信息");
}

}  // namespace
}  // namespace kiosk::ui
