// The rule-pack loader: bounded, strict, and every error names the file, the line and the key.
#include <gtest/gtest.h>

#include <string>

#include "kiosk/core/policy/rule_pack.hpp"
#include "policy_test_support.hpp"

namespace kiosk::policy {
namespace {

using testing::default_pack_text;
using testing::line_of;
using testing::replace_once;

Error parse_error(const std::string& text) {
  auto pack = parse_rule_pack(text, "pack.toml");
  EXPECT_FALSE(pack.has_value());
  return pack ? Error{} : pack.error();
}

TEST(RulePackLoader, DefaultPackLoads) {
  auto pack = parse_rule_pack(default_pack_text(), "default-rulepack.toml");
  ASSERT_TRUE(pack.has_value()) << pack.error().to_string();
  EXPECT_EQ(pack->format_version, 1);
  EXPECT_FALSE(pack->pack_version.empty());
  EXPECT_TRUE(pack->filing_reference.empty());  // filled in by head office once CSDC has the filing
}

TEST(RulePackLoader, WrongTypeNamesFileLineAndKey) {
  const std::string text =
      replace_once(default_pack_text(), "renewal_window_days = 30", "renewal_window_days = \"thirty\"");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_BAD_VALUE");
  const std::string expected =
      "pack.toml:" + std::to_string(line_of(text, "renewal_window_days =")) + ": key 'settings.renewal_window_days'";
  EXPECT_NE(error.message.find(expected), std::string::npos) << error.message;
}

TEST(RulePackLoader, MissingMatrixCellNamesTheTableLineAndTheKey) {
  const std::string header = "[matrix.counter.natural.soft]\n";
  const std::string text = replace_once(default_pack_text(), header + "apply = \"allow\"\n", header);
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_MISSING_KEY");
  const std::string expected = "pack.toml:" + std::to_string(line_of(text, "[matrix.counter.natural.soft]")) +
                               ": key 'matrix.counter.natural.soft.apply'";
  EXPECT_NE(error.message.find(expected), std::string::npos) << error.message;
}

TEST(RulePackLoader, UnknownKeyIsRefusedRatherThanIgnored) {
  const std::string text = replace_once(default_pack_text(), "renewal_window_days = 30", "renewal_window_dayz = 30");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_UNKNOWN_KEY");
  EXPECT_NE(error.message.find("pack.toml:" + std::to_string(line_of(text, "renewal_window_dayz")) +
                               ": key 'settings.renewal_window_dayz'"),
            std::string::npos)
      << error.message;
}

TEST(RulePackLoader, UnknownMatrixValueIsRefused) {
  const std::string text = replace_once(default_pack_text(), "apply = \"allow\"", "apply = \"yes\"");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_BAD_VALUE");
  EXPECT_NE(error.message.find("key 'matrix.counter.natural.hard.apply'"), std::string::npos) << error.message;
}

TEST(RulePackLoader, UnknownStepNameIsRefused) {
  const std::string text = replace_once(default_pack_text(), R"(counter = ["consent", "terms", "idv",)",
                                        R"(counter = ["consent", "terms", "id_check",)");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_BAD_VALUE");
  EXPECT_NE(error.message.find("key 'steps.counter'"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("\"id_check\""), std::string::npos) << error.message;
}

TEST(RulePackLoader, SyntaxErrorNamesTheLine) {
  const std::string text = replace_once(default_pack_text(), "renewal_window_days = 30", "renewal_window_days = = 30");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_SYNTAX");
  EXPECT_NE(error.message.find("pack.toml:" + std::to_string(line_of(text, "renewal_window_days = ="))),
            std::string::npos)
      << error.message;
}

TEST(RulePackLoader, OversizedInputIsRefusedBeforeParsing) {
  const std::string text = default_pack_text() + "\n#" + std::string(kMaxRulePackBytes, 'x') + "\n";
  EXPECT_EQ(parse_error(text).code, "RULEPACK_TOO_LARGE");
}

TEST(RulePackLoader, OtherFormatVersionIsRefused) {
  const std::string text = replace_once(default_pack_text(), "format_version = 1", "format_version = 2");
  EXPECT_EQ(parse_error(text).code, "RULEPACK_UNSUPPORTED_FORMAT");
}

// REQ-42: the evidence retention can be lengthened, never shortened below 20 years.
TEST(RulePackLoader, RetentionBelowTwentyYearsIsRefusedREQ42) {
  const std::string text =
      replace_once(default_pack_text(), "evidence_retention_years = 20", "evidence_retention_years = 19");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_BAD_VALUE");
  EXPECT_NE(error.message.find("settings.evidence_retention_years"), std::string::npos);
}

// REQ-34, REQ-36 / M3: freeze and reissue always record a reason.
TEST(RulePackLoader, FreezeWithoutReasonCodesIsRefusedREQ34) {
  const std::string text =
      replace_once(default_pack_text(),
                   "reason_codes = [\"LOST_MEDIUM\", \"SUSPECTED_COMPROMISE\", \"HOLDER_REQUEST\", \"OTHER\"]\n", "");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_CONTRADICTS_REQUIREMENTS");
  EXPECT_NE(error.message.find("operations.freeze.reason_codes"), std::string::npos);
}

// REQ-05, REQ-39: the identity check cannot be dropped from a channel.
TEST(RulePackLoader, ChannelWithoutIdentityVerificationIsRefusedREQ05) {
  const std::string text =
      replace_once(default_pack_text(), R"(other = ["consent", "terms", "idv", )", R"(other = ["consent", "terms", )");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_CONTRADICTS_REQUIREMENTS");
  EXPECT_NE(error.message.find("'idv'"), std::string::npos);
}

// REQ-14, REQ-19: the witness channel cannot drop the witness's introduction or signing steps.
TEST(RulePackLoader, WitnessChannelWithoutWitnessSigningIsRefusedREQ19) {
  const std::string text = replace_once(default_pack_text(), "\"witness_signing\",\n", "\n");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_CONTRADICTS_REQUIREMENTS");
  EXPECT_NE(error.message.find("key 'steps.witness'"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("'witness_signing'"), std::string::npos) << error.message;
}

// REQ-46: consent comes before any camera starts, so before every other step.
TEST(RulePackLoader, ConsentThatIsNotFirstIsRefusedREQ46) {
  const std::string text = replace_once(default_pack_text(), R"(counter = ["consent", "terms", "idv",)",
                                        R"(counter = ["terms", "consent", "idv",)");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_BAD_VALUE");
  EXPECT_NE(error.message.find("key 'steps.counter'"), std::string::npos) << error.message;
}

// REQ-51: the terms version is on every transaction, so the pack must name one.
TEST(RulePackLoader, EmptyTermsVersionIsRefusedREQ51) {
  const std::string text =
      replace_once(default_pack_text(), "terms_version = \"subscriber-terms-2026.1\"", "terms_version = \"\"");
  EXPECT_EQ(parse_error(text).code, "RULEPACK_BAD_VALUE");
}

TEST(RulePackLoader, ExtraStepAnchoredOnAMissingStepIsRefused) {
  const std::string text =
      replace_once(default_pack_text(), "extra_steps_before = \"review\"", "extra_steps_before = \"witness_intro\"");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_BAD_VALUE");
  EXPECT_NE(error.message.find("operations.revoke.extra_steps_before"), std::string::npos) << error.message;
}

// REQ-08: the default pack's procedures, transcribed by hand: the PRC ID by reader or NCIIS; the
// other documents imaged on both sides and confirmed by a reviewer.
TEST(RulePackLoader, DefaultPackHasAProcedureForEveryDocumentREQ08) {
  const RulePack pack = testing::default_pack();
  using enum VerificationMethod;
  const std::vector<DocumentSide> both{DocumentSide::front, DocumentSide::back};
  ASSERT_NE(pack.procedure(DocumentType::prc_id), nullptr);
  EXPECT_EQ(*pack.procedure(DocumentType::prc_id), (DocumentProcedure{{chip_read, nciis}, {}, false}));
  for (const DocumentType doc : {DocumentType::hkmotw_residence, DocumentType::foreign_pr}) {
    ASSERT_NE(pack.procedure(doc), nullptr) << to_string(doc);
    EXPECT_EQ(*pack.procedure(doc), (DocumentProcedure{{chip_read}, both, true})) << to_string(doc);
  }
  for (const DocumentType doc : {DocumentType::hkmo_permit, DocumentType::tw_permit}) {
    ASSERT_NE(pack.procedure(doc), nullptr) << to_string(doc);
    EXPECT_EQ(*pack.procedure(doc), (DocumentProcedure{{document_image}, both, true})) << to_string(doc);
  }
  // The other-methods channel accepts the PRC ID only, by default (REQ-08 [I]).
  const AcceptedDocuments remote = pack.accepted_documents(Channel::other);
  ASSERT_EQ(remote.size(), 1U);
  EXPECT_TRUE(remote.contains(DocumentType::prc_id));
  EXPECT_EQ(pack.accepted_documents(Channel::counter).size(), 5U);
  EXPECT_EQ(pack.accepted_documents(Channel::witness).at(DocumentType::tw_permit).methods,
            std::vector<VerificationMethod>{document_image});
}

const std::string kTwPermitProcedure =
    "[document_procedures.tw-permit]\n"
    "# 台湾居民来往大陆通行证: no chip the SAM reads, so checked from its images. REQ-08: reviewer [I].\n"
    "methods = [\"document-image\"]\n"
    "images = [\"front\", \"back\"]\n"
    "reviewer_confirmation = true\n";

TEST(RulePackLoader, AcceptedDocumentWithoutProcedureNamesItREQ08) {
  const std::string text = replace_once(default_pack_text(), kTwPermitProcedure, "");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_MISSING_KEY");
  EXPECT_NE(error.message.find("document_procedures.tw-permit"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("documents.counter"), std::string::npos) << error.message;
}

TEST(RulePackLoader, UnknownVerificationMethodIsRefused) {
  const std::string text = replace_once(default_pack_text(), kTwPermitProcedure,
                                        replace_once(kTwPermitProcedure, "\"document-image\"", "\"eyeball\""));
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_BAD_VALUE");
  EXPECT_NE(error.message.find("key 'document_procedures.tw-permit.methods'"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("chip-read, nciis, document-image"), std::string::npos) << error.message;
}

TEST(RulePackLoader, UnknownDocumentTypeOrProcedureKeyIsRefused) {
  EXPECT_EQ(parse_error(
                replace_once(default_pack_text(), "[document_procedures.tw-permit]", "[document_procedures.tw-permt]"))
                .code,
            "RULEPACK_UNKNOWN_KEY");
  EXPECT_EQ(parse_error(replace_once(default_pack_text(), kTwPermitProcedure,
                                     replace_once(kTwPermitProcedure, "reviewer_confirmation", "reviewer_confirmed")))
                .code,
            "RULEPACK_UNKNOWN_KEY");
}

TEST(RulePackLoader, ProcedureKeysAreRequired) {
  for (const std::string key : {"methods", "images", "reviewer_confirmation"}) {
    const std::string line = kTwPermitProcedure.substr(kTwPermitProcedure.find(key + " = "));
    const std::string without = replace_once(kTwPermitProcedure, line.substr(0, line.find('\n') + 1), "");
    const Error error = parse_error(replace_once(default_pack_text(), kTwPermitProcedure, without));
    EXPECT_EQ(error.code, "RULEPACK_MISSING_KEY") << key;
    EXPECT_NE(error.message.find("document_procedures.tw-permit." + key), std::string::npos) << error.message;
  }
}

// A document checked only from its images needs both of them.
TEST(RulePackLoader, DocumentImageOnlyProcedureMustImageBothSides) {
  const std::string text = replace_once(default_pack_text(), kTwPermitProcedure,
                                        replace_once(kTwPermitProcedure, "[\"front\", \"back\"]", "[\"front\"]"));
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_BAD_VALUE");
  EXPECT_NE(error.message.find("document_procedures.tw-permit.images"), std::string::npos) << error.message;
}

// REQ-08 images both sides of every document but the PRC ID, whatever the method.
TEST(RulePackLoader, ChipReadableDocumentWithoutBothImagesIsRefusedREQ08) {
  const std::string header = "[document_procedures.foreign-pr]\n";
  const std::string text = replace_once(
      default_pack_text(),
      header +
          "# 外国人永久居留身份证, 2017 and 2023 cards: the SAM reads their chip. REQ-08: both sides, reviewer "
          "[I].\nmethods = [\"chip-read\"]\nimages = [\"front\", \"back\"]",
      header + "methods = [\"chip-read\"]\nimages = []");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_CONTRADICTS_REQUIREMENTS");
  EXPECT_NE(error.message.find("document_procedures.foreign-pr.images"), std::string::npos) << error.message;
}

// REQ-05: the PRC ID card is checked by the reader or NCIIS, never from pictures of it.
TEST(RulePackLoader, PrcIdCheckedFromImagesIsRefusedREQ05) {
  const std::string text = replace_once(default_pack_text(), "methods = [\"chip-read\", \"nciis\"]",
                                        "methods = [\"chip-read\", \"document-image\"]");
  const Error error = parse_error(text);
  EXPECT_EQ(error.code, "RULEPACK_CONTRADICTS_REQUIREMENTS");
  EXPECT_NE(error.message.find("document_procedures.prc-id.methods"), std::string::npos) << error.message;
}

// The reviewer confirmation rests on an [I] reading: the pack may switch it off.
TEST(RulePackLoader, ReviewerConfirmationIsThePacksDecision) {
  const std::string text =
      replace_once(default_pack_text(), kTwPermitProcedure,
                   replace_once(kTwPermitProcedure, "reviewer_confirmation = true", "reviewer_confirmation = false"));
  const RulePack pack = testing::parse_or_fail(text);
  ASSERT_NE(pack.procedure(DocumentType::tw_permit), nullptr);
  EXPECT_FALSE(pack.procedure(DocumentType::tw_permit)->reviewer_confirmation);
}

TEST(RulePackLoader, UnreadableFileIsAnError) {
  auto loaded = load_rule_pack("no-such-folder/pack.toml", LoadMode::development, {});
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, "RULEPACK_UNREADABLE");
}

}  // namespace
}  // namespace kiosk::policy
