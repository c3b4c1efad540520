// fault-proxy: the test fault proxy on the command line, for manual runs and shell tests.
//
//   fault-proxy --target HOST:PORT [FAULT...]
//
// Prints {"port":N} once it listens on 127.0.0.1, then reads commands from stdin, one per line,
// in the same spelling as the options without the dashes ("cut-after s2c:1000", "clear",
// "refuse on", "counters", "quit"). Runs until "quit", SIGINT or SIGTERM, and prints the counters
// as one JSON line when it stops.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/fault_proxy.hpp"

namespace {

using kiosk::fail;
using kiosk::Result;
using kiosk::testing::Direction;
using kiosk::testing::FaultProxy;

constexpr const char* kUsage =
    "usage: fault-proxy --target HOST:PORT [FAULT...]\n"
    "faults (DIR is c2s or s2c):\n"
    "  --cut-after DIR:BYTES               close both sides after BYTES forwarded\n"
    "  --cut-randomly DIR:MIN:MAX:SEED     cut at a seeded random point per connection\n"
    "  --reset-after DIR:BYTES             reset both sides (RST) after BYTES forwarded\n"
    "  --stall-after DIR:BYTES:MS          forward nothing for MS milliseconds after BYTES\n"
    "  --throttle DIR:BYTES_PER_SECOND     token-bucket limit (0 removes it)\n"
    "  --refuse                            reset new connections at once\n"
    "stdin commands: the same without dashes, plus 'refuse on|off', 'clear', 'counters', 'quit'\n";

int signal_pipe[2] = {-1, -1};

void on_signal(int) {
  const char byte = 1;
  [[maybe_unused]] const auto written = ::write(signal_pipe[1], &byte, 1);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

Result<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    return fail("FAULT_PROXY_BAD_ARGUMENT", "not a non-negative whole number: '" + std::string(text) + "'");
  }
  return value;
}

Result<Direction> parse_direction(std::string_view text) {
  if (text == "c2s") return Direction::client_to_server;
  if (text == "s2c") return Direction::server_to_client;
  return fail("FAULT_PROXY_BAD_ARGUMENT", "direction must be c2s or s2c, not '" + std::string(text) + "'");
}

// `value` is DIR followed by `numbers` colon-separated whole numbers.
Result<std::pair<Direction, std::vector<std::uint64_t>>> parse_fault(std::string_view name, std::string_view value,
                                                                     std::size_t numbers) {
  const auto parts = split(value, ':');
  if (parts.size() != numbers + 1) {
    return fail("FAULT_PROXY_BAD_ARGUMENT", std::string(name) + " needs DIR and " + std::to_string(numbers) +
                                                " number(s) separated by ':' (see --help)");
  }
  const auto direction = parse_direction(parts[0]);
  if (!direction) return std::unexpected(direction.error());
  std::vector<std::uint64_t> parsed;
  for (std::size_t index = 1; index < parts.size(); ++index) {
    const auto number = parse_number(parts[index]);
    if (!number) return std::unexpected(number.error());
    parsed.push_back(*number);
  }
  return std::pair{*direction, parsed};
}

std::string counters_json(const FaultProxy& proxy) {
  const auto counters = proxy.counters();
  return "{\"connections_accepted\":" + std::to_string(counters.connections_accepted) +
         ",\"connections_refused\":" + std::to_string(counters.connections_refused) +
         ",\"target_connect_failures\":" + std::to_string(counters.target_connect_failures) +
         ",\"open_connections\":" + std::to_string(counters.open_connections) +
         ",\"bytes_client_to_server\":" + std::to_string(counters.bytes_client_to_server) +
         ",\"bytes_server_to_client\":" + std::to_string(counters.bytes_server_to_client) +
         ",\"cuts_fired\":" + std::to_string(counters.cuts_fired) +
         ",\"resets_fired\":" + std::to_string(counters.resets_fired) +
         ",\"stalls_fired\":" + std::to_string(counters.stalls_fired) + "}";
}

