// `kioskctl policy` and `kioskctl rulepack`, called through their entry functions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kiosk/ctl/policy_command.hpp"
#include "policy_test_support.hpp"

#include "tests/support/command_run.hpp"

namespace kiosk::ctl {
namespace {

using policy::testing::generate_key;
using policy::testing::read_text;
using policy::testing::TempDir;
using policy::testing::write_text;

using kiosk::testing::CommandRun;

CommandRun policy(const std::vector<std::string>& args) {
  return kiosk::testing::run_command(run_policy_command, args);
}

CommandRun rulepack(const std::vector<std::string>& args) {
  return kiosk::testing::run_command(run_rulepack_command, args);
}

// requirements.md M1, transcribed by hand without its Basis column and markup.
constexpr const char* kM1Text =
    "| Channel | Investor | Medium | Apply | Renew | Freeze | Unfreeze | Reissue | Revoke |\n"
    "|---|---|---|---|---|---|---|---|---|\n"
    "| CTR | Natural person | Hard token | Y | Y | Y | Y | Y | Y |\n"
    "| CTR | Natural person | Soft | Y | Y | Y | Y | Y | Y |\n"
    "| CTR | Institution's agent | Hard token | Y | Y | Y | Y | Y | Y |\n"
    "| CTR | Institution's agent | Soft | Y | Y | Y | Y | Y | Y |\n"
    "| WIT | Natural person | Hard token | Y | Y | Y | Y | Y | Y |\n"
    "| WIT | Natural person | Soft | Y | Y | Y | Y | Y | Y |\n"
    "| WIT | Institution's agent | Hard token | Y | Y | Y | Y | Y | Y |\n"
    "| WIT | Institution's agent | Soft | Y | Y | Y | Y | Y | Y |\n"
    "| OTH | Natural person | Soft | Y | Y | Y | Y | Y | Y |\n"
    "| OTH | Natural person | Hard token | N | N | N | N | N | N |\n"
    "| OTH | Institution's agent | Hard token | N | N | N | N | N | N |\n"
    "| OTH | Institution's agent | Soft | N | N | N | N | N | N |\n";

TEST(PolicyCommand, MatrixOfTheDefaultPackReproducesM1) {
  const CommandRun run = policy({"matrix", "--rule-pack", KIOSK_TEST_DEFAULT_RULE_PACK});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, kM1Text);
}

TEST(PolicyCommand, MatrixWithoutRulePackReadsTheInstalledDefault) {
  EXPECT_TRUE(std::filesystem::exists(default_rule_pack_path())) << default_rule_pack_path();
  const CommandRun run = policy({"matrix"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, kM1Text);
}

TEST(PolicyCommand, CheckAllowedPrintsTheStepsAndExitsZero) {
  const CommandRun run = policy({"check", "--operation", "apply", "--channel", "witness", "--investor", "natural",
                                 "--medium", "hard", "--rule-pack", KIOSK_TEST_DEFAULT_RULE_PACK, "--json"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(
      run.out,
      "{\"allowed\":true,\"code\":null,\"mandatory_steps\":[\"consent\",\"terms\",\"idv\",\"witness_intro\","
      "\"identity_check\",\"form_capture\",\"witness_signing\",\"staff_countersign\",\"willingness\",\"review\","
      "\"issue\"],\"documents\":{"
      "\"prc-id\":{\"methods\":[\"chip-read\",\"nciis\"],\"images\":[],\"reviewer_confirmation\":false},"
      "\"hkmo-permit\":{\"methods\":[\"document-image\"],\"images\":[\"front\",\"back\"],"
      "\"reviewer_confirmation\":true},"
      "\"tw-permit\":{\"methods\":[\"document-image\"],\"images\":[\"front\",\"back\"],"
      "\"reviewer_confirmation\":true},"
      "\"foreign-pr\":{\"methods\":[\"chip-read\"],\"images\":[\"front\",\"back\"],\"reviewer_confirmation\":true},"
      "\"hkmotw-residence\":{\"methods\":[\"chip-read\"],\"images\":[\"front\",\"back\"],"
      "\"reviewer_confirmation\":true}}}\n");
}

TEST(PolicyCommand, CheckRefusedPrintsTheCodeAndExitsThree) {
  const CommandRun run = policy({"check", "--operation", "apply", "--channel", "other", "--investor", "natural",
                                 "--medium", "hard", "--rule-pack", KIOSK_TEST_DEFAULT_RULE_PACK, "--json"});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(run.out,
            "{\"allowed\":false,\"code\":\"CHANNEL_MEDIUM_NOT_ALLOWED\",\"mandatory_steps\":[],\"documents\":{}}\n");
}

TEST(PolicyCommand, CheckRefusesADocumentTypeREQ08) {
  const CommandRun run =
      policy({"check", "--operation", "apply", "--channel", "other", "--investor", "natural", "--medium", "soft",
              "--doc-type", "tw-permit", "--rule-pack", KIOSK_TEST_DEFAULT_RULE_PACK, "--json"});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(run.out,
            "{\"allowed\":false,\"code\":\"DOCUMENT_TYPE_NOT_ALLOWED\",\"mandatory_steps\":[],\"documents\":{}}\n");
}

// REQ-08: with a document named, check shows that document's verification procedure only.
TEST(PolicyCommand, CheckShowsTheDocumentsProcedureREQ08) {
  const CommandRun run =
      policy({"check", "--operation", "apply", "--channel", "counter", "--investor", "natural", "--medium", "hard",
              "--doc-type", "tw-permit", "--rule-pack", KIOSK_TEST_DEFAULT_RULE_PACK});
  EXPECT_EQ(run.code, 0) << run.err;
  const std::string expected =
      "identity document procedure:\n"
      "  tw-permit: document-image; images: front, back; reviewer confirms: yes\n";
  ASSERT_GE(run.out.size(), expected.size()) << run.out;
  EXPECT_EQ(run.out.substr(run.out.size() - expected.size()), expected) << run.out;

  const CommandRun remote = policy({"check", "--operation", "apply", "--channel", "other", "--investor", "natural",
                                    "--medium", "soft", "--rule-pack", KIOSK_TEST_DEFAULT_RULE_PACK});
  EXPECT_EQ(remote.code, 0) << remote.err;
  const std::string remote_documents =
      "identity documents accepted, and how each is verified:\n"
      "  prc-id: chip-read or nciis; images: none; reviewer confirms: no\n";
  ASSERT_GE(remote.out.size(), remote_documents.size()) << remote.out;
  EXPECT_EQ(remote.out.substr(remote.out.size() - remote_documents.size()), remote_documents) << remote.out;
}

TEST(PolicyCommand, CheckInTextExplainsTheRefusal) {
  const CommandRun run = policy({"check", "--operation", "renew", "--channel", "other", "--investor", "institution",
                                 "--medium", "soft", "--rule-pack", KIOSK_TEST_DEFAULT_RULE_PACK});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(run.out.rfind("refused: INVESTOR_TYPE_NOT_ALLOWED\n", 0), 0u) << run.out;
}

TEST(PolicyCommand, BadArgumentsExitTwo) {
  const std::vector<std::vector<std::string>> cases{
      {"check", "--operation", "fly", "--channel", "counter", "--investor", "natural", "--medium", "soft"},
      {"check", "--operation", "apply", "--channel", "counter", "--investor", "natural"},
      {"check", "--operation", "apply", "--channel", "kiosk", "--investor", "natural", "--medium", "soft"},
      {"check", "--operation", "apply", "--channel", "counter", "--investor", "natural", "--medium", "soft",
       "--doc-type", "passport"},
      {"check", "--operation", "apply", "--operation", "renew", "--channel", "counter", "--investor", "natural",
       "--medium", "soft"},
      {"check", "--colour", "red"},
      {"matrix", "--json"},
      {"audit"},
      {},
  };
  for (const auto& args : cases) {
    const CommandRun run = policy(args);
    EXPECT_EQ(run.code, 2) << (args.empty() ? "(none)" : args[0]);
    EXPECT_FALSE(run.err.empty());
  }
}

TEST(PolicyCommand, UnreadablePackExitsOneAndSaysWhy) {
  const CommandRun run = policy({"matrix", "--rule-pack", "no-such-folder/pack.toml"});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("RULEPACK_UNREADABLE"), std::string::npos) << run.err;
}

TEST(PolicyCommand, HelpExplainsTheCodesAndExitsZero) {
  const CommandRun run = policy({"--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_NE(run.out.find("CHANNEL_MEDIUM_NOT_ALLOWED"), std::string::npos);
  EXPECT_EQ(rulepack({"--help"}).code, 0);
}

TEST(RulepackCommand, SignThenVerifyThenDetectTampering) {
  const TempDir dir;
  const auto keys = generate_key();
  write_text(dir / "private.pem", keys.private_pem);
  write_text(dir / "public.pem", keys.public_pem);
  const auto pack = dir / "pack.toml";
  write_text(pack, read_text(KIOSK_TEST_DEFAULT_RULE_PACK));

  const CommandRun signed_run = rulepack({"sign", pack.string(), "--key", (dir / "private.pem").string()});
  ASSERT_EQ(signed_run.code, 0) << signed_run.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "pack.toml.sig"));

  const CommandRun verified = rulepack({"verify", pack.string(), "--public-key", (dir / "public.pem").string()});
  EXPECT_EQ(verified.code, 0) << verified.err;
  EXPECT_NE(verified.out.find("signature valid"), std::string::npos);
  EXPECT_NE(verified.out.find("RULEPACK_NO_FILING_REFERENCE"), std::string::npos);  // the default pack is unfiled

  write_text(pack, read_text(pack) + "\n");  // one byte more
  const CommandRun tampered = rulepack({"verify", pack.string(), "--public-key", (dir / "public.pem").string()});
  EXPECT_EQ(tampered.code, 1);
  EXPECT_NE(tampered.err.find("RULEPACK_BAD_SIGNATURE"), std::string::npos) << tampered.err;
}

TEST(RulepackCommand, VerifyWithoutSignatureFileFails) {
  const TempDir dir;
  const auto keys = generate_key();
  write_text(dir / "public.pem", keys.public_pem);
  const auto pack = dir / "pack.toml";
  write_text(pack, read_text(KIOSK_TEST_DEFAULT_RULE_PACK));
  const CommandRun run = rulepack({"verify", pack.string(), "--public-key", (dir / "public.pem").string()});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("RULEPACK_UNSIGNED"), std::string::npos);
}

TEST(RulepackCommand, SignRefusesAnInvalidPack) {
  const TempDir dir;
  const auto keys = generate_key();
  write_text(dir / "private.pem", keys.private_pem);
  write_text(dir / "pack.toml", "format_version = 1\n");
  const CommandRun run = rulepack({"sign", (dir / "pack.toml").string(), "--key", (dir / "private.pem").string()});
  EXPECT_EQ(run.code, 1);
  EXPECT_FALSE(std::filesystem::exists(dir / "pack.toml.sig"));
}

TEST(RulepackCommand, UsageErrorsExitTwo) {
  EXPECT_EQ(rulepack({"sign", "pack.toml"}).code, 2);
  EXPECT_EQ(rulepack({"verify", "pack.toml"}).code, 2);
  EXPECT_EQ(rulepack({"verify", "--public-key", "k.pem"}).code, 2);
  EXPECT_EQ(rulepack({"sign", "a", "b", "--key", "k.pem"}).code, 2);
  EXPECT_EQ(rulepack({"stamp"}).code, 2);
  EXPECT_EQ(rulepack({}).code, 2);
}

}  // namespace
}  // namespace kiosk::ctl
