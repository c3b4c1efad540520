#include "ui/common/po_catalog.hpp"

#include <gtest/gtest.h>

namespace kiosk::ui {
namespace {

TEST(PoParser, ReadsEntriesCommentsAndHeader) {
  const auto entries = parse_po(R"(# translator comment
msgid ""
msgstr ""
"Language: zh_CN\n"

#. context for the translator
#: somewhere.cpp:12
msgid "attract.title"
msgstr "数字证书自助服务"

msgid "menu.title"
msgstr "请选择"
)",
                                "test.po");
  ASSERT_TRUE(entries) << entries.error().to_string();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].key, "attract.title");
  EXPECT_EQ((*entries)[0].text, "数字证书自助服务");
  EXPECT_EQ((*entries)[0].line, 8);
  EXPECT_EQ((*entries)[1].key, "menu.title");
}

TEST(PoParser, JoinsMultiLineStrings) {
  const auto entries = parse_po("msgid \"a\"\nmsgstr \"\"\n\"first \"\n  \"second\"\n", "t.po");
  ASSERT_TRUE(entries) << entries.error().to_string();
  EXPECT_EQ((*entries)[0].text, "first second");
}

TEST(PoParser, DecodesEscapes) {
  const auto entries = parse_po(R"(msgid "k"
msgstr "line\none\ttab \"quoted\" back\\slash"
)",
                                "t.po");
  ASSERT_TRUE(entries) << entries.error().to_string();
  EXPECT_EQ((*entries)[0].text, "line\none\ttab \"quoted\" back\\slash");
}

TEST(PoParser, AcceptsCrLfAndNoFinalNewline) {
  const auto entries = parse_po("msgid \"k\"\r\nmsgstr \"v\"", "t.po");
  ASSERT_TRUE(entries) << entries.error().to_string();
  EXPECT_EQ((*entries)[0].text, "v");
}

struct Malformed {
  const char* name;
  const char* text;
  const char* code;
  const char* where;  // "t.po:N" expected in the message
};

class PoParserRejects : public testing::TestWithParam<Malformed> {};

TEST_P(PoParserRejects, WithCodeAndLine) {
  const Malformed& m = GetParam();
  const auto entries = parse_po(m.text, "t.po");
  ASSERT_FALSE(entries) << m.name;
  EXPECT_EQ(entries.error().code, m.code) << m.name;
  EXPECT_NE(entries.error().message.find(m.where), std::string::npos) << m.name << ": " << entries.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PoParserRejects,
    testing::Values(
        Malformed{"unterminated", "msgid \"k\"\nmsgstr \"v\n", "PO_SYNTAX", "t.po:2"},
        Malformed{"bad escape", "msgid \"k\"\nmsgstr \"\\x41\"\n", "PO_SYNTAX", "t.po:2"},
        Malformed{"msgstr first", "\nmsgstr \"v\"\n", "PO_SYNTAX", "t.po:2"},
        Malformed{"missing msgstr", "msgid \"a\"\nmsgid \"b\"\nmsgstr \"v\"\n", "PO_SYNTAX", "t.po:2"},
        Malformed{"missing msgstr at end", "msgid \"a\"\nmsgstr \"v\"\nmsgid \"b\"\n", "PO_SYNTAX", "t.po:3"},
        Malformed{"blank inside entry", "msgid \"a\"\n\nmsgstr \"v\"\n", "PO_SYNTAX", "t.po:2"},
        Malformed{"comment inside entry", "msgid \"a\"\n# no\nmsgstr \"v\"\n", "PO_SYNTAX", "t.po:2"},
        Malformed{"stray string", "\"orphan\"\n", "PO_SYNTAX", "t.po:1"},
        Malformed{"string after blank", "msgid \"a\"\nmsgstr \"v\"\n\n\"late\"\n", "PO_SYNTAX", "t.po:4"},
        Malformed{"trailing text", "msgid \"a\" junk\nmsgstr \"v\"\n", "PO_SYNTAX", "t.po:1"},
        Malformed{"no quotes", "msgid a\nmsgstr \"v\"\n", "PO_SYNTAX", "t.po:1"},
        Malformed{"unknown keyword", "msgid \"a\"\nmsgstr \"v\"\nmsgfoo \"x\"\n", "PO_SYNTAX", "t.po:3"},
        Malformed{"plural", "msgid \"a\"\nmsgid_plural \"as\"\n", "PO_SYNTAX", "t.po:2"},
        Malformed{"context", "msgctxt \"c\"\nmsgid \"a\"\nmsgstr \"v\"\n", "PO_SYNTAX", "t.po:1"},
        Malformed{"control char", "msgid \"a\"\nmsgstr \"v\x01\"\n", "PO_SYNTAX", "t.po:2"},
        Malformed{"invalid utf8", "msgid \"a\"\nmsgstr \"\xC3\x28\"\n", "PO_SYNTAX", "t.po:2"},
        Malformed{"late header", "msgid \"a\"\nmsgstr \"v\"\nmsgid \"\"\nmsgstr \"h\"\n", "PO_SYNTAX", "t.po:3"},
        Malformed{"duplicate", "msgid \"a\"\nmsgstr \"v\"\nmsgid \"a\"\nmsgstr \"w\"\n", "PO_DUPLICATE_KEY", "t.po:3"}),
    [](const testing::TestParamInfo<Malformed>& param_info) {
      std::string name = param_info.param.name;
      for (char& c : name) {
        if (c == ' ') c = '_';
      }
      return name;
    });

