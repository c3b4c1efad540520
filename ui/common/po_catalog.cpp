#include "ui/common/po_catalog.hpp"

#include "kiosk/core/text_lines.hpp"

#include <fstream>
#include <iterator>
#include <optional>

#include "kiosk/core/log.hpp"

namespace kiosk::ui {
namespace {

std::string where(std::string_view source, int line) { return std::string(source) + ":" + std::to_string(line); }

// Length of the UTF-8 sequence starting at text[i], or 0 when it is not well-formed.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF)
    length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF)
    length = 3;
  else if (lead >= 0xF0 && lead <= 0xF4)
    length = 4;
  else
    return 0;
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  // Overlong three-byte forms, UTF-16 surrogates and code points above U+10FFFF.
  if (lead == 0xE0 && byte(i + 1) < 0xA0) return 0;
  if (lead == 0xED && byte(i + 1) >= 0xA0) return 0;
  if (lead == 0xF0 && byte(i + 1) < 0x90) return 0;
  if (lead == 0xF4 && byte(i + 1) >= 0x90) return 0;
  return length;
}

// Parses `"..."` at the start of `rest` (after leading blanks) and requires nothing but blanks after it.
Result<std::string> parse_quoted(std::string_view rest, std::string_view source, int line) {
  std::size_t i = 0;
  while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
  if (i == rest.size() || rest[i] != '"') {
    return fail("PO_SYNTAX", where(source, line) + ": expected a string in double quotes");
  }
  ++i;
  std::string out;
  bool closed = false;
  while (i < rest.size()) {
    const char c = rest[i++];
    if (c == '"') {
      closed = true;
      break;
    }
    if (c == '\\') {
      if (i == rest.size()) break;
      const char e = rest[i++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        default:
          return fail("PO_SYNTAX", where(source, line) + ": unsupported escape \\" + std::string(1, e) +
                                       " (allowed: \\n \\t \\\" \\\\)");
      }
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      return fail("PO_SYNTAX", where(source, line) + ": control character inside a string");
    }
    out += c;
  }
  if (!closed) return fail("PO_SYNTAX", where(source, line) + ": string is not closed with a double quote");
  while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
  if (i != rest.size()) return fail("PO_SYNTAX", where(source, line) + ": unexpected text after the closing quote");
  return out;
}

enum class Field { none, msgid, msgstr };

}  // namespace

Result<std::vector<PoEntry>> parse_po(std::string_view text, std::string_view source_name) {
  if (text.size() > kMaxCatalogBytes) {
    return fail("PO_TOO_LARGE",
                std::string(source_name) + ": catalog is larger than " + std::to_string(kMaxCatalogBytes) + " bytes");
  }
  // UTF-8 is checked up front so that every later error can trust the bytes.
  {
    int line = 1;
    for (std::size_t i = 0; i < text.size();) {
      const std::size_t length = utf8_sequence_length(text, i);
      if (length == 0) return fail("PO_SYNTAX", where(source_name, line) + ": text is not valid UTF-8");
      if (text[i] == '\n') ++line;
      i += length;
    }
  }

  std::vector<PoEntry> entries;
  std::optional<PoEntry> current;  // an entry whose msgid has been read
  Field field = Field::none;
  bool have_msgstr = false;
  bool first_entry = true;
  int line_number = 0;

  const auto finish = [&](int line) -> Result<void> {
    if (!current) return {};
    if (!have_msgstr) {
      return fail("PO_SYNTAX", where(source_name, line) + ": msgid \"" + current->key + "\" (line " +
                                   std::to_string(current->line) + ") has no msgstr");
    }
    const bool is_header = current->key.empty();
    if (is_header && !first_entry) {
      return fail("PO_SYNTAX", where(source_name, current->line) + ": empty msgid is only allowed as the first entry");
    }
    first_entry = false;
    if (!is_header) {
      for (const PoEntry& e : entries) {
        if (e.key == current->key) {
          return fail("PO_DUPLICATE_KEY", where(source_name, current->line) + ": key \"" + current->key +
                                              "\" already defined at line " + std::to_string(e.line));
        }
      }
      if (entries.size() >= kMaxCatalogEntries) {
        return fail("PO_TOO_LARGE", where(source_name, current->line) + ": more than " +
                                        std::to_string(kMaxCatalogEntries) + " entries");
      }
      entries.push_back(std::move(*current));
    }
    current.reset();
    field = Field::none;
    have_msgstr = false;
    return {};
  };

  TextLines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    line_number = lines.number();
    std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
      if (current && !have_msgstr) {
        return fail("PO_SYNTAX", where(source_name, line_number) + ": blank line between msgid and msgstr");
      }
      field = Field::none;  // a string after a blank line continues nothing
      continue;
    }
    line = line.substr(first);

    if (line.front() == '#') {
      if (current && !have_msgstr) {
        return fail("PO_SYNTAX", where(source_name, line_number) + ": comment between msgid and msgstr");
      }
      field = Field::none;
      continue;
    }
    if (line.front() == '"') {
      if (field == Field::none) {
        return fail("PO_SYNTAX", where(source_name, line_number) + ": string continuation without msgid or msgstr");
      }
      auto piece = parse_quoted(line, source_name, line_number);
      if (!piece) return std::unexpected(piece.error());
      std::string& target = field == Field::msgid ? current->key : current->text;
      if (target.size() + piece->size() > kMaxCatalogStringBytes) {
        return fail("PO_TOO_LARGE", where(source_name, line_number) + ": string longer than " +
                                        std::to_string(kMaxCatalogStringBytes) + " bytes");
      }
      target += *piece;
      continue;
    }
    const std::size_t keyword_end = line.find_first_of(" \t\"");
    const std::string_view keyword = line.substr(0, keyword_end);
    const std::string_view rest = keyword_end == std::string_view::npos ? std::string_view{} : line.substr(keyword_end);
    if (keyword == "msgid") {
      if (auto done = finish(line_number); !done) return std::unexpected(done.error());
      auto value = parse_quoted(rest, source_name, line_number);
      if (!value) return std::unexpected(value.error());
      current = PoEntry{.key = std::move(*value), .text = {}, .line = line_number};
      field = Field::msgid;
    } else if (keyword == "msgstr") {
      if (!current || field != Field::msgid) {
        return fail("PO_SYNTAX", where(source_name, line_number) + ": msgstr without a msgid before it");
      }
      auto value = parse_quoted(rest, source_name, line_number);
      if (!value) return std::unexpected(value.error());
      current->text = std::move(*value);
      field = Field::msgstr;
      have_msgstr = true;
    } else if (keyword == "msgctxt" || keyword == "msgid_plural" || keyword.starts_with("msgstr[")) {
      return fail("PO_SYNTAX", where(source_name, line_number) + ": '" + std::string(keyword) +
                                   "' is not supported; use one msgid/msgstr pair per key");
    } else {
      return fail("PO_SYNTAX",
                  where(source_name, line_number) + ": expected msgid, msgstr, a quoted string or a comment");
    }
  }
  if (auto done = finish(line_number); !done) return std::unexpected(done.error());
  return entries;
}

