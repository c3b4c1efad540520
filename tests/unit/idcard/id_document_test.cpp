// Card document decoding against blocks built by hand from the offsets in reference/hal.md §1.6
// (never through encode_text_block), the read-reply lengths (§1.3), the SAM id (§1.8), the
// GB 11643 check digit examples (§1.9), the nation table and the validity rules (REQ-07).
#include "hal/idcard/id_document.hpp"

#include <gtest/gtest.h>

#include <set>

namespace kiosk::hal::idcard {
namespace {

using namespace std::chrono_literals;
using Block = std::array<std::uint8_t, kTextBlockBytes>;
using Bytes = std::vector<std::uint8_t>;

// A block of U+0020 padding, as cards store it.
Block blank_block() {
  Block block{};
  for (std::size_t i = 0; i < block.size(); i += 2) block[i] = 0x20;
  return block;
}

// Writes UCS-2LE at a byte offset, independently of the code under test.
void put(Block& block, std::size_t offset, std::u16string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    block.at(offset + 2 * i) = static_cast<std::uint8_t>(text[i] & 0xFF);
    block.at(offset + 2 * i + 1) = static_cast<std::uint8_t>(text[i] >> 8);
  }
}

Block resident_block() {
  Block block = blank_block();
  put(block, 0, u"张三");
  put(block, 30, u"1");
  put(block, 32, u"01");
  put(block, 36, u"19491231");
  put(block, 52, u"北京市东城区景山前街4号");
  put(block, 122, u"11010519491231002X");
  put(block, 158, u"北京市公安局东城分局");
  put(block, 188, u"20200101");
  put(block, 204, u"20400101");
  return block;
}

Block hkmotw_block() {
  Block block = blank_block();
  put(block, 0, u"陈大文");
  put(block, 30, u"2");
  put(block, 36, u"19900101");
  put(block, 52, u"广东省深圳市福田区福华一路1号");
  put(block, 122, u"810000199001010019");
  put(block, 158, u"深圳市公安局");
  put(block, 188, u"20190301");
  put(block, 204, u"20240301");
  put(block, 220, u"H12345678");
  put(block, 238, u"03");
  put(block, 248, u"J");
  return block;
}

Block foreign_2017_block() {
  Block block = blank_block();
  put(block, 0, u"SMITH JOHN PAUL");
  put(block, 120, u"1");
  put(block, 122, u"USA110074123456");
  put(block, 152, u"USA");
  put(block, 158, u"史密斯");
  put(block, 188, u"20170601");
  put(block, 204, u"20270601");
  put(block, 220, u"19800101");
  put(block, 236, u"01");
  put(block, 240, u"1100");
  put(block, 248, u"I");
  return block;
}

// The English name's 35th character is a space: the join must keep it.
constexpr std::u16string_view kLongEnglishName16 = u"ANNA MARIA CHRISTINA VON HOHENBERG ZOLLERN";
constexpr std::string_view kLongEnglishName = "ANNA MARIA CHRISTINA VON HOHENBERG ZOLLERN";

Block foreign_2023_block() {
  Block block = blank_block();
  put(block, 0, u"安娜");
  put(block, 30, u"2");
  put(block, 32, u"00");
  put(block, 36, u"19800101");
  put(block, 52, kLongEnglishName16.substr(0, 35));
  put(block, 122, u"932000198001010013");
  put(block, 188, u"20230601");
  put(block, 204, u"20330601");
  put(block, 220, kLongEnglishName16.substr(35));
  put(block, 242, u"840");
  put(block, 248, u"Y");
  return block;
}

IdDocument parsed(const Block& block) {
  auto document = parse_text_block(block);
  EXPECT_TRUE(document.has_value()) << document.error().to_string();
  return document.value_or(IdDocument{});
}

template <class T>
std::string error_code(const Result<T>& result) {
  return result ? "ok" : result.error().code;
}

// --- the four layouts --------------------------------------------------------------------------

TEST(IdDocument, ResidentIdFromTheReferenceOffsets) {
  const IdDocument document = parsed(resident_block());
  EXPECT_EQ(document.layout, CardLayout::prc_id);
  EXPECT_EQ(document.name, "张三");
  EXPECT_EQ(document.sex, Sex::male);
  EXPECT_EQ(document.nation_code, "01");
  EXPECT_EQ(document.birth_date, Date{1949y / 12 / 31});
  EXPECT_EQ(document.address, "北京市东城区景山前街4号");
  EXPECT_EQ(document.id_number, "11010519491231002X");
  EXPECT_EQ(document.issuer, "北京市公安局东城分局");
  EXPECT_EQ(document.valid_from, Date{2020y / 1 / 1});
  EXPECT_EQ(document.valid_until, Date{2040y / 1 / 1});
  EXPECT_TRUE(document.english_name.empty());
  EXPECT_TRUE(document.pass_number.empty());
  EXPECT_TRUE(document.nationality.empty());
}

TEST(IdDocument, ResidentIdWithNulFlagAndNulPadding) {
  Block block = resident_block();
  block[248] = 0x00;
  // The name padded with NULs instead of spaces.
  for (std::size_t offset = 4; offset < 30; ++offset) block[offset] = 0x00;
  const IdDocument document = parsed(block);
  EXPECT_EQ(document.layout, CardLayout::prc_id);
  EXPECT_EQ(document.name, "张三");
}

TEST(IdDocument, LongTermValidityIsNoEndDate) {
  Block block = resident_block();
  put(block, 204, u"长期      ");
  EXPECT_EQ(parsed(block).valid_until, std::nullopt);
}

TEST(IdDocument, HkMoTwResidencePermit) {
  Block block = hkmotw_block();
  put(block, 32, u"99");  // reserved on this layout: never read as a nation code
  const IdDocument document = parsed(block);
  EXPECT_EQ(document.layout, CardLayout::hkmotw_residence);
  EXPECT_EQ(document.name, "陈大文");
  EXPECT_EQ(document.sex, Sex::female);
  EXPECT_TRUE(document.nation_code.empty());
  EXPECT_EQ(document.birth_date, Date{1990y / 1 / 1});
  EXPECT_EQ(document.address, "广东省深圳市福田区福华一路1号");
  EXPECT_EQ(document.id_number, "810000199001010019");
  EXPECT_EQ(document.issuer, "深圳市公安局");
  EXPECT_EQ(document.valid_from, Date{2019y / 3 / 1});
  EXPECT_EQ(document.valid_until, Date{2024y / 3 / 1});
  EXPECT_EQ(document.pass_number, "H12345678");
  EXPECT_EQ(document.issue_count, "03");
}

TEST(IdDocument, ForeignPermanentResident2017KeepsInnerSpaces) {
  const IdDocument document = parsed(foreign_2017_block());
  EXPECT_EQ(document.layout, CardLayout::foreign_pr_2017);
  EXPECT_EQ(document.english_name, "SMITH JOHN PAUL");
  EXPECT_EQ(document.sex, Sex::male);
  EXPECT_EQ(document.id_number, "USA110074123456");
  EXPECT_EQ(document.nationality, "USA");
  EXPECT_EQ(document.name, "史密斯");
  EXPECT_EQ(document.valid_from, Date{2017y / 6 / 1});
  EXPECT_EQ(document.valid_until, Date{2027y / 6 / 1});
  EXPECT_EQ(document.birth_date, Date{1980y / 1 / 1});
  EXPECT_EQ(document.card_version, "01");
  EXPECT_EQ(document.issuer, "1100");
  EXPECT_TRUE(document.address.empty());
}

TEST(IdDocument, ForeignPermanentResident2017ChineseNameMayBeEmpty) {
  Block block = foreign_2017_block();
  put(block, 158, u"   ");
  EXPECT_EQ(parsed(block).name, "");
}

TEST(IdDocument, ForeignPermanentResident2023JoinsTheEnglishName) {
  const IdDocument document = parsed(foreign_2023_block());
  EXPECT_EQ(document.layout, CardLayout::foreign_pr_2023);
  EXPECT_EQ(document.name, "安娜");
  EXPECT_EQ(document.sex, Sex::female);
  EXPECT_EQ(document.renewal_count, "00");
  EXPECT_EQ(document.birth_date, Date{1980y / 1 / 1});
  EXPECT_EQ(document.english_name, kLongEnglishName);
  EXPECT_EQ(document.id_number, "932000198001010013");
  EXPECT_EQ(document.valid_from, Date{2023y / 6 / 1});
  EXPECT_EQ(document.valid_until, Date{2033y / 6 / 1});
  EXPECT_EQ(document.nationality, "840");
  EXPECT_TRUE(document.previous_number.empty());
}

TEST(IdDocument, ForeignPermanentResident2023ShortEnglishName) {
  Block block = foreign_2023_block();
  put(block, 52, std::u16string(35, u' '));
  put(block, 220, std::u16string(11, u' '));
  put(block, 52, u"LI NA");
  EXPECT_EQ(parsed(block).english_name, "LI NA");
}

TEST(IdDocument, TrimsOnlyTrailingPadding) {
  Block block = resident_block();
  put(block, 52, std::u16string(35, u' '));
  put(block, 52, u"  两个 空格  ");
  EXPECT_EQ(parsed(block).address, "  两个 空格");
}

// --- parse errors ------------------------------------------------------------------------------

TEST(IdDocument, TextLengthMustBe256) {
  const Block block = resident_block();
  EXPECT_EQ(error_code(parse_text_block(std::span(block).first(255))), "ID_TEXT_LENGTH");
  Bytes longer(block.begin(), block.end());
  longer.push_back(0x20);
  EXPECT_EQ(error_code(parse_text_block(longer)), "ID_TEXT_LENGTH");
  EXPECT_EQ(error_code(parse_text_block({})), "ID_TEXT_LENGTH");
}

TEST(IdDocument, UnknownLayoutFlagIsAFieldError) {
  Block block = resident_block();
  put(block, 248, u"X");
  EXPECT_EQ(error_code(parse_text_block(block)), "ID_TEXT_FIELD");
  put(block, 248, u"Ｊ");  // a full-width J is not 'J'
  EXPECT_EQ(error_code(parse_text_block(block)), "ID_TEXT_FIELD");
}

TEST(IdDocument, SurrogatesAndControlCharactersAreEncodingErrors) {
  for (const char16_t bad : {u'\xD800', u'\xDFFF', u'\x0001', u'\x001F', u'\x007F', u'\x0085'}) {
    Block block = resident_block();
    const char16_t name[] = {u'张', bad, u'三', 0};
    put(block, 0, name);
    EXPECT_EQ(error_code(parse_text_block(block)), "ID_TEXT_ENCODING") << static_cast<int>(bad);
  }
  Block inner_nul = resident_block();
  const char16_t address[] = {u'北', 0, u'京'};
  put(inner_nul, 52, std::u16string_view(address, 3));
  EXPECT_EQ(error_code(parse_text_block(inner_nul)), "ID_TEXT_ENCODING");
}

TEST(IdDocument, BadFieldsAreFieldErrorsThatDoNotQuoteTheValue) {
  struct Case {
    std::size_t offset;
    std::u16string_view text;
  };
  const Case cases[] = {
      {36, u"19490230"},  // not a calendar date
      {36, u"1949123 "},  // not 8 digits
      {36, u"1949-1-3"},  // not digits
      {188, u"20201301"},
      {204, u"20401232"},
      {204, u"长期期  "},
      {30, u"3"},   // sex code outside GB/T 2261.1
      {30, u" "},   // no sex code
      {32, u"57"},  // nation code outside the table
      {32, u"00"},
      {0, std::u16string_view(u"               ")},       // empty name
      {122, std::u16string_view(u"                  ")},  // empty number
  };
  for (const Case& c : cases) {
    Block block = resident_block();
    put(block, c.offset, c.text);
    const auto result = parse_text_block(block);
    ASSERT_EQ(error_code(result), "ID_TEXT_FIELD") << c.offset;
    EXPECT_EQ(result.error().message.find("1949"), std::string::npos) << result.error().message;
    EXPECT_EQ(result.error().message.find("2020"), std::string::npos) << result.error().message;
  }
}

TEST(IdDocument, ForeignLayoutsRequireTheEnglishName) {
  Block old_card = foreign_2017_block();
  put(old_card, 0, std::u16string(60, u' '));
  EXPECT_EQ(error_code(parse_text_block(old_card)), "ID_TEXT_FIELD");
  Block new_card = foreign_2023_block();
  put(new_card, 52, std::u16string(35, u' '));
  put(new_card, 220, std::u16string(11, u' '));
  EXPECT_EQ(error_code(parse_text_block(new_card)), "ID_TEXT_FIELD");
}

// --- encode ------------------------------------------------------------------------------------

TEST(IdDocument, EncodeWritesTheReferenceOffsets) {
  for (const Block& block : {resident_block(), hkmotw_block(), foreign_2017_block(), foreign_2023_block()}) {
    const auto encoded = encode_text_block(parsed(block));
    ASSERT_TRUE(encoded) << encoded.error().to_string();
    EXPECT_EQ(*encoded, block);
  }
}

TEST(IdDocument, EncodeThenParseRoundTrips) {
  IdDocument document = parsed(resident_block());
  document.valid_until = std::nullopt;
  document.sex = Sex::unspecified;
  document.nation_code = "98";
  for (const IdDocument& original :
       {document, parsed(hkmotw_block()), parsed(foreign_2017_block()), parsed(foreign_2023_block())}) {
    const auto encoded = encode_text_block(original);
    ASSERT_TRUE(encoded) << encoded.error().to_string();
    EXPECT_EQ(parsed(*encoded), original);
  }
  const auto long_term = encode_text_block(document);
  ASSERT_TRUE(long_term);
  Block expected = resident_block();
  put(expected, 30, u"9");
  put(expected, 32, u"98");
  put(expected, 204, u"长期      ");
  EXPECT_EQ(*long_term, expected);
}

TEST(IdDocument, EncodeRefusesWhatTheCardCannotHold) {
  const IdDocument valid = parsed(resident_block());
  const auto refused = [&](auto change) {
    IdDocument document = valid;
    change(document);
    return error_code(encode_text_block(document));
  };
  EXPECT_EQ(refused([](IdDocument& d) { d.name = "一二三四五六七八九十一二三四五六"; }), "ID_TEXT_FIELD");  // 16 > 15
  EXPECT_EQ(refused([](IdDocument& d) { d.name = "一二三四五六七八九十一二三四五"; }), "ok");  // exactly 15
  EXPECT_EQ(refused([](IdDocument& d) { d.name = "张\xF0\xA0\x80\x80"; }), "ID_TEXT_FIELD");   // U+20000
  EXPECT_EQ(refused([](IdDocument& d) { d.name = "\xFF"; }), "ID_TEXT_FIELD");
  EXPECT_EQ(refused([](IdDocument& d) { d.name = "\xE5\xBC"; }), "ID_TEXT_FIELD");              // truncated
  EXPECT_EQ(refused([](IdDocument& d) { d.name = "\xC0\xAF"; }), "ID_TEXT_FIELD");              // overlong
  EXPECT_EQ(refused([](IdDocument& d) { d.name = "\xED\xA0\x80"; }), "ID_TEXT_FIELD");          // surrogate
  EXPECT_EQ(refused([](IdDocument& d) { d.name = std::string("a\0b", 3); }), "ID_TEXT_FIELD");  // control
  EXPECT_EQ(refused([](IdDocument& d) { d.name = "张三 "; }), "ID_TEXT_FIELD");                 // reads back trimmed
  EXPECT_EQ(refused([](IdDocument& d) { d.english_name = "ZHANG SAN"; }), "ID_TEXT_FIELD");     // not on this layout
  EXPECT_EQ(refused([](IdDocument& d) { d.birth_date = 2023y / 2 / 30; }), "ID_TEXT_FIELD");
  EXPECT_EQ(refused([](IdDocument& d) {
              d.valid_from = Date{std::chrono::year{12345}, std::chrono::January, 1d};
            }),
            "ID_TEXT_FIELD");
  EXPECT_EQ(refused([](IdDocument& d) { d.nation_code = "012"; }), "ID_TEXT_FIELD");
}

// --- read reply --------------------------------------------------------------------------------

Bytes photo_bytes() {
  Bytes photo(kPhotoBytes);
  for (std::size_t i = 0; i < photo.size(); ++i) photo[i] = static_cast<std::uint8_t>(i * 7);
  return photo;
}

Bytes read_reply(std::initializer_list<std::uint8_t> lengths, const Block& text, const Bytes& photo,
                 const Bytes& fingerprint = {}) {
  Bytes reply(lengths);
  reply.insert(reply.end(), text.begin(), text.end());
  reply.insert(reply.end(), photo.begin(), photo.end());
  reply.insert(reply.end(), fingerprint.begin(), fingerprint.end());
  return reply;
}

TEST(ReadReply, TextAndPhoto) {
  const Bytes photo = photo_bytes();
  const Bytes reply = read_reply({0x01, 0x00, 0x04, 0x00}, resident_block(), photo);
  ASSERT_EQ(reply.size(), 1284u);  // the 1295-byte frame less preamble, length, SW1-3 and checksum
  const auto read = parse_read_reply(reply, false);
  ASSERT_TRUE(read) << read.error().to_string();
  EXPECT_EQ(read->document, parsed(resident_block()));
  const Block text = resident_block();
  EXPECT_EQ(read->text_block, Bytes(text.begin(), text.end()));
  EXPECT_EQ(read->photo_wlt, photo);
  EXPECT_TRUE(read->fingerprint.empty());
  EXPECT_FALSE(read->additional_address);
  EXPECT_EQ(encode_read_reply(text, photo, std::nullopt), reply);
}

TEST(ReadReply, WithFingerprintOfEachLegalSize) {
  const Bytes photo = photo_bytes();
  const Block text = foreign_2023_block();
  for (const std::size_t size : {0u, 512u, 1024u}) {
    const Bytes fingerprint(size, 0x5A);
    const Bytes reply =
        read_reply({0x01, 0x00, 0x04, 0x00, static_cast<std::uint8_t>(size >> 8), 0x00}, text, photo, fingerprint);
    const auto read = parse_read_reply(reply, true);
    ASSERT_TRUE(read) << read.error().to_string();
    EXPECT_EQ(read->document.english_name, kLongEnglishName);
    EXPECT_EQ(read->fingerprint, fingerprint);
    EXPECT_EQ(read->photo_wlt, photo);
    EXPECT_EQ(encode_read_reply(text, photo, std::span<const std::uint8_t>(fingerprint)), reply);
    // The same bytes read as a reply without the fpLen field do not add up.
    EXPECT_EQ(error_code(parse_read_reply(reply, false)), "ID_READ_REPLY_LENGTH");
  }
}

TEST(ReadReply, LengthsAreNeverTrusted) {
  const Bytes photo = photo_bytes();
  const Block text = resident_block();
  const Bytes good = read_reply({0x01, 0x00, 0x04, 0x00}, text, photo);
  Bytes short_by_one(good.begin(), good.end() - 1);
  Bytes long_by_one = good;
  long_by_one.push_back(0);
  Bytes bad_text_length = good;
  bad_text_length[1] = 0xFF;  // 0x01FF
  Bytes bad_photo_length = good;
  bad_photo_length[2] = 0x03;  // 0x0300
  const Bytes bad_fingerprint_length = read_reply({0x01, 0x00, 0x04, 0x00, 0x00, 0x64}, text, photo, Bytes(100, 0));
  const Bytes fingerprint_length_lies = read_reply({0x01, 0x00, 0x04, 0x00, 0x04, 0x00}, text, photo, Bytes(512, 0));
  for (const Bytes& reply : {short_by_one, long_by_one, bad_text_length, bad_photo_length, Bytes{0x01, 0x00, 0x04}}) {
    EXPECT_EQ(error_code(parse_read_reply(reply, false)), "ID_READ_REPLY_LENGTH") << reply.size();
  }
  for (const Bytes& reply : {bad_fingerprint_length, fingerprint_length_lies, Bytes{0x01, 0x00, 0x04, 0x00, 0x00}}) {
    EXPECT_EQ(error_code(parse_read_reply(reply, true)), "ID_READ_REPLY_LENGTH") << reply.size();
  }
  // A text block over 65535 bytes cannot be expressed; its clamped length is refused.
  const Bytes huge(70000, 0x20);
  EXPECT_EQ(error_code(parse_read_reply(encode_read_reply(huge, photo, std::nullopt), false)), "ID_READ_REPLY_LENGTH");
}

TEST(ReadReply, TextErrorsPassThrough) {
  Block text = resident_block();
  put(text, 30, u"7");
  EXPECT_EQ(error_code(parse_read_reply(read_reply({0x01, 0x00, 0x04, 0x00}, text, photo_bytes()), false)),
            "ID_TEXT_FIELD");
}

// --- additional address ------------------------------------------------------------------------

TEST(AdditionalAddress, DecodesAndTrims) {
  Block scratch = blank_block();
  put(scratch, 0, u"上海市 浦东新区 世纪大道100号");
  const auto address = parse_additional_address(std::span(scratch).first(70));
  ASSERT_TRUE(address) << address.error().to_string();
  EXPECT_EQ(*address, "上海市 浦东新区 世纪大道100号");
  EXPECT_EQ(parse_additional_address({}).value_or("x"), "");

  const auto encoded = encode_additional_address("上海市 浦东新区");
  ASSERT_TRUE(encoded);
  EXPECT_EQ(encoded->size(), 16u);
  EXPECT_EQ((*encoded)[0], 0x0A);  // 上 = U+4E0A, little-endian
  EXPECT_EQ((*encoded)[1], 0x4E);
  EXPECT_EQ(parse_additional_address(*encoded).value_or(""), "上海市 浦东新区");
}

TEST(AdditionalAddress, Errors) {
  const Block scratch = blank_block();
  EXPECT_EQ(error_code(parse_additional_address(std::span(scratch).first(71))), "ID_TEXT_LENGTH");
  const Bytes too_long(kAdditionalAddressMaxBytes + 2, 0x20);
  EXPECT_EQ(error_code(parse_additional_address(too_long)), "ID_TEXT_LENGTH");
  EXPECT_EQ(error_code(parse_additional_address(Bytes{0x00, 0xD8, 0x20, 0x00})), "ID_TEXT_ENCODING");
  EXPECT_EQ(error_code(encode_additional_address("\xF0\x9F\x98\x80")), "ID_TEXT_FIELD");  // U+1F600
  EXPECT_EQ(error_code(encode_additional_address(std::string(129, 'a'))), "ID_TEXT_FIELD");
  EXPECT_EQ(error_code(encode_additional_address(std::string(128, 'a'))), "ok");
}

// --- SAM id ------------------------------------------------------------------------------------

TEST(SamIdTest, DecodesLittleEndianAndFormats) {
  const Bytes data{0x05, 0x00, 0x01, 0x00, 0x40, 0xE2, 0x01, 0x00, 0xD2, 0x02, 0x96, 0x49, 0x2A, 0x00, 0x00, 0x00};
  const auto id = parse_sam_id(data);
  ASSERT_TRUE(id) << id.error().to_string();
  EXPECT_EQ(id->a, 5);
  EXPECT_EQ(id->b, 1);
  EXPECT_EQ(id->c, 123456u);
  EXPECT_EQ(id->d, 1234567890u);
  EXPECT_EQ(id->e, 42u);
  EXPECT_EQ(id->to_string(), "05.01-00123456-1234567890-0000000042");
  const auto encoded = encode_sam_id(*id);
  EXPECT_EQ(Bytes(encoded.begin(), encoded.end()), data);

  const SamId largest{0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF};
  EXPECT_EQ(largest.to_string(), "65535.65535-4294967295-4294967295-4294967295");
  EXPECT_EQ(parse_sam_id(encode_sam_id(largest)).value_or(SamId{}), largest);
}

TEST(SamIdTest, LengthMustBe16) {
  EXPECT_EQ(error_code(parse_sam_id(Bytes(15, 0))), "SAM_ID_LENGTH");
  EXPECT_EQ(error_code(parse_sam_id(Bytes(17, 0))), "SAM_ID_LENGTH");
  EXPECT_EQ(error_code(parse_sam_id({})), "SAM_ID_LENGTH");
}

// --- check digit and validity ------------------------------------------------------------------

TEST(CheckDigit, ReferenceExamples) {
  EXPECT_EQ(gb11643_check_character("11010519491231002"), 'X');
  EXPECT_EQ(gb11643_check_character("44052418800101001"), '4');
  EXPECT_EQ(gb11643_check_character("4405241880010100"), std::nullopt);
  EXPECT_EQ(gb11643_check_character("4405241880010100A"), std::nullopt);
  EXPECT_TRUE(check_id_number("11010519491231002X"));
  EXPECT_TRUE(check_id_number("440524188001010014"));
  EXPECT_TRUE(check_id_number("932000198001010013"));
}

TEST(CheckDigit, WrongDigitsAndFormats) {
  for (const std::string_view wrong :
       {"110105194912310021", "440524188001010015", "44052418800101001X", "440524188001010024", "932000198001010014"}) {
    const auto result = check_id_number(wrong);
    ASSERT_FALSE(result) << wrong;
    EXPECT_EQ(result.error().code, "ID_NUMBER_CHECK_DIGIT") << wrong;
    EXPECT_EQ(result.error().message.find(wrong), std::string::npos);
  }
  for (const std::string_view malformed : {"11010519491231002x", "1101051949123100X2", "11010519491231002",
                                           "11010519491231002XX", "", "11010519491231002Y", "A1010519491231002X"}) {
    const auto result = check_id_number(malformed);
    ASSERT_FALSE(result) << malformed;
    EXPECT_EQ(result.error().code, "ID_NUMBER_FORMAT") << malformed;
  }
}

std::string check(const IdDocument& document, Date today) {
  const auto result = check_document(document, today);
  return result ? "ok" : result.error().code;
}

TEST(CheckDocument, ExpiryIncludesTheLastDay) {
  IdDocument document = parsed(resident_block());  // valid 2020-01-01 .. 2040-01-01
  EXPECT_EQ(check(document, 2039y / 12 / 31), "ok");
  EXPECT_EQ(check(document, 2040y / 1 / 1), "ok");          // today is the last day
  EXPECT_EQ(check(document, 2040y / 1 / 2), "ID_EXPIRED");  // the last day was yesterday
  document.valid_until = std::nullopt;
  EXPECT_EQ(check(document, 2999y / 1 / 1), "ok");
}

TEST(CheckDocument, NotYetValid) {
  const IdDocument document = parsed(resident_block());
  EXPECT_EQ(check(document, 2019y / 12 / 31), "ID_NOT_YET_VALID");
  EXPECT_EQ(check(document, 2020y / 1 / 1), "ok");
}

TEST(CheckDocument, CheckedInTheDocumentedOrder) {
  IdDocument document = parsed(resident_block());
  document.id_number = "110105194912310021";
  EXPECT_EQ(check(document, 2050y / 1 / 1), "ID_NUMBER_CHECK_DIGIT");  // before expiry
  document.id_number = "1101051949123100";
  EXPECT_EQ(check(document, 2050y / 1 / 1), "ID_NUMBER_FORMAT");
  document = parsed(resident_block());
  document.valid_from = 2045y / 1 / 1;  // inconsistent on purpose: both rules fail
  EXPECT_EQ(check(document, 2042y / 1 / 1), "ID_NOT_YET_VALID");
}

TEST(CheckDocument, EachLayoutsNumberRule) {
  EXPECT_EQ(check(parsed(hkmotw_block()), 2020y / 1 / 1), "ok");
  EXPECT_EQ(check(parsed(hkmotw_block()), 2024y / 3 / 2), "ID_EXPIRED");
  EXPECT_EQ(check(parsed(foreign_2023_block()), 2024y / 1 / 1), "ok");
  IdDocument old_card = parsed(foreign_2017_block());
  EXPECT_EQ(check(old_card, 2020y / 1 / 1), "ok");  // 15 characters, no check digit
  old_card.id_number = "usa110074123456";
  EXPECT_EQ(check(old_card, 2020y / 1 / 1), "ID_NUMBER_FORMAT");
  old_card.id_number = "USA11007412345";
  EXPECT_EQ(check(old_card, 2020y / 1 / 1), "ID_NUMBER_FORMAT");
}

// --- nation table and names --------------------------------------------------------------------

TEST(NationTable, TableHas56GroupsPlusOtherAndForeignOrigin) {
  const auto table = nations();
  ASSERT_EQ(table.size(), 58u);
  std::set<std::string_view> codes, chinese, english;
  for (const Nation& nation : table) {
    codes.insert(nation.code);
    chinese.insert(nation.name_zh);
    english.insert(nation.name_en);
    EXPECT_EQ(nation_by_code(nation.code)->name_zh, nation.name_zh);
  }
  EXPECT_EQ(codes.size(), 58u);
  EXPECT_EQ(chinese.size(), 58u);
  EXPECT_EQ(english.size(), 58u);
  for (int code = 1; code <= 56; ++code) {
    char text[3];
    std::snprintf(text, sizeof text, "%02d", code);
    EXPECT_TRUE(nation_by_code(text)) << text;
  }
  EXPECT_EQ(nation_by_code("01")->name_zh, "汉");
  EXPECT_EQ(nation_by_code("01")->name_en, "Han");
  EXPECT_EQ(nation_by_code("04")->name_zh, "藏");
  EXPECT_EQ(nation_by_code("10")->name_zh, "朝鲜");
  EXPECT_EQ(nation_by_code("56")->name_zh, "基诺");
  EXPECT_EQ(nation_by_code("56")->name_en, "Jino");
  EXPECT_EQ(nation_by_code("97")->name_zh, "其他");
  EXPECT_EQ(nation_by_code("98")->name_zh, "外国血统中国籍人士");
  EXPECT_FALSE(nation_by_code("57"));
  EXPECT_FALSE(nation_by_code("00"));
  EXPECT_FALSE(nation_by_code("1"));
}

TEST(CardNames, LayoutsSexesAndDates) {
  for (const CardLayout layout :
       {CardLayout::prc_id, CardLayout::hkmotw_residence, CardLayout::foreign_pr_2017, CardLayout::foreign_pr_2023}) {
    EXPECT_EQ(card_layout_from_string(to_string(layout)), layout);
  }
  EXPECT_EQ(to_string(CardLayout::foreign_pr_2023), "foreign-pr-2023");
  EXPECT_EQ(to_string(CardLayout::hkmotw_residence), "hkmotw-residence");
  EXPECT_EQ(card_layout_from_string("passport"), std::nullopt);
  EXPECT_EQ(document_type_of(CardLayout::prc_id), DocumentType::prc_id);
  EXPECT_EQ(document_type_of(CardLayout::hkmotw_residence), DocumentType::hkmotw_residence);
  EXPECT_EQ(document_type_of(CardLayout::foreign_pr_2017), DocumentType::foreign_pr);
  EXPECT_EQ(document_type_of(CardLayout::foreign_pr_2023), DocumentType::foreign_pr);
  EXPECT_EQ(to_string(Sex::unspecified), "unspecified");
  EXPECT_EQ(to_string(Sex::female), "female");
  EXPECT_EQ(date_text(2024y / 2 / 29), "2024-02-29");
  EXPECT_EQ(date_text(Date{std::chrono::year{5}, std::chrono::March, std::chrono::day{7}}), "0005-03-07");
}

}  // namespace
}  // namespace kiosk::hal::idcard
