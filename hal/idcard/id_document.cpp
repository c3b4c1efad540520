#include "hal/idcard/id_document.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace kiosk::hal::idcard {
namespace {

constexpr std::size_t kLayoutFlagOffset = 248;
constexpr char16_t kPadding = u' ';
constexpr std::string_view kLongTerm = "长期";

// Where a text field lives: `chars` UCS-2 characters at byte `offset`, optionally continued at a
// second place (the 2023 English name is split in two, reference/hal.md §1.6 D).
struct Slot {
  std::size_t offset = 0;
  std::size_t chars = 0;
  std::size_t continuation_offset = 0;
  std::size_t continuation_chars = 0;

  [[nodiscard]] constexpr std::size_t capacity() const { return chars + continuation_chars; }
};

enum class Rule { free, required, nation_code };

struct TextField {
  std::string_view label;  // names the field in error messages, never its value
  Slot slot;
  std::string IdDocument::*member;
  Rule rule = Rule::free;
};

struct LayoutSpec {
  CardLayout layout;
  char16_t flag;
  std::span<const TextField> texts;
  std::size_t sex_offset;
  std::size_t birth_offset;
  std::size_t valid_from_offset;
  std::size_t valid_until_offset;
};

// Offsets from reference/hal.md §1.6 tables A-D.
constexpr TextField kPrcIdTexts[] = {
    {"name", {0, 15}, &IdDocument::name, Rule::required},
    {"nation code", {32, 2}, &IdDocument::nation_code, Rule::nation_code},
    {"address", {52, 35}, &IdDocument::address},
    {"ID number", {122, 18}, &IdDocument::id_number, Rule::required},
    {"issuer", {158, 15}, &IdDocument::issuer},
};
constexpr TextField kHkMoTwTexts[] = {
    {"name", {0, 15}, &IdDocument::name, Rule::required},
    {"address", {52, 35}, &IdDocument::address},
    {"ID number", {122, 18}, &IdDocument::id_number, Rule::required},
    {"issuer", {158, 15}, &IdDocument::issuer},
    {"pass number", {220, 9}, &IdDocument::pass_number},
    {"issue count", {238, 2}, &IdDocument::issue_count},
};
constexpr TextField kForeign2017Texts[] = {
    {"English name", {0, 60}, &IdDocument::english_name, Rule::required},
    {"ID number", {122, 15}, &IdDocument::id_number, Rule::required},
    {"nationality", {152, 3}, &IdDocument::nationality},
    {"name", {158, 15}, &IdDocument::name},
    {"card version", {236, 2}, &IdDocument::card_version},
    {"issuer", {240, 4}, &IdDocument::issuer},
};
// Bytes 220-241 are unconfirmed (reference/hal.md §1.7 open questions): one source reads them as
// the English name's continuation, another as a number and an issue count.
constexpr TextField kForeign2023Texts[] = {
    {"name", {0, 15}, &IdDocument::name},
    {"renewal count", {32, 2}, &IdDocument::renewal_count},
    {"English name", {52, 35, 220, 11}, &IdDocument::english_name, Rule::required},
    {"ID number", {122, 18}, &IdDocument::id_number, Rule::required},
    {"nationality", {242, 3}, &IdDocument::nationality},
    {"previous number", {250, 3}, &IdDocument::previous_number},
};

constexpr LayoutSpec kLayouts[] = {
    {CardLayout::prc_id, kPadding, kPrcIdTexts, 30, 36, 188, 204},
    {CardLayout::hkmotw_residence, u'J', kHkMoTwTexts, 30, 36, 188, 204},
    {CardLayout::foreign_pr_2017, u'I', kForeign2017Texts, 120, 220, 188, 204},
    {CardLayout::foreign_pr_2023, u'Y', kForeign2023Texts, 30, 36, 188, 204},
};

// Every text member, to refuse encoding one that the chosen layout would silently drop.
constexpr std::pair<std::string_view, std::string IdDocument::*> kAllTextMembers[] = {
    {"name", &IdDocument::name},
    {"English name", &IdDocument::english_name},
    {"nation code", &IdDocument::nation_code},
    {"address", &IdDocument::address},
    {"ID number", &IdDocument::id_number},
    {"issuer", &IdDocument::issuer},
    {"pass number", &IdDocument::pass_number},
    {"issue count", &IdDocument::issue_count},
    {"nationality", &IdDocument::nationality},
    {"card version", &IdDocument::card_version},
    {"renewal count", &IdDocument::renewal_count},
    {"previous number", &IdDocument::previous_number},
};

const LayoutSpec& spec_of(CardLayout layout) { return *std::ranges::find(kLayouts, layout, &LayoutSpec::layout); }

constexpr std::pair<CardLayout, std::string_view> kLayoutNames[] = {
    {CardLayout::prc_id, "prc-id"},
    {CardLayout::hkmotw_residence, "hkmotw-residence"},
    {CardLayout::foreign_pr_2017, "foreign-pr-2017"},
    {CardLayout::foreign_pr_2023, "foreign-pr-2023"},
};

// --- UCS-2 <-> UTF-8 -------------------------------------------------------------------------

bool is_surrogate(char32_t c) { return c >= 0xD800 && c <= 0xDFFF; }
bool is_control(char32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

char16_t unit_at(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return static_cast<char16_t>(bytes[offset] | (bytes[offset + 1] << 8));
}

void put_unit(std::span<std::uint8_t> bytes, std::size_t offset, char16_t unit) {
  bytes[offset] = static_cast<std::uint8_t>(unit & 0xFF);
  bytes[offset + 1] = static_cast<std::uint8_t>(unit >> 8);
}

// Only trailing spaces and NULs are padding: an inner space belongs to a foreign name.
void trim_padding(std::u16string& units) {
  while (!units.empty() && (units.back() == kPadding || units.back() == u'\0')) units.pop_back();
}

void append_utf8(std::string& out, char16_t unit) {
  if (unit < 0x80) {
    out.push_back(static_cast<char>(unit));
  } else if (unit < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (unit >> 6)));
    out.push_back(static_cast<char>(0x80 | (unit & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (unit >> 12)));
    out.push_back(static_cast<char>(0x80 | ((unit >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (unit & 0x3F)));
  }
}

// Units already stripped of padding; anything that is not text is refused.
Result<std::string> units_to_utf8(std::u16string_view units, std::string_view label) {
  std::string out;
  out.reserve(units.size() * 3);
  for (const char16_t unit : units) {
    if (is_surrogate(unit) || is_control(unit)) {
      return fail("ID_TEXT_ENCODING",
                  "the card's " + std::string(label) + " field holds a UCS-2 surrogate or control character");
    }
    append_utf8(out, unit);
  }
  return out;
}

Result<std::u16string> utf8_to_units(std::string_view text, std::string_view label) {
  const auto field_error = [&](std::string_view what) {
    return fail("ID_TEXT_FIELD", "the " + std::string(label) + " field " + std::string(what));
  };
  std::u16string units;
  units.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    const auto lead = static_cast<std::uint8_t>(text[at]);
    char32_t code_point = 0;
    std::size_t length = 0;
    if (lead < 0x80) {
      code_point = lead;
      length = 1;
    } else if ((lead & 0xE0) == 0xC0) {
      code_point = lead & 0x1Fu;
      length = 2;
    } else if ((lead & 0xF0) == 0xE0) {
      code_point = lead & 0x0Fu;
      length = 3;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      return field_error("has a character outside the Basic Multilingual Plane, which UCS-2 cannot hold");
    } else {
      return field_error("is not valid UTF-8");
    }
    if (at + length > text.size()) return field_error("is not valid UTF-8");
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<std::uint8_t>(text[at + k]);
      if ((next & 0xC0) != 0x80) return field_error("is not valid UTF-8");
      code_point = (code_point << 6) | (next & 0x3Fu);
    }
    const bool overlong = (length == 2 && code_point < 0x80) || (length == 3 && code_point < 0x800);
    if (overlong || is_surrogate(code_point)) return field_error("is not valid UTF-8");
    if (is_control(code_point)) return field_error("holds a control character");
    units.push_back(static_cast<char16_t>(code_point));
    at += length;
  }
  return units;
}

// --- fields ----------------------------------------------------------------------------------

Result<std::string> read_field(std::span<const std::uint8_t> block, const Slot& slot, std::string_view label) {
  std::u16string units;
  units.reserve(slot.capacity());
  for (std::size_t i = 0; i < slot.chars; ++i) units.push_back(unit_at(block, slot.offset + 2 * i));
  for (std::size_t i = 0; i < slot.continuation_chars; ++i) {
    units.push_back(unit_at(block, slot.continuation_offset + 2 * i));
  }
  trim_padding(units);
  return units_to_utf8(units, label);
}

// Returns the number of characters written.
Result<std::size_t> write_field(std::span<std::uint8_t> block, const Slot& slot, std::string_view text,
                                std::string_view label) {
  auto units = utf8_to_units(text, label);
  if (!units) return std::unexpected(units.error());
  if (units->size() > slot.capacity()) {
    return fail("ID_TEXT_FIELD", "the " + std::string(label) + " field is longer than its " +
                                     std::to_string(slot.capacity()) + " characters on the card");
  }
  if (!units->empty() && units->back() == kPadding) {
    return fail("ID_TEXT_FIELD", "the " + std::string(label) + " field ends in a space, which reads back as padding");
  }
  for (std::size_t i = 0; i < units->size(); ++i) {
    const std::size_t offset = i < slot.chars ? slot.offset + 2 * i : slot.continuation_offset + 2 * (i - slot.chars);
    put_unit(block, offset, (*units)[i]);
  }
  return units->size();
}

Result<Date> parse_date(std::string_view text, std::string_view label) {
  if (text.size() != 8 || !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) {
    return fail("ID_TEXT_FIELD", "the " + std::string(label) + " is not 8 digits YYYYMMDD");
  }
  const auto number = [&](std::size_t from, std::size_t count) {
    unsigned value = 0;
    for (std::size_t i = from; i < from + count; ++i) value = value * 10 + static_cast<unsigned>(text[i] - '0');
    return value;
  };
  const Date date{std::chrono::year{static_cast<int>(number(0, 4))}, std::chrono::month{number(4, 2)},
                  std::chrono::day{number(6, 2)}};
  if (!date.ok()) return fail("ID_TEXT_FIELD", "the " + std::string(label) + " is not a calendar date");
  return date;
}

Result<Date> read_date(std::span<const std::uint8_t> block, std::size_t offset, std::string_view label) {
  auto text = read_field(block, {offset, 8}, label);
  if (!text) return std::unexpected(text.error());
  return parse_date(*text, label);
}

Result<std::string> date_digits(const Date& date, std::string_view label) {
  const int year = static_cast<int>(date.year());
  if (!date.ok() || year < 0 || year > 9999) {
    return fail("ID_TEXT_FIELD", "the " + std::string(label) + " is not a calendar date in years 0..9999");
  }
  char text[16];
  std::snprintf(text, sizeof text, "%04d%02u%02u", year, static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()));
  return std::string(text);
}

