// PcscMonitor against a real pcscd 1.9.9 with the vsmartcard virtual reader (vpcd) and a virtual
// card (vicc), as in reference/hal.md §3. Each test starts its own pcscd in the foreground when the
// fixed socket is free, and stops it at the end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hal/token/pcsc_monitor.hpp"

extern char** environ;

namespace kiosk::hal::token {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kPcscdSocket = "/run/pcscd/pcscd.comm";
// vpcd's first reader, which vicc reaches on its default port 35963.
constexpr const char* kVirtualReader = "Virtual PCD 00 00";
// The ATR of vicc's iso7816 card (reference/hal.md §3).
constexpr const char* kViccAtr = "3B951381018073FF01000B";

bool socket_accepts(const char* path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path, sizeof address.sun_path - 1);
  const bool accepted = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return accepted;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A child process with its output in a log file; killed and reaped when destroyed.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { stop(SIGKILL); }

  bool start(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env, const fs::path& log) {
    log_ = log;
    std::vector<std::string> env_strings(extra_env);
    for (char** entry = environ; *entry != nullptr; ++entry) env_strings.emplace_back(*entry);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& entry : env_strings) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }

  // True once the process has ended on its own (and reaps it).
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }

  // Sends the signal and waits up to five seconds before killing it for good.
  void stop(int signal_number = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal_number);
    for (int i = 0; i < 100; ++i) {
      if (exited()) return;
      std::this_thread::sleep_for(50ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  [[nodiscard]] std::string log_text() const { return read_text(log_); }

 private:
  pid_t pid_ = -1;
  fs::path log_;
};

// Everything the monitor reported, for the test thread to wait on.
class Recorder {
 public:
  void on_event(const PcscEvent& event) {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
    changed_.notify_all();
  }
  void on_error(const Error& error) {
    std::lock_guard lock(mutex_);
    errors_.push_back(error);
    changed_.notify_all();
  }

  // Index of the first event at or after `from` with this kind and reader, waiting up to `timeout`.
  std::optional<std::size_t> wait_event(PcscEventKind kind, const std::string& reader, std::size_t from = 0,
                                        std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    std::optional<std::size_t> found;
    changed_.wait_for(lock, timeout, [&] {
      for (std::size_t i = from; i < events_.size(); ++i) {
        if (events_[i].kind == kind && events_[i].reader == reader) {
          found = i;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // Waits until the number of errors with this code exceeds `already_seen`.
  bool wait_error(const std::string& code, std::size_t already_seen, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return count_errors(code) > already_seen; });
  }

  std::size_t error_count(const std::string& code) {
    std::lock_guard lock(mutex_);
    return count_errors(code);
  }

  std::vector<PcscEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<Error> errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  std::size_t count_errors(const std::string& code) const {
    return static_cast<std::size_t>(
        std::count_if(errors_.begin(), errors_.end(), [&](const Error& error) { return error.code == code; }));
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<PcscEvent> events_;
  std::vector<Error> errors_;
};

class PcscMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kiosk-pcsc-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  void TearDown() override {
    vicc_.stop(SIGKILL);
    stop_own_pcscd();
    fs::remove_all(dir_);
  }

  // Why pcscd with vpcd cannot be used here, or nullopt once it runs (our own, or one already running).
  std::optional<std::string> bring_up_pcscd() {
    if (std::string(PCSCD_PROGRAM).empty()) return "pcscd is not installed (package pcscd, image/packages)";
    if (socket_accepts(kPcscdSocket)) {
      // Someone else's pcscd: use it only if it serves the virtual reader.
      auto readers = list_pcsc_readers();
      if (readers && std::find(readers->begin(), readers->end(), kVirtualReader) != readers->end()) return std::nullopt;
      return std::string("a pcscd not started by this test holds ") + kPcscdSocket +
             " and does not serve the vpcd reader (install vsmartcard-vpcd and restart it)";
    }
    if (auto why = start_own_pcscd()) return why;
    return std::nullopt;
  }

  std::optional<std::string> start_own_pcscd() {
    pcscd_log_ = dir_ / "pcscd.log";
    if (!pcscd_.start({PCSCD_PROGRAM, "--foreground"}, {}, pcscd_log_)) return "pcscd could not be spawned";
    own_pcscd_ = true;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pcscd_.exited()) {
        own_pcscd_ = false;
        return "pcscd exited at start in this environment (it needs /run/pcscd writable, i.e. root or a "
               "pre-created /run/pcscd owned by this user; reference/hal.md §3). Its output: " +
               read_text(pcscd_log_);
      }
      if (socket_accepts(kPcscdSocket)) {
        auto readers = list_pcsc_readers();
        if (readers && std::find(readers->begin(), readers->end(), kVirtualReader) != readers->end()) {
          return std::nullopt;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
    return "pcscd started but never served the vpcd reader '" + std::string(kVirtualReader) +
           "' (is vsmartcard-vpcd installed?). Its output: " + read_text(pcscd_log_);
  }

  void stop_own_pcscd() {
    if (!own_pcscd_) return;
    pcscd_.stop(SIGTERM);
    own_pcscd_ = false;
  }

  // Puts vicc's iso7816 card into the first vpcd reader, with the two bookworm workarounds.
  std::optional<std::string> insert_virtual_card() {
    if (std::string(VICC_PROGRAM).empty() || std::string(VICC_PYTHON_DIR).empty()) {
      return "vicc is not installed (package vsmartcard-vpicc)";
    }
    if (!fs::exists(CRYPTODOME_DIR)) return "pycryptodome is not installed (package python3-pycryptodome)";
    const fs::path shim = dir_ / "python-shim";
    fs::create_directories(shim);
    std::error_code ignored;
    fs::create_directory_symlink(CRYPTODOME_DIR, shim / "Crypto", ignored);
    const std::string python_path = "PYTHONPATH=" + std::string(VICC_PYTHON_DIR) + ":" + shim.string();
    if (!vicc_.start({VICC_PROGRAM, "-t", "iso7816", "-H", "localhost", "-P", "35963"}, {python_path},
                     dir_ / "vicc.log")) {
      return "vicc could not be spawned";
    }
    return std::nullopt;
  }

  fs::path dir_;
  fs::path pcscd_log_;
  ChildProcess pcscd_;
  ChildProcess vicc_;
  bool own_pcscd_ = false;
  Recorder recorder_;
};

PcscMonitor make_monitor(Recorder& recorder, PcscMonitorOptions options = {}) {
  return PcscMonitor([&recorder](const PcscEvent& event) { recorder.on_event(event); },
                     [&recorder](const Error& error) { recorder.on_error(error); }, options);
}

TEST(PcscError, NamesTheCallAndMapsTheServiceCodes) {
  const Error no_service = pcsc_error("SCardEstablishContext", 0x8010001DL);
  EXPECT_EQ(no_service.code, "PCSC_NO_SERVICE");
  EXPECT_NE(no_service.message.find("SCardEstablishContext: SCARD_E_NO_SERVICE (0x8010001d)"), std::string::npos)
      << no_service.message;
  EXPECT_EQ(pcsc_error("SCardGetStatusChange", 0x8010001EL).code, "PCSC_NO_SERVICE");  // service stopped
  EXPECT_EQ(pcsc_error("SCardListReaders", 0x80100006L).code, "PCSC_NO_MEMORY");
  const Error other = pcsc_error("SCardGetStatusChange", 0x80100004L);
  EXPECT_EQ(other.code, "PCSC_CALL_FAILED");
  EXPECT_NE(other.message.find("SCARD_E_INVALID_PARAMETER"), std::string::npos) << other.message;
}

TEST_F(PcscMonitorTest, ReportsVirtualCardInsertedWithItsAtrThenRemoved) {
  if (auto why = bring_up_pcscd()) GTEST_SKIP() << *why;
  auto monitor = make_monitor(recorder_);
  ASSERT_TRUE(monitor.start().has_value());
  EXPECT_FALSE(monitor.start().has_value()) << "a second start must be refused";

  const auto added = recorder_.wait_event(PcscEventKind::reader_added, kVirtualReader);
  ASSERT_TRUE(added.has_value()) << "the vpcd reader was never reported";
  // No card yet: nothing may claim one.
  EXPECT_FALSE(recorder_.wait_event(PcscEventKind::card_inserted, kVirtualReader, 0, 300ms).has_value());

  if (auto why = insert_virtual_card()) GTEST_SKIP() << *why;
  const auto inserted = recorder_.wait_event(PcscEventKind::card_inserted, kVirtualReader, *added, 15s);
  ASSERT_TRUE(inserted.has_value()) << "no card_inserted; vicc output: " << read_text(dir_ / "vicc.log");
  EXPECT_EQ(recorder_.events()[*inserted].atr_hex, kViccAtr);

  vicc_.stop(SIGKILL);  // pulling the card out: vpcd sees its peer disappear
  const auto removed = recorder_.wait_event(PcscEventKind::card_removed, kVirtualReader, *inserted + 1, 15s);
  ASSERT_TRUE(removed.has_value()) << "no card_removed after vicc was killed";
  EXPECT_TRUE(recorder_.events()[*removed].atr_hex.empty());

  const auto before_stop = std::chrono::steady_clock::now();
  monitor.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before_stop, 2s);
  EXPECT_FALSE(monitor.running());
  EXPECT_TRUE(recorder_.errors().empty()) << recorder_.errors().front().to_string();
}

TEST_F(PcscMonitorTest, StopCancelsALongWaitPromptly) {
  if (auto why = bring_up_pcscd()) GTEST_SKIP() << *why;
  PcscMonitorOptions options;
  options.wait_timeout = 30s;  // without SCardCancel, stop() would take this long
  auto monitor = make_monitor(recorder_, options);
  ASSERT_TRUE(monitor.start().has_value());
  ASSERT_TRUE(recorder_.wait_event(PcscEventKind::reader_added, kVirtualReader).has_value());
  std::this_thread::sleep_for(300ms);  // let the thread settle into its wait

  const auto before_stop = std::chrono::steady_clock::now();
  monitor.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before_stop, 2s);
}

TEST_F(PcscMonitorTest, ReportsNoServiceAndReconnectsWhenPcscdComesBack) {
  if (std::string(PCSCD_PROGRAM).empty()) GTEST_SKIP() << "pcscd is not installed (package pcscd)";
  if (socket_accepts(kPcscdSocket)) {
    GTEST_SKIP() << "a pcscd not started by this test is running; this test must stop the service it watches";
  }
  PcscMonitorOptions options;
  options.reconnect_interval = 200ms;
  auto monitor = make_monitor(recorder_, options);
  ASSERT_TRUE(monitor.start().has_value());
  ASSERT_TRUE(recorder_.wait_error("PCSC_NO_SERVICE", 0, 5s)) << "pcscd down was not reported";
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(recorder_.error_count("PCSC_NO_SERVICE"), 1u) << "an outage is reported once, not at every retry";
  EXPECT_TRUE(list_pcsc_readers().error().code == "PCSC_NO_SERVICE");

  if (auto why = start_own_pcscd()) GTEST_SKIP() << *why;
  const auto added = recorder_.wait_event(PcscEventKind::reader_added, kVirtualReader, 0, 10s);
  ASSERT_TRUE(added.has_value()) << "the monitor did not reconnect when pcscd came back";

  stop_own_pcscd();
  ASSERT_TRUE(recorder_.wait_error("PCSC_NO_SERVICE", 1, 10s)) << "pcscd going away was not reported";
  EXPECT_TRUE(recorder_.wait_event(PcscEventKind::reader_removed, kVirtualReader, *added + 1, 1s).has_value())
      << "readers of a vanished pcscd must be reported removed";
  monitor.stop();
}

}  // namespace
}  // namespace kiosk::hal::token
