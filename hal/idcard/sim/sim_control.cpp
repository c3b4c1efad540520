#include "hal/idcard/sim/sim_control.hpp"

#include <charconv>
#include <sstream>
#include <vector>

namespace kiosk::hal::idcard::sim {
namespace {

constexpr unsigned kMaxTimes = 1'000'000;

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at < line.size()) {
    const std::size_t start = line.find_first_not_of(" \t\r", at);
    if (start == std::string_view::npos) break;
    const std::size_t end = line.find_first_of(" \t\r", start);
    words.push_back(line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    at = end == std::string_view::npos ? line.size() : end;
  }
  return words;
}

std::optional<unsigned> number_of(std::string_view text, int base) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::unexpected<Error> syntax(std::string message) { return fail("CONTROL_SYNTAX", std::move(message)); }

}  // namespace

Result<Fault> parse_fault(std::string_view arguments) {
  const auto words = words_of(arguments);
  if (words.empty())
    return syntax("fault needs a kind: bitflip, truncate, wrong-length, silence, garbage, status, remove-during-read");
  Fault fault;
  std::size_t at = 1;
  const std::string_view kind = words[0];
  if (kind == "bitflip") {
    fault.kind = FaultKind::bitflip;
  } else if (kind == "truncate") {
    fault.kind = FaultKind::truncate;
  } else if (kind == "silence") {
    fault.kind = FaultKind::silence;
  } else if (kind == "garbage") {
    fault.kind = FaultKind::garbage;
  } else if (kind == "remove-during-read") {
    fault.kind = FaultKind::remove_during_read;
    fault.target = FaultTarget::read;
  } else if (kind == "wrong-length") {
    fault.kind = FaultKind::wrong_length;
    if (at < words.size() && words[at] == "impossible") {
      fault.wrong_length = WrongLength::impossible;
      ++at;
    } else if (at < words.size() && words[at] == "plausible") {
      fault.wrong_length = WrongLength::plausible;
      ++at;
    }
  } else if (kind == "status") {
    fault.kind = FaultKind::status;
    if (at >= words.size()) return syntax("fault status needs an SW3 byte, e.g. fault status 0x41");
    std::string_view code = words[at++];
    if (code.starts_with("0x") || code.starts_with("0X")) code.remove_prefix(2);
    const auto value = code.size() <= 2 ? number_of(code, 16) : std::nullopt;
    if (!value) return syntax("fault status needs one byte in hex, e.g. 0x41");
    fault.sw3 = static_cast<std::uint8_t>(*value);
    if (at < words.size() && words[at] == "on") {
      if (at + 1 >= words.size()) return syntax("'on' needs find, select, read or any");
      const std::string_view target = words[at + 1];
      if (target == "find") {
        fault.target = FaultTarget::find;
      } else if (target == "select") {
        fault.target = FaultTarget::select;
      } else if (target == "read") {
        fault.target = FaultTarget::read;
      } else if (target == "any") {
        fault.target = FaultTarget::any;
      } else {
        return syntax("'on' needs find, select, read or any");
      }
      at += 2;
    }
  } else {
    return syntax("unknown fault kind (bitflip, truncate, wrong-length, silence, garbage, status, remove-during-read)");
  }
  if (at < words.size() && words[at] == "times" && fault.kind != FaultKind::remove_during_read) {
    const auto times = at + 1 < words.size() ? number_of(words[at + 1], 10) : std::nullopt;
    if (!times || *times == 0 || *times > kMaxTimes) return syntax("'times' needs a count from 1 to 1000000");
    fault.times = *times;
    at += 2;
  }
  if (at != words.size()) return syntax("unexpected words after the fault");
  return fault;
}

SimControl::SimControl(SimEngine& engine, std::filesystem::path cards_directory)
    : engine_(engine), cards_directory_(std::move(cards_directory)) {}

Result<void> SimControl::place(std::string_view name) {
  auto card = load_named_fixture(cards_directory_, name);
  if (!card) return std::unexpected(card.error());
  engine_.place(std::move(*card));
  return {};
}

ControlReply SimControl::handle(std::string_view line) {
  const auto words = words_of(line);
  if (words.empty()) return {"error empty command; commands: " + std::string(kControlCommands)};
  const std::string_view command = words[0];
  const auto error = [](const Error& e) { return ControlReply{"error " + e.message}; };

  if (command == "place") {
    if (words.size() != 2) return {"error usage: place NAME (see list)"};
    if (auto placed = place(words[1]); !placed) return error(placed.error());
    return {"ok placed " + std::string(words[1])};
  }
  if (command == "remove" && words.size() == 1) {
    const bool had_card = engine_.card().has_value();
    engine_.remove();
    return {had_card ? "ok removed" : "ok removed (the slot was already empty)"};
  }
  if (command == "list" && words.size() == 1) {
    auto names = list_card_fixtures(cards_directory_);
    if (!names) return error(names.error());
    std::string reply = "ok";
    for (const auto& name : *names) reply += " " + name;
    return {reply};
  }
  if (command == "status" && words.size() == 1) {
    std::ostringstream out;
    out << "ok card=" << (engine_.card() ? engine_.card()->name : "none") << " faults=" << engine_.faults().size();
    for (const auto& fault : engine_.faults()) out << " [" << describe(fault) << "]";
    out << " baud=" << engine_.config().baud << " requests=" << engine_.requests_answered()
        << " skipped_bytes=" << engine_.skipped_bytes();
    if (!port_status_.empty()) out << ' ' << port_status_;
    return {out.str()};
  }
  if (command == "fault") {
    const std::string_view rest = line.substr(line.find("fault") + 5);
    if (words.size() == 2 && words[1] == "clear") {
      engine_.clear_faults();
      return {"ok faults cleared"};
    }
    auto fault = parse_fault(rest);
    if (!fault) return error(fault.error());
    engine_.add_fault(*fault);
    return {"ok fault " + describe(*fault) + " queued"};
  }
  if (command == "unplug" && words.size() == 1) return {"", ControlAction::unplug};
  if (command == "replug" && words.size() == 1) return {"", ControlAction::replug};
  if (command == "quit" && words.size() == 1) return {"", ControlAction::quit};
  for (const std::string_view bare : {"remove", "list", "status", "unplug", "replug", "quit"}) {
    if (command == bare) return {"error '" + std::string(command) + "' takes no arguments"};
  }
  return {"error unknown command '" + std::string(command) + "'; commands: " + std::string(kControlCommands)};
}

}  // namespace kiosk::hal::idcard::sim
