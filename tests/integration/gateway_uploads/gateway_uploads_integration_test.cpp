// A resumable upload against the real gateway: OPTIONS, creation, three PATCHes with one cut in the
// middle of a body (curl gives up after a second at a throttled rate), HEAD to find where to resume,
// and the completed file compared byte for byte with the source. Uses the `curl` program with the
// enrolled device certificate, as a field engineer would.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway_process.hpp"
#include "nlohmann/json.hpp"
#include "sync/gateway/nciis.hpp"

using kiosk::ctl::testing::GatewayProcess;

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMiB = 1024 * 1024;

struct CurlAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, of the final response
  std::string body;

  [[nodiscard]] std::string header(const std::string& name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? std::string("<absent>") : found->second;
  }
};

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string raw_sha256(std::string_view bytes) {
  const std::string hex = kiosk::gateway::sha256_hex_of(bytes);
  std::string raw;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return raw;
}

std::string metadata_for(std::string_view package_id, std::string_view content) {
  return "package_id " + kiosk::gateway::base64_encode(package_id) + ",transaction_id " +
         kiosk::gateway::base64_encode("TX-INT") + ",archive_sha256 " +
         kiosk::gateway::base64_encode(kiosk::gateway::sha256_hex_of(content));
}

// Talks to a gateway's device listener with the `curl` program.
class CurlClient : public ::testing::Test {
 protected:
  // Runs curl with the device identity; `extra` are further (already shell-safe) arguments.
  CurlAnswer curl(const std::string& extra, const std::string& path) {
    const fs::path headers_file = work_ / "headers.txt";
    const fs::path body_file = work_ / "body.txt";
    fs::remove(headers_file);
    fs::remove(body_file);
    const std::string command = std::string(CURL_PROGRAM) + " -sS --cacert " + (device_dir_ / "ca.crt").string() +
                                " --cert " + (device_dir_ / "device.crt").string() + " --key " +
                                (device_dir_ / "device.key").string() + " -D " + headers_file.string() + " -o " +
                                body_file.string() + " " + extra + " '" + url_ + path + "' 2>/dev/null";
    (void)std::system(command.c_str());
    CurlAnswer answer;
    std::istringstream lines(read_file(headers_file));
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.starts_with("HTTP/")) {
        // A new response (after "100 Continue"): keep only the last one.
        answer.status = std::stoi(line.substr(line.find(' ') + 1, 3));
        answer.headers.clear();
        continue;
      }
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      answer.headers[lower(line.substr(0, colon))] = value;
    }
    answer.body = read_file(body_file);
    return answer;
  }

  CurlAnswer patch(const std::string& location, std::size_t offset, const std::string& chunk,
                   const std::string& extra = {}) {
    const fs::path chunk_file = work_ / "chunk.bin";
    std::ofstream(chunk_file, std::ios::binary) << chunk;
    return curl(
        "-X PATCH -H 'Tus-Resumable: 1.0.0' -H 'Content-Type: application/offset+octet-stream' "
        "-H 'Upload-Offset: " +
            std::to_string(offset) + "' -H 'Upload-Checksum: sha256 " +
            kiosk::gateway::base64_encode(raw_sha256(chunk)) + "' --data-binary @" + chunk_file.string() + " " + extra,
        location);
  }

  CurlAnswer create(std::string_view package_id, const std::string& content) {
    return curl("-X POST -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: " + std::to_string(content.size()) +
                    "' -H 'Upload-Metadata: " + metadata_for(package_id, content) + "'",
                "/v1/device/uploads");
  }

  fs::path work_;        // scratch files of the client
  fs::path device_dir_;  // ca.crt, device.crt, device.key
  std::string url_;      // https://127.0.0.1:<device port>
};

class UploadsAgainstGateway : public CurlClient {
 protected:
  void SetUp() override {
    gateway_ = std::make_unique<GatewayProcess>();
    ASSERT_TRUE(gateway_->started()) << "the gateway did not start; see " << gateway_->root() / "gateway.log";
    work_ = gateway_->root() / "client";
    fs::create_directories(work_);
    device_dir_ = gateway_->device_dir();
    url_ = gateway_->device_url();
  }

