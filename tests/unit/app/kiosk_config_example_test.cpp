// kiosk.example.toml documents every key with its default: reading it must give KioskConfig{}.
#include <gtest/gtest.h>

#include "kiosk/app/kiosk_config.hpp"

namespace kiosk {
namespace {

TEST(KioskConfigExample, ParsesAndEqualsTheBuiltInDefaults) {
  const auto loaded = load_kiosk_config(KIOSK_EXAMPLE_CONFIG);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  const KioskConfig& c = *loaded;
  const KioskConfig d;
  EXPECT_EQ(c.device_mode, d.device_mode);
  EXPECT_EQ(c.device_id, d.device_id);
  EXPECT_EQ(c.state_dir, d.state_dir);
  EXPECT_EQ(c.gateway_url, d.gateway_url);
  EXPECT_EQ(c.gateway_ca_file, d.gateway_ca_file);
  EXPECT_EQ(c.device_cert_file, d.device_cert_file);
  EXPECT_EQ(c.device_key_file, d.device_key_file);
  EXPECT_EQ(c.gateway_check_interval, d.gateway_check_interval);
  EXPECT_EQ(c.gateway_timeout, d.gateway_timeout);
  EXPECT_EQ(c.language, d.language);
  EXPECT_EQ(c.fullscreen, d.fullscreen);
  EXPECT_EQ(c.renderer, d.renderer);
  EXPECT_EQ(c.idle_timeout, d.idle_timeout);
  EXPECT_EQ(c.idle_warning, d.idle_warning);
  EXPECT_EQ(c.maintenance_exit, d.maintenance_exit);
  EXPECT_EQ(c.font_file, d.font_file);
  EXPECT_EQ(c.font_index, d.font_index);
  EXPECT_EQ(c.font_size_px, d.font_size_px);
  EXPECT_EQ(c.catalog_dir, d.catalog_dir);
  EXPECT_EQ(c.id_reader, d.id_reader);
  EXPECT_EQ(c.token_module, d.token_module);
  EXPECT_EQ(c.camera, d.camera);
  EXPECT_EQ(c.printer, d.printer);
  EXPECT_EQ(c.log_file, d.log_file);
}

}  // namespace
}  // namespace kiosk
