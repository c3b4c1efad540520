#include "hal/idcard/sim/card_fixture.hpp"

#include <openssl/evp.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <sstream>

namespace kiosk::hal::idcard::sim {
namespace {

constexpr std::size_t kMaxFixtureBytes = 64 * 1024;

// Which layouts carry a key (reference/hal.md §1.6); a key a layout has no slot for is refused so
// that a fixture never claims data its card could not hold.
enum LayoutBit : unsigned {
  kPrc = 1U << 0,
  kHkMoTw = 1U << 1,
  kPr2017 = 1U << 2,
  kPr2023 = 1U << 3,
  kAll = kPrc | kHkMoTw | kPr2017 | kPr2023,
};

struct KeySpec {
  std::string_view key;
  unsigned layouts;
};

constexpr std::array<KeySpec, 19> kKeys{{
    {"layout", kAll},
    {"name", kAll},
    {"english_name", kPr2017 | kPr2023},
    {"sex", kAll},
    {"nation_code", kPrc},
    {"birth_date", kAll},
    {"address", kPrc | kHkMoTw},
    {"id_number", kAll},
    {"issuer", kPrc | kHkMoTw | kPr2017},
    {"valid_from", kAll},
    {"valid_until", kAll},
    {"pass_number", kHkMoTw},
    {"issue_count", kHkMoTw},
    {"nationality", kPr2017 | kPr2023},
    {"card_version", kPr2017},
    {"renewal_count", kPr2023},
    {"previous_number", kPr2023},
    {"additional_address", kAll},
    {"fingerprint_bytes", kAll},
}};

const KeySpec* find_key(std::string_view key) {
  for (const auto& spec : kKeys) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

unsigned layout_bit(CardLayout layout) {
  switch (layout) {
    case CardLayout::prc_id: return kPrc;
    case CardLayout::hkmotw_residence: return kHkMoTw;
    case CardLayout::foreign_pr_2017: return kPr2017;
    case CardLayout::foreign_pr_2023: return kPr2023;
  }
  return 0;
}

class FixtureParser {
 public:
  FixtureParser(std::string_view source, std::string_view fixture_name)
      : source_(source), fixture_name_(fixture_name) {}

  Result<CardFixture> parse(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, std::string(source_));
    } catch (const toml::parse_error& error) {
      std::ostringstream out;
      out << source_ << ':' << error.source().begin.line << ':' << error.source().begin.column
          << ": not valid TOML: " << error.description();
      return fail("SIM_FIXTURE_SYNTAX", out.str());
    }

    // Unknown keys first, each named with its line, so a typo is never silently ignored.
    for (const auto& [key, node] : root) {
      if (find_key(key.str()) == nullptr) {
        return fail("SIM_FIXTURE_KEY",
                    where(node, key.str()) + " is not a card fixture key (see hal/idcard/sim/README.md)");
      }
    }

    CardFixture fixture;
    fixture.name = std::string(fixture_name_);
    IdDocument& doc = fixture.document;

    const toml::node* layout_node = root.get("layout");
    if (layout_node == nullptr) return missing("layout");
    auto layout_text = string_of(*layout_node, "layout");
    if (!layout_text) return std::unexpected(layout_text.error());
    const auto layout = card_layout_from_string(*layout_text);
    if (!layout) {
      return fail("SIM_FIXTURE_VALUE", where(*layout_node, "layout") +
                                           " must be prc-id, hkmotw-residence, foreign-pr-2017 or foreign-pr-2023");
    }
    doc.layout = *layout;

    for (const auto& [key, node] : root) {
      const KeySpec* spec = find_key(key.str());
      if ((spec->layouts & layout_bit(doc.layout)) == 0) {
        return fail("SIM_FIXTURE_KEY",
                    where(node, key.str()) + " is not carried by a " + std::string(to_string(doc.layout)) + " card");
      }
    }

    for (const std::string_view required : {"id_number", "sex", "birth_date", "valid_from", "valid_until"}) {
      if (!root.contains(required)) return missing(required);
    }
    if (doc.layout == CardLayout::foreign_pr_2017 || doc.layout == CardLayout::foreign_pr_2023) {
      if (!root.contains("english_name")) return missing("english_name");
    }
    if (doc.layout != CardLayout::foreign_pr_2017 && !root.contains("name")) return missing("name");

    for (const auto& [key, node] : root) {
      if (auto stored = store(fixture, key.str(), node); !stored) return std::unexpected(stored.error());
    }

    auto text_block = encode_text_block(doc);
    if (!text_block) {
      return fail("SIM_FIXTURE_VALUE",
                  std::string(source_) + ": the card cannot hold these fields: " + text_block.error().message);
    }
    fixture.text_block = *text_block;
    if (fixture.additional_address) {
      auto address = encode_additional_address(*fixture.additional_address);
      if (!address) {
        return fail("SIM_FIXTURE_VALUE",
                    std::string(source_) + ": key 'additional_address' cannot be encoded: " + address.error().message);
      }
      fixture.additional_address_data = std::move(*address);
    }
    auto photo = synthetic_bytes(fixture.name, kPhotoBytes);
    if (!photo) return std::unexpected(photo.error());
    auto fingerprint = synthetic_bytes(fixture.name + "/fingerprint", fixture.fingerprint_bytes);
    if (!fingerprint) return std::unexpected(fingerprint.error());
    fixture.photo_wlt = std::move(*photo);
    fixture.fingerprint = std::move(*fingerprint);
    return fixture;
  }

