#include <gtest/gtest.h>

#include "kiosk/app/kiosk_config.hpp"

namespace kiosk {
namespace {

Result<KioskConfig> parse(std::string_view text) { return parse_kiosk_config(text, "kiosk.toml", "/etc/csdc-kiosk"); }

TEST(KioskConfig, RelativePathsResolveNextToTheFile) {
  const auto config = parse("[gateway]\nca_file = \"device/ca.crt\"\n[kiosk]\nstate_dir = \"state\"\n");
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->gateway_ca_file, "/etc/csdc-kiosk/device/ca.crt");
  EXPECT_EQ(config->state_dir, "/etc/csdc-kiosk/state");
}

TEST(KioskConfig, ATokenKeyUriIsKeptAsWrittenAndReachesTheTlsIdentity) {
  const auto config = parse(
      "[gateway]\nkey_file = \"pkcs11:token=kiosk;object=device;type=private\"\n"
      "pkcs11_module = \"/usr/lib/softhsm/libsofthsm2.so\"\npin_file = \"device/pin\"\n");
  ASSERT_TRUE(config) << config.error().to_string();
  EXPECT_EQ(config->device_key_file, "pkcs11:token=kiosk;object=device;type=private");  // not a path to resolve
  const auto tls = device_tls_identity(*config);
  EXPECT_EQ(tls.key_file, "pkcs11:token=kiosk;object=device;type=private");
  EXPECT_EQ(tls.pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(tls.pin_file, "/etc/csdc-kiosk/device/pin");

  const auto file_key = parse("[gateway]\nkey_file = \"device/device.key\"\n");
  ASSERT_TRUE(file_key) << file_key.error().to_string();
  EXPECT_EQ(file_key->device_key_file, "/etc/csdc-kiosk/device/device.key");
}

TEST(KioskConfig, SessionSettingsCarryTheTimeoutsLanguageAndExitPolicy) {
  const auto config = parse(
      "[ui]\nidle_timeout_seconds = 120\nidle_warning_seconds = 30\nlanguage = \"en\"\nmaintenance_exit = true\n");
  ASSERT_TRUE(config) << config.error().to_string();
  const KioskSettings settings = session_settings(*config);
  EXPECT_EQ(settings.idle_timeout, std::chrono::seconds{120});
  EXPECT_EQ(settings.idle_warning, std::chrono::seconds{30});
  EXPECT_EQ(settings.default_language, Language::en);
  EXPECT_TRUE(settings.maintenance_exit_allowed);
}

TEST(KioskConfig, PlainHttpGatewayIsRefused) {
  const auto config = parse("[gateway]\nurl = \"http://head-office:8443\"\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, "CONFIG_BAD_VALUE");
  EXPECT_NE(config.error().message.find("gateway.url"), std::string::npos);
}

TEST(KioskConfig, ProductionModeRefusesSimulatedDevices) {
  const auto config = parse("[kiosk]\ndevice_mode = \"production\"\n[devices]\nid_reader = \"/dev/kiosk/idreader\"\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, "CONFIG_BAD_VALUE");
  EXPECT_NE(config.error().message.find("production"), std::string::npos);

  const auto real = parse(
      "[kiosk]\ndevice_mode = \"production\"\n[devices]\nid_reader = \"/dev/kiosk/idreader\"\n"
      "token_module = \"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so\"\ncamera = \"/dev/kiosk/cam-form\"\n"
      "printer = \"/dev/usb/lp0\"\n");
  ASSERT_TRUE(real) << real.error().to_string();
  EXPECT_EQ(real->device_mode, DeviceMode::production);
}

TEST(KioskConfig, BadValueNamesFileLineAndKey) {
  const auto config = parse("[ui]\nfont_size_px = 500\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            "kiosk.toml:2: key 'ui.font_size_px' must be a whole number from 12 to 96, got 500");
}

TEST(KioskConfig, TypoIsAnUnknownKey) {
  const auto config = parse("[ui]\nidle_timeout = 60\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, "CONFIG_UNKNOWN_KEY");
}

}  // namespace
}  // namespace kiosk
