// What the SAM returns from a card, decoded: the 256-byte UCS-2LE text block in its four layouts
// (reference/hal.md §1.6), the read reply that carries text, photo and fingerprint (§1.3, §1.7),
// the SAM id (§1.8), the GB 11643 check digit (§1.9), the ethnic-group table and the validity
// check (REQ-07). Pure functions over bytes: no I/O. The photo stays the raw 1024-byte WLT block
// and the fingerprint stays opaque; decoding them is not this file's job.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"

namespace kiosk::hal::idcard {

inline constexpr std::size_t kTextBlockBytes = 256;
inline constexpr std::size_t kPhotoBytes = 1024;

// The card layout, told by the UCS-2 character at byte 248 of the text block.
enum class CardLayout {
  prc_id,            // 居民身份证 (space or NUL at 248)
  hkmotw_residence,  // 港澳台居民居住证 ('J')
  foreign_pr_2017,   // 外国人永久居留身份证 2017 ('I')
  foreign_pr_2023,   // 外国人永久居留身份证 2023 ('Y')
};
// "prc-id", "hkmotw-residence", "foreign-pr-2017", "foreign-pr-2023" (the CLI's doc_type).
std::string_view to_string(CardLayout layout);
std::optional<CardLayout> card_layout_from_string(std::string_view name);
// The business document type the layout proves (both PR layouts are DocumentType::foreign_pr).
DocumentType document_type_of(CardLayout layout);

// GB/T 2261.1 sex codes as the card stores them.
enum class Sex { unknown, male, female, unspecified };  // '0', '1', '2', '9'
std::string_view to_string(Sex sex);                    // "unknown", "male", "female", "unspecified"

using Date = std::chrono::year_month_day;
// "YYYY-MM-DD"
std::string date_text(Date date);

// Every field is UTF-8 with the card's trailing padding removed (inner spaces kept: foreign names
// have them). Fields a layout does not carry stay empty. Required: the number, and the name the
// layout is sure to carry (the Chinese name on resident ID and 'J', the English name on 'I' and 'Y').
struct IdDocument {
  CardLayout layout = CardLayout::prc_id;
  std::string name;          // Chinese name; on a 2017 PR card the Chinese name field (may be empty)
  std::string english_name;  // foreign PR cards (2023: both parts joined)
  Sex sex = Sex::unknown;
  std::string nation_code;  // resident ID only: "01".."56", "97", "98"
  Date birth_date{};
  std::string address;    // resident ID and 'J'
  std::string id_number;  // citizen number, 'J' number, PR number (15 chars 2017, 18 chars 2023)
  std::string issuer;     // issuing authority; on a 2017 PR card the authority code
  Date valid_from{};
  std::optional<Date> valid_until;  // nullopt: long-term (长期)
  // 'J'
  std::string pass_number;  // HK/Macau/Taiwan travel-permit number
  std::string issue_count;  // 签发次数
  // 'I' and 'Y'
  std::string nationality;      // 3 characters
  std::string card_version;     // 'I'
  std::string renewal_count;    // 'Y' 换证次数
  std::string previous_number;  // 'Y': link to the earlier 15-character number, often empty

