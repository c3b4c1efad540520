// The simulator's control language: one command per line (stdin or the --control socket), one
// answer line per command, `ok ...` or `error <reason>`. Commands that only touch the card slot and
// the fault queue are carried out here; those that touch the port or the process (unplug, replug,
// quit) are handed back to the program as an action.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "hal/idcard/sim/sim_engine.hpp"
#include "kiosk/core/error.hpp"

namespace kiosk::hal::idcard::sim {

enum class ControlAction { none, unplug, replug, quit };

struct ControlReply {
  std::string line;  // the answer, without a newline; empty when `action` is the program's to answer
  ControlAction action = ControlAction::none;
};

// `fault ...` without the word `fault`, e.g. "status 0x41 on read times 2". CONTROL_SYNTAX with a
// message that says what was expected.
Result<Fault> parse_fault(std::string_view arguments);

class SimControl {
 public:
  SimControl(SimEngine& engine, std::filesystem::path cards_directory);

  ControlReply handle(std::string_view line);
  // What `status` reports about the port (the program keeps it current), e.g. "port=plugged".
  void set_port_status(std::string status) { port_status_ = std::move(status); }
  // Places the named fixture; used for --card too.
  Result<void> place(std::string_view name);

 private:
  SimEngine& engine_;
  std::filesystem::path cards_directory_;
  std::string port_status_;
};

// The command summary `error` answers end with.
inline constexpr std::string_view kControlCommands =
    "place NAME | remove | list | status | fault bitflip|truncate|wrong-length|silence|garbage [times N] | "
    "fault status 0xNN [on find|select|read|any] [times N] | fault remove-during-read | fault clear | unplug | "
    "replug | quit";

}  // namespace kiosk::hal::idcard::sim
