// The real `gateway` program on loopback for integration tests: devices enrolled with `enrol-dev`
// (each device's ca.crt, device.crt and device.key in ROOT/<device id>/), `serve` started with
// kernel-chosen ports and any extra gateway.toml lines, its log in ROOT/gateway.log. Stopped with
// SIGTERM when the object goes (or killed on purpose with kill()).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace kiosk::testing {

struct GatewayProcessOptions {
  std::filesystem::path gateway_binary;  // the test's GATEWAY_BINARY
  std::filesystem::path root;            // created; DATA is ROOT/data
  std::vector<std::string> devices;      // ids to enrol before the start
  std::string extra_toml;                // appended to gateway.toml (e.g. an [evidence] section)
};

class GatewayProcess {
 public:
  explicit GatewayProcess(GatewayProcessOptions options);  // check problem() before use
  ~GatewayProcess();                                       // SIGTERM and wait
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  // Empty when enrolment and start worked; else what failed (with the log's path).
  [[nodiscard]] const std::string& problem() const { return problem_; }
  [[nodiscard]] int device_port() const { return device_port_; }
  [[nodiscard]] int console_port() const { return console_port_; }
  [[nodiscard]] std::string device_url() const { return "https://127.0.0.1:" + std::to_string(device_port_); }
  [[nodiscard]] std::string console_url() const { return "https://127.0.0.1:" + std::to_string(console_port_); }
  [[nodiscard]] const std::filesystem::path& root() const { return options_.root; }
  [[nodiscard]] std::filesystem::path data_dir() const { return options_.root / "data"; }
  [[nodiscard]] std::filesystem::path log_file() const { return options_.root / "gateway.log"; }
  // ROOT/<device>/: ca.crt, device.crt, device.key from `enrol-dev`.
  [[nodiscard]] std::filesystem::path device_dir(const std::string& device) const { return options_.root / device; }

  // SIGKILL now, without the gateway's clean shutdown (crash tests); the destructor then does nothing.
  void kill();

 private:
  GatewayProcessOptions options_;
  std::string problem_;
  pid_t pid_ = -1;
  int device_port_ = 0;
  int console_port_ = 0;
};

}  // namespace kiosk::testing