  std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(UploadsAgainstGateway, UploadCutMidwayResumesFromHeadAndCompletesByteForByte) {
  std::string source(5 * kMiB + 12345, '\0');
  for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<char>((i * 2654435761u) >> 13);

  const CurlAnswer options = curl("-X OPTIONS", "/v1/device/uploads");
  EXPECT_EQ(options.status, 204);
  EXPECT_EQ(options.header("tus-extension"), "creation,checksum,termination");
  EXPECT_EQ(options.header("tus-resumable"), "1.0.0");

  const std::string metadata = "package_id " + kiosk::gateway::base64_encode("PKG-INT-1") + ",transaction_id " +
                               kiosk::gateway::base64_encode("TX-INT-1") + ",archive_sha256 " +
                               kiosk::gateway::base64_encode(kiosk::gateway::sha256_hex_of(source));
  const std::string create_args =
      "-X POST -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: " + std::to_string(source.size()) +
      "' -H 'Upload-Metadata: " + metadata + "'";
  const CurlAnswer created = curl(create_args, "/v1/device/uploads");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string location = created.header("location");
  ASSERT_TRUE(location.starts_with("/v1/device/uploads/")) << location;
  const std::string id = location.substr(location.rfind('/') + 1);
  // A lost answer: asking again gives the same upload.
  const CurlAnswer again = curl(create_args, "/v1/device/uploads");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.header("location"), location);

  // Without the version header: 412.
  EXPECT_EQ(curl("-I", location).status, 412);

  // PATCH 1: 2 MiB, far above [limits] max_body_bytes (64 KiB): the route's own limit applies.
  const std::size_t first = 2 * kMiB;
  const CurlAnswer one = patch(location, 0, source.substr(0, first));
  ASSERT_EQ(one.status, 204) << one.body;
  EXPECT_EQ(one.header("upload-offset"), std::to_string(first));

  // The connection is cut in the middle of the next body: nothing of it counts.
  const CurlAnswer cut = patch(location, first, source.substr(first, 2 * kMiB), "--limit-rate 200k --max-time 1");
  // No final answer: at most the server's "100 Continue" before curl gave up.
  EXPECT_TRUE(cut.status == 0 || cut.status == 100) << cut.status;

  // Resume from what the server says.
  const CurlAnswer state = curl("-I -H 'Tus-Resumable: 1.0.0'", location);
  ASSERT_EQ(state.status, 200);
  EXPECT_EQ(state.header("upload-length"), std::to_string(source.size()));
  EXPECT_EQ(state.header("cache-control"), "no-store");
  ASSERT_EQ(state.header("upload-offset"), std::to_string(first));
  std::size_t offset = std::stoul(state.header("upload-offset"));

  // A stale offset is 409 with the current one.
  const CurlAnswer stale = patch(location, 0, source.substr(0, 100));
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.header("upload-offset"), std::to_string(first));

  // A body over [uploads] max_patch_bytes (8 MiB) is refused before it is read.
  const CurlAnswer too_big = patch(location, offset, std::string(8 * kMiB + 1, 'x'));
  EXPECT_EQ(too_big.status, 413);
  EXPECT_NE(too_big.body.find("BODY_TOO_LARGE"), std::string::npos);
  // Other routes keep their 64 KiB limit.
  const CurlAnswer big_json =
      curl("-X POST -H 'Content-Type: application/json' --data-binary @" + (work_ / "chunk.bin").string(),
           "/v1/device/staff/verify");
  EXPECT_EQ(big_json.status, 400);
  EXPECT_NE(big_json.body.find("BODY_TOO_LARGE"), std::string::npos);

  // PATCH 2 and 3 finish it.
  const CurlAnswer two = patch(location, offset, source.substr(offset, 2 * kMiB));
  ASSERT_EQ(two.status, 204) << two.body;
  offset += 2 * kMiB;
  const CurlAnswer three = patch(location, offset, source.substr(offset));
  ASSERT_EQ(three.status, 204) << three.body;
  EXPECT_EQ(three.header("upload-offset"), std::to_string(source.size()));

  const fs::path completed = gateway_->root() / "data" / "uploads" / "complete" / id;
  ASSERT_TRUE(fs::exists(completed));
  EXPECT_TRUE(read_file(completed) == source) << "the stored file differs from the source";
  EXPECT_FALSE(fs::exists(gateway_->root() / "data" / "uploads" / "partial" / id));

  // Complete uploads cannot be deleted.
  EXPECT_EQ(curl("-X DELETE -H 'Tus-Resumable: 1.0.0'", location).status, 409);
  const std::string log = read_file(gateway_->root() / "gateway.log");
  EXPECT_NE(log.find("upload_complete"), std::string::npos);
}

TEST_F(UploadsAgainstGateway, TerminationRemovesAnUnfinishedUpload) {
  const std::string source(300000, 'k');
  const CurlAnswer created = create("PKG-INT-2", source);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string location = created.header("location");
  ASSERT_EQ(patch(location, 0, source.substr(0, 1000)).status, 204);
  const CurlAnswer deleted = curl("-X DELETE -H 'Tus-Resumable: 1.0.0'", location);
  EXPECT_EQ(deleted.status, 204);
  EXPECT_EQ(deleted.header("tus-resumable"), "1.0.0");
  EXPECT_EQ(curl("-I -H 'Tus-Resumable: 1.0.0'", location).status, 404);
}

