// The vocabulary of the certificate business (requirements.md §3 glossary): channels, investor
// types, media, identity documents, kiosk modes, staff roles, certificate states and evidence
// steps. Every name here is a stable identifier: it appears in the rule pack, the journal, the
// audit log, the CLI and catalog keys, so it is never renamed once shipped.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace kiosk {

// 办理方式: 临柜 / 见证 / 其他方式 (REQ-01).
enum class Channel { counter, witness, other };
enum class InvestorType { natural, institution };  // natural person / institution's agent
enum class Medium { hard, soft };                  // USB token / key in the investor's own software
// Identity documents (REQ-05, REQ-08).
enum class DocumentType { prc_id, hkmo_permit, tw_permit, foreign_pr, hkmotw_residence };
// How a kiosk is operated (REQ-49, ARCHITECTURE.md "Kiosk modes").
enum class KioskMode { attended_counter, attended_witness, remote };
// 见证 / 经办 / 复核 / 现场工作人员. `operator_` because `operator` is a C++ keyword.
enum class StaffRole { witness, operator_, reviewer, onsite };
// Certificate states (REQ-31); expired is reached by time, never by an operation.
enum class CertState { pending_download, active, frozen, revoked, expired };

// Where a transaction stands; every state but `open` is final.
enum class TxState { open, completed, refused, aborted };

// Evidence steps of a transaction (requirements.md M2/M3 and REQ-39). The rule pack says which
// are mandatory for a channel and operation, and in which order.
enum class StepId {
  consent,                  // E14 separate consent to face and video capture (REQ-46)
  terms,                    // subscriber terms accepted with their version hash (REQ-51)
  idv,                      // E1 ID genuineness: chip read or NCIIS (REQ-05, REQ-09)
  witness_intro,            // E4 witness introduces themselves (REQ-14)
  identity_check,           // E2 expiry + live face against the ID photo, confirmed by staff (REQ-07, REQ-19)
  institution_documents,    // E9 business licence and power of attorney (REQ-10)
  form_capture,             // E3/E11 signed paper form imaged (REQ-20, REQ-40)
  witness_signing,          // E5 the witness watches the form being signed (REQ-19)
  staff_countersign,        // staff countersignature (REQ-21)
  willingness,              // E10 the investor states the operation they want (REQ-28)
  revocation_confirmation,  // revoke: explicit recorded statement that it is final (REQ-37)
  review,                   // E8 review by a second, different person (REQ-27)
  issue,                    // the certificate operation itself at the CA
};

// Name tables: one place per enum, used by to_string and parse_enum.
template <class E>
struct EnumNames;

#define KIOSK_ENUM_NAMES(Enum, ...)                                                                       \
  template <>                                                                                             \
  struct EnumNames<Enum> {                                                                                \
    static constexpr std::array values = std::to_array<std::pair<Enum, std::string_view>>({__VA_ARGS__}); \
  }

KIOSK_ENUM_NAMES(Channel, {Channel::counter, "counter"}, {Channel::witness, "witness"}, {Channel::other, "other"});
KIOSK_ENUM_NAMES(InvestorType, {InvestorType::natural, "natural"}, {InvestorType::institution, "institution"});
KIOSK_ENUM_NAMES(Medium, {Medium::hard, "hard"}, {Medium::soft, "soft"});
KIOSK_ENUM_NAMES(DocumentType, {DocumentType::prc_id, "prc-id"}, {DocumentType::hkmo_permit, "hkmo-permit"},
                 {DocumentType::tw_permit, "tw-permit"}, {DocumentType::foreign_pr, "foreign-pr"},
                 {DocumentType::hkmotw_residence, "hkmotw-residence"});
KIOSK_ENUM_NAMES(KioskMode, {KioskMode::attended_counter, "attended-counter"},
                 {KioskMode::attended_witness, "attended-witness"}, {KioskMode::remote, "remote"});
KIOSK_ENUM_NAMES(StaffRole, {StaffRole::witness, "witness"}, {StaffRole::operator_, "operator"},
                 {StaffRole::reviewer, "reviewer"}, {StaffRole::onsite, "onsite"});
KIOSK_ENUM_NAMES(CertState, {CertState::pending_download, "pending_download"}, {CertState::active, "active"},
                 {CertState::frozen, "frozen"}, {CertState::revoked, "revoked"}, {CertState::expired, "expired"});
KIOSK_ENUM_NAMES(TxState, {TxState::open, "open"}, {TxState::completed, "completed"}, {TxState::refused, "refused"},
                 {TxState::aborted, "aborted"});
KIOSK_ENUM_NAMES(StepId, {StepId::consent, "consent"}, {StepId::terms, "terms"}, {StepId::idv, "idv"},
                 {StepId::witness_intro, "witness_intro"}, {StepId::identity_check, "identity_check"},
                 {StepId::institution_documents, "institution_documents"}, {StepId::form_capture, "form_capture"},
                 {StepId::witness_signing, "witness_signing"}, {StepId::staff_countersign, "staff_countersign"},
                 {StepId::willingness, "willingness"}, {StepId::revocation_confirmation, "revocation_confirmation"},
                 {StepId::review, "review"}, {StepId::issue, "issue"});

#undef KIOSK_ENUM_NAMES

template <class E>
concept NamedEnum = requires {
  EnumNames<E>::values;
};

template <NamedEnum E>
constexpr std::string_view to_string(E value) {
  for (const auto& [candidate, name] : EnumNames<E>::values) {
    if (candidate == value) return name;
  }
  return "?";
}

template <NamedEnum E>
constexpr std::optional<E> parse_enum(std::string_view name) {
  for (const auto& [candidate, candidate_name] : EnumNames<E>::values) {
    if (candidate_name == name) return candidate;
  }
  return std::nullopt;
}

// The channel a kiosk mode declares (ARCHITECTURE.md, REQ-49).
constexpr Channel channel_of(KioskMode mode) {
  switch (mode) {
    case KioskMode::attended_counter: return Channel::counter;
    case KioskMode::attended_witness: return Channel::witness;
    case KioskMode::remote: return Channel::other;
  }
  return Channel::other;
}

}  // namespace kiosk
