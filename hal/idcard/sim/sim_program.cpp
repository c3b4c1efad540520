#include "hal/idcard/sim/sim_program.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "hal/idcard/sim/sim_control.hpp"
#include "hal/idcard/sim/sim_engine.hpp"
#include "hal/idcard/sim/wire_scheduler.hpp"
#include "kiosk/core/log.hpp"

namespace kiosk::hal::idcard::sim {
namespace {

using Clock = std::chrono::steady_clock;

// A SAM drops a frame whose bytes stop arriving; the standard gives no figure, so this is ours.
constexpr std::chrono::milliseconds kInterByteTimeout{200};
constexpr std::size_t kMaxControlLine = 4096;
constexpr int kMaxSamDelayMs = 60'000;

std::string errno_text(int error) { return std::strerror(error); }

std::optional<speed_t> speed_of(unsigned baud) {
  switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    default: return std::nullopt;
  }
}

std::optional<unsigned> number_of(std::string_view text) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string hex16(std::uint16_t value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%04X", value);
  return text;
}

std::string hex8(std::uint8_t value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", value);
  return text;
}

// Raw 8N1 with the speed set: on a pty the speed is only reported, never enforced (reference/hal.md
// §5), but a host that reads it back sees what it asked for.
Result<void> make_raw(int fd, unsigned baud) {
  termios settings{};
  if (tcgetattr(fd, &settings) != 0) return fail("SIM_PORT", "tcgetattr failed: " + errno_text(errno));
  cfmakeraw(&settings);
  settings.c_cflag |= CLOCAL | CREAD;
  settings.c_cc[VMIN] = 1;
  settings.c_cc[VTIME] = 0;
  if (cfsetspeed(&settings, *speed_of(baud)) != 0 || tcsetattr(fd, TCSANOW, &settings) != 0) {
    return fail("SIM_PORT", "cannot set the line to raw 8N1: " + errno_text(errno));
  }
  return {};
}

// Replaces `link` with a symbolic link to `target` in one rename, so a host polling the path never
// sees it missing or half made.
Result<void> point_link(const std::string& link, const std::string& target) {
  struct stat existing {};
  if (lstat(link.c_str(), &existing) == 0 && !S_ISLNK(existing.st_mode)) {
    return fail("SIM_LINK", link + " exists and is not a symbolic link; refusing to replace it");
  }
  const std::string temporary = link + ".tmp." + std::to_string(getpid());
  unlink(temporary.c_str());
  if (symlink(target.c_str(), temporary.c_str()) != 0) {
    return fail("SIM_LINK", "cannot create a link next to " + link + ": " + errno_text(errno));
  }
  if (rename(temporary.c_str(), link.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    return fail("SIM_LINK", "cannot put the link in place at " + link + ": " + errno_text(error));
  }
  return {};
}

// The simulator's end of the serial line: the master of a pty, or an existing tty.
class Port {
 public:
  Port() = default;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;
  ~Port() { close(); }

  Result<void> open_pty(unsigned baud) {
    int master = -1;
    int slave = -1;
    if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
      return fail("SIM_PORT", "openpty failed: " + errno_text(errno));
    }
    fd_ = master;
    // The simulator keeps the slave open too: the line's settings survive the host closing and
    // reopening it, and the master never sees a hangup just because no host is connected.
    slave_ = slave;
    char name[128] = {};
    if (ptsname_r(master, name, sizeof name) != 0) {
      close();
      return fail("SIM_PORT", "ptsname failed: " + errno_text(errno));
    }
    device_ = name;
    fcntl(master, F_SETFD, FD_CLOEXEC);
    fcntl(slave, F_SETFD, FD_CLOEXEC);
    if (auto raw = make_raw(slave, baud); !raw) {
      close();
      return raw;
    }
    if (auto raw = make_raw(master, baud); !raw) {
      close();
      return raw;
    }
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    return {};
  }

  Result<void> open_tty(const std::string& path, unsigned baud) {
    const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail("SIM_PORT", "cannot open " + path + ": " + errno_text(errno));
    fd_ = fd;
    device_ = path;
    if (!isatty(fd)) {
      close();
      return fail("SIM_PORT", path + " is not a terminal device");
    }
    return make_raw(fd, baud);
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    if (slave_ >= 0) ::close(slave_);
    fd_ = -1;
    slave_ = -1;
  }

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] bool is_open() const { return fd_ >= 0; }
  [[nodiscard]] const std::string& device() const { return device_; }