Result<Sex> parse_sex(std::string_view text) {
  if (text == "0") return Sex::unknown;
  if (text == "1") return Sex::male;
  if (text == "2") return Sex::female;
  if (text == "9") return Sex::unspecified;
  return fail("ID_TEXT_FIELD", "the sex code is not one of 0, 1, 2, 9");
}

std::string_view sex_code(Sex sex) {
  switch (sex) {
    case Sex::unknown: return "0";
    case Sex::male: return "1";
    case Sex::female: return "2";
    case Sex::unspecified: return "9";
  }
  return "0";
}

std::uint16_t be16(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return static_cast<std::uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}

void append_be16(std::vector<std::uint8_t>& out, std::size_t value) {
  const auto clamped = static_cast<std::uint16_t>(std::min<std::size_t>(value, 0xFFFF));
  out.push_back(static_cast<std::uint8_t>(clamped >> 8));
  out.push_back(static_cast<std::uint8_t>(clamped & 0xFF));
}

std::uint32_t le32(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return static_cast<std::uint32_t>(bytes[offset]) | static_cast<std::uint32_t>(bytes[offset + 1]) << 8 |
         static_cast<std::uint32_t>(bytes[offset + 2]) << 16 | static_cast<std::uint32_t>(bytes[offset + 3]) << 24;
}