 private:
  [[nodiscard]] std::string where(const toml::node& node, std::string_view key) const {
    std::ostringstream out;
    out << source_ << ':' << node.source().begin.line << ": key '" << key << "'";
    return out.str();
  }

  [[nodiscard]] std::unexpected<Error> missing(std::string_view key) const {
    return fail("SIM_FIXTURE_MISSING", std::string(source_) + ": key '" + std::string(key) + "' is required");
  }

  [[nodiscard]] Result<std::string> string_of(const toml::node& node, std::string_view key) const {
    if (const auto value = node.value<std::string>(); value && node.is_string()) return *value;
    return fail("SIM_FIXTURE_VALUE", where(node, key) + " must be a quoted string");
  }

  [[nodiscard]] Result<Date> date_of(const toml::node& node, std::string_view key) const {
    if (const auto* native = node.as_date()) {
      const auto& d = native->get();
      const Date date{std::chrono::year{d.year}, std::chrono::month{d.month}, std::chrono::day{d.day}};
      if (date.ok()) return date;
    }
    if (node.is_string()) {
      const std::string text = *node.value<std::string>();
      const bool shaped =
          text.size() == 10 && text[4] == '-' && text[7] == '-' &&
          std::all_of(text.begin(), text.end(), [](char c) { return c == '-' || (c >= '0' && c <= '9'); });
      if (shaped) {
        const Date date{std::chrono::year{std::stoi(text.substr(0, 4))},
                        std::chrono::month{static_cast<unsigned>(std::stoi(text.substr(5, 2)))},
                        std::chrono::day{static_cast<unsigned>(std::stoi(text.substr(8, 2)))}};
        if (date.ok()) return date;
      }
    }
    return fail("SIM_FIXTURE_VALUE", where(node, key) + " must be a calendar date written YYYY-MM-DD");
  }