  friend bool operator==(const IdDocument&, const IdDocument&) = default;
};

// Decodes a text block. Errors: ID_TEXT_LENGTH (not exactly 256 bytes), ID_TEXT_ENCODING (a UCS-2
// surrogate or control character), ID_TEXT_FIELD (a date that is not a calendar date, a sex or
// nation code outside the table, an empty name or number); the message names the field, never
// its value.
Result<IdDocument> parse_text_block(std::span<const std::uint8_t> block);
// The inverse, for the simulator and tests: ID_TEXT_FIELD when a field is too long for its slot, a
// character is outside the Basic Multilingual Plane or is a control character, the UTF-8 is
// invalid, a field ends in padding (it would not come back), a date is not a calendar date in
// years 0..9999, or a field the layout does not carry is set. Padding is U+0020.
Result<std::array<std::uint8_t, kTextBlockBytes>> encode_text_block(const IdDocument& document);

// A full read reply's data (after SW1-SW3): textLen, photoLen[, fpLen] (big-endian u16), then the
// blocks. ID_READ_REPLY_LENGTH when the lengths disagree with the data or with the layout.
struct CardRead {
  IdDocument document;
  std::vector<std::uint8_t> text_block;           // the raw 256 bytes, kept for the evidence hash
  std::vector<std::uint8_t> photo_wlt;            // the raw 1024-byte WLT photo
  std::vector<std::uint8_t> fingerprint;          // opaque: 0, 512 or 1024 bytes
  std::optional<std::string> additional_address;  // 追加住址, when the reader was asked and the card has one
};
Result<CardRead> parse_read_reply(std::span<const std::uint8_t> data, bool with_fingerprint);
// The reply data for a card, the inverse (simulator and tests). The lengths are written as given,
// so tests can build wrong replies; a fingerprint (even empty) adds the fpLen field (0x30 0x10). A
// block over 65535 bytes gets length 0xFFFF, which parse_read_reply refuses.
std::vector<std::uint8_t> encode_read_reply(std::span<const std::uint8_t> text_block,
                                            std::span<const std::uint8_t> photo_wlt,
                                            std::optional<std::span<const std::uint8_t>> fingerprint);
// The additional-address reply data: UCS-2LE text, padding trimmed (empty data: empty text).
// ID_TEXT_ENCODING; ID_TEXT_LENGTH for an odd count or more than kAdditionalAddressMaxBytes (the
// reply length is unconfirmed, reference/hal.md §1.3; vendors reserve 70 bytes).
inline constexpr std::size_t kAdditionalAddressMaxBytes = 256;
Result<std::string> parse_additional_address(std::span<const std::uint8_t> data);
// The inverse, unpadded: ID_TEXT_FIELD for what encode_text_block refuses in a field, or text longer
// than kAdditionalAddressMaxBytes.
Result<std::vector<std::uint8_t>> encode_additional_address(std::string_view address_utf8);

// The SAM's 16-byte management number: u16 LE, u16 LE, u32 LE x 3.
struct SamId {
  std::uint16_t a = 0;
  std::uint16_t b = 0;
  std::uint32_t c = 0;
  std::uint32_t d = 0;
  std::uint32_t e = 0;
  // "%02u.%02u-%08u-%010u-%010u"
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const SamId&, const SamId&) = default;
};
Result<SamId> parse_sam_id(std::span<const std::uint8_t> data);  // SAM_ID_LENGTH unless 16 bytes
std::array<std::uint8_t, 16> encode_sam_id(const SamId& id);

// GB 11643-1999 (ISO 7064 MOD 11-2): the check character for the first 17 digits, nullopt when
// they are not 17 ASCII digits.
std::optional<char> gb11643_check_character(std::string_view first17);
// For 18-character numbers (resident ID, 'J', 2023 PR): ID_NUMBER_FORMAT (not 17 digits + digit or
// upper-case 'X'), ID_NUMBER_CHECK_DIGIT (the last character is not the computed one).
Result<void> check_id_number(std::string_view number);

// The 56 ethnic groups plus 97 (other) and 98 (foreign origin), GB/T 3304: Chinese and English.
struct Nation {
  std::string_view code;
  std::string_view name_zh;
  std::string_view name_en;
};
std::optional<Nation> nation_by_code(std::string_view code);
// The whole table in code order, for pickers and tests.
std::span<const Nation> nations();

// What makes a decoded card unusable for business, in the order checked:
// ID_NUMBER_FORMAT / ID_NUMBER_CHECK_DIGIT (a card whose number fails its check digit is treated as
// suspect; a 2017 PR number has no check digit and must be 3 upper-case letters + 12 digits), ID_NOT_YET_VALID
// (valid_from after today), ID_EXPIRED (valid_until before today, REQ-07; the last day of validity is still valid).
Result<void> check_document(const IdDocument& document, Date today);

}  // namespace kiosk::hal::idcard
