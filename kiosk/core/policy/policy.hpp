// Policy evaluation: may this operation be done here, for this investor, on this medium, with this
// identity document, and which evidence steps are then mandatory and in which order.
// The refusal codes form a closed set (README.md): callers may switch on them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/operation.hpp"
#include "kiosk/core/policy/rule_pack.hpp"

namespace kiosk::policy {

// The closed set of refusal codes of evaluate() and declare_channel().
inline constexpr std::string_view kChannelNotFiled = "CHANNEL_NOT_FILED";                   // REQ-01
inline constexpr std::string_view kOperationNotFiled = "OPERATION_NOT_FILED";               // REQ-01, REQ-30
inline constexpr std::string_view kChannelMediumNotAllowed = "CHANNEL_MEDIUM_NOT_ALLOWED";  // REQ-23, REQ-50
inline constexpr std::string_view kInvestorTypeNotAllowed = "INVESTOR_TYPE_NOT_ALLOWED";    // REQ-23
inline constexpr std::string_view kOperationNotAllowed = "OPERATION_NOT_ALLOWED";           // M1 cell says N
inline constexpr std::string_view kDocumentTypeNotAllowed = "DOCUMENT_TYPE_NOT_ALLOWED";    // REQ-08
inline constexpr std::string_view kOnsiteStaffRequired = "ONSITE_STAFF_REQUIRED";           // REQ-20, REQ-22, REQ-49

struct PolicyQuery {
  Operation operation = Operation::apply;
  Channel channel = Channel::counter;
  InvestorType investor = InvestorType::natural;
  Medium medium = Medium::soft;
  std::optional<DocumentType> document;  // not yet known before the ID is presented
};

struct PolicyDecision {
  bool allowed = false;
  std::string code;                     // empty when allowed, else one of the codes above
  std::string reason;                   // a sentence for staff and logs; never personal data
  std::vector<StepId> mandatory_steps;  // in order; empty when refused
  // REQ-08: the documents the channel accepts with their verification procedures, for the
  // transaction to copy when it opens (the document is not known before the ID is presented).
  // Empty when refused.
  AcceptedDocuments accepted_documents;
};

// Checks in this order, so the first failing rule names the refusal: channel filed, operation
// filed for the channel, the seed's hard rule for the other-methods channel (REQ-23, enforced here
// whatever the pack says), the M1 cell, the document type for the channel.
PolicyDecision evaluate(const RulePack& pack, const PolicyQuery& query);

// The channel's steps with the investor's and the operation's extra steps inserted (M2 + M3).
std::vector<StepId> mandatory_steps(const RulePack& pack, Operation operation, Channel channel, InvestorType investor);

// REQ-49: the channel a kiosk may declare in `mode`. Attended modes need a signed-in on-site staff
// member (ONSITE_STAFF_REQUIRED, REQ-20/22); the channel must be filed (CHANNEL_NOT_FILED).
Result<Channel> declare_channel(const RulePack& pack, KioskMode mode, bool onsite_staff_signed_in);

// The effective allowed matrix in requirements.md M1's shape and row order, "Y" or "N" per cell
// (a cell is Y only when evaluate() allows it).
std::string render_matrix_markdown(const RulePack& pack);

}  // namespace kiosk::policy
