// Policy evaluation against requirements.md, with the expected answers transcribed by hand from
// M1, M2 and M3 into the literals below (never read from the pack the code loads).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "kiosk/core/policy/policy.hpp"
#include "policy_test_support.hpp"

namespace kiosk::policy {
namespace {

using testing::default_pack;
using testing::default_pack_text;
using testing::parse_or_fail;
using testing::replace_once;

// requirements.md M1, row by row; columns Apply Renew Freeze Unfreeze Reissue Revoke.
struct M1Row {
  Channel channel;
  InvestorType investor;
  Medium medium;
  const char* cells;         // 'Y' or 'N' per column
  const char* refusal_code;  // the code every N cell of the row gives
};
constexpr std::array<Operation, 6> kM1Columns{Operation::apply,    Operation::renew,   Operation::freeze,
                                              Operation::unfreeze, Operation::reissue, Operation::revoke};
constexpr std::array<M1Row, 12> kM1{{
    {Channel::counter, InvestorType::natural, Medium::hard, "YYYYYY", ""},
    {Channel::counter, InvestorType::natural, Medium::soft, "YYYYYY", ""},
    {Channel::counter, InvestorType::institution, Medium::hard, "YYYYYY", ""},
    {Channel::counter, InvestorType::institution, Medium::soft, "YYYYYY", ""},
    {Channel::witness, InvestorType::natural, Medium::hard, "YYYYYY", ""},
    {Channel::witness, InvestorType::natural, Medium::soft, "YYYYYY", ""},
    {Channel::witness, InvestorType::institution, Medium::hard, "YYYYYY", ""},
    {Channel::witness, InvestorType::institution, Medium::soft, "YYYYYY", ""},
    {Channel::other, InvestorType::natural, Medium::soft, "YYYYYY", ""},
    {Channel::other, InvestorType::natural, Medium::hard, "NNNNNN", "CHANNEL_MEDIUM_NOT_ALLOWED"},
    {Channel::other, InvestorType::institution, Medium::hard, "NNNNNN", "INVESTOR_TYPE_NOT_ALLOWED"},
    {Channel::other, InvestorType::institution, Medium::soft, "NNNNNN", "INVESTOR_TYPE_NOT_ALLOWED"},
}};

TEST(PolicyM1, EveryOneOfThe72CellsMatchesRequirements) {
  const RulePack pack = default_pack();
  int cells = 0;
  for (const M1Row& row : kM1) {
    for (std::size_t column = 0; column < kM1Columns.size(); ++column) {
      const Operation op = kM1Columns[column];
      const PolicyDecision decision = evaluate(pack, PolicyQuery{op, row.channel, row.investor, row.medium, {}});
      const bool expected = row.cells[column] == 'Y';
      SCOPED_TRACE(std::string(to_string(op)) + " " + std::string(to_string(row.channel)) + " " +
                   std::string(to_string(row.investor)) + " " + std::string(to_string(row.medium)));
      EXPECT_EQ(decision.allowed, expected);
      if (expected) {
        EXPECT_TRUE(decision.code.empty());
        EXPECT_FALSE(decision.mandatory_steps.empty());
      } else {
        EXPECT_EQ(decision.code, row.refusal_code);
        EXPECT_TRUE(decision.mandatory_steps.empty());
      }
      ++cells;
    }
  }
  EXPECT_EQ(cells, 72);
}

// requirements.md M2 (mandatory rows only) as decided in kiosk/core/policy/README.md.
TEST(PolicyM2, MandatoryStepsPerChannelForANaturalPersonApplying) {
  const RulePack pack = default_pack();
  using S = StepId;
  const std::vector<StepId> counter{S::consent,           S::terms,  S::idv,  S::identity_check, S::form_capture,
                                    S::staff_countersign, S::review, S::issue};
  const std::vector<StepId> witness{S::consent,
                                    S::terms,
                                    S::idv,
                                    S::witness_intro,
                                    S::identity_check,
                                    S::form_capture,
                                    S::witness_signing,
                                    S::staff_countersign,
                                    S::willingness,
                                    S::review,
                                    S::issue};
  const std::vector<StepId> other{S::consent,      S::terms,       S::idv,    S::identity_check,
                                  S::form_capture, S::willingness, S::review, S::issue};
  auto steps = [&](Channel ch) {
    return evaluate(pack, PolicyQuery{Operation::apply, ch, InvestorType::natural, Medium::soft, {}}).mandatory_steps;
  };
  EXPECT_EQ(steps(Channel::counter), counter);
  EXPECT_EQ(steps(Channel::witness), witness);
  EXPECT_EQ(steps(Channel::other), other);
}

TEST(PolicyM2, InstitutionsAddTheirDocumentsBeforeTheFormE9) {
  const RulePack pack = default_pack();
  using S = StepId;
  const std::vector<StepId> expected{
      S::consent,           S::terms,  S::idv,  S::identity_check, S::institution_documents, S::form_capture,
      S::staff_countersign, S::review, S::issue};
  EXPECT_EQ(evaluate(pack, PolicyQuery{Operation::apply, Channel::counter, InvestorType::institution, Medium::hard, {}})
                .mandatory_steps,
            expected);
}

TEST(PolicyM3, RevokeAddsTheRecordedConfirmationBeforeReviewREQ37) {
  const RulePack pack = default_pack();
  using S = StepId;
  const std::vector<StepId> expected{
      S::consent, S::terms, S::idv, S::identity_check, S::form_capture, S::willingness, S::revocation_confirmation,
      S::review,  S::issue};
  EXPECT_EQ(evaluate(pack, PolicyQuery{Operation::revoke, Channel::other, InvestorType::natural, Medium::soft, {}})
                .mandatory_steps,
            expected);
  // Only revoke adds it.
  for (const Operation op : kAllOperations) {
    if (op == Operation::revoke) continue;
    const auto steps =
        evaluate(pack, PolicyQuery{op, Channel::other, InvestorType::natural, Medium::soft, {}}).mandatory_steps;
    EXPECT_EQ(std::count(steps.begin(), steps.end(), S::revocation_confirmation), 0) << to_string(op);
  }
}

// requirements.md M3 "before -> after", transcribed by hand.
TEST(PolicyM3, StateChangesAndReasonCodesPerOperation) {
  const RulePack pack = default_pack();
  using C = CertState;
  struct Expected {
    Operation op;
    bool from_none;
    std::vector<CertState> from;
    CertState to;
    std::optional<CertState> new_certificate;
    std::vector<std::string> reasons;
  };
  const std::vector<Expected> table{
      {Operation::apply, true, {}, C::pending_download, std::nullopt, {}},
      {Operation::renew, false, {C::active}, C::active, std::nullopt, {}},
      {Operation::freeze,
       false,
       {C::active},
       C::frozen,
       std::nullopt,
       {"LOST_MEDIUM", "SUSPECTED_COMPROMISE", "HOLDER_REQUEST", "OTHER"}},
      {Operation::unfreeze, false, {C::frozen}, C::active, std::nullopt, {}},
      {Operation::reissue, false, {C::active, C::frozen}, C::revoked, C::active, {"LOST", "DAMAGED", "LOCKED"}},
      {Operation::revoke, false, {C::active, C::frozen}, C::revoked, std::nullopt, {}},
  };
  for (const Expected& e : table) {
    const OperationRule& rule = pack.operation(e.op);
    SCOPED_TRACE(std::string(to_string(e.op)));
    EXPECT_EQ(rule.from_no_certificate, e.from_none);
    EXPECT_EQ(rule.from_states, e.from);
    EXPECT_EQ(rule.to_state, e.to);
    EXPECT_EQ(rule.new_certificate_state, e.new_certificate);
    EXPECT_EQ(rule.reason_codes, e.reasons);
  }
}

TEST(PolicySettings, IAndTbdItemsDefaultToTheStricterReading) {
  const RulePack pack = default_pack();
  EXPECT_FALSE(pack.settings.allow_duplicate_active_certificate);  // REQ-32
  EXPECT_EQ(pack.settings.evidence_retention_years, 20);           // REQ-42
  EXPECT_LT(pack.settings.recording_gap_threshold_seconds, 10);    // REQ-18: a 10 s drop must be caught
  EXPECT_FALSE(pack.settings.terms_version.empty());               // REQ-51
  EXPECT_EQ(pack.channel(Channel::other).documents, std::vector<DocumentType>{DocumentType::prc_id});  // REQ-08
}

// REQ-01: a channel or an operation that was not filed is refused.
TEST(PolicyReq01, ChannelNotFiledIsRefused) {
  std::string text =
      replace_once(default_pack_text(), R"(channels = ["counter", "witness", "other"])", R"(channels = ["counter"])");
  text =
      replace_once(text, "witness = [\"apply\", \"renew\", \"reissue\", \"freeze\", \"unfreeze\", \"revoke\"]\n", "");
  text = replace_once(text, "other = [\"apply\", \"renew\", \"reissue\", \"freeze\", \"unfreeze\", \"revoke\"]\n", "");
  const RulePack pack = parse_or_fail(text);
  const auto decision =
      evaluate(pack, PolicyQuery{Operation::apply, Channel::witness, InvestorType::natural, Medium::hard, {}});
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.code, "CHANNEL_NOT_FILED");
  EXPECT_TRUE(
      evaluate(pack, PolicyQuery{Operation::apply, Channel::counter, InvestorType::natural, Medium::hard, {}}).allowed);
  const auto declared = declare_channel(pack, KioskMode::attended_witness, true);
  ASSERT_FALSE(declared.has_value());
  EXPECT_EQ(declared.error().code, "CHANNEL_NOT_FILED");
}

TEST(PolicyReq01, OperationNotFiledIsRefusedWithTheReason) {
  std::string text =
      replace_once(default_pack_text(), R"(witness = ["apply", "renew", "reissue", "freeze", "unfreeze", "revoke"])",
                   R"(witness = ["apply", "renew", "reissue", "unfreeze", "revoke"])");
  text += "\n[not_supported.witness]\nfreeze = \"not filed in phase 1\"\n";
  const RulePack pack = parse_or_fail(text);
  const auto decision =
      evaluate(pack, PolicyQuery{Operation::freeze, Channel::witness, InvestorType::natural, Medium::hard, {}});
  EXPECT_EQ(decision.code, "OPERATION_NOT_FILED");
  EXPECT_NE(decision.reason.find("not filed in phase 1"), std::string::npos);
}

// REQ-08: documents other than the PRC ID are refused in the other-methods channel by default.
TEST(PolicyReq08, TaiwanPermitIsRefusedRemotelyButAcceptedAtTheCounter) {
  const RulePack pack = default_pack();
  const auto remote = evaluate(pack, PolicyQuery{Operation::apply, Channel::other, InvestorType::natural, Medium::soft,
                                                 DocumentType::tw_permit});
  EXPECT_FALSE(remote.allowed);
  EXPECT_EQ(remote.code, "DOCUMENT_TYPE_NOT_ALLOWED");
  for (const DocumentType doc : {DocumentType::hkmo_permit, DocumentType::foreign_pr, DocumentType::hkmotw_residence}) {
    EXPECT_EQ(
        evaluate(pack, PolicyQuery{Operation::renew, Channel::other, InvestorType::natural, Medium::soft, doc}).code,
        "DOCUMENT_TYPE_NOT_ALLOWED");
  }
  EXPECT_TRUE(evaluate(pack, PolicyQuery{Operation::apply, Channel::other, InvestorType::natural, Medium::soft,
                                         DocumentType::prc_id})
                  .allowed);
  EXPECT_TRUE(evaluate(pack, PolicyQuery{Operation::apply, Channel::counter, InvestorType::natural, Medium::soft,
                                         DocumentType::tw_permit})
                  .allowed);
}

// REQ-08: an allowed decision carries the channel's documents and their procedures for the
// transaction to copy; the remote one holds the PRC ID alone, a refusal holds none.
TEST(PolicyReq08, DecisionCarriesTheChannelsDocumentProcedures) {
  const RulePack pack = default_pack();
  const auto remote =
      evaluate(pack, PolicyQuery{Operation::apply, Channel::other, InvestorType::natural, Medium::soft, {}});
  ASSERT_TRUE(remote.allowed);
  ASSERT_EQ(remote.accepted_documents.size(), 1U);
  EXPECT_EQ(remote.accepted_documents.begin()->first, DocumentType::prc_id);
  const auto counter =
      evaluate(pack, PolicyQuery{Operation::apply, Channel::counter, InvestorType::natural, Medium::hard, {}});
  ASSERT_EQ(counter.accepted_documents.size(), 5U);
  const DocumentProcedure& permit = counter.accepted_documents.at(DocumentType::tw_permit);
  EXPECT_EQ(permit.methods, std::vector<VerificationMethod>{VerificationMethod::document_image});
  EXPECT_EQ(permit.images, (std::vector<DocumentSide>{DocumentSide::front, DocumentSide::back}));
  EXPECT_TRUE(permit.reviewer_confirmation);
  EXPECT_TRUE(evaluate(pack, PolicyQuery{Operation::apply, Channel::other, InvestorType::natural, Medium::hard, {}})
                  .accepted_documents.empty());
}

// REQ-23: the pack cannot allow issuing hard certificates or serving institutions remotely, and
// evaluate() refuses it even for a pack altered in memory after loading.
TEST(PolicyReq23, PackThatAllowsRemoteHardIssuingIsRefusedAtLoading) {
  // The first CHANNEL_MEDIUM_NOT_ALLOWED of the pack is matrix.other.natural.hard.apply.
  const std::string allowed =
      replace_once(default_pack_text(), "apply = \"CHANNEL_MEDIUM_NOT_ALLOWED\"", "apply = \"allow\"");
  auto pack = parse_rule_pack(allowed, "pack.toml");
  ASSERT_FALSE(pack.has_value());
  EXPECT_EQ(pack.error().code, "RULEPACK_CONTRADICTS_REQUIREMENTS");
  EXPECT_NE(pack.error().message.find("matrix.other.natural.hard.apply"), std::string::npos);
}

TEST(PolicyReq23, CodeRefusesRemoteHardAndInstitutionEvenIfThePackSaysAllow) {
  RulePack pack = default_pack();
  for (const Operation op : {Operation::apply, Operation::renew, Operation::reissue}) {
    pack.matrix[index_of(Channel::other)][index_of(InvestorType::natural)][index_of(Medium::hard)][index_of(op)] = {
        true, ""};
    pack.matrix[index_of(Channel::other)][index_of(InvestorType::institution)][index_of(Medium::soft)][index_of(op)] = {
        true, ""};
    EXPECT_EQ(evaluate(pack, PolicyQuery{op, Channel::other, InvestorType::natural, Medium::hard, {}}).code,
              "CHANNEL_MEDIUM_NOT_ALLOWED");
    EXPECT_EQ(evaluate(pack, PolicyQuery{op, Channel::other, InvestorType::institution, Medium::soft, {}}).code,
              "INVESTOR_TYPE_NOT_ALLOWED");
  }
}

// REQ-30: all 18 (operation, channel) pairs of the default pack resolve; a pack leaving one
// undefined does not load.
TEST(PolicyReq30, EveryOperationChannelPairResolves) {
  const RulePack pack = default_pack();
  int pairs = 0;
  for (const auto& [channel, name] : EnumNames<Channel>::values) {
    for (const Operation op : kAllOperations) {
      const ChannelRules& rules = pack.channel(channel);
      EXPECT_TRUE(rules.operation_filed[index_of(op)] || !rules.not_supported_reason[index_of(op)].empty());
      ++pairs;
    }
  }
  EXPECT_EQ(pairs, 18);
}

TEST(PolicyReq30, PackLeavingAPairUndefinedIsRefused) {
  const std::string text =
      replace_once(default_pack_text(), R"(other = ["apply", "renew", "reissue", "freeze", "unfreeze", "revoke"])",
                   R"(other = ["apply", "renew", "reissue", "freeze", "revoke"])");
  auto pack = parse_rule_pack(text, "pack.toml");
  ASSERT_FALSE(pack.has_value());
  EXPECT_EQ(pack.error().code, "RULEPACK_PAIR_UNDEFINED");
  EXPECT_NE(pack.error().message.find("'unfreeze'"), std::string::npos);
  EXPECT_NE(pack.error().message.find("filing.operations.other"), std::string::npos);
}

// REQ-49 (and REQ-20, REQ-22 for the witness channel): attended modes need on-site staff.
TEST(PolicyReq49, AttendedModesWithoutOnsiteStaffAreRefused) {
  const RulePack pack = default_pack();
  for (const KioskMode mode : {KioskMode::attended_counter, KioskMode::attended_witness}) {
    const auto declared = declare_channel(pack, mode, false);
    ASSERT_FALSE(declared.has_value()) << to_string(mode);
    EXPECT_EQ(declared.error().code, "ONSITE_STAFF_REQUIRED");
  }
  EXPECT_EQ(declare_channel(pack, KioskMode::attended_counter, true), Channel::counter);
  EXPECT_EQ(declare_channel(pack, KioskMode::attended_witness, true), Channel::witness);
  EXPECT_EQ(declare_channel(pack, KioskMode::remote, false), Channel::other);
}

// REQ-50: in the remote mode a hard certificate is never issued.
TEST(PolicyReq50, RemoteModeRefusesEveryHardTokenOperation) {
  const RulePack pack = default_pack();
  const auto channel = declare_channel(pack, KioskMode::remote, false);
  ASSERT_TRUE(channel.has_value());
  for (const Operation op : kAllOperations) {
    EXPECT_EQ(evaluate(pack, PolicyQuery{op, *channel, InvestorType::natural, Medium::hard, {}}).code,
              "CHANNEL_MEDIUM_NOT_ALLOWED")
        << to_string(op);
  }
}

}  // namespace
}  // namespace kiosk::policy
