// The idcard-sim program end to end, as the driver will meet it: started with --link in a temporary
// directory, the link opened like a serial device, frames exchanged, cards placed over stdin or the
// control socket, wire time honoured, unplug seen as a hangup, and a clean exit.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "hal/idcard/id_document.hpp"
#include "hal/idcard/sam_frame.hpp"
#include "hal/idcard/sim/request_frame.hpp"

extern char** environ;

namespace kiosk::hal::idcard::sim {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "idcard-sim-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The simulator as a child process with its stdin and stdout on pipes.
class SimProcess {
 public:
  explicit SimProcess(std::vector<std::string> args) {
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    args.insert(args.begin(), IDCARD_SIM_BINARY);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, IDCARD_SIM_BINARY, &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
  }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;
  ~SimProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdin_ >= 0) close(stdin_);
    if (stdout_ >= 0) close(stdout_);
  }

  [[nodiscard]] bool started() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }

  // One line of stdout, or "" after the timeout.
  std::string line(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      if (const auto newline = buffered_.find('\n'); newline != std::string::npos) {
        std::string text = buffered_.substr(0, newline);
        buffered_.erase(0, newline + 1);
        return text;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd fd{stdout_, POLLIN, 0};
      if (left <= 0 || poll(&fd, 1, static_cast<int>(left)) <= 0) return "";
      char chunk[512];
      const ssize_t got = read(stdout_, chunk, sizeof chunk);
      if (got <= 0) return "";
      buffered_.append(chunk, static_cast<std::size_t>(got));
    }
  }

  std::string command(const std::string& text) {
    const std::string sent = text + "\n";
    if (write(stdin_, sent.data(), sent.size()) != static_cast<ssize_t>(sent.size())) return "";
    return line();
  }

  void close_stdin() {
    close(stdin_);
    stdin_ = -1;
  }

  // The exit status, or -1 when it did not end within the timeout.
  int wait_exit(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  bool exited_ = false;
  std::string buffered_;
};

// The host's side, opened the way the driver opens /dev/ttyUSB0.
class HostPort {
 public:
  explicit HostPort(const std::filesystem::path& path) {
    fd_ = open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0) return;
    termios settings{};
    tcgetattr(fd_, &settings);
    cfmakeraw(&settings);
    tcsetattr(fd_, TCSANOW, &settings);
  }
  HostPort(const HostPort&) = delete;
  HostPort& operator=(const HostPort&) = delete;
  ~HostPort() {
    if (fd_ >= 0) close(fd_);
  }
  [[nodiscard]] bool is_open() const { return fd_ >= 0; }
  [[nodiscard]] int fd() const { return fd_; }

  bool send(SamCommand command) {
    const auto frame = encode_request(command);
    return write(fd_, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
  }

  // The next reply, or nullopt after the timeout or a hangup.
  std::optional<SamResponse> reply(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      if (auto next = decoder_.next()) {
        if (next->has_value()) return **next;
        ADD_FAILURE() << next->error().to_string();
        return std::nullopt;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd fd{fd_, POLLIN, 0};
      if (left <= 0 || poll(&fd, 1, static_cast<int>(left)) <= 0) return std::nullopt;
      std::uint8_t chunk[4096];
      const ssize_t got = read(fd_, chunk, sizeof chunk);
      if (got <= 0) return std::nullopt;
      decoder_.feed(std::span(chunk, static_cast<std::size_t>(got)));
    }
  }

 private:
  int fd_ = -1;
  ResponseDecoder decoder_;
};

std::string socket_command(const std::filesystem::path& socket_path, const std::string& text) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
  std::string answer;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    const std::string sent = text + "\n";
    if (write(fd, sent.data(), sent.size()) == static_cast<ssize_t>(sent.size())) {
      char chunk[512];
      pollfd poll_fd{fd, POLLIN, 0};
      while (answer.find('\n') == std::string::npos && poll(&poll_fd, 1, 5000) > 0) {
        const ssize_t got = read(fd, chunk, sizeof chunk);
        if (got <= 0) break;
        answer.append(chunk, static_cast<std::size_t>(got));
      }
    }
  }
  close(fd);
  return answer.substr(0, answer.find('\n'));
}

