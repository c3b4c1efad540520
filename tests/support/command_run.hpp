// Runs a kioskctl command group's function with its output captured, for the command tests.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace kiosk::testing {

struct CommandRun {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::string read_and_close(std::FILE* file) {
  std::rewind(file);
  std::string text;
  char buffer[4096];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, got);
  std::fclose(file);
  return text;
}

// `command` is a run_*_command function: (args, out, err) -> exit status.
template <class Command>
CommandRun run_command(Command command, const std::vector<std::string>& args) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  CommandRun result;
  result.code = command(args, out, err);
  result.out = read_and_close(out);
  result.err = read_and_close(err);
  return result;
}

}  // namespace kiosk::testing