TEST(PoParser, RefusesOversizedInput) {
  const std::string huge(kMaxCatalogBytes + 1, '#');
  const auto entries = parse_po(huge, "t.po");
  ASSERT_FALSE(entries);
  EXPECT_EQ(entries.error().code, "PO_TOO_LARGE");
}

TEST(PoParser, RefusesOversizedString) {
  std::string text = "msgid \"a\"\nmsgstr \"\"\n";
  const std::string piece = "\"" + std::string(1000, 'x') + "\"\n";
  for (int i = 0; i < 10; ++i) text += piece;
  const auto entries = parse_po(text, "t.po");
  ASSERT_FALSE(entries);
  EXPECT_EQ(entries.error().code, "PO_TOO_LARGE");
}

TEST(Catalog, ReturnsTextAndSubstitutes) {
  const auto catalog = Catalog::from_text("msgid \"idle\"\nmsgstr \"{seconds} 秒后结束，{seconds}\"\n", "t.po");
  ASSERT_TRUE(catalog) << catalog.error().to_string();
  EXPECT_EQ(catalog->text("idle", {{"seconds", "20"}}), "20 秒后结束，20");
  EXPECT_EQ(catalog->text("idle", {{"other", "x"}}), "{seconds} 秒后结束，{seconds}");
}

TEST(Catalog, MissingKeyReturnsTheKey) {
  const auto catalog = Catalog::from_text("msgid \"a\"\nmsgstr \"b\"\n", "t.po");
  ASSERT_TRUE(catalog);
  EXPECT_EQ(catalog->text("no.such.key"), "no.such.key");
  EXPECT_EQ(catalog->text("no.such.key"), "no.such.key");  // logged once; still answers
}

TEST(Catalog, RefusesEmptyTranslation) {
  const auto catalog = Catalog::from_text("msgid \"a\"\nmsgstr \"\"\n", "t.po");
  ASSERT_FALSE(catalog);
  EXPECT_EQ(catalog.error().code, "CATALOG_EMPTY_TEXT");
  EXPECT_NE(catalog.error().message.find("t.po:1"), std::string::npos);
}

TEST(Catalog, MissingFileIsAnError) {
  const auto catalog = Catalog::load_file("/nonexistent/zh_CN.po");
  ASSERT_FALSE(catalog);
  EXPECT_EQ(catalog.error().code, "CATALOG_UNREADABLE");
}

TEST(Substitute, LeavesUnbalancedBracesAlone) {
  EXPECT_EQ(substitute("a {b", {{"b", "x"}}), "a {b");
  EXPECT_EQ(substitute("{a}{b}", {{"a", "1"}, {"b", "2"}}), "12");
}

}  // namespace
}  // namespace kiosk::ui
