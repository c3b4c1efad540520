#include "gateway_process.hpp"

#include <cstdlib>

namespace kiosk::ctl::testing {

namespace fs = std::filesystem;

GatewayProcess::GatewayProcess() {
  std::string pattern = (fs::temp_directory_path() / "token-cli-gw-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return;
  root_ = pattern;
  process_ = std::make_unique<kiosk::testing::GatewayProcess>(kiosk::testing::GatewayProcessOptions{
      .gateway_binary = GATEWAY_BINARY, .root = root_, .devices = {"SIM-0101"}, .extra_toml = {}});
}

GatewayProcess::~GatewayProcess() {
  process_.reset();  // stops the gateway before its files go
  std::error_code ignored;
  if (!root_.empty()) fs::remove_all(root_, ignored);
}

std::vector<std::string> GatewayProcess::link_arguments() const {
  return {"--gateway", device_url(),         "--ca-file", ca_file().string(),
          "--cert",    cert_file().string(), "--key",     key_file().string()};
}

}  // namespace kiosk::ctl::testing