 private:
  int fd_ = -1;
  int slave_ = -1;
  std::string device_;
};

struct ControlClient {
  int fd = -1;
  std::string pending;
};

class Simulator {
 public:
  Simulator(SimOptions options, std::filesystem::path cards)
      : options_(std::move(options)),
        engine_(EngineConfig{options_.baud, options_.sam_delay, kDefaultSamId, 1}),
        control_(engine_, std::move(cards)),
        scheduler_(options_.baud) {}

  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  ~Simulator() {
    unplug_port();
    for (auto& client : clients_) ::close(client.fd);
    if (listen_fd_ >= 0) {
      ::close(listen_fd_);
      unlink(options_.control_socket->c_str());
    }
    if (signal_fd_ >= 0) ::close(signal_fd_);
  }

  Result<void> start() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    signal_fd_ = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd_ < 0) return fail("SIM_START", "signalfd failed: " + errno_text(errno));
    std::signal(SIGPIPE, SIG_IGN);  // a control client that goes away must not end the simulator

    if (options_.card) {
      if (auto placed = control_.place(*options_.card); !placed) return placed;
    }
    if (options_.control_socket) {
      if (auto listening = listen_control(*options_.control_socket); !listening) return listening;
    }
    if (!options_.link.empty()) {
      if (auto plugged = plug_port(); !plugged) return plugged;
    } else {
      if (auto opened = port_.open_tty(options_.tty, options_.baud); !opened) return opened;
    }
    update_port_status();
    log::info("sim_ready", {{"device", port_.device()},
                            {"baud", std::to_string(options_.baud)},
                            {"card", engine_.card() ? engine_.card()->name : "none"}});
    std::printf("ready %s\n", port_.device().c_str());
    std::fflush(stdout);
    return {};
  }

  int run() {
    while (running_) {
      std::vector<pollfd> fds;
      fds.push_back({signal_fd_, POLLIN, 0});
      const std::size_t port_index = fds.size();
      if (port_.is_open()) fds.push_back({port_.fd(), POLLIN, 0});
      const std::size_t stdin_index = fds.size();
      if (stdin_open_) fds.push_back({STDIN_FILENO, POLLIN, 0});
      const std::size_t listen_index = fds.size();
      if (listen_fd_ >= 0) fds.push_back({listen_fd_, POLLIN, 0});
      const std::size_t clients_index = fds.size();
      for (const auto& client : clients_) fds.push_back({client.fd, POLLIN, 0});

      const timespec timeout = poll_timeout(Clock::now());
      const timespec* timeout_pointer = timeout.tv_sec < 0 ? nullptr : &timeout;
      if (ppoll(fds.data(), fds.size(), timeout_pointer, nullptr) < 0 && errno != EINTR) {
        log::error("sim_poll_failed", {{"error", errno_text(errno)}});
        return 1;
      }

      if (fds[0].revents & POLLIN) {
        signalfd_siginfo info{};
        if (read(signal_fd_, &info, sizeof info) > 0) {
          log::info("sim_signal", {{"signal", std::to_string(info.ssi_signo)}});
          running_ = false;
        }
      }
      if (port_.is_open() && fds[port_index].revents != 0) {
        if (!read_port()) return 1;
      }
      if (stdin_open_ && fds[stdin_index].revents != 0) read_stdin();
      if (listen_fd_ >= 0 && (fds[listen_index].revents & POLLIN)) accept_client();
      // Clients may be added or removed while serving; walk the ones that were polled, by fd.
      std::vector<int> ready;
      for (std::size_t i = clients_index; i < fds.size(); ++i) {
        if (fds[i].revents != 0) ready.push_back(fds[i].fd);
      }
      for (const int fd : ready) read_client(fd);

      if (!pump(Clock::now())) return 1;
      expire_partial_request(Clock::now());
    }
    return 0;
  }

 private:
  timespec poll_timeout(Clock::time_point now) const {
    std::optional<Clock::time_point> wake = next_wake_;
    if (engine_.has_partial_request()) {
      const auto expiry = last_port_input_ + kInterByteTimeout;
      wake = wake ? std::min(*wake, expiry) : expiry;
    }
    if (!wake) return timespec{-1, 0};
    const auto wait = std::max(Clock::duration::zero(), *wake - now);
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    return timespec{static_cast<time_t>(nanos / 1'000'000'000), static_cast<long>(nanos % 1'000'000'000)};
  }

  Result<void> plug_port() {
    if (auto opened = port_.open_pty(options_.baud); !opened) return opened;
    if (auto linked = point_link(options_.link, port_.device()); !linked) {
      port_.close();
      return linked;
    }
    return {};
  }

  void unplug_port() {
    if (!port_.is_open()) return;
    port_.close();
    if (!options_.link.empty()) unlink(options_.link.c_str());
    scheduler_.clear();
    next_wake_.reset();
    engine_.line_idle();
  }

  void update_port_status() {
    std::string status = port_.is_open() ? "port=plugged device=" + port_.device() : "port=unplugged";
    if (!options_.link.empty()) status += " link=" + options_.link;
    control_.set_port_status(std::move(status));
  }

  Result<void> listen_control(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) return fail("SIM_CONTROL", "the control socket path is too long");
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    struct stat existing {};
    if (lstat(path.c_str(), &existing) == 0) {
      if (!S_ISSOCK(existing.st_mode)) return fail("SIM_CONTROL", path + " exists and is not a socket");
      unlink(path.c_str());  // a socket left by an earlier run that did not end cleanly
    }
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return fail("SIM_CONTROL", "socket failed: " + errno_text(errno));
    if (bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        listen(listen_fd_, 8) != 0) {
      const int error = errno;
      ::close(listen_fd_);
      listen_fd_ = -1;
      return fail("SIM_CONTROL", "cannot listen on " + path + ": " + errno_text(error));
    }
    return {};
  }

  bool read_port() {
    std::uint8_t buffer[4096];
    while (true) {
      const ssize_t got = read(port_.fd(), buffer, sizeof buffer);
      if (got > 0) {
        const auto now = Clock::now();
        last_port_input_ = now;
        for (const auto& exchange : engine_.receive(std::span(buffer, static_cast<std::size_t>(got)))) {
          log_exchange(exchange);
          scheduler_.add(exchange, now);
        }
        continue;
      }
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      if (!options_.link.empty() && got < 0 && errno == EIO) return true;  // no host has the slave open
      // The tty itself went away (a USB null-modem adapter pulled out).
      log::error("sim_port_lost",
                 {{"device", port_.device()}, {"error", got == 0 ? "end of file" : errno_text(errno)}});
      return false;
    }
  }

  bool pump(Clock::time_point now) {
    bool failed = false;
    next_wake_ = scheduler_.pump(now, [&](std::span<const std::uint8_t> bytes) -> std::size_t {
      if (!port_.is_open()) return 0;
      const ssize_t written = write(port_.fd(), bytes.data(), bytes.size());
      if (written >= 0) return static_cast<std::size_t>(written);
      if (errno != EAGAIN && errno != EINTR && errno != EIO) {
        log::error("sim_port_write_failed", {{"device", port_.device()}, {"error", errno_text(errno)}});
        failed = true;
      }
      return 0;
    });
    return !failed;
  }

  void expire_partial_request(Clock::time_point now) {
    if (engine_.has_partial_request() && now - last_port_input_ >= kInterByteTimeout) {
      engine_.line_idle();
      log::warn("sam_partial_request_dropped", {{"after_ms", std::to_string(kInterByteTimeout.count())}});
    }
  }

  static void log_exchange(const Exchange& exchange) {
    log::info("sam_request", {{"command", exchange.command ? hex16(*exchange.command) : "unreadable"},
                              {"request_bytes", std::to_string(exchange.request_bytes)},
                              {"sw3", exchange.sw3 ? hex8(*exchange.sw3) : "none"},
                              {"reply_bytes", std::to_string(exchange.reply_bytes)},
                              {"fault", exchange.fault.empty() ? "none" : exchange.fault}});
  }

  void read_stdin() {
    char buffer[1024];
    const ssize_t got = read(STDIN_FILENO, buffer, sizeof buffer);
    if (got > 0) {
      stdin_pending_.append(buffer, static_cast<std::size_t>(got));
      serve_lines(stdin_pending_, [](const std::string& reply) {
        std::printf("%s\n", reply.c_str());
        std::fflush(stdout);
      });
      return;
    }
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    stdin_open_ = false;
    if (!options_.control_socket) {
      log::info("sim_stdin_closed", {});
      running_ = false;
    }
  }

  void accept_client() {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) clients_.push_back({fd, {}});
  }

  void read_client(int fd) {
    auto client = std::find_if(clients_.begin(), clients_.end(), [fd](const ControlClient& c) { return c.fd == fd; });
    if (client == clients_.end()) return;
    char buffer[1024];
    const ssize_t got = read(fd, buffer, sizeof buffer);
    if (got <= 0) {
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
      ::close(fd);
      clients_.erase(client);
      return;
    }
    client->pending.append(buffer, static_cast<std::size_t>(got));
    serve_lines(client->pending, [fd](const std::string& reply) {
      const std::string line = reply + "\n";
      // Answers are one short line; a client that does not read them loses them, nothing else.
      (void)send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    });
  }

  template <class Reply>
  void serve_lines(std::string& pending, const Reply& reply) {
    std::size_t newline = 0;
    while ((newline = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      reply(execute(line));
      if (!running_) return;
    }
    if (pending.size() > kMaxControlLine) {
      pending.clear();
      reply("error a control line is at most 4096 bytes; it was discarded");
    }
  }

  std::string execute(const std::string& line) {
    const ControlReply reply = control_.handle(line);
    // Only a known command word is logged: an unknown line could hold anything someone typed.
    std::string word = line.substr(0, line.find_first_of(" \t\r"));
    constexpr std::array<std::string_view, 8> kKnown{"place", "remove", "list",   "status",
                                                     "fault", "unplug", "replug", "quit"};
    if (std::find(kKnown.begin(), kKnown.end(), word) == kKnown.end()) word = "unknown";
    const bool refused = reply.line.starts_with("error");
    log::info("sim_control", {{"command", word}, {"result", refused ? "error" : "ok"}});
    switch (reply.action) {
      case ControlAction::none: return reply.line;
      case ControlAction::quit: running_ = false; return "ok quitting";
      case ControlAction::unplug:
        if (options_.link.empty()) return "error unplug needs --link (a pseudo-terminal the simulator owns)";
        if (!port_.is_open()) return "error already unplugged";
        unplug_port();
        update_port_status();
        log::info("sim_unplugged", {{"link", options_.link}});
        return "ok unplugged";
      case ControlAction::replug: {
        if (options_.link.empty()) return "error replug needs --link (a pseudo-terminal the simulator owns)";
        if (port_.is_open()) return "error already plugged in; unplug first";
        auto plugged = plug_port();
        update_port_status();
        if (!plugged) return "error " + plugged.error().message;
        log::info("sim_replugged", {{"device", port_.device()}});
        return "ok replugged " + port_.device();
      }
    }
    return "error internal: unhandled action";
  }

  SimOptions options_;
  SimEngine engine_;
  SimControl control_;
  WireScheduler scheduler_;
  Port port_;
  int signal_fd_ = -1;
  int listen_fd_ = -1;
  std::vector<ControlClient> clients_;
  bool stdin_open_ = true;
  std::string stdin_pending_;
  bool running_ = true;
  std::optional<Clock::time_point> next_wake_;
  Clock::time_point last_port_input_{};
};

