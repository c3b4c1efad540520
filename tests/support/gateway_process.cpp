#include "tests/support/gateway_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace kiosk::testing {

namespace fs = std::filesystem;

GatewayProcess::GatewayProcess(GatewayProcessOptions options) : options_(std::move(options)) {
  std::error_code ec;
  fs::create_directories(options_.root, ec);
  const std::string binary = options_.gateway_binary.string();
  const std::string data = data_dir().string();
  for (const auto& device : options_.devices) {
    const std::string enrol = binary + " enrol-dev --data-dir " + data + " --device-id " + device + " --out " +
                              device_dir(device).string() + " > /dev/null 2>&1";
    if (std::system(enrol.c_str()) != 0) {
      problem_ = "enrolment failed: " + enrol;
      return;
    }
  }
  const fs::path config = options_.root / "gateway.toml";
  std::ofstream(config) << "[device_listener]\nport = 0\n[console_listener]\nport = 0\n" << options_.extra_toml;
  pid_ = ::fork();
  if (pid_ == 0) {
    const int log = ::open(log_file().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(log, STDERR_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::execl(binary.c_str(), binary.c_str(), "serve", "--config", config.c_str(), "--data-dir", data.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const fs::path ports_file = data_dir() / "run" / "ports.json";
  for (int attempt = 0; attempt < 500 && device_port_ == 0; ++attempt) {
    std::ifstream in(ports_file);
    std::stringstream text;
    text << in.rdbuf();
    const auto ports = nlohmann::json::parse(text.str(), nullptr, false);
    if (ports.is_object() && ports.contains("device") && ports.contains("console")) {
      device_port_ = ports["device"].get<int>();
      console_port_ = ports["console"].get<int>();
    }
    if (device_port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (device_port_ == 0) problem_ = "the gateway did not start; see " + log_file().string();
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

void GatewayProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace kiosk::testing