// The gateway is killed (SIGKILL, no chance to clean up) in the middle of a PATCH body and started
// again on the same data directory: the acknowledged bytes are still there, the cut PATCH left
// nothing, and the upload completes from HEAD's offset.
class UploadsAcrossGatewayKill : public CurlClient {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "uploads-kill-gw-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    work_ = root_ / "client";
    device_dir_ = root_ / "device";
    fs::create_directories(work_);
    const std::string enrol = std::string(GATEWAY_BINARY) + " enrol-dev --data-dir " + (root_ / "data").string() +
                              " --device-id SIM-0202 --out " + device_dir_.string() + " > /dev/null 2>&1";
    ASSERT_EQ(std::system(enrol.c_str()), 0);
    std::ofstream(root_ / "gateway.toml") << "[device_listener]\nport = 0\n[console_listener]\nport = 0\n";
  }
  void TearDown() override {
    stop(SIGTERM);
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  void start() {
    fs::remove(root_ / "data" / "run" / "ports.json");
    pid_ = ::fork();
    if (pid_ == 0) {
      const int log = ::open((root_ / "gateway.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, STDERR_FILENO);
      ::dup2(log, STDOUT_FILENO);
      const std::string config = (root_ / "gateway.toml").string();
      const std::string data = (root_ / "data").string();
      ::execl(GATEWAY_BINARY, GATEWAY_BINARY, "serve", "--config", config.c_str(), "--data-dir", data.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int port = 0;
    for (int attempt = 0; attempt < 500 && port == 0; ++attempt) {
      const auto ports = nlohmann::json::parse(read_file(root_ / "data" / "run" / "ports.json"), nullptr, false);
      if (ports.is_object() && ports.contains("device")) port = ports["device"].get<int>();
      if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    url_ = "https://127.0.0.1:" + std::to_string(port);
  }

  void stop(int signal_number) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal_number);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  fs::path root_;
  pid_t pid_ = -1;
};

TEST_F(UploadsAcrossGatewayKill, AcknowledgedBytesSurviveAKillAndTheUploadCompletes) {
  std::string source(3 * kMiB + 777, '\0');
  for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<char>((i * 40503u) >> 7);
  start();
  ASSERT_NE(url_, "https://127.0.0.1:0") << read_file(root_ / "gateway.log");
  const CurlAnswer created = create("PKG-KILL-1", source);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string location = created.header("location");
  const std::string id = location.substr(location.rfind('/') + 1);
  ASSERT_EQ(patch(location, 0, source.substr(0, kMiB)).status, 204);

  // A slow PATCH is under way when the gateway is killed.
  const fs::path slow_chunk = work_ / "slow.bin";
  std::ofstream(slow_chunk, std::ios::binary) << source.substr(kMiB, kMiB);
  const std::string slow = std::string(CURL_PROGRAM) + " -sS -o /dev/null --cacert " +
                           (device_dir_ / "ca.crt").string() + " --cert " + (device_dir_ / "device.crt").string() +
                           " --key " + (device_dir_ / "device.key").string() +
                           " --limit-rate 100k --max-time 5 -X PATCH -H 'Tus-Resumable: 1.0.0'"
                           " -H 'Content-Type: application/offset+octet-stream' -H 'Upload-Offset: " +
                           std::to_string(kMiB) + "' -H 'Upload-Checksum: sha256 " +
                           kiosk::gateway::base64_encode(raw_sha256(source.substr(kMiB, kMiB))) + "' --data-binary @" +
                           slow_chunk.string() + " '" + url_ + location + "' > /dev/null 2>&1 &";
  ASSERT_EQ(std::system(slow.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  stop(SIGKILL);

  start();
  const CurlAnswer state = curl("-I -H 'Tus-Resumable: 1.0.0'", location);
  ASSERT_EQ(state.status, 200);
  ASSERT_EQ(state.header("upload-offset"), std::to_string(kMiB));
  EXPECT_EQ(fs::file_size(root_ / "data" / "uploads" / "partial" / id), kMiB);
  // The lost creation answer is asked again after the restart: same upload.
  EXPECT_EQ(create("PKG-KILL-1", source).header("location"), location);

  std::size_t offset = kMiB;
  while (offset < source.size()) {
    const std::size_t size = std::min<std::size_t>(kMiB, source.size() - offset);
    const CurlAnswer answered = patch(location, offset, source.substr(offset, size));
    ASSERT_EQ(answered.status, 204) << answered.body;
    offset += size;
  }
  EXPECT_TRUE(read_file(root_ / "data" / "uploads" / "complete" / id) == source);
}

}  // namespace
