#include "kiosk/core/log.hpp"

#include "kiosk/core/time_text.hpp"

#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>

namespace kiosk::log {
namespace {

struct Sink {
  std::mutex mutex;
  std::FILE* file = stderr;
  bool owned = false;
  std::string program = "unknown";
  Level min_level = Level::info;
};

Sink& sink() {
  static Sink instance;
  return instance;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

}  // namespace

void set_program(std::string_view program) {
  std::lock_guard lock(sink().mutex);
  sink().program = program;
}

Result<void> open_file(const std::filesystem::path& file) {
  std::FILE* opened = std::fopen(file.c_str(), "a");
  if (opened == nullptr) {
    return fail("LOG_UNWRITABLE", "cannot open log file " + file.string() + ": " + std::strerror(errno));
  }
  std::lock_guard lock(sink().mutex);
  if (sink().owned) std::fclose(sink().file);
  sink().file = opened;
  sink().owned = true;
  return {};
}

void set_min_level(Level level) {
  std::lock_guard lock(sink().mutex);
  sink().min_level = level;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string format_line(std::string_view timestamp, Level level, std::string_view program, std::string_view event,
                        std::initializer_list<Field> fields) {
  std::string line = R"({"ts":")" + json_escape(timestamp) + R"(","level":")" + std::string(level_name(level)) +
                     R"(","program":")" + json_escape(program) + R"(","event":")" + json_escape(event) + '"';
  for (const auto& field : fields) {
    line += R"(,")" + json_escape(field.key) + R"(":")" + json_escape(field.value) + '"';
  }
  line += "}\n";
  return line;
}

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  Sink& s = sink();
  std::lock_guard lock(s.mutex);
  if (level < s.min_level) return;
  const std::string line = format_line(utc_iso8601(std::chrono::system_clock::now(), TimePrecision::milliseconds),
                                       level, s.program, event, fields);
  std::fwrite(line.data(), 1, line.size(), s.file);
  std::fflush(s.file);
}

std::string mask_id_number(std::string_view id_number) {
  if (id_number.size() <= 8) return std::string(id_number.size(), '*');
  return std::string(id_number.substr(0, 4)) + std::string(id_number.size() - 8, '*') +
         std::string(id_number.substr(id_number.size() - 4));
}

}  // namespace kiosk::log