// Applies one fault setting by name ("cut-after", ...); shared by the options and stdin commands.
Result<void> apply(FaultProxy& proxy, std::string_view name, std::string_view value) {
  if (name == "refuse") {
    if (value != "on" && value != "off" && !value.empty()) {
      return fail("FAULT_PROXY_BAD_ARGUMENT", "refuse takes on or off");
    }
    proxy.refuse_connections(value != "off");
    return {};
  }
  if (name == "clear") {
    proxy.clear_faults();
    return {};
  }
  std::size_t numbers = 0;
  if (name == "cut-after" || name == "reset-after" || name == "throttle") numbers = 1;
  if (name == "stall-after") numbers = 2;
  if (name == "cut-randomly") numbers = 3;
  if (numbers == 0) return fail("FAULT_PROXY_BAD_ARGUMENT", "unknown fault '" + std::string(name) + "' (see --help)");
  const auto fault = parse_fault(name, value, numbers);
  if (!fault) return std::unexpected(fault.error());
  const auto& [direction, n] = *fault;
  if (name == "cut-after") proxy.cut_after(direction, n[0]);
  if (name == "reset-after") proxy.reset_after(direction, n[0]);
  if (name == "throttle") proxy.throttle(direction, n[0]);
  if (name == "stall-after") proxy.stall_after(direction, n[0], std::chrono::milliseconds(n[1]));
  if (name == "cut-randomly") proxy.cut_randomly(direction, n[0], n[1], n[2]);
  return {};
}

Result<std::pair<std::string, std::uint16_t>> parse_target(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("FAULT_PROXY_BAD_ARGUMENT", "--target must be HOST:PORT");
  const auto port = parse_number(text.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return fail("FAULT_PROXY_BAD_ARGUMENT", "--target has a bad port");
  return std::pair{std::string(text.substr(0, colon)), static_cast<std::uint16_t>(*port)};
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  std::string target_text;
  std::vector<std::pair<std::string, std::string>> faults;
  for (std::size_t index = 0; index < args.size(); ++index) {
    const std::string& arg = args[index];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--refuse") {
      faults.emplace_back("refuse", "on");
      continue;
    }
    if (!arg.starts_with("--") || index + 1 >= args.size()) {
      std::cerr << "fault-proxy: unexpected argument '" << arg << "'\n" << kUsage;
      return 2;
    }
    const std::string value = args[++index];
    if (arg == "--target") {
      target_text = value;
    } else {
      faults.emplace_back(arg.substr(2), value);
    }
  }
  const auto target = parse_target(target_text);
  if (!target) {
    std::cerr << "fault-proxy: " << target.error().to_string() << "\n" << kUsage;
    return 2;
  }
  auto started = FaultProxy::start(target->first, target->second);
  if (!started) {
    std::cerr << "fault-proxy: " << started.error().to_string() << "\n";
    return 1;
  }
  FaultProxy& proxy = **started;
  for (const auto& [name, value] : faults) {
    if (const auto applied = apply(proxy, name, value); !applied) {
      std::cerr << "fault-proxy: " << applied.error().to_string() << "\n";
      return 2;
    }
  }

  if (::pipe(signal_pipe) != 0) return 1;
  struct sigaction action {};
  action.sa_handler = on_signal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  std::cout << "{\"port\":" << proxy.port() << "}" << std::endl;
  bool reading_stdin = true;
  std::string pending;
  for (bool running = true; running;) {
    pollfd polled[2] = {{signal_pipe[0], POLLIN, 0}, {reading_stdin ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(polled, 2, -1) < 0) continue;  // EINTR from our own handler: the pipe says why
    if (polled[0].revents != 0) break;
    if (polled[1].revents == 0) continue;
    char buffer[1024];
    const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
    // stdin closed (for example started with &): keep running until a signal.
    if (got <= 0) {
      reading_stdin = false;
      continue;
    }
    pending.append(buffer, static_cast<std::size_t>(got));
    for (auto newline = pending.find('\n'); newline != std::string::npos; newline = pending.find('\n')) {
      const std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      const auto space = line.find(' ');
      const std::string name = line.substr(0, space);
      const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
      if (name.empty()) continue;
      if (name == "quit") {
        running = false;
        break;
      }
      if (name == "counters") {
        std::cout << counters_json(proxy) << std::endl;
      } else if (const auto applied = apply(proxy, name, value); !applied) {
        std::cout << "{\"error\":\"" << applied.error().code << "\"}" << std::endl;
        std::cerr << "fault-proxy: " << applied.error().to_string() << "\n";
      } else {
        std::cout << "{\"ok\":\"" << name << "\"}" << std::endl;
      }
    }
  }
  std::cout << counters_json(proxy) << std::endl;
  return 0;
}