void put_le(std::span<std::uint8_t> bytes, std::size_t offset, std::uint32_t value, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) bytes[offset + i] = static_cast<std::uint8_t>((value >> (8 * i)) & 0xFF);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper_latin(char c) { return c >= 'A' && c <= 'Z'; }

// The 2017 PR number: 3 Latin letters (nationality) + 12 digits, no check digit (reference/hal.md §1.6 C).
Result<void> check_foreign_2017_number(std::string_view number) {
  const bool well_formed = number.size() == 15 && std::all_of(number.begin(), number.begin() + 3, is_upper_latin) &&
                           std::all_of(number.begin() + 3, number.end(), is_digit);
  if (!well_formed) {
    return fail("ID_NUMBER_FORMAT", "a 2017 permanent-residence number is 3 capital letters and 12 digits");
  }
  return {};
}

}  // namespace

std::string_view to_string(CardLayout layout) {
  return std::ranges::find(kLayoutNames, layout, &std::pair<CardLayout, std::string_view>::first)->second;
}

std::optional<CardLayout> card_layout_from_string(std::string_view name) {
  const auto found = std::ranges::find(kLayoutNames, name, &std::pair<CardLayout, std::string_view>::second);
  if (found == std::end(kLayoutNames)) return std::nullopt;
  return found->first;
}

