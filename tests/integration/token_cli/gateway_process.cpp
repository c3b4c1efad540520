#include "gateway_process.hpp"

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

namespace kiosk::ctl::testing {

namespace fs = std::filesystem;

GatewayProcess::GatewayProcess() {
  std::string pattern = (fs::temp_directory_path() / "token-cli-gw-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return;
  root_ = pattern;
  const std::string data = (root_ / "data").string();
  const std::string enrol = std::string(GATEWAY_BINARY) + " enrol-dev --data-dir " + data +
                            " --device-id SIM-0101 --out " + (root_ / "device").string() + " > /dev/null 2>&1";
  if (std::system(enrol.c_str()) != 0) return;
  std::ofstream(root_ / "gateway.toml") << "[device_listener]\nport = 0\n[console_listener]\nport = 0\n";
  pid_ = ::fork();
  if (pid_ == 0) {
    const int log = ::open((root_ / "gateway.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(log, STDERR_FILENO);
    ::dup2(log, STDOUT_FILENO);
    const std::string config = (root_ / "gateway.toml").string();
    ::execl(GATEWAY_BINARY, GATEWAY_BINARY, "serve", "--config", config.c_str(), "--data-dir", data.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const fs::path ports_file = root_ / "data" / "run" / "ports.json";
  for (int attempt = 0; attempt < 500 && device_port_ == 0; ++attempt) {
    std::ifstream in(ports_file);
    std::stringstream text;
    text << in.rdbuf();
    const auto ports = nlohmann::json::parse(text.str(), nullptr, false);
    if (ports.is_object() && ports.contains("device")) device_port_ = ports["device"].get<int>();
    if (device_port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ignored;
  if (!root_.empty()) fs::remove_all(root_, ignored);
}

std::vector<std::string> GatewayProcess::link_arguments() const {
  return {"--gateway", device_url(),         "--ca-file", ca_file().string(),
          "--cert",    cert_file().string(), "--key",     key_file().string()};
}

}  // namespace kiosk::ctl::testing
