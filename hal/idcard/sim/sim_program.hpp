// The `idcard-sim` program: options, the pseudo-terminal (or an existing tty), the control channels
// and the event loop around SimEngine. main.cpp only calls run_idcard_sim().
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "kiosk/core/error.hpp"

namespace kiosk::hal::idcard::sim {

struct SimOptions {
  std::string link;  // --link PATH: a pty whose slave PATH points to
  std::string tty;   // --tty PATH: serve on an existing tty instead
  unsigned baud = 115200;
  std::filesystem::path cards_directory;  // empty: the installed fixtures next to the program
  std::optional<std::string> card;        // placed at start-up
  std::optional<std::string> control_socket;
  std::chrono::milliseconds sam_delay{0};
  bool help = false;
};

// SIM_USAGE with a message naming the bad option.
Result<SimOptions> parse_sim_options(const std::vector<std::string>& args);
std::string sim_help_text();

// Runs until quit, SIGTERM/SIGINT, or EOF on stdin when no control socket is given. Exit status:
// 0 clean, 1 a runtime failure (logged), 2 bad usage.
int run_idcard_sim(int argc, char** argv);

}  // namespace kiosk::hal::idcard::sim