TEST(IdCardSimProgram, FindPlaceReadAtTheWireSpeedThenQuit) {
  TempDir dir;
  const auto link = dir.path() / "ttyV0";
  SimProcess sim({"--link", link.string(), "--baud", "9600", "--cards", IDCARD_SIM_CARDS_DIR});
  ASSERT_TRUE(sim.started());
  const std::string ready = sim.line();
  ASSERT_TRUE(ready.starts_with("ready /dev/pts/")) << ready;
  EXPECT_EQ(std::filesystem::read_symlink(link).string(), ready.substr(6));

  HostPort host(link);
  ASSERT_TRUE(host.is_open()) << std::strerror(errno);
  ASSERT_TRUE(host.send(SamCommand::find_card));
  auto reply = host.reply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sw3, 0x80);

  EXPECT_EQ(sim.command("place resident"), "ok placed resident");
  ASSERT_TRUE(host.send(SamCommand::find_card));
  reply = host.reply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sw3, 0x9F);

  // A 1295-byte read reply at 9600 baud cannot arrive before its wire time (plus the request's).
  const auto start = Clock::now();
  ASSERT_TRUE(host.send(SamCommand::read_text_photo));
  reply = host.reply();
  const auto took = Clock::now() - start;
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sw3, 0x90);
  EXPECT_GE(took, wire_time(10 + 1295, 9600));
  EXPECT_LT(took, wire_time(10 + 1295, 9600) + 1s) << "the pacing is far slower than the line";
  const auto card = parse_read_reply(reply->data, false);
  ASSERT_TRUE(card.has_value()) << card.error().to_string();
  EXPECT_EQ(card->document.id_number, "11010519491231002X");

  EXPECT_EQ(sim.command("quit"), "ok quitting");
  EXPECT_EQ(sim.wait_exit(), 0);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(link)));
}

TEST(IdCardSimProgram, ControlSocketFaultsUnplugAndReplug) {
  TempDir dir;
  const auto link = dir.path() / "ttyV0";
  const auto control = dir.path() / "control.sock";
  SimProcess sim(
      {"--link", link.string(), "--cards", IDCARD_SIM_CARDS_DIR, "--card", "expired", "--control", control.string()});
  ASSERT_TRUE(sim.started());
  ASSERT_TRUE(sim.line().starts_with("ready "));

  const std::string status = socket_command(control, "status");
  EXPECT_TRUE(status.starts_with("ok card=expired faults=0 baud=115200")) << status;
  EXPECT_EQ(socket_command(control, "fault status 0x33 on find"), "ok fault status 0x33 on find times 1 queued");

  {
    HostPort host(link);
    ASSERT_TRUE(host.is_open());
    ASSERT_TRUE(host.send(SamCommand::find_card));
    auto reply = host.reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->sw3, 0x33);
    ASSERT_TRUE(host.send(SamCommand::find_card));
    reply = host.reply();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->sw3, 0x9F);

    // Pulled cable: the host's open port hangs up and the path disappears.
    EXPECT_EQ(socket_command(control, "unplug"), "ok unplugged");
    pollfd fd{host.fd(), POLLIN, 0};
    ASSERT_EQ(poll(&fd, 1, 2000), 1);
    EXPECT_NE(fd.revents & (POLLHUP | POLLERR), 0);
    std::uint8_t byte = 0;
    EXPECT_LE(read(host.fd(), &byte, 1), 0);
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(link)));
    EXPECT_EQ(socket_command(control, "unplug"), "error already unplugged");
  }

  const std::string replugged = socket_command(control, "replug");
  ASSERT_TRUE(replugged.starts_with("ok replugged /dev/pts/")) << replugged;
  EXPECT_EQ(std::filesystem::read_symlink(link).string(), replugged.substr(13));
  HostPort host(link);
  ASSERT_TRUE(host.is_open());
  ASSERT_TRUE(host.send(SamCommand::sam_status));
  const auto reply = host.reply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sw3, 0x90);

  // With a control socket, EOF on stdin does not end the simulator; SIGTERM does, cleanly.
  sim.close_stdin();
  EXPECT_TRUE(socket_command(control, "status").starts_with("ok card=expired"));
  kill(sim.pid(), SIGTERM);
  EXPECT_EQ(sim.wait_exit(), 0);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(link)));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(control)));
}

TEST(IdCardSimProgram, EndOfStdinEndsItWithoutAControlSocket) {
  TempDir dir;
  const auto link = dir.path() / "ttyV0";
  SimProcess sim({"--link", link.string(), "--cards", IDCARD_SIM_CARDS_DIR});
  ASSERT_TRUE(sim.started());
  ASSERT_TRUE(sim.line().starts_with("ready "));
  sim.close_stdin();
  EXPECT_EQ(sim.wait_exit(), 0);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(link)));
}

TEST(IdCardSimProgram, BadUsageAndAMissingCardAreRefused) {
  TempDir dir;
  {
    SimProcess sim({"--baud", "9600"});
    ASSERT_TRUE(sim.started());
    EXPECT_EQ(sim.wait_exit(), 2);
  }
  {
    SimProcess sim({"--link", (dir.path() / "ttyV0").string(), "--baud", "12345"});
    EXPECT_EQ(sim.wait_exit(), 2);
  }
  {
    SimProcess sim({"--link", (dir.path() / "ttyV0").string(), "--cards", IDCARD_SIM_CARDS_DIR, "--card", "nobody"});
    EXPECT_EQ(sim.wait_exit(), 1);
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(dir.path() / "ttyV0")));
  }
}

}  // namespace
}  // namespace kiosk::hal::idcard::sim
