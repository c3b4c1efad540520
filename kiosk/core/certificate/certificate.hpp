// Certificate states and their lifecycle (REQ-31..38, requirements.md M3). Pure functions: each
// takes a record and returns the record(s) after the operation, or a refusal with a stable code;
// nothing changes on a refusal. Every lifecycle operation first checks that the verified person is
// the certificate's subject (REQ-38), then the transition table, then the operation's own rules.
//
//   apply      none -> pending_download (soft) | active (hard)
//   download   pending_download -> active
//   renew      active -> active (new serial; the old one is revoked as SUPERSEDED), in the window
//   freeze     active -> frozen, with a reason code from the rule pack's set
//   unfreeze   frozen -> active, if not expired
//   reissue    active | frozen -> old revoked + new active, as one unit, with a reason code
//   revoke     active | frozen -> revoked (terminal), with explicit confirmation
//   (time)     active | frozen -> expired once not_after has passed
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/operation.hpp"

namespace kiosk::certificate {

// 个人 / 企业 / 企业员工 certificates.
enum class SubjectKind { person, enterprise, enterprise_staff };

struct Subject {
  InvestorType investor_type = InvestorType::natural;
  DocumentType id_type = DocumentType::prc_id;  // natural persons: the identity document type
  std::string id_number;                        // natural: ID number; institution: unified social credit code
};

struct CertificateRecord {
  std::string serial;
  Subject subject;
  SubjectKind kind = SubjectKind::person;
  Medium medium = Medium::soft;
  CertState state = CertState::pending_download;
  TimePoint not_after{};
  std::string freeze_reason;      // while frozen
  std::string revocation_reason;  // once revoked: a reissue reason, "SUPERSEDED" or "HOLDER_REVOKED"
  std::string replaced_by;        // serial of the successor after renew or reissue
};

// Who the identity check verified at the kiosk (REQ-05, REQ-10).
struct Requester {
  InvestorType investor_type = InvestorType::natural;
  DocumentType id_type = DocumentType::prc_id;  // of the person present (investor or agent)
  std::string id_number;                        // of the person present
  std::string credit_code;                      // institutions: the verified unified social credit code
  bool agent_authorised = false;                // institutions: a current power of attorney was checked
};

inline constexpr std::string_view kSupersededReason = "SUPERSEDED";
inline constexpr std::string_view kHolderRevokedReason = "HOLDER_REVOKED";

// The state time has made of a record: active or frozen become expired once not_after is reached.
CertState effective_state(const CertificateRecord& record, TimePoint now);

// The transition table for lifecycle operations on an existing certificate: the state after
// `op` from `from` (for reissue: the old certificate's state), or CERT_TRANSITION_NOT_ALLOWED
// naming both. Apply never acts on an existing certificate.
Result<CertState> next_state(CertState from, Operation op);

// REQ-38: CERT_SUBJECT_MISMATCH unless the requester is the subject (natural persons: same
// document type and number; institutions: same credit code and an authorised agent).
Result<void> check_subject(const Subject& subject, const Requester& requester);

struct NewCertificate {
  std::string serial;
  Subject subject;
  SubjectKind kind = SubjectKind::person;
  Medium medium = Medium::soft;
  TimePoint not_after{};
};

// REQ-32: a second live certificate of the same kind for the same subject is refused
// (CERT_DUPLICATE_LIVE) unless the rule pack allows it (TBD-CSDC).
struct ApplyRules {
  bool allow_second_live_certificate = false;
};

Result<CertificateRecord> apply(const NewCertificate& request, const Requester& requester,
                                std::span<const CertificateRecord> subjects_certificates, const ApplyRules& rules,
                                TimePoint now);
Result<CertificateRecord> confirm_download(const CertificateRecord& record, TimePoint now);

// The renewal window is a rule-pack setting: renewal is allowed from `before_expiry` before
// not_after until not_after (REQ-33).
struct RenewalWindow {
  std::chrono::days before_expiry{30};
};

// An operation that retires one certificate and creates its successor; both or neither.
struct Replacement {
  CertificateRecord retired;    // revoked, replaced_by = successor's serial
  CertificateRecord successor;  // active
};

Result<Replacement> renew(const CertificateRecord& record, const Requester& requester, std::string_view new_serial,
                          TimePoint new_not_after, const RenewalWindow& window, TimePoint now);
Result<CertificateRecord> freeze(const CertificateRecord& record, const Requester& requester, std::string_view reason,
                                 std::span<const std::string> allowed_reasons, TimePoint now);
Result<CertificateRecord> unfreeze(const CertificateRecord& record, const Requester& requester, TimePoint now);

struct ReissueRequest {
  std::string reason;  // lost, damaged, locked: from the rule pack's set
  std::string new_serial;
  Medium new_medium = Medium::hard;
  TimePoint new_not_after{};
};
Result<Replacement> reissue(const CertificateRecord& record, const Requester& requester, const ReissueRequest& request,
                            std::span<const std::string> allowed_reasons, TimePoint now);
// `confirmed_final`: the investor's recorded statement that revocation cannot be undone (REQ-37).
Result<CertificateRecord> revoke(const CertificateRecord& record, const Requester& requester, bool confirmed_final,
                                 TimePoint now);

// The kiosk's view of the certificates it has handled, keyed by serial. Replacements are applied
// as one unit: if any part cannot be applied, nothing changes (REQ-36).
class CertificateBook {
 public:
  Result<void> add(const CertificateRecord& record);  // CERT_SERIAL_DUPLICATE
  [[nodiscard]] const CertificateRecord* find(std::string_view serial) const;
  [[nodiscard]] std::size_t size() const { return records_.size(); }

  Result<Replacement> reissue(std::string_view serial, const Requester& requester, const ReissueRequest& request,
                              std::span<const std::string> allowed_reasons, TimePoint now);
  Result<Replacement> renew(std::string_view serial, const Requester& requester, std::string_view new_serial,
                            TimePoint new_not_after, const RenewalWindow& window, TimePoint now);

 private:
  Result<Replacement> commit(Result<Replacement> replacement);
  std::map<std::string, CertificateRecord, std::less<>> records_;
};

}  // namespace kiosk::certificate

namespace kiosk {
template <>
struct EnumNames<certificate::SubjectKind> {
  using T = certificate::SubjectKind;
  static constexpr std::array values = std::to_array<std::pair<T, std::string_view>>({
      {T::person, "person"},
      {T::enterprise, "enterprise"},
      {T::enterprise_staff, "enterprise_staff"},
  });
};
}  // namespace kiosk
