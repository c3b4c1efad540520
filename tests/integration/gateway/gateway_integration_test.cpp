// End-to-end tests of the `gateway` program: each test enrols a device, adds a staff member, starts
// the real binary on loopback (port 0) with its own data directory, and stops it itself.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sync/client/https_client.hpp"
#include "sync/client/nciis_client.hpp"
#include "sync/gateway/pki.hpp"
#include "tests/support/idcard_sim_process.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using kiosk::sync::HttpsClient;
using kiosk::sync::TlsIdentity;

namespace {

constexpr const char* kPassword = "Correct-Horse-1";

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs a program to completion with `stdin_text` on its standard input; returns its exit code.
int run_program(const std::vector<std::string>& args, const std::string& stdin_text, std::string* output = nullptr) {
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe(in_pipe) != 0 || ::pipe(out_pipe) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (!stdin_text.empty()) {
    [[maybe_unused]] const auto written = ::write(in_pipe[1], stdin_text.data(), stdin_text.size());
  }
  ::close(in_pipe[1]);
  std::string collected;
  char buffer[4096];
  ssize_t got = 0;
  while ((got = ::read(out_pipe[0], buffer, sizeof buffer)) > 0)
    collected.append(buffer, static_cast<std::size_t>(got));
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (output != nullptr) *output = collected;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Waits up to `limit` for the child to exit; returns its exit code, or nullopt if it is still running.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

class GatewayProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "gateway-it-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    data_dir_ = root_ / "data";
    device_dir_ = root_ / "device";
    log_file_ = root_ / "gateway.log";

    ASSERT_EQ(run_program({GATEWAY_BINARY, "enrol-dev", "--data-dir", data_dir_.string(), "--device-id", "SIM-0042",
                           "--out", device_dir_.string()},
                          ""),
              0);
    ASSERT_EQ(run_program({GATEWAY_BINARY, "add-staff", "--data-dir", data_dir_.string(), "--staff-id", "W0001",
                           "--name", "Wang Li", "--role", "witness"},
                          std::string(kPassword) + "\n"),
              0);
    std::ofstream(root_ / "gateway.toml") << "[device_listener]\nport = 0\n[console_listener]\nport = 0\n"
                                             "[limits]\nshutdown_grace_seconds = 3\n"
                                          << extra_config();
    start_gateway();
  }

  // More gateway.toml sections for a derived fixture (written before the gateway starts).
  virtual std::string extra_config() { return {}; }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  void start_gateway() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int log = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, STDERR_FILENO);
      const std::string config = (root_ / "gateway.toml").string();
      const std::string data = data_dir_.string();
      ::execl(GATEWAY_BINARY, GATEWAY_BINARY, "serve", "--config", config.c_str(), "--data-dir", data.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // ports.json appears once both listeners are bound.
    const fs::path ports_file = data_dir_ / "run" / "ports.json";
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (fs::exists(ports_file)) {
        const auto ports = nlohmann::json::parse(read_file(ports_file), nullptr, false);
        if (ports.is_object()) {
          device_port_ = ports["device"].get<int>();
          console_port_ = ports["console"].get<int>();
          return;
        }
      }
      ASSERT_FALSE(wait_for_exit(pid_, 1ms).has_value()) << "gateway exited early:\n" << read_file(log_file_);
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "gateway did not write ports.json within 10 s:\n" << read_file(log_file_);
  }

  std::optional<int> stop_gateway() {
    ::kill(pid_, SIGTERM);
    auto code = wait_for_exit(pid_, 5s);
    if (code) pid_ = -1;
    return code;
  }

  std::string device_url() const { return "https://127.0.0.1:" + std::to_string(device_port_); }
  std::string console_url() const { return "https://localhost:" + std::to_string(console_port_); }

  HttpsClient device_client(TlsIdentity identity) {
    auto client = HttpsClient::create(device_url(), std::move(identity), 5000ms);
    EXPECT_TRUE(client) << client.error().to_string();
    return std::move(*client);
  }
  TlsIdentity enrolled_identity() const {
    return {device_dir_ / "ca.crt", device_dir_ / "device.crt", device_dir_ / "device.key"};
  }
  HttpsClient console_client() {
    auto client = HttpsClient::create(console_url(), {device_dir_ / "ca.crt", {}, {}}, 5000ms);
    EXPECT_TRUE(client) << client.error().to_string();
    return std::move(*client);
  }

  fs::path write_kiosk_config() {
    const fs::path file = root_ / "kiosk.toml";
    fs::create_directories(root_ / "state");
    std::ofstream(file) << "[kiosk]\ndevice_id = \"SIM-0042\"\nstate_dir = \"state\"\n"
                        << "[gateway]\nurl = \"" << device_url() << "\"\n"
                        << "ca_file = \"device/ca.crt\"\ncert_file = \"device/device.crt\"\n"
                        << "key_file = \"device/device.key\"\ntimeout_seconds = 3\n"
                        << "[ui]\nfont_file = \"device/ca.crt\"\n";  // any present file stands in for the font
    return file;
  }

  fs::path root_, data_dir_, device_dir_, log_file_;
  pid_t pid_ = -1;
  int device_port_ = 0;
  int console_port_ = 0;
};

