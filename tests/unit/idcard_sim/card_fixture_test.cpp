// Every shipped card fixture loads, encodes, and decodes back (with the real parse_text_block) to
// the values written in its file, read here with toml++ independently of the fixture loader; a bad
// fixture is refused with file:line and the key.
#include "hal/idcard/sim/card_fixture.hpp"

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "hal/idcard/id_document.hpp"

namespace kiosk::hal::idcard::sim {
namespace {

const std::filesystem::path kCards = IDCARD_SIM_CARDS_DIR;

std::string text_or_empty(const toml::table& table, std::string_view key) { return table[key].value_or(std::string{}); }

TEST(CardFixtures, TheShippedSetIsComplete) {
  const auto names = list_card_fixtures(kCards);
  ASSERT_TRUE(names.has_value()) << names.error().to_string();
  EXPECT_EQ(*names, (std::vector<std::string>{"bad-check-digit", "expired", "foreign-pr-2017", "foreign-pr-2023",
                                              "hkmotw-residence", "resident", "resident-rare-name"}));
}

TEST(CardFixtures, EachDecodesBackToTheValuesInItsFile) {
  const auto names = list_card_fixtures(kCards);
  ASSERT_TRUE(names.has_value());
  for (const auto& name : *names) {
    SCOPED_TRACE(name);
    const auto file = kCards / (name + ".toml");
    const auto fixture = load_card_fixture(file);
    ASSERT_TRUE(fixture.has_value()) << fixture.error().to_string();
    const toml::table table = toml::parse_file(file.string());

    const auto decoded = parse_text_block(fixture->text_block);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().to_string();
    const IdDocument& doc = *decoded;
    EXPECT_EQ(to_string(doc.layout), text_or_empty(table, "layout"));
    EXPECT_EQ(doc.name, text_or_empty(table, "name"));
    EXPECT_EQ(doc.english_name, text_or_empty(table, "english_name"));
    EXPECT_EQ(to_string(doc.sex), text_or_empty(table, "sex"));
    EXPECT_EQ(doc.nation_code, text_or_empty(table, "nation_code"));
    EXPECT_EQ(date_text(doc.birth_date), text_or_empty(table, "birth_date"));
    EXPECT_EQ(doc.address, text_or_empty(table, "address"));
    EXPECT_EQ(doc.id_number, text_or_empty(table, "id_number"));
    EXPECT_EQ(doc.issuer, text_or_empty(table, "issuer"));
    EXPECT_EQ(date_text(doc.valid_from), text_or_empty(table, "valid_from"));
    EXPECT_EQ(doc.valid_until ? date_text(*doc.valid_until) : "long-term", text_or_empty(table, "valid_until"));
    EXPECT_EQ(doc.pass_number, text_or_empty(table, "pass_number"));
    EXPECT_EQ(doc.issue_count, text_or_empty(table, "issue_count"));
    EXPECT_EQ(doc.nationality, text_or_empty(table, "nationality"));
    EXPECT_EQ(doc.card_version, text_or_empty(table, "card_version"));
    EXPECT_EQ(doc.renewal_count, text_or_empty(table, "renewal_count"));
    EXPECT_EQ(doc.previous_number, text_or_empty(table, "previous_number"));

    EXPECT_EQ(fixture->photo_wlt.size(), kPhotoBytes);
    EXPECT_EQ(fixture->fingerprint.size(), static_cast<std::size_t>(table["fingerprint_bytes"].value_or(0)));
    EXPECT_EQ(fixture->additional_address.has_value(), table.contains("additional_address"));
  }
}

TEST(CardFixtures, EachIsWhatItsNameSays) {
  const auto today =
      std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
  for (const std::string_view name : {"resident", "hkmotw-residence", "foreign-pr-2017", "foreign-pr-2023"}) {
    const auto fixture = load_named_fixture(kCards, name);
    ASSERT_TRUE(fixture.has_value()) << name;
    EXPECT_TRUE(check_document(fixture->document, today).has_value()) << name;
  }
  const auto resident = load_named_fixture(kCards, "resident");
  EXPECT_EQ(resident->document.id_number, "11010519491231002X");
  EXPECT_FALSE(resident->document.valid_until.has_value());

  const auto hk = load_named_fixture(kCards, "hkmotw-residence");
  EXPECT_EQ(hk->document.layout, CardLayout::hkmotw_residence);
  EXPECT_TRUE(hk->document.id_number.starts_with("810000"));
  EXPECT_TRUE(check_id_number(hk->document.id_number).has_value());

  const auto pr2017 = load_named_fixture(kCards, "foreign-pr-2017");
  EXPECT_EQ(pr2017->document.layout, CardLayout::foreign_pr_2017);
  EXPECT_EQ(pr2017->document.id_number.size(), 15U);

  const auto pr2023 = load_named_fixture(kCards, "foreign-pr-2023");
  EXPECT_EQ(pr2023->document.layout, CardLayout::foreign_pr_2023);
  EXPECT_TRUE(pr2023->document.id_number.starts_with('9'));
  EXPECT_TRUE(check_id_number(pr2023->document.id_number).has_value());
  EXPECT_GT(pr2023->document.english_name.size(), 35U);  // spans both name parts

  const auto expired = load_named_fixture(kCards, "expired");
  const auto refused = check_document(expired->document, today);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "ID_EXPIRED");
  EXPECT_EQ(expired->document.valid_until->year(), std::chrono::year{2020});