DocumentType document_type_of(CardLayout layout) {
  switch (layout) {
    case CardLayout::prc_id: return DocumentType::prc_id;
    case CardLayout::hkmotw_residence: return DocumentType::hkmotw_residence;
    case CardLayout::foreign_pr_2017:
    case CardLayout::foreign_pr_2023: return DocumentType::foreign_pr;
  }
  return DocumentType::prc_id;
}

std::string_view to_string(Sex sex) {
  switch (sex) {
    case Sex::unknown: return "unknown";
    case Sex::male: return "male";
    case Sex::female: return "female";
    case Sex::unspecified: return "unspecified";
  }
  return "unknown";
}

std::string date_text(Date date) {
  char text[24];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()));
  return text;
}

Result<IdDocument> parse_text_block(std::span<const std::uint8_t> block) {
  if (block.size() != kTextBlockBytes) {
    return fail("ID_TEXT_LENGTH", "a text block is 256 bytes; this one has " + std::to_string(block.size()));
  }
  IdDocument document;
  switch (unit_at(block, kLayoutFlagOffset)) {
    case u' ':
    case u'\0': document.layout = CardLayout::prc_id; break;
    case u'J': document.layout = CardLayout::hkmotw_residence; break;
    case u'I': document.layout = CardLayout::foreign_pr_2017; break;
    case u'Y': document.layout = CardLayout::foreign_pr_2023; break;
    default: return fail("ID_TEXT_FIELD", "the layout flag at byte 248 is not a space, NUL, J, I or Y");
  }
  const LayoutSpec& spec = spec_of(document.layout);

  for (const TextField& field : spec.texts) {
    auto text = read_field(block, field.slot, field.label);
    if (!text) return std::unexpected(text.error());
    if (field.rule == Rule::required && text->empty()) {
      return fail("ID_TEXT_FIELD", "the " + std::string(field.label) + " field is empty");
    }
    if (field.rule == Rule::nation_code && !nation_by_code(*text)) {
      return fail("ID_TEXT_FIELD", "the nation code is not in the GB/T 3304 table");
    }
    document.*field.member = std::move(*text);
  }

  auto sex_text = read_field(block, {spec.sex_offset, 1}, "sex");
  if (!sex_text) return std::unexpected(sex_text.error());
  auto sex = parse_sex(*sex_text);
  if (!sex) return std::unexpected(sex.error());
  document.sex = *sex;

  auto birth = read_date(block, spec.birth_offset, "birth date");
  if (!birth) return std::unexpected(birth.error());
  document.birth_date = *birth;

  auto from = read_date(block, spec.valid_from_offset, "validity start");
  if (!from) return std::unexpected(from.error());
  document.valid_from = *from;

  auto until_text = read_field(block, {spec.valid_until_offset, 8}, "validity end");
  if (!until_text) return std::unexpected(until_text.error());
  if (*until_text == kLongTerm) {
    document.valid_until = std::nullopt;
  } else {
    auto until = parse_date(*until_text, "validity end");
    if (!until) return std::unexpected(until.error());
    document.valid_until = *until;
  }
  return document;
}

