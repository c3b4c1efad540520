// The fault proxy against small servers inside the test: an echo server, a sink that records what it
// received, and a source that sends a fixed block on every connection. Timing is only ever checked
// as a lower bound (a fault must delay at least this long); performance is never asserted.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fault_proxy.hpp"

namespace kiosk::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kClientToServer = Direction::client_to_server;
constexpr auto kServerToClient = Direction::server_to_client;

std::string random_bytes(std::size_t count, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::string bytes(count, '\0');
  for (char& byte : bytes) byte = static_cast<char>(generator() & 0xFF);
  return bytes;
}

void set_receive_timeout(int fd, std::chrono::seconds timeout) {
  timeval value{};
  value.tv_sec = static_cast<time_t>(timeout.count());
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, sizeof value);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, sizeof value);
}

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&&) = delete;
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_;
};

Socket connect_to(std::uint16_t port) {
  Socket socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  EXPECT_EQ(::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0)
      << std::strerror(errno);
  set_receive_timeout(socket.fd(), 10s);
  return socket;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

struct ReadResult {
  std::string bytes;
  int error = 0;  // 0: the stream ended with EOF
};

ReadResult read_until_end(int fd, std::size_t limit = std::string::npos) {
  ReadResult result;
  char buffer[16 * 1024];
  while (result.bytes.size() < limit) {
    const ssize_t got = ::recv(fd, buffer, std::min(sizeof buffer, limit - result.bytes.size()), 0);
    if (got == 0) return result;
    if (got < 0) {
      if (errno == EINTR) continue;
      result.error = errno;
      return result;
    }
    result.bytes.append(buffer, static_cast<std::size_t>(got));
  }
  return result;
}

// Polls `condition` until it holds or `timeout` passes; for counters the proxy thread updates a
// moment after the bytes they count have left.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

// A loopback server that handles each connection on its own thread.
class TestServer {
 public:
  enum class Mode { echo, sink, source };
  struct Received {
    std::string bytes;
    int error = 0;
    Clock::time_point last_byte_at{};
  };

  explicit TestServer(Mode mode, std::string source_bytes = {}) : mode_(mode), source_bytes_(std::move(source_bytes)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listener_, 64), 0);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TestServer() {
    stopping_ = true;
    acceptor_.join();
    {
      const std::lock_guard lock(mutex_);
      for (const int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& handler : handlers_) handler.join();
    ::close(listener_);
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }

  // What the sink received on each finished connection, in the order they finished.
  std::vector<Received> wait_for_finished(std::size_t count, std::chrono::seconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return finished_.size() >= count; });
    return finished_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd entry{listener_, POLLIN, 0};
      if (::poll(&entry, 1, 20) <= 0) continue;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      set_receive_timeout(fd, 20s);
      const std::lock_guard lock(mutex_);
      open_fds_.insert(fd);
      handlers_.emplace_back([this, fd] { handle(fd); });
    }
  }

  void handle(int fd) {
    Received received;
    char buffer[16 * 1024];
    if (mode_ == Mode::source) {
      send_all(fd, source_bytes_);
    } else {
      for (;;) {
        const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
          received.error = got < 0 ? errno : 0;
          break;
        }
        received.last_byte_at = Clock::now();
        if (mode_ == Mode::echo && !send_all(fd, std::string_view(buffer, static_cast<std::size_t>(got)))) break;
        if (mode_ == Mode::sink) received.bytes.append(buffer, static_cast<std::size_t>(got));
      }
    }
    const std::lock_guard lock(mutex_);
    open_fds_.erase(fd);
    ::close(fd);
    finished_.push_back(std::move(received));
    changed_.notify_all();
  }

  Mode mode_;
  std::string source_bytes_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> handlers_;
  std::set<int> open_fds_;
  std::vector<Received> finished_;
};

std::unique_ptr<FaultProxy> start_proxy(std::uint16_t target_port) {
  auto proxy = FaultProxy::start("127.0.0.1", target_port);
  EXPECT_TRUE(proxy.has_value()) << (proxy ? "" : proxy.error().to_string());
  return proxy ? std::move(*proxy) : nullptr;
}

