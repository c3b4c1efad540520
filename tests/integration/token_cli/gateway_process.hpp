// The real `gateway` program on loopback (ports chosen by the kernel) with a dev device enrolled, for
// the kioskctl token/cert tests and the enrolment benchmark.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace kiosk::ctl::testing {

class GatewayProcess {
 public:
  GatewayProcess();  // check started() before use
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  [[nodiscard]] bool started() const { return device_port_ != 0; }
  [[nodiscard]] std::string device_url() const { return "https://127.0.0.1:" + std::to_string(device_port_); }
  [[nodiscard]] std::filesystem::path ca_file() const { return root_ / "device" / "ca.crt"; }
  [[nodiscard]] std::filesystem::path cert_file() const { return root_ / "device" / "device.crt"; }
  [[nodiscard]] std::filesystem::path key_file() const { return root_ / "device" / "device.key"; }
  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  // The arguments every device-link command needs: --gateway, --ca-file, --cert, --key.
  [[nodiscard]] std::vector<std::string> link_arguments() const;

 private:
  std::filesystem::path root_;
  pid_t pid_ = -1;
  int device_port_ = 0;
};

}  // namespace kiosk::ctl::testing