std::string substitute(std::string_view pattern, Substitutions values) {
  std::string out;
  out.reserve(pattern.size());
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '{') {
      const std::size_t close = pattern.find('}', i + 1);
      if (close != std::string_view::npos) {
        const std::string_view name = pattern.substr(i + 1, close - i - 1);
        bool replaced = false;
        for (const auto& [key, value] : values) {
          if (key == name) {
            out += value;
            replaced = true;
            break;
          }
        }
        if (replaced) {
          i = close + 1;
          continue;
        }
      }
    }
    out += pattern[i++];
  }
  return out;
}

Result<Catalog> Catalog::from_text(std::string_view text, std::string_view source_name) {
  auto entries = parse_po(text, source_name);
  if (!entries) return std::unexpected(entries.error());
  Catalog catalog;
  catalog.source_ = std::string(source_name);
  for (PoEntry& e : *entries) {
    if (e.text.empty()) {
      return fail("CATALOG_EMPTY_TEXT", where(source_name, e.line) + ": key \"" + e.key +
                                            "\" has an empty msgstr; an investor would see nothing");
    }
    catalog.entries_.emplace(std::move(e.key), std::move(e.text));
  }
  return catalog;
}

Result<Catalog> Catalog::load_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return fail("CATALOG_UNREADABLE",
                "cannot read the translation catalog \"" + file.string() + "\"; check ui.catalog_dir or --catalog-dir");
  }
  std::string text;
  // One byte more than allowed, so that an oversized file is reported instead of cut short.
  text.resize(kMaxCatalogBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return from_text(text, file.string());
}

Catalog::Catalog(const Catalog& other) : entries_(other.entries_), source_(other.source_) {}
Catalog& Catalog::operator=(const Catalog& other) {
  if (this != &other) {
    entries_ = other.entries_;
    source_ = other.source_;
  }
  return *this;
}
Catalog::Catalog(Catalog&& other) noexcept : entries_(std::move(other.entries_)), source_(std::move(other.source_)) {}
Catalog& Catalog::operator=(Catalog&& other) noexcept {
  entries_ = std::move(other.entries_);
  source_ = std::move(other.source_);
  return *this;
}

std::string Catalog::text(std::string_view key) const {
  if (const auto it = entries_.find(key); it != entries_.end()) return it->second;
  {
    const std::lock_guard lock(missing_mutex_);
    if (missing_logged_.insert(std::string(key)).second) {
      log::warn("catalog_key_missing", {{"key", std::string(key)}, {"catalog", source_}});
    }
  }
  return std::string(key);
}

std::string Catalog::text(std::string_view key, Substitutions values) const { return substitute(text(key), values); }

std::vector<std::string> CatalogSet::all_texts() const {
  std::vector<std::string> out;
  for (const Catalog* c : {&zh_CN, &en}) {
    for (const auto& [key, value] : c->entries()) out.push_back(value);
  }
  return out;
}

Result<CatalogSet> load_catalogs(const std::filesystem::path& dir) {
  CatalogSet set;
  auto zh = Catalog::load_file(dir / "zh_CN.po");
  if (!zh) return std::unexpected(zh.error());
  auto en = Catalog::load_file(dir / "en.po");
  if (!en) return std::unexpected(en.error());
  set.zh_CN = std::move(*zh);
  set.en = std::move(*en);
  return set;
}

}  // namespace kiosk::ui