TEST_F(GatewayProcess, HealthzOverMutualTlsNamesTheDevice) {
  auto client = device_client(enrolled_identity());
  auto response = client.get("/healthz");
  ASSERT_TRUE(response) << response.error().to_string();
  EXPECT_EQ(response->status, 200);
  const auto body = nlohmann::json::parse(response->body);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["listener"], "device");
  EXPECT_EQ(body["device_id"], "SIM-0042");
  ASSERT_EQ(stop_gateway(), 0);
  const std::string log = read_file(log_file_);
  EXPECT_NE(log.find(R"("event":"request","method":"GET","path":"/healthz","status":"200","listener":"device")"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("device_id":"SIM-0042")"), std::string::npos);
}

TEST_F(GatewayProcess, DeviceListenerRefusesAClientWithoutCertificate) {
  auto client = device_client({device_dir_ / "ca.crt", {}, {}});
  auto response = client.get("/healthz");
  ASSERT_FALSE(response) << "status " << response->status;
  EXPECT_EQ(response.error().code, "TLS_HANDSHAKE_FAILED") << response.error().to_string();
  ASSERT_EQ(stop_gateway(), 0);
  EXPECT_NE(read_file(log_file_).find("tls_handshake_refused"), std::string::npos);
}

TEST_F(GatewayProcess, DeviceListenerRefusesACertificateFromAnotherCa) {
  // A CA and a device certificate with the same CN that the gateway has never seen.
  auto ca_key = kiosk::gateway::generate_p256_key();
  auto ca = kiosk::gateway::issue_certificate(
      {"CSDC Kiosk Dev CA", kiosk::gateway::CertProfile::certificate_authority, {}, -60s, 24h}, ca_key->get(), nullptr,
      nullptr);
  auto key = kiosk::gateway::generate_p256_key();
  auto cert = kiosk::gateway::issue_certificate({"SIM-0042", kiosk::gateway::CertProfile::tls_client, {}, -60s, 24h},
                                                key->get(), ca->get(), ca_key->get());
  ASSERT_TRUE(cert);
  ASSERT_TRUE(
      kiosk::gateway::write_file_atomically(root_ / "rogue.crt", *kiosk::gateway::certificate_pem(cert->get()), 0644));
  ASSERT_TRUE(
      kiosk::gateway::write_file_atomically(root_ / "rogue.key", *kiosk::gateway::private_key_pem(key->get()), 0600));
  auto client = device_client({device_dir_ / "ca.crt", root_ / "rogue.crt", root_ / "rogue.key"});
  auto response = client.get("/healthz");
  ASSERT_FALSE(response) << "status " << response->status;
  EXPECT_EQ(response.error().code, "TLS_HANDSHAKE_FAILED") << response.error().to_string();
}

TEST_F(GatewayProcess, ConsoleSignInSessionAndBadRequests) {
  auto client = console_client();
  auto health = client.get("/healthz");
  ASSERT_TRUE(health) << health.error().to_string();
  EXPECT_EQ(nlohmann::json::parse(health->body)["listener"], "console");

  auto refused = client.post_json("/v1/console/sign-in", R"({"staff_id":"W0001","password":"wrong"})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(nlohmann::json::parse(refused->body)["code"], "SIGN_IN_REFUSED");

  auto signed_in =
      client.post_json("/v1/console/sign-in", std::string(R"({"staff_id":"W0001","password":")") + kPassword + "\"}");
  ASSERT_TRUE(signed_in);
  ASSERT_EQ(signed_in->status, 200) << signed_in->body;
  const auto body = nlohmann::json::parse(signed_in->body);
  const std::string token = body["token"];
  EXPECT_EQ(body["display_name"], "Wang Li");
  EXPECT_EQ(body["role"], "witness");

  auto session = client.get("/v1/console/session", token);
  ASSERT_TRUE(session);
  EXPECT_EQ(session->status, 200) << session->body;
  EXPECT_EQ(nlohmann::json::parse(session->body)["staff_id"], "W0001");
  auto no_session = client.get("/v1/console/session", "not-a-token");
  ASSERT_TRUE(no_session);
  EXPECT_EQ(no_session->status, 401);

  auto bad_json = client.post_json("/v1/console/sign-in", "{\"staff_id\":");
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad_json->body)["code"], "BAD_JSON");

  auto too_big = client.post_json("/v1/console/sign-in", std::string(70 * 1024, ' '));
  ASSERT_TRUE(too_big) << too_big.error().to_string();
  EXPECT_EQ(too_big->status, 400);
  EXPECT_EQ(nlohmann::json::parse(too_big->body)["code"], "BODY_TOO_LARGE");

  auto unknown = client.get("/v1/nothing");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  ASSERT_EQ(stop_gateway(), 0);
  // Secrets never reach the log.
  const std::string log = read_file(log_file_);
  EXPECT_EQ(log.find(kPassword), std::string::npos);
  EXPECT_EQ(log.find(token), std::string::npos);
  EXPECT_EQ(log.find("Wang Li"), std::string::npos);
}

TEST_F(GatewayProcess, SigtermStopsCleanlyWithinFiveSeconds) {
  const auto started = std::chrono::steady_clock::now();
  const auto code = stop_gateway();
  ASSERT_TRUE(code.has_value()) << "gateway still running 5 s after SIGTERM";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_NE(read_file(log_file_).find(R"("event":"stopped")"), std::string::npos);
}

TEST_F(GatewayProcess, SigtermWithAnIdleKeepAliveConnectionStillStopsPromptly) {
  auto client = device_client(enrolled_identity());
  ASSERT_TRUE(client.get("/healthz"));  // leaves a kept-alive connection open
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(stop_gateway(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST_F(GatewayProcess, KioskctlDiagnoseSeesTheGatewayThenItsAbsence) {
  const fs::path config = write_kiosk_config();
  // The simulated ID-card reader the config's id_reader = "sim" points at, so every check can pass.
  fs::create_directories(root_ / "state" / "run");
  auto reader = kiosk::testing::IdcardSimProcess::start(IDCARD_SIM_BINARY, root_ / "state" / "run" / "idcard-sim.tty",
                                                        IDCARD_SIM_CARDS);
  ASSERT_NE(reader, nullptr);
  std::string output;
  const int running_code =
      run_program({KIOSKCTL_BINARY, "diagnose", "--config", config.string(), "--json"}, "", &output);
  auto report = nlohmann::json::parse(output, nullptr, false);
  ASSERT_TRUE(report.is_object()) << output;
  auto gateway_check = [](const nlohmann::json& r) {
    for (const auto& check : r["checks"]) {
      if (check["name"] == "gateway") return check;
    }
    return nlohmann::json();
  };
  EXPECT_EQ(gateway_check(report)["status"], "pass") << output;
  EXPECT_EQ(report["summary"]["fail"], 0) << output;
  EXPECT_EQ(running_code, 0);

  ASSERT_EQ(stop_gateway(), 0);
  const int stopped_code =
      run_program({KIOSKCTL_BINARY, "diagnose", "--config", config.string(), "--json"}, "", &output);
  report = nlohmann::json::parse(output, nullptr, false);
  ASSERT_TRUE(report.is_object()) << output;
  EXPECT_EQ(gateway_check(report)["status"], "fail");
  EXPECT_NE(gateway_check(report)["detail"].get<std::string>().find("GATEWAY_UNREACHABLE"), std::string::npos)
      << output;
  EXPECT_EQ(stopped_code, 1);
}

TEST_F(GatewayProcess, GatewayMonitorReportsReachableThenUnreachableAndStopsPromptly) {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::pair<bool, std::string>> reports;
  {
    kiosk::sync::GatewayMonitor monitor(device_client(enrolled_identity()), 100ms,
                                        [&](bool reachable, std::string code) {
                                          std::lock_guard lock(mutex);
                                          reports.emplace_back(reachable, std::move(code));
                                          changed.notify_all();
                                        });
    {
      std::unique_lock lock(mutex);
      ASSERT_TRUE(changed.wait_for(lock, 5s, [&] { return !reports.empty(); }));
      EXPECT_TRUE(reports.front().first) << reports.front().second;  // the first check runs at once
    }
    ASSERT_EQ(stop_gateway(), 0);
    {
      std::unique_lock lock(mutex);
      ASSERT_TRUE(changed.wait_for(lock, 5s, [&] { return !reports.back().first; }));
      EXPECT_EQ(reports.back().second, "GATEWAY_UNREACHABLE");
    }
  }
}

TEST_F(GatewayProcess, GatewayMonitorDestructorDoesNotWaitOutTheInterval) {
  const auto started = std::chrono::steady_clock::now();
  {
    kiosk::sync::GatewayMonitor monitor(device_client(enrolled_identity()), 1h, [](bool, std::string) {});
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

}  // namespace

// NCIIS checks through the real gateway, with a fixtures file written by the test.
class GatewayNciis : public GatewayProcess {
 protected:
  static constexpr const char* kMatchNumber = "11010519491231002X";
  static constexpr const char* kMatchName = "测试一";
  static constexpr const char* kOutageNumber = "110105190001010036";
  static constexpr const char* kUnknownNumber = "440524188001010014";

  std::string extra_config() override {
    fs::create_directories(root_ / "nciis");
    std::ofstream(root_ / "nciis" / "photo.jpg", std::ios::binary) << photo_;
    std::ofstream(root_ / "nciis" / "people.toml")
        << "[[person]]\nid_number = \"" << kMatchNumber << "\"\nname = \"" << kMatchName
        << "\"\nphoto_file = \"photo.jpg\"\n[[person]]\nid_number = \"" << kOutageNumber
        << "\"\nname = \"测试三\"\noutcome = \"service-error\"\n";
    // Relative to gateway.toml.
    return "[nciis]\nbackend = \"simulator\"\nfixtures = \"nciis/people.toml\"\n";
  }

  kiosk::Result<kiosk::sync::NciisAnswer> check(HttpsClient& client, std::string name, std::string number) {
    return kiosk::sync::check_identity(client, {"TX-IT-1", std::move(name), std::move(number)});
  }

  static constexpr char kPhoto[] = "\xFF\xD8\xFF\xE0integration-photo\x00\xFF\xD9";
  const std::string photo_ = std::string(kPhoto, sizeof kPhoto - 1);  // keeps the NUL byte inside
};

TEST_F(GatewayNciis, AnswersMatchMismatchNotFoundAndErrorAndLogsNoPersonalData) {
  auto client = device_client(enrolled_identity());

  auto match = check(client, kMatchName, kMatchNumber);
  ASSERT_TRUE(match) << match.error().to_string();
  EXPECT_EQ(match->result, kiosk::sync::NciisResult::match);
  EXPECT_EQ(match->photo, photo_);
  EXPECT_EQ(match->photo_sha256.size(), 64u);
  EXPECT_EQ(match->request_id.size(), 32u);

  auto mismatch = check(client, "测试二", kMatchNumber);
  ASSERT_TRUE(mismatch) << mismatch.error().to_string();
  EXPECT_EQ(mismatch->result, kiosk::sync::NciisResult::mismatch);
  EXPECT_TRUE(mismatch->photo.empty());

  auto not_found = check(client, kMatchName, kUnknownNumber);
  ASSERT_TRUE(not_found) << not_found.error().to_string();
  EXPECT_EQ(not_found->result, kiosk::sync::NciisResult::not_found);

  auto outage = check(client, "测试三", kOutageNumber);
  ASSERT_TRUE(outage) << outage.error().to_string();
  EXPECT_EQ(outage->result, kiosk::sync::NciisResult::error);
  EXPECT_EQ(outage->error_code, "NCIIS_SERVICE_ERROR");

  // The embedded fixtures are not in use: their second person is unknown to this file.
  auto embedded_only = check(client, "测试二", "110105190001010028");
  ASSERT_TRUE(embedded_only);
  EXPECT_EQ(embedded_only->result, kiosk::sync::NciisResult::not_found);

  // A bad number is refused by the gateway, with its code carried in NCIIS_REFUSED.
  auto refused = check(client, kMatchName, "110105194912310021");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "NCIIS_REFUSED");
  EXPECT_NE(refused.error().message.find("HTTP 400 FIELD_INVALID"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().message.find("110105194912310021"), std::string::npos);

  // The console listener has no such route.
  auto console = console_client();
  auto on_console = check(console, kMatchName, kMatchNumber);
  ASSERT_FALSE(on_console);
  EXPECT_EQ(on_console.error().code, "NCIIS_REFUSED");
  EXPECT_NE(on_console.error().message.find("HTTP 404"), std::string::npos);

  ASSERT_EQ(stop_gateway(), 0);
  const std::string log = read_file(log_file_);
  EXPECT_NE(log.find(R"("event":"nciis_check","request_id":")" + match->request_id + R"(","result":"MATCH")"),
            std::string::npos)
      << log;
  for (const std::string& secret : {std::string(kMatchNumber), std::string(kOutageNumber), std::string(kUnknownNumber),
                                    std::string(kMatchName), std::string("测试二"), std::string("测试三")}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "log leaks " << secret;
  }
}

TEST_F(GatewayProcess, RefusesAnOnlineNciisBackEndAtStartUp) {
  // Stopping right after ports.json appeared must be clean too (signals are caught before it is written).
  ASSERT_EQ(stop_gateway(), 0);
  std::ofstream(root_ / "online.toml") << "[nciis]\nbackend = \"online\"\n";
  std::string output;  // standard error, through the shell's 2>&1
  const int code = run_program({"/bin/sh", "-c", "exec \"$0\" serve --config \"$1\" --data-dir \"$2\" 2>&1",
                                GATEWAY_BINARY, (root_ / "online.toml").string(), data_dir_.string()},
                               "", &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("NCIIS_BACKEND_UNSUPPORTED"), std::string::npos) << output;
  EXPECT_NE(output.find("needs the broker's service contract"), std::string::npos) << output;
}