TEST(FaultProxy, ForwardsBytesUnchangedBothWaysWithoutFaults) {
  TestServer echo(TestServer::Mode::echo);
  const auto proxy = start_proxy(echo.port());
  ASSERT_TRUE(proxy);
  ASSERT_NE(proxy->port(), 0);

  const std::string payload = random_bytes(1024 * 1024, 1);
  Socket client = connect_to(proxy->port());
  std::thread writer([&] {
    EXPECT_TRUE(send_all(client.fd(), payload));
    ::shutdown(client.fd(), SHUT_WR);
  });
  const ReadResult echoed = read_until_end(client.fd());
  writer.join();

  EXPECT_EQ(echoed.error, 0);
  EXPECT_TRUE(echoed.bytes == payload) << "echoed " << echoed.bytes.size() << " bytes";
  EXPECT_TRUE(eventually([&] {
    const auto counters = proxy->counters();
    return counters.bytes_client_to_server == payload.size() && counters.bytes_server_to_client == payload.size() &&
           counters.open_connections == 0;
  }));
  const auto counters = proxy->counters();
  EXPECT_EQ(counters.connections_accepted, 1u);
  EXPECT_EQ(counters.faults_fired(), 0u);
}

TEST(FaultProxy, CutAfterDeliversExactlyThatManyBytesThenEofOnEveryConnection) {
  const std::string block = random_bytes(100'000, 2);
  TestServer source(TestServer::Mode::source, block);
  const auto proxy = start_proxy(source.port());
  ASSERT_TRUE(proxy);
  proxy->cut_after(kServerToClient, 12'345);

  // The count starts again on each connection.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Socket client = connect_to(proxy->port());
    const ReadResult got = read_until_end(client.fd());
    EXPECT_EQ(got.error, 0) << std::strerror(got.error);
    ASSERT_EQ(got.bytes.size(), 12'345u);
    EXPECT_TRUE(got.bytes == block.substr(0, 12'345));
  }
  EXPECT_TRUE(eventually([&] { return proxy->counters().cuts_fired == 2; }));
}

TEST(FaultProxy, CutClientToServerLetsTheServerReadExactlyThatManyBytesThenEof) {
  TestServer sink(TestServer::Mode::sink);
  const auto proxy = start_proxy(sink.port());
  ASSERT_TRUE(proxy);
  proxy->cut_after(kClientToServer, 5'000);

  const std::string payload = random_bytes(200'000, 3);
  Socket client = connect_to(proxy->port());
  send_all(client.fd(), payload);  // fails part-way once the proxy cuts
  const auto finished = sink.wait_for_finished(1);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].error, 0);
  EXPECT_TRUE(finished[0].bytes == payload.substr(0, 5'000)) << "sink got " << finished[0].bytes.size() << " bytes";
  EXPECT_EQ(proxy->counters().cuts_fired, 1u);
}

TEST(FaultProxy, FaultArmedOnALiveConnectionCountsFromThen) {
  TestServer echo(TestServer::Mode::echo);
  const auto proxy = start_proxy(echo.port());
  ASSERT_TRUE(proxy);
  Socket client = connect_to(proxy->port());
  const std::string first = random_bytes(1'000, 4);
  ASSERT_TRUE(send_all(client.fd(), first));
  EXPECT_TRUE(read_until_end(client.fd(), first.size()).bytes == first);

  proxy->cut_after(kServerToClient, 300);
  const std::string second = random_bytes(1'000, 5);
  ASSERT_TRUE(send_all(client.fd(), second));
  const ReadResult got = read_until_end(client.fd());
  EXPECT_EQ(got.error, 0);
  EXPECT_TRUE(got.bytes == second.substr(0, 300)) << "got " << got.bytes.size() << " bytes";
}

TEST(FaultProxy, ResetAfterGivesTheClientConnectionReset) {
  TestServer source(TestServer::Mode::source, random_bytes(100'000, 6));
  const auto proxy = start_proxy(source.port());
  ASSERT_TRUE(proxy);
  proxy->reset_after(kServerToClient, 5'000);

  Socket client = connect_to(proxy->port());
  const ReadResult got = read_until_end(client.fd());
  EXPECT_EQ(got.error, ECONNRESET) << (got.error == 0 ? "clean EOF" : std::strerror(got.error));
  EXPECT_LE(got.bytes.size(), 5'000u);
  EXPECT_TRUE(eventually([&] { return proxy->counters().resets_fired == 1; }));
  EXPECT_EQ(proxy->counters().cuts_fired, 0u);
}

TEST(FaultProxy, StallDelaysTheRestByAtLeastTheDuration) {
  TestServer sink(TestServer::Mode::sink);
  const auto proxy = start_proxy(sink.port());
  ASSERT_TRUE(proxy);
  constexpr auto kStall = 400ms;
  proxy->stall_after(kClientToServer, 1'000, kStall);

  const std::string payload = random_bytes(3'000, 7);
  Socket client = connect_to(proxy->port());
  const auto started = Clock::now();
  ASSERT_TRUE(send_all(client.fd(), payload));
  ::shutdown(client.fd(), SHUT_WR);
  const auto finished = sink.wait_for_finished(1);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_TRUE(finished[0].bytes == payload);
  EXPECT_GE(finished[0].last_byte_at - started, kStall);
  EXPECT_EQ(proxy->counters().stalls_fired, 1u);
}

TEST(FaultProxy, ThrottleAtOneMebibytePerSecondTakesAboutTwoSecondsForTwoMebibytes) {
  TestServer sink(TestServer::Mode::sink);
  const auto proxy = start_proxy(sink.port());
  ASSERT_TRUE(proxy);
  proxy->throttle(kClientToServer, 1024 * 1024);

  const std::string payload = random_bytes(2 * 1024 * 1024, 8);
  Socket client = connect_to(proxy->port());
  const auto started = Clock::now();
  ASSERT_TRUE(send_all(client.fd(), payload));
  ::shutdown(client.fd(), SHUT_WR);
  const auto finished = sink.wait_for_finished(1, 30s);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_TRUE(finished[0].bytes == payload);
  // About 2 s expected; only a generous lower bound, never an upper one.
  EXPECT_GE(finished[0].last_byte_at - started, 1500ms);
}

std::vector<std::size_t> random_cut_sizes(std::uint64_t seed) {
  TestServer source(TestServer::Mode::source, random_bytes(20'000, 9));
  const auto proxy = start_proxy(source.port());
  if (!proxy) return {};
  proxy->cut_randomly(kServerToClient, 500, 15'000, seed);
  std::vector<std::size_t> sizes;
  for (int connection = 0; connection < 6; ++connection) {
    Socket client = connect_to(proxy->port());
    sizes.push_back(read_until_end(client.fd()).bytes.size());
  }
  return sizes;
}

TEST(FaultProxy, RandomCutsWithASeedAreReproducible) {
  const auto first = random_cut_sizes(7);
  ASSERT_EQ(first.size(), 6u);
  for (const std::size_t size : first) {
    EXPECT_GE(size, 500u);
    EXPECT_LE(size, 15'000u);
  }
  EXPECT_GT(std::set<std::size_t>(first.begin(), first.end()).size(), 1u) << "every connection cut at one point";
  EXPECT_EQ(random_cut_sizes(7), first);
  EXPECT_NE(random_cut_sizes(8), first);
}

TEST(FaultProxy, RefusedConnectionsAreResetUntilAllowedAgain) {
  TestServer echo(TestServer::Mode::echo);
  const auto proxy = start_proxy(echo.port());
  ASSERT_TRUE(proxy);
  proxy->refuse_connections(true);
  {
    Socket client = connect_to(proxy->port());
    EXPECT_EQ(read_until_end(client.fd()).error, ECONNRESET);
  }
  EXPECT_EQ(proxy->counters().connections_refused, 1u);
  EXPECT_EQ(proxy->counters().connections_accepted, 0u);

  proxy->refuse_connections(false);
  Socket client = connect_to(proxy->port());
  ASSERT_TRUE(send_all(client.fd(), "ping"));
  EXPECT_EQ(read_until_end(client.fd(), 4).bytes, "ping");
  EXPECT_EQ(proxy->counters().connections_accepted, 1u);
}

TEST(FaultProxy, TargetThatRefusesGivesTheClientAReset) {
  std::uint16_t closed_port = 0;
  {
    TestServer gone(TestServer::Mode::echo);
    closed_port = gone.port();
  }
  const auto proxy = start_proxy(closed_port);
  ASSERT_TRUE(proxy);
  Socket client = connect_to(proxy->port());
  EXPECT_EQ(read_until_end(client.fd()).error, ECONNRESET);
  EXPECT_TRUE(eventually([&] { return proxy->counters().target_connect_failures == 1; }));
}

TEST(FaultProxy, UnresolvableTargetIsAnError) {
  const auto proxy = FaultProxy::start("no-such-host.invalid", 443);
  ASSERT_FALSE(proxy.has_value());
  EXPECT_EQ(proxy.error().code, "FAULT_PROXY_TARGET_UNRESOLVED");
}

// --- TLS: openssl s_server behind the proxy, curl in front of it ---------------------------------

struct ProcessOutput {
  int exit_code = -1;
  std::string out;
};

// Runs argv[0] from PATH with stdout captured and stderr discarded.
ProcessOutput run_program(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    const int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  ProcessOutput output;
  char buffer[4096];
  ssize_t got = 0;
  while ((got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0)
    output.out.append(buffer, static_cast<std::size_t>(got));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

bool on_path(const std::string& program) { return run_program({"sh", "-c", "command -v " + program}).exit_code == 0; }

// `openssl s_server -www` on 127.0.0.1 with a throw-away certificate for IP 127.0.0.1.
class TlsServer {
 public:
  TlsServer() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fault-proxy-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    const auto made = run_program({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                   "-nodes", "-keyout", key().string(), "-out", cert().string(), "-days", "1", "-subj",
                                   "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"});
    if (made.exit_code != 0) return;

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      const int null_fd = ::open("/dev/null", O_RDWR);
      ::dup2(null_fd, STDERR_FILENO);
      ::dup2(null_fd, STDIN_FILENO);
      ::execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0", "-www", "-cert", cert().c_str(), "-key",
               key().c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    // s_server prints "ACCEPT 127.0.0.1:<port>" once it listens.
    // Kept open until the server is stopped: closing it would kill s_server with SIGPIPE.
    output_ = ::fdopen(pipe_fds[0], "r");
    char line[256];
    while (port_ == 0 && std::fgets(line, sizeof line, output_) != nullptr) {
      unsigned port = 0;
      if (std::sscanf(line, "ACCEPT 127.0.0.1:%u", &port) == 1) port_ = static_cast<std::uint16_t>(port);
    }
  }

  ~TlsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (output_ != nullptr) std::fclose(output_);
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::filesystem::path cert() const { return dir_ / "server.crt"; }
  [[nodiscard]] std::filesystem::path key() const { return dir_ / "server.key"; }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::FILE* output_ = nullptr;
  std::uint16_t port_ = 0;
};

TEST(FaultProxy, CarriesATlsSessionAndACutBreaksIt) {
  if (!on_path("openssl") || !on_path("curl")) GTEST_SKIP() << "needs the openssl and curl programs";
  TlsServer server;
  ASSERT_NE(server.port(), 0) << "openssl s_server did not start";
  const auto proxy = start_proxy(server.port());
  ASSERT_TRUE(proxy);

  const std::string url = "https://127.0.0.1:" + std::to_string(proxy->port()) + "/";
  const std::vector<std::string> curl = {"curl", "-sS", "--max-time", "20", "--cacert", server.cert().string(), url};
  const ProcessOutput whole = run_program(curl);
  EXPECT_EQ(whole.exit_code, 0);
  EXPECT_NE(whole.out.find("s_server"), std::string::npos) << whole.out;  // the -www status page
  // Handshake and record overhead on top of the page; waiting also lets the proxy close the connection.
  EXPECT_TRUE(eventually([&] {
    const auto counters = proxy->counters();
    return counters.bytes_client_to_server > 0 && counters.bytes_server_to_client > whole.out.size() &&
           counters.open_connections == 0;
  }));

  // Mid-handshake (the server's first flight is longer than this) the TLS session must fail.
  proxy->cut_after(kServerToClient, 200);
  const ProcessOutput cut = run_program(curl);
  EXPECT_NE(cut.exit_code, 0);
  EXPECT_EQ(cut.out.find("s_server"), std::string::npos);
  EXPECT_EQ(proxy->counters().cuts_fired, 1u);
}

}  // namespace
}  // namespace kiosk::testing
