#include "kiosk/core/policy/policy.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace kiosk::policy {

namespace {

PolicyDecision refuse(std::string_view code, std::string reason) {
  return PolicyDecision{false, std::string(code), std::move(reason), {}, {}};
}

void insert_before(std::vector<StepId>& steps, const StepInsertion& insertion) {
  if (insertion.steps.empty() || !insertion.before) return;
  auto at = std::find(steps.begin(), steps.end(), *insertion.before);
  steps.insert(at, insertion.steps.begin(), insertion.steps.end());
}

bool issues_certificate(Operation op) {
  return op == Operation::apply || op == Operation::renew || op == Operation::reissue;
}

std::string describe(const PolicyQuery& q) {
  return std::string(to_string(q.operation)) + " / " + std::string(to_string(q.channel)) + " / " +
         std::string(to_string(q.investor)) + " / " + std::string(to_string(q.medium));
}

}  // namespace

std::vector<StepId> mandatory_steps(const RulePack& pack, Operation operation, Channel channel, InvestorType investor) {
  std::vector<StepId> steps = pack.channel(channel).steps;
  insert_before(steps, pack.investor_steps[index_of(investor)]);
  insert_before(steps, pack.operation(operation).extra_steps);
  return steps;
}

PolicyDecision evaluate(const RulePack& pack, const PolicyQuery& query) {
  const ChannelRules& channel = pack.channel(query.channel);
  if (!channel.filed) {
    return refuse(kChannelNotFiled, "the " + std::string(to_string(query.channel)) +
                                        " channel was not filed with CSDC in rule pack " + pack.pack_version);
  }
  const std::size_t op = index_of(query.operation);
  if (!channel.operation_filed[op]) {
    const std::string& why = channel.not_supported_reason[op];
    return refuse(kOperationNotFiled, std::string(to_string(query.operation)) + " was not filed for the " +
                                          std::string(to_string(query.channel)) + " channel" +
                                          (why.empty() ? std::string() : ": " + why));
  }
  // REQ-23 is a rule of the seed, not of the pack: code refuses it even if a pack were edited.
  if (query.channel == Channel::other && issues_certificate(query.operation)) {
    if (query.investor == InvestorType::institution) {
      return refuse(kInvestorTypeNotAllowed,
                    "the other-methods channel serves natural persons only (REQ-23): " + describe(query));
    }
    if (query.medium == Medium::hard) {
      return refuse(kChannelMediumNotAllowed,
                    "the other-methods channel issues soft certificates only (REQ-23, REQ-50): " + describe(query));
    }
  }
  const MatrixCell& cell = pack.cell(query.operation, query.channel, query.investor, query.medium);
  if (!cell.allowed) {
    return refuse(cell.refusal_code, "rule pack " + pack.pack_version + " does not allow " + describe(query));
  }
  if (query.document) {
    const auto& allowed = channel.documents;
    if (std::find(allowed.begin(), allowed.end(), *query.document) == allowed.end()) {
      return refuse(kDocumentTypeNotAllowed, "the document type " + std::string(to_string(*query.document)) +
                                                 " is not accepted in the " + std::string(to_string(query.channel)) +
                                                 " channel (REQ-08); the investor can use it at a counter");
    }
  }
  return PolicyDecision{true, "", "allowed by rule pack " + pack.pack_version,
                        mandatory_steps(pack, query.operation, query.channel, query.investor),
                        pack.accepted_documents(query.channel)};
}

Result<Channel> declare_channel(const RulePack& pack, KioskMode mode, bool onsite_staff_signed_in) {
  const Channel channel = channel_of(mode);
  if (mode != KioskMode::remote && !onsite_staff_signed_in) {
    return fail(std::string(kOnsiteStaffRequired),
                "the " + std::string(to_string(mode)) +
                    " mode needs an on-site staff member signed in at this kiosk (REQ-20, REQ-22, REQ-49); "
                    "an unattended kiosk can only run the remote mode");
  }
  if (!pack.channel(channel).filed) {
    return fail(std::string(kChannelNotFiled), "the " + std::string(to_string(channel)) + " channel of the " +
                                                   std::string(to_string(mode)) + " mode was not filed in rule pack " +
                                                   pack.pack_version + " (REQ-01); this kiosk cannot run that mode");
  }
  return channel;
}

std::string render_matrix_markdown(const RulePack& pack) {
  struct Row {
    Channel channel;
    InvestorType investor;
    Medium medium;
    const char* label;
  };
  // requirements.md M1's rows, in its order (OTH lists soft before hard for natural persons).
  static constexpr std::array<Row, 12> rows{{
      {Channel::counter, InvestorType::natural, Medium::hard, "| CTR | Natural person | Hard token |"},
      {Channel::counter, InvestorType::natural, Medium::soft, "| CTR | Natural person | Soft |"},
      {Channel::counter, InvestorType::institution, Medium::hard, "| CTR | Institution's agent | Hard token |"},
      {Channel::counter, InvestorType::institution, Medium::soft, "| CTR | Institution's agent | Soft |"},
      {Channel::witness, InvestorType::natural, Medium::hard, "| WIT | Natural person | Hard token |"},
      {Channel::witness, InvestorType::natural, Medium::soft, "| WIT | Natural person | Soft |"},
      {Channel::witness, InvestorType::institution, Medium::hard, "| WIT | Institution's agent | Hard token |"},
      {Channel::witness, InvestorType::institution, Medium::soft, "| WIT | Institution's agent | Soft |"},
      {Channel::other, InvestorType::natural, Medium::soft, "| OTH | Natural person | Soft |"},
      {Channel::other, InvestorType::natural, Medium::hard, "| OTH | Natural person | Hard token |"},
      {Channel::other, InvestorType::institution, Medium::hard, "| OTH | Institution's agent | Hard token |"},
      {Channel::other, InvestorType::institution, Medium::soft, "| OTH | Institution's agent | Soft |"},
  }};
  static constexpr std::array<Operation, 6> columns{Operation::apply,    Operation::renew,   Operation::freeze,
                                                    Operation::unfreeze, Operation::reissue, Operation::revoke};
  std::string out =
      "| Channel | Investor | Medium | Apply | Renew | Freeze | Unfreeze | Reissue | Revoke |\n"
      "|---|---|---|---|---|---|---|---|---|\n";
  for (const Row& row : rows) {
    out += row.label;
    for (const Operation op : columns) {
      const bool allowed = evaluate(pack, PolicyQuery{op, row.channel, row.investor, row.medium, std::nullopt}).allowed;
      out += allowed ? " Y |" : " N |";
    }
    out += '\n';
  }
  return out;
}

}  // namespace kiosk::policy
