// The real `gateway` program on loopback (ports chosen by the kernel) with the dev device SIM-0101
// enrolled, in a temporary directory of its own: tests/support/gateway_process.hpp with the paths the
// kioskctl token/cert tests, the uploader tests and the enrolment benchmark use.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/gateway_process.hpp"

namespace kiosk::ctl::testing {

class GatewayProcess {
 public:
  GatewayProcess();  // check started() before use
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  [[nodiscard]] bool started() const { return process_ && process_->problem().empty(); }
  [[nodiscard]] std::string device_url() const { return process_->device_url(); }
  [[nodiscard]] std::filesystem::path ca_file() const { return device_dir() / "ca.crt"; }
  [[nodiscard]] std::filesystem::path cert_file() const { return device_dir() / "device.crt"; }
  [[nodiscard]] std::filesystem::path key_file() const { return device_dir() / "device.key"; }
  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  // ca.crt, device.crt and device.key of the enrolled device SIM-0101.
  [[nodiscard]] std::filesystem::path device_dir() const { return process_->device_dir("SIM-0101"); }
  // The arguments every device-link command needs: --gateway, --ca-file, --cert, --key.
  [[nodiscard]] std::vector<std::string> link_arguments() const;

 private:
  std::filesystem::path root_;  // a temporary directory of its own, removed at the end
  std::unique_ptr<kiosk::testing::GatewayProcess> process_;
};

}  // namespace kiosk::ctl::testing
