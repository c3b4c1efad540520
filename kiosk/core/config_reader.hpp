// Reads one program's TOML configuration file with typed, range-checked getters.
// A missing key takes its documented default; a present key with a bad value is an error that
// names the file, the line and the key; a key nobody asked for (a typo) is an error too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk {

class ConfigReader {
 public:
  // CONFIG_UNREADABLE if the file cannot be read, CONFIG_SYNTAX if it is not valid TOML.
  static Result<ConfigReader> from_file(const std::filesystem::path& file);
  // `source_name` is used in messages in place of a file name; relative paths resolve against `base_dir`.
  static Result<ConfigReader> from_string(std::string_view text, std::string source_name,
                                          std::filesystem::path base_dir = {});

  ConfigReader(ConfigReader&&) noexcept;
  ConfigReader& operator=(ConfigReader&&) noexcept;
  ~ConfigReader();

  // Keys are dotted paths ("gateway.url"). Each getter returns CONFIG_BAD_VALUE for a wrong type
  // or a value out of range.
  Result<std::string> get_string(std::string_view key, std::string fallback);
  Result<std::int64_t> get_int(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  Result<bool> get_bool(std::string_view key, bool fallback);
  Result<std::string> get_choice(std::string_view key, std::string fallback, std::span<const std::string_view> allowed);
  // A relative path is taken relative to the directory of the configuration file.
  Result<std::filesystem::path> get_path(std::string_view key, std::filesystem::path fallback);

  // Call after every getter: CONFIG_UNKNOWN_KEY names the first key that no getter asked for.
  [[nodiscard]] Result<void> check_no_unknown_keys() const;

  [[nodiscard]] const std::string& source_name() const;

 private:
  struct Impl;
  explicit ConfigReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk
