// Translation catalogs in gettext .po syntax. msgid is a stable key ("attract.title"), msgstr the
// text shown. The parser is bounded and strict: anything it does not understand is an error that
// names the line, so a broken catalog is caught at start-up and never shows garbage to an investor.
// No SDL or ImGui here: the parser is fuzzed and unit-tested on its own (library kiosk_ui_i18n).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiosk/core/error.hpp"
#include "kiosk/core/kiosk_session.hpp"

namespace kiosk::ui {

struct PoEntry {
  std::string key;   // msgid
  std::string text;  // msgstr
  int line = 0;      // line of the msgid, for messages
};

// Bounds on what a catalog may hold; a file beyond them is refused, not truncated.
inline constexpr std::size_t kMaxCatalogBytes = 1024 * 1024;
inline constexpr std::size_t kMaxCatalogEntries = 4096;
inline constexpr std::size_t kMaxCatalogStringBytes = 8 * 1024;

// Parses .po text. Supports msgid/msgstr, strings continued on following lines, the escapes
// \n \t \" \\, comments (#, #., #:, #, flags) and the header entry (msgid ""), which is skipped.
// Errors: PO_SYNTAX (names source and line), PO_DUPLICATE_KEY, PO_TOO_LARGE.
Result<std::vector<PoEntry>> parse_po(std::string_view text, std::string_view source_name);

// {name} -> value for every pair; unknown placeholders stay as written so a mistake is visible.
using Substitutions = std::initializer_list<std::pair<std::string_view, std::string_view>>;
std::string substitute(std::string_view pattern, Substitutions values);

class Catalog {
 public:
  Catalog() = default;
  static Result<Catalog> from_text(std::string_view text, std::string_view source_name);
  // CATALOG_UNREADABLE when the file cannot be read; the parser's errors otherwise.
  static Result<Catalog> load_file(const std::filesystem::path& file);

  Catalog(const Catalog& other);
  Catalog& operator=(const Catalog& other);
  Catalog(Catalog&& other) noexcept;
  Catalog& operator=(Catalog&& other) noexcept;
  ~Catalog() = default;

  // The text for `key`; a missing key returns the key itself (visible, never empty) and logs
  // catalog_key_missing once per key.
  [[nodiscard]] std::string text(std::string_view key) const;
  [[nodiscard]] std::string text(std::string_view key, Substitutions values) const;
  [[nodiscard]] bool contains(std::string_view key) const { return entries_.contains(key); }
  [[nodiscard]] const std::map<std::string, std::string, std::less<>>& entries() const { return entries_; }

 private:
  std::map<std::string, std::string, std::less<>> entries_;
  std::string source_;
  mutable std::mutex missing_mutex_;
  mutable std::set<std::string, std::less<>> missing_logged_;
};

// Both languages, loaded together from one directory (zh_CN.po, en.po).
struct CatalogSet {
  Catalog zh_CN;
  Catalog en;
  [[nodiscard]] const Catalog& get(Language language) const { return language == Language::zh_CN ? zh_CN : en; }
  // Every msgstr of both catalogs: the glyphs the font atlas must hold.
  [[nodiscard]] std::vector<std::string> all_texts() const;
};

Result<CatalogSet> load_catalogs(const std::filesystem::path& dir);

}  // namespace kiosk::ui