std::filesystem::path default_cards_directory() {
  std::error_code error;
  const auto program = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "cards";
  return program.parent_path().parent_path() / "share" / "csdc-kiosk" / "idcard-sim" / "cards";
}

}  // namespace

std::string sim_help_text() {
  return R"(idcard-sim - a simulated MPS SAM ID-card reader on a serial line (for tests and development)

usage: idcard-sim --link PATH [options]     a new pseudo-terminal; PATH becomes a link to it
       idcard-sim --tty PATH [options]      serve on an existing tty (e.g. a null-modem cable)

  --baud N           line speed whose wire time is simulated: 9600, 19200, 38400, 57600 or
                     115200 (default 115200)
  --cards DIR        card fixtures (*.toml); default ../share/csdc-kiosk/idcard-sim/cards next
                     to the program
  --card NAME        place this fixture on the reader at start-up
  --control SOCKET   also take control commands on this unix socket; EOF on stdin then does not
                     end the simulator
  --sam-delay-ms N   the SAM's processing time added before every reply (default 0)
  --help             this text

Prints "ready <device>" on stdout once it is listening. Control commands, one per line on stdin
or the socket, each answered with one line "ok ..." or "error <reason>":
  place NAME | remove | list | status | quit
  fault bitflip|truncate|wrong-length [impossible|plausible]|silence|garbage [times N]
  fault status 0xNN [on find|select|read|any] [times N] | fault remove-during-read | fault clear
  unplug | replug          (--link only: drop and re-create the pseudo-terminal)
Logs one JSON line per request on stderr. See hal/idcard/sim/README.md.
)";
}

Result<SimOptions> parse_sim_options(const std::vector<std::string>& args) {
  SimOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      return options;
    }
    static constexpr std::array<std::string_view, 7> kWithValue{"--link", "--tty",     "--baud",        "--cards",
                                                                "--card", "--control", "--sam-delay-ms"};
    if (std::find(kWithValue.begin(), kWithValue.end(), arg) == kWithValue.end()) {
      return fail("SIM_USAGE", "unknown option " + arg + " (see --help)");
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) return fail("SIM_USAGE", arg + " needs a value");
    const std::string* next = &args[++i];
    if (arg == "--link") {
      options.link = *next;
    } else if (arg == "--tty") {
      options.tty = *next;
    } else if (arg == "--baud") {
      const auto baud = number_of(*next);
      if (!baud || !speed_of(*baud)) return fail("SIM_USAGE", "--baud must be 9600, 19200, 38400, 57600 or 115200");
      options.baud = *baud;
    } else if (arg == "--cards") {
      options.cards_directory = *next;
    } else if (arg == "--card") {
      options.card = *next;
    } else if (arg == "--control") {
      options.control_socket = *next;
    } else if (arg == "--sam-delay-ms") {
      const auto delay = number_of(*next);
      if (!delay || *delay > static_cast<unsigned>(kMaxSamDelayMs)) {
        return fail("SIM_USAGE", "--sam-delay-ms must be a whole number from 0 to 60000");
      }
      options.sam_delay = std::chrono::milliseconds(*delay);
    }
  }
  if (options.link.empty() == options.tty.empty())
    return fail("SIM_USAGE", "give exactly one of --link PATH or --tty PATH");
  return options;
}

int run_idcard_sim(int argc, char** argv) {
  log::set_program("idcard-sim");
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = parse_sim_options(args);
  if (!options) {
    std::fprintf(stderr, "idcard-sim: %s\n", options.error().message.c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(sim_help_text().c_str(), stdout);
    return 0;
  }
  std::filesystem::path cards = options->cards_directory.empty() ? default_cards_directory() : options->cards_directory;
  Simulator simulator(std::move(*options), std::move(cards));
  if (auto started = simulator.start(); !started) {
    log::error("sim_start_failed", {{"code", started.error().code}, {"error", started.error().message}});
    std::fprintf(stderr, "idcard-sim: %s\n", started.error().message.c_str());
    return 1;
  }
  return simulator.run();
}

}  // namespace kiosk::hal::idcard::sim