Result<std::array<std::uint8_t, kTextBlockBytes>> encode_text_block(const IdDocument& document) {
  const LayoutSpec& spec = spec_of(document.layout);
  for (const auto& [label, member] : kAllTextMembers) {
    const bool carried =
        std::ranges::any_of(spec.texts, [&](const TextField& field) { return field.member == member; });
    if (!carried && !(document.*member).empty()) {
      return fail("ID_TEXT_FIELD", "the " + std::string(label) + " field is not carried by the " +
                                       std::string(to_string(document.layout)) + " layout");
    }
  }

  std::array<std::uint8_t, kTextBlockBytes> block{};
  for (std::size_t offset = 0; offset < block.size(); offset += 2) put_unit(block, offset, kPadding);

  for (const TextField& field : spec.texts) {
    if (auto written = write_field(block, field.slot, document.*field.member, field.label); !written) {
      return std::unexpected(written.error());
    }
  }
  if (auto written = write_field(block, {spec.sex_offset, 1}, sex_code(document.sex), "sex"); !written) {
    return std::unexpected(written.error());
  }
  const auto write_date = [&](std::size_t offset, const Date& date, std::string_view label) -> Result<std::size_t> {
    auto digits = date_digits(date, label);
    if (!digits) return std::unexpected(digits.error());
    return write_field(block, {offset, 8}, *digits, label);
  };
  if (auto written = write_date(spec.birth_offset, document.birth_date, "birth date"); !written) {
    return std::unexpected(written.error());
  }
  if (auto written = write_date(spec.valid_from_offset, document.valid_from, "validity start"); !written) {
    return std::unexpected(written.error());
  }
  if (document.valid_until) {
    if (auto written = write_date(spec.valid_until_offset, *document.valid_until, "validity end"); !written) {
      return std::unexpected(written.error());
    }
  } else if (auto written = write_field(block, {spec.valid_until_offset, 8}, kLongTerm, "validity end"); !written) {
    return std::unexpected(written.error());
  }
  put_unit(block, kLayoutFlagOffset, spec.flag);
  return block;
}

Result<CardRead> parse_read_reply(std::span<const std::uint8_t> data, bool with_fingerprint) {
  const std::size_t header_bytes = with_fingerprint ? 6 : 4;
  if (data.size() < header_bytes) {
    return fail("ID_READ_REPLY_LENGTH", "the read reply is shorter than its length fields");
  }
  const std::size_t text_length = be16(data, 0);
  const std::size_t photo_length = be16(data, 2);
  const std::size_t fingerprint_length = with_fingerprint ? be16(data, 4) : 0;
  if (text_length != kTextBlockBytes) {
    return fail("ID_READ_REPLY_LENGTH", "the read reply's text length is " + std::to_string(text_length) + ", not 256");
  }
  if (photo_length != kPhotoBytes) {
    return fail("ID_READ_REPLY_LENGTH",
                "the read reply's photo length is " + std::to_string(photo_length) + ", not 1024");
  }
  if (fingerprint_length != 0 && fingerprint_length != 512 && fingerprint_length != 1024) {
    return fail("ID_READ_REPLY_LENGTH", "the read reply's fingerprint length is " + std::to_string(fingerprint_length) +
                                            ", not 0, 512 or 1024");
  }
  const std::size_t expected = header_bytes + text_length + photo_length + fingerprint_length;
  if (data.size() != expected) {
    return fail("ID_READ_REPLY_LENGTH", "the read reply holds " + std::to_string(data.size()) +
                                            " bytes where its length fields promise " + std::to_string(expected));
  }
  const auto text = data.subspan(header_bytes, text_length);
  const auto photo = data.subspan(header_bytes + text_length, photo_length);
  const auto fingerprint = data.subspan(header_bytes + text_length + photo_length, fingerprint_length);
  auto document = parse_text_block(text);
  if (!document) return std::unexpected(document.error());
  CardRead read;
  read.document = std::move(*document);
  read.text_block.assign(text.begin(), text.end());
  read.photo_wlt.assign(photo.begin(), photo.end());
  read.fingerprint.assign(fingerprint.begin(), fingerprint.end());
  return read;
}

std::vector<std::uint8_t> encode_read_reply(std::span<const std::uint8_t> text_block,
                                            std::span<const std::uint8_t> photo_wlt,
                                            std::optional<std::span<const std::uint8_t>> fingerprint) {
  std::vector<std::uint8_t> out;
  out.reserve(6 + text_block.size() + photo_wlt.size() + (fingerprint ? fingerprint->size() : 0));
  append_be16(out, text_block.size());
  append_be16(out, photo_wlt.size());
  if (fingerprint) append_be16(out, fingerprint->size());
  out.insert(out.end(), text_block.begin(), text_block.end());
  out.insert(out.end(), photo_wlt.begin(), photo_wlt.end());
  if (fingerprint) out.insert(out.end(), fingerprint->begin(), fingerprint->end());
  return out;
}