  Result<void> store(CardFixture& fixture, std::string_view key, const toml::node& node) const {
    IdDocument& doc = fixture.document;
    const auto text_into = [&](std::string& field) -> Result<void> {
      auto value = string_of(node, key);
      if (!value) return std::unexpected(value.error());
      field = std::move(*value);
      return {};
    };
    const auto date_into = [&](Date& field) -> Result<void> {
      auto value = date_of(node, key);
      if (!value) return std::unexpected(value.error());
      field = *value;
      return {};
    };

    if (key == "layout") return {};  // read first
    if (key == "name") return text_into(doc.name);
    if (key == "english_name") return text_into(doc.english_name);
    if (key == "nation_code") return text_into(doc.nation_code);
    if (key == "address") return text_into(doc.address);
    if (key == "id_number") return text_into(doc.id_number);
    if (key == "issuer") return text_into(doc.issuer);
    if (key == "pass_number") return text_into(doc.pass_number);
    if (key == "issue_count") return text_into(doc.issue_count);
    if (key == "nationality") return text_into(doc.nationality);
    if (key == "card_version") return text_into(doc.card_version);
    if (key == "renewal_count") return text_into(doc.renewal_count);
    if (key == "previous_number") return text_into(doc.previous_number);
    if (key == "birth_date") return date_into(doc.birth_date);
    if (key == "valid_from") return date_into(doc.valid_from);
    if (key == "sex") {
      auto value = string_of(node, key);
      if (!value) return std::unexpected(value.error());
      for (const Sex sex : {Sex::unknown, Sex::male, Sex::female, Sex::unspecified}) {
        if (*value == to_string(sex)) {
          doc.sex = sex;
          return {};
        }
      }
      return fail("SIM_FIXTURE_VALUE", where(node, key) + " must be male, female, unknown or unspecified");
    }
    if (key == "valid_until") {
      if (node.is_string() && *node.value<std::string>() == "long-term") {
        doc.valid_until.reset();
        return {};
      }
      auto value = date_of(node, key);
      if (!value) {
        return fail("SIM_FIXTURE_VALUE", where(node, key) + " must be a date written YYYY-MM-DD or \"long-term\"");
      }
      doc.valid_until = *value;
      return {};
    }
    if (key == "additional_address") {
      std::string address;
      if (auto stored = text_into(address); !stored) return stored;
      fixture.additional_address = std::move(address);
      return {};
    }
    if (key == "fingerprint_bytes") {
      const auto value = node.value<std::int64_t>();
      if (!node.is_integer() || !value || (*value != 0 && *value != 512 && *value != 1024)) {
        return fail("SIM_FIXTURE_VALUE", where(node, key) + " must be 0, 512 or 1024");
      }
      fixture.fingerprint_bytes = static_cast<std::size_t>(*value);
      return {};
    }
    return fail("SIM_FIXTURE_KEY", where(node, key) + " is not a card fixture key");
  }

  std::string_view source_;
  std::string_view fixture_name_;
};

bool is_plain_name(std::string_view name) {
  return !name.empty() && name.front() != '.' && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

}  // namespace

Result<CardFixture> parse_card_fixture(std::string_view toml_text, std::string_view source_name,
                                       std::string_view fixture_name) {
  return FixtureParser(source_name, fixture_name).parse(toml_text);
}

Result<CardFixture> load_card_fixture(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail("SIM_FIXTURE_UNREADABLE", "cannot open card fixture " + file.string());
  std::string text(kMaxFixtureBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxFixtureBytes) {
    return fail("SIM_FIXTURE_UNREADABLE", file.string() + " is larger than 64 KiB; it is not a card fixture");
  }
  return parse_card_fixture(text, file.string(), file.stem().string());
}

Result<CardFixture> load_named_fixture(const std::filesystem::path& directory, std::string_view name) {
  const std::filesystem::path file = directory / (std::string(name) + ".toml");
  std::error_code ignored;
  if (!is_plain_name(name) || !std::filesystem::is_regular_file(file, ignored)) {
    return fail("SIM_FIXTURE_NOT_FOUND",
                "no card fixture named '" + std::string(name) + "' in " + directory.string() + " (try: list)");
  }
  return load_card_fixture(file);
}

Result<std::vector<std::string>> list_card_fixtures(const std::filesystem::path& directory) {
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error);
  if (error) {
    return fail("SIM_FIXTURE_UNREADABLE",
                "cannot list card fixtures in " + directory.string() + ": " + error.message());
  }
  std::vector<std::string> names;
  for (const auto& entry : it) {
    if (entry.path().extension() == ".toml" && entry.is_regular_file(error) &&
        is_plain_name(entry.path().stem().string())) {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::vector<std::uint8_t>> synthetic_bytes(std::string_view seed, std::size_t bytes) {
  std::vector<std::uint8_t> out;
  out.reserve(bytes + EVP_MAX_MD_SIZE);
  std::vector<std::uint8_t> input(seed.begin(), seed.end());
  input.resize(seed.size() + 4);
  for (std::uint32_t counter = 0; out.size() < bytes; ++counter) {
    for (std::size_t i = 0; i < 4; ++i) input[seed.size() + i] = static_cast<std::uint8_t>(counter >> (24 - 8 * i));
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
    unsigned digest_size = 0;
    if (EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha256(), nullptr) != 1 ||
        digest_size == 0) {
      return fail("SIM_DIGEST_FAILED", "OpenSSL could not compute SHA-256 for the synthetic card blocks");
    }
    out.insert(out.end(), digest.begin(), digest.begin() + digest_size);
  }
  out.resize(bytes);
  return out;
}

}  // namespace kiosk::hal::idcard::sim
