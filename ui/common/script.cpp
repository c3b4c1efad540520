#include "ui/common/script.hpp"

#include "kiosk/core/text_lines.hpp"

#include <charconv>
#include <fstream>

namespace kiosk::ui {
namespace {

std::string where(std::string_view source, int line) { return std::string(source) + ":" + std::to_string(line); }

// Ids and names end up in file names and log lines: letters, digits, '.', '_' and '-' only.
bool is_name(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (const char c : text) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return text.front() != '.';
}

std::string_view next_word(std::string_view& rest) {
  const std::size_t start = rest.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  const std::size_t end = rest.find_first_of(" \t");
  const std::string_view word = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  return word;
}

bool only_blanks(std::string_view text) { return text.find_first_not_of(" \t") == std::string_view::npos; }

}  // namespace

Result<Script> parse_script(std::string_view text, std::string_view source_name) {
  if (text.size() > kMaxScriptBytes) {
    return fail("SCRIPT_SYNTAX",
                std::string(source_name) + ": script larger than " + std::to_string(kMaxScriptBytes) + " bytes");
  }
  Script script;
  script.source = std::string(source_name);
  int line_number = 0;
  TextLines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    line_number = lines.number();
    std::string_view rest = line;
    const std::string_view command = next_word(rest);
    if (command.empty() || command.front() == '#') continue;

    ScriptStep step;
    step.line = line_number;
    const auto bad = [&](const std::string& why) {
      return fail("SCRIPT_SYNTAX", where(source_name, line_number) + ": " + why);
    };
    if (command == "wait_frames" || command == "wait_ms") {
      const std::string_view value = next_word(rest);
      const std::int64_t max = command == "wait_frames" ? 100'000 : 600'000;
      std::int64_t number = -1;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
      if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size() || number < 0 || number > max) {
        return bad(std::string(command) + " needs a whole number from 0 to " + std::to_string(max));
      }
      step.kind = command == "wait_frames" ? StepKind::wait_frames : StepKind::wait_ms;
      step.number = number;
    } else if (command == "tap" || command == "screenshot" || command == "expect_screen") {
      const std::string_view name = next_word(rest);
      if (!is_name(name)) {
        return bad(std::string(command) + " needs one name of letters, digits, '.', '_' or '-'");
      }
      step.kind = command == "tap"          ? StepKind::tap
                  : command == "screenshot" ? StepKind::screenshot
                                            : StepKind::expect_screen;
      step.name = std::string(name);
    } else if (command == "wait_screen" || command == "hold") {
      const std::string_view name = next_word(rest);
      const std::string_view value = next_word(rest);
      std::int64_t number = -1;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
      if (!is_name(name) || value.empty() || ec != std::errc{} || ptr != value.data() + value.size() || number < 0 ||
          number > 600'000) {
        return bad(std::string(command) + " needs a " + (command == "hold" ? "target id" : "screen name") +
                   ", then a whole number of milliseconds from 0 to 600000");
      }
      step.kind = command == "hold" ? StepKind::hold : StepKind::wait_screen;
      step.name = std::string(name);
      step.number = number;
    } else if (command == "type") {
      const std::string_view name = next_word(rest);
      if (!is_name(name)) return bad("type needs a field id, then the text");
      step.kind = StepKind::type;
      step.name = std::string(name);
      // The text is the rest of the line after one separating blank, spaces included.
      if (!rest.empty()) rest.remove_prefix(1);
      step.text = std::string(rest);
      script.steps.push_back(std::move(step));
      continue;
    } else if (command == "key") {
      const std::string_view chord = next_word(rest);
      step.kind = StepKind::key;
      if (chord == "escape") {
        step.chord = KeyChord::escape;
      } else if (chord == "alt+f4") {
        step.chord = KeyChord::alt_f4;
      } else if (chord == "ctrl+alt+shift+q") {
        step.chord = KeyChord::ctrl_alt_shift_q;
      } else if (chord == "close") {
        step.chord = KeyChord::close;
      } else {
        return bad("key needs one of escape, alt+f4, ctrl+alt+shift+q, close");
      }
      step.name = std::string(chord);
    } else if (command == "quit") {
      step.kind = StepKind::quit;
    } else {
      return bad(
          "unknown command '" + std::string(command) +
          "' (expected wait_frames, wait_ms, tap, hold, type, key, screenshot, expect_screen, wait_screen or quit)");
    }
    if (!only_blanks(rest)) return bad("unexpected text after the command");
    script.steps.push_back(std::move(step));
  }
  return script;
}

Result<Script> load_script(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail("SCRIPT_UNREADABLE", "cannot read the script \"" + file.string() + "\"");
  std::string text;
  text.resize(kMaxScriptBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_script(text, file.string());
}

}  // namespace kiosk::ui