  const auto bad = load_named_fixture(kCards, "bad-check-digit");
  const auto check = check_id_number(bad->document.id_number);
  ASSERT_FALSE(check.has_value());
  EXPECT_EQ(check.error().code, "ID_NUMBER_CHECK_DIGIT");
}

TEST(CardFixtures, PhotoIsSha256OfTheNameAndACounter) {
  const auto fixture = load_named_fixture(kCards, "resident");
  ASSERT_TRUE(fixture.has_value());
  const auto expected = synthetic_bytes("resident", kPhotoBytes);
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(fixture->photo_wlt, *expected);
  // SHA-256("resident" || 00 00 00 00) and SHA-256("resident" || 00 00 00 01), computed with sha256sum.
  EXPECT_EQ(std::vector<std::uint8_t>(expected->begin(), expected->begin() + 4),
            (std::vector<std::uint8_t>{0x68, 0x05, 0x89, 0x3f}));
  EXPECT_EQ(std::vector<std::uint8_t>(expected->begin() + 32, expected->begin() + 36),
            (std::vector<std::uint8_t>{0xa5, 0x69, 0xe9, 0x23}));
  const auto other = synthetic_bytes("expired", kPhotoBytes);
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(*other, *expected);
  EXPECT_EQ(synthetic_bytes("x", 0)->size(), 0U);
  EXPECT_EQ(synthetic_bytes("x", 33)->size(), 33U);
}

Result<CardFixture> parse(std::string_view text) { return parse_card_fixture(text, "cards/test.toml", "test"); }

constexpr std::string_view kValid = R"(layout = "prc-id"
name = "测试七"
sex = "male"
nation_code = "01"
birth_date = "1980-01-01"
address = "测试地址"
id_number = "110105198001010016"
issuer = "测试机关"
valid_from = "2010-01-01"
valid_until = "2030-01-01"
)";

TEST(CardFixtureErrors, AValidTextParses) {
  const auto fixture = parse(kValid);
  ASSERT_TRUE(fixture.has_value()) << fixture.error().to_string();
  EXPECT_EQ(fixture->name, "test");
  EXPECT_EQ(fixture->fingerprint_bytes, 0U);
  EXPECT_FALSE(fixture->additional_address.has_value());
}

TEST(CardFixtureErrors, UnknownKeyNamesFileLineAndKey) {
  const auto fixture = parse(std::string(kValid) + "favourite_colour = \"blue\"\n");
  ASSERT_FALSE(fixture.has_value());
  EXPECT_EQ(fixture.error().code, "SIM_FIXTURE_KEY");
  EXPECT_NE(fixture.error().message.find("cards/test.toml:11: key 'favourite_colour'"), std::string::npos)
      << fixture.error().message;
}

