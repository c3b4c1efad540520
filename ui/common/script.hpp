// Scripted input for headless runs and tests. A script is a text file, one command a line:
//
//   wait_frames N          let N frames be drawn (0..100000)
//   wait_ms N              wait N milliseconds of wall time (0..600000); frames keep being drawn
//   tap ID                 touch the centre of the touch target ID (pushed as SDL mouse events)
//   hold ID MS             press the centre of the touch target ID, keep it pressed for MS
//                          milliseconds of wall time (0..600000; frames keep being drawn), release
//   type ID TEXT           set the text field ID to TEXT (the rest of the line, may hold spaces)
//   screenshot NAME        write NAME.png into the screenshot directory
//   expect_screen NAME     stop with exit code 3 unless the program shows screen NAME
//   wait_screen NAME MS    wait until the program shows screen NAME, at most MS milliseconds
//                          (0..600000); then like expect_screen (for device and network steps
//                          whose duration varies run to run)
//   key CHORD              press a key chord or send a window close request, through SDL's event
//                          queue: escape | alt+f4 | ctrl+alt+shift+q | close (window manager close)
//   quit                   end the program normally (exit code 0)
//   # comment              ignored, as are blank lines
//
// A tap needs about three frames before its effect is visible: follow it with `wait_frames 3`.
// Plain C++ (no SDL): the parser is tested on its own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"

namespace kiosk::ui {

enum class StepKind { wait_frames, wait_ms, tap, hold, type, key, screenshot, expect_screen, wait_screen, quit };

// The chords a script can press: the ones a kiosk must withstand, and the maintenance exit.
enum class KeyChord { escape, alt_f4, ctrl_alt_shift_q, close };

struct ScriptStep {
  StepKind kind = StepKind::quit;
  int line = 0;
  std::int64_t number = 0;            // wait_frames, wait_ms, wait_screen, hold
  std::string name;                   // target id (tap, hold), screenshot name or screen name
  std::string text;                   // type
  KeyChord chord = KeyChord::escape;  // key
};

struct Script {
  std::string source;
  std::vector<ScriptStep> steps;
};

inline constexpr std::size_t kMaxScriptBytes = 256 * 1024;

// SCRIPT_SYNTAX names source and line; SCRIPT_UNREADABLE when the file cannot be read.
Result<Script> parse_script(std::string_view text, std::string_view source_name);
Result<Script> load_script(const std::filesystem::path& file);

}  // namespace kiosk::ui
