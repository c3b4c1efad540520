// Structured logs: one JSON object per line, {"ts","level","program","event", fields...}.
// Callers pass only what an operator needs; personal data never goes in a field. An ID number
// that must be referred to goes through mask_id_number() first (REQ-48: first 4, last 4).
#pragma once

#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk::log {

enum class Level { debug, info, warn, error };

struct Field {
  std::string_view key;
  std::string value;
};

// The program name written in every line ("kiosk", "gateway", ...). Call once at start-up.
void set_program(std::string_view program);
// Writes to stderr by default; a file given here is appended to (and created if needed).
Result<void> open_file(const std::filesystem::path& file);
void set_min_level(Level level);

void write(Level level, std::string_view event, std::initializer_list<Field> fields = {});
inline void debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::debug, event, fields);
}
inline void info(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::info, event, fields);
}
inline void warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::warn, event, fields);
}
inline void error(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::error, event, fields);
}

// One JSON line without the timestamp, for tests of the format.
std::string format_line(std::string_view timestamp, Level level, std::string_view program, std::string_view event,
                        std::initializer_list<Field> fields);

// "110101199003071234" -> "1101**********1234". Short values are fully masked.
std::string mask_id_number(std::string_view id_number);

// JSON string escaping (quotes not included), shared with the few hand-written JSON writers.
std::string json_escape(std::string_view text);

}  // namespace kiosk::log