TEST(CardFixtureErrors, KeyTheLayoutDoesNotCarry) {
  const auto fixture = parse(std::string(kValid) + "pass_number = \"H1\"\n");
  ASSERT_FALSE(fixture.has_value());
  EXPECT_EQ(fixture.error().code, "SIM_FIXTURE_KEY");
  EXPECT_NE(fixture.error().message.find("cards/test.toml:11: key 'pass_number'"), std::string::npos);
  EXPECT_NE(fixture.error().message.find("prc-id"), std::string::npos);
}

TEST(CardFixtureErrors, BadValuesNameTheirLineAndNeverTheirValue) {
  struct Case {
    std::string_view from;
    std::string_view to;
    std::string_view where;
  };
  const std::vector<Case> cases{
      {"birth_date = \"1980-01-01\"", "birth_date = \"1980-02-30\"", "test.toml:5: key 'birth_date'"},
      {"sex = \"male\"", "sex = \"m\"", "test.toml:3: key 'sex'"},
      {"valid_until = \"2030-01-01\"", "valid_until = \"forever\"", "test.toml:10: key 'valid_until'"},
      {"nation_code = \"01\"", "nation_code = 1", "test.toml:4: key 'nation_code'"},
      {"layout = \"prc-id\"", "layout = \"passport\"", "test.toml:1: key 'layout'"},
  };
  for (const auto& c : cases) {
    std::string text(kValid);
    text.replace(text.find(c.from), c.from.size(), c.to);
    const auto fixture = parse(text);
    ASSERT_FALSE(fixture.has_value()) << c.to;
    EXPECT_EQ(fixture.error().code, "SIM_FIXTURE_VALUE") << c.to;
    EXPECT_NE(fixture.error().message.find(c.where), std::string::npos) << fixture.error().message;
  }
  const auto fingerprint = parse(std::string(kValid) + "fingerprint_bytes = 300\n");
  ASSERT_FALSE(fingerprint.has_value());
  EXPECT_NE(fingerprint.error().message.find("test.toml:11: key 'fingerprint_bytes'"), std::string::npos);
}

TEST(CardFixtureErrors, MissingKeysSyntaxAndTooLongFields) {
  std::string text(kValid);
  text.erase(text.find("id_number"), text.find('\n', text.find("id_number")) - text.find("id_number") + 1);
  auto fixture = parse(text);
  ASSERT_FALSE(fixture.has_value());
  EXPECT_EQ(fixture.error().code, "SIM_FIXTURE_MISSING");
  EXPECT_NE(fixture.error().message.find("'id_number'"), std::string::npos);

  fixture = parse("layout = \n");
  ASSERT_FALSE(fixture.has_value());
  EXPECT_EQ(fixture.error().code, "SIM_FIXTURE_SYNTAX");
  EXPECT_NE(fixture.error().message.find("cards/test.toml:1:"), std::string::npos);

  std::string long_name(kValid);
  long_name.replace(long_name.find("测试七"), std::string_view("测试七").size(), std::string(16 * 3, 'A'));
  fixture = parse(long_name);
  ASSERT_FALSE(fixture.has_value());
  EXPECT_EQ(fixture.error().code, "SIM_FIXTURE_VALUE");
}

TEST(CardFixtureErrors, NamesAreLookedUpOnlyInTheDirectory) {
  for (const std::string_view name : {"../cards/resident", ".hidden", "", "nosuchcard"}) {
    const auto fixture = load_named_fixture(kCards, name);
    ASSERT_FALSE(fixture.has_value()) << name;
    EXPECT_EQ(fixture.error().code, "SIM_FIXTURE_NOT_FOUND") << name;
  }
}

}  // namespace
}  // namespace kiosk::hal::idcard::sim