Result<std::string> parse_additional_address(std::span<const std::uint8_t> data) {
  if (data.size() % 2 != 0 || data.size() > kAdditionalAddressMaxBytes) {
    return fail("ID_TEXT_LENGTH", "an additional address is an even number of bytes up to " +
                                      std::to_string(kAdditionalAddressMaxBytes) + "; this one has " +
                                      std::to_string(data.size()));
  }
  std::u16string units;
  units.reserve(data.size() / 2);
  for (std::size_t offset = 0; offset < data.size(); offset += 2) units.push_back(unit_at(data, offset));
  trim_padding(units);
  return units_to_utf8(units, "additional address");
}

Result<std::vector<std::uint8_t>> encode_additional_address(std::string_view address_utf8) {
  constexpr std::size_t kMaxChars = kAdditionalAddressMaxBytes / 2;
  std::array<std::uint8_t, kAdditionalAddressMaxBytes> bytes{};
  const auto written = write_field(bytes, {0, kMaxChars}, address_utf8, "additional address");
  if (!written) return std::unexpected(written.error());
  return std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(2 * *written));
}

std::string SamId::to_string() const {
  char text[64];
  std::snprintf(text, sizeof text, "%02u.%02u-%08u-%010u-%010u", static_cast<unsigned>(a), static_cast<unsigned>(b),
                static_cast<unsigned>(c), static_cast<unsigned>(d), static_cast<unsigned>(e));
  return text;
}

Result<SamId> parse_sam_id(std::span<const std::uint8_t> data) {
  if (data.size() != 16) {
    return fail("SAM_ID_LENGTH", "a SAM id is 16 bytes; this one has " + std::to_string(data.size()));
  }
  SamId id;
  id.a = static_cast<std::uint16_t>(data[0] | (data[1] << 8));
  id.b = static_cast<std::uint16_t>(data[2] | (data[3] << 8));
  id.c = le32(data, 4);
  id.d = le32(data, 8);
  id.e = le32(data, 12);
  return id;
}

std::array<std::uint8_t, 16> encode_sam_id(const SamId& id) {
  std::array<std::uint8_t, 16> bytes{};
  put_le(bytes, 0, id.a, 2);
  put_le(bytes, 2, id.b, 2);
  put_le(bytes, 4, id.c, 4);
  put_le(bytes, 8, id.d, 4);
  put_le(bytes, 12, id.e, 4);
  return bytes;
}

std::optional<char> gb11643_check_character(std::string_view first17) {
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr std::string_view kCheckCharacters = "10X98765432";
  if (first17.size() != 17 || !std::ranges::all_of(first17, is_digit)) return std::nullopt;
  int sum = 0;
  for (std::size_t i = 0; i < 17; ++i) sum += (first17[i] - '0') * kWeights[i];
  return kCheckCharacters[static_cast<std::size_t>(sum % 11)];
}

Result<void> check_id_number(std::string_view number) {
  const bool well_formed = number.size() == 18 && std::all_of(number.begin(), number.begin() + 17, is_digit) &&
                           (is_digit(number[17]) || number[17] == 'X');
  if (!well_formed) return fail("ID_NUMBER_FORMAT", "an 18-character ID number is 17 digits and a digit or X");
  if (gb11643_check_character(number.substr(0, 17)) != number[17]) {
    return fail("ID_NUMBER_CHECK_DIGIT",
                "the ID number's check character does not match (GB 11643); the card is suspect");
  }
  return {};
}

Result<void> check_document(const IdDocument& document, Date today) {
  const auto number = document.layout == CardLayout::foreign_pr_2017 ? check_foreign_2017_number(document.id_number)
                                                                     : check_id_number(document.id_number);
  if (!number) return number;
  if (document.valid_from > today) return fail("ID_NOT_YET_VALID", "the card's validity has not started yet");
  if (document.valid_until && *document.valid_until < today) {
    return fail("ID_EXPIRED", "the card has expired; ask for a valid card (REQ-07)");
  }
  return {};
}

}  // namespace kiosk::hal::idcard
