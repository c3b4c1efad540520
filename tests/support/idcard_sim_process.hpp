// Runs the real `idcard-sim` program for a test or benchmark: a pseudo-terminal behind a link in a
// temporary directory, driven by control lines on its standard input ("place resident",
// "fault silence", "unplug", ...), each answered by one line on its standard output.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace kiosk::testing {

class IdcardSimProcess {
 public:
  // Nullptr when the program cannot be started or never says "ready".
  static std::unique_ptr<IdcardSimProcess> start(const std::string& binary, const std::filesystem::path& link,
                                                 const std::filesystem::path& cards,
                                                 std::vector<std::string> extra_args = {}) {
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) return nullptr;
    std::vector<std::string> args{binary, "--link", link.string(), "--cards", cards.string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    const pid_t pid = ::fork();
    if (pid < 0) return nullptr;
    if (pid == 0) {
      ::dup2(to_child[0], STDIN_FILENO);
      ::dup2(from_child[1], STDOUT_FILENO);
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) ::dup2(devnull, STDERR_FILENO);  // the sim logs every request there
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    auto process = std::unique_ptr<IdcardSimProcess>(new IdcardSimProcess(pid, to_child[1], from_child[0]));
    const std::string ready = process->read_line(std::chrono::seconds{10});
    if (ready.rfind("ready", 0) != 0) return nullptr;
    return process;
  }

  IdcardSimProcess(const IdcardSimProcess&) = delete;
  IdcardSimProcess& operator=(const IdcardSimProcess&) = delete;

  ~IdcardSimProcess() {
    ::close(to_child_);  // EOF on stdin ends the simulator
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        ::close(from_child_);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::close(from_child_);
  }

  // Sends one control line and returns the simulator's one-line answer ("ok ..." or "error ...").
  std::string command(const std::string& line) {
    const std::string text = line + "\n";
    if (::write(to_child_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return "error write";
    return read_line(std::chrono::seconds{5});
  }

 private:
  IdcardSimProcess(pid_t pid, int to_child, int from_child) : pid_(pid), to_child_(to_child), from_child_(from_child) {}

  std::string read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto newline = pending_.find('\n');
      if (newline != std::string::npos) {
        std::string line = pending_.substr(0, newline);
        pending_.erase(0, newline + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "error timeout";
      pollfd waiter{.fd = from_child_, .events = POLLIN, .revents = 0};
      if (::poll(&waiter, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[512];
      const ssize_t got = ::read(from_child_, buffer, sizeof buffer);
      if (got <= 0) return "error eof";
      pending_.append(buffer, static_cast<std::size_t>(got));
    }
  }

  pid_t pid_;
  int to_child_;
  int from_child_;
  std::string pending_;
};

}  // namespace kiosk::testing
