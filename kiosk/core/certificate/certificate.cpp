#include "kiosk/core/certificate/certificate.hpp"

#include <algorithm>

#include "kiosk/core/log.hpp"

namespace kiosk::certificate {
namespace {

std::string normalised_id(std::string_view id_number) {
  std::string out(id_number);
  for (char& c : out) {
    if (c == 'x') c = 'X';  // the PRC ID check digit is written either way
  }
  return out;
}

void log_transition(const CertificateRecord& before, const CertificateRecord& after, std::string_view operation) {
  log::info("certificate_transition", {{"serial", after.serial},
                                       {"operation", std::string(operation)},
                                       {"from", std::string(to_string(before.state))},
                                       {"to", std::string(to_string(after.state))},
                                       {"subject", log::mask_id_number(after.subject.id_number)}});
}

template <class T>
Result<T> refused(Result<T> result, std::string_view serial, std::string_view operation) {
  if (!result) {
    log::info("certificate_operation_refused",
              {{"serial", std::string(serial)}, {"operation", std::string(operation)}, {"code", result.error().code}});
  }
  return result;
}

// The checks every lifecycle operation starts with: subject (REQ-38), then the transition table.
Result<CertState> admit(const CertificateRecord& record, const Requester& requester, Operation op, TimePoint now) {
  if (auto same = check_subject(record.subject, requester); !same) return std::unexpected(same.error());
  return next_state(effective_state(record, now), op);
}

Result<void> check_reason(std::string_view reason, std::span<const std::string> allowed, std::string_view op) {
  if (reason.empty()) {
    return fail("CERT_REASON_REQUIRED", std::string(op) + " needs a reason code; choose one from the rule pack's list");
  }
  if (std::find(allowed.begin(), allowed.end(), reason) == allowed.end()) {
    std::string list;
    for (const auto& code : allowed) list += (list.empty() ? "" : ", ") + code;
    return fail("CERT_REASON_UNKNOWN", "reason code '" + std::string(reason) + "' is not allowed for " +
                                           std::string(op) + "; allowed: " + (list.empty() ? "none configured" : list));
  }
  return {};
}

Result<void> check_successor(const CertificateRecord& old, std::string_view new_serial, TimePoint new_not_after,
                             TimePoint now) {
  if (new_serial.empty() || new_serial == old.serial) {
    return fail("CERT_SERIAL_INVALID", "the new certificate needs its own serial, different from " + old.serial);
  }
  if (new_not_after <= now) {
    return fail("CERT_VALIDITY_INVALID", "the new certificate's validity ends before it starts; check the CA reply");
  }
  return {};
}

Replacement make_replacement(const CertificateRecord& old, std::string_view reason, std::string_view new_serial,
                             Medium new_medium, TimePoint new_not_after) {
  Replacement out{old, old};
  out.retired.state = CertState::revoked;
  out.retired.freeze_reason.clear();
  out.retired.revocation_reason = std::string(reason);
  out.retired.replaced_by = std::string(new_serial);
  out.successor.serial = std::string(new_serial);
  out.successor.medium = new_medium;
  out.successor.state = CertState::active;
  out.successor.not_after = new_not_after;
  out.successor.freeze_reason.clear();
  out.successor.revocation_reason.clear();
  out.successor.replaced_by.clear();
  return out;
}

}  // namespace

CertState effective_state(const CertificateRecord& record, TimePoint now) {
  const bool live = record.state == CertState::active || record.state == CertState::frozen;
  if (live && now >= record.not_after) return CertState::expired;
  return record.state;
}

Result<CertState> next_state(CertState from, Operation op) {
  switch (op) {
    case Operation::renew:
      if (from == CertState::active) return CertState::active;
      break;
    case Operation::freeze:
      if (from == CertState::active) return CertState::frozen;
      break;
    case Operation::unfreeze:
      if (from == CertState::frozen) return CertState::active;
      break;
    case Operation::reissue:
    case Operation::revoke:
      if (from == CertState::active || from == CertState::frozen) return CertState::revoked;
      break;
    case Operation::apply: break;  // apply creates a certificate; it never acts on one
  }
  return fail("CERT_TRANSITION_NOT_ALLOWED",
              std::string(to_string(op)) + " is not allowed on a certificate in state " + std::string(to_string(from)));
}

Result<void> check_subject(const Subject& subject, const Requester& requester) {
  bool same = false;
  if (subject.investor_type == InvestorType::natural) {
    same = requester.investor_type == InvestorType::natural && requester.id_type == subject.id_type &&
           !requester.id_number.empty() && normalised_id(requester.id_number) == normalised_id(subject.id_number);
  } else {
    same = requester.investor_type == InvestorType::institution && !requester.credit_code.empty() &&
           normalised_id(requester.credit_code) == normalised_id(subject.id_number) && requester.agent_authorised &&
           !requester.id_number.empty();
  }
  if (!same) {
    return fail("CERT_SUBJECT_MISMATCH",
                subject.investor_type == InvestorType::natural
                    ? "the verified person is not this certificate's subject; only the holder may act on it"
                    : "the verified institution or its authorised agent does not match this certificate's subject");
  }
  return {};
}

Result<CertificateRecord> apply(const NewCertificate& request, const Requester& requester,
                                std::span<const CertificateRecord> subjects_certificates, const ApplyRules& rules,
                                TimePoint now) {
  auto outcome = [&]() -> Result<CertificateRecord> {
    if (auto same = check_subject(request.subject, requester); !same) return std::unexpected(same.error());
    if (request.serial.empty()) return fail("CERT_SERIAL_INVALID", "the new certificate has no serial");
    if (request.not_after <= now) {
      return fail("CERT_VALIDITY_INVALID", "the new certificate's validity ends before it starts; check the CA reply");
    }
    if (!rules.allow_second_live_certificate) {
      for (const CertificateRecord& existing : subjects_certificates) {
        const CertState state = effective_state(existing, now);
        const bool live =
            state == CertState::active || state == CertState::frozen || state == CertState::pending_download;
        const bool same_subject = existing.kind == request.kind &&
                                  existing.subject.investor_type == request.subject.investor_type &&
                                  normalised_id(existing.subject.id_number) == normalised_id(request.subject.id_number);
        if (live && same_subject) {
          return fail("CERT_DUPLICATE_LIVE", "the subject already holds live certificate " + existing.serial + " (" +
                                                 std::string(to_string(state)) +
                                                 "); renew, reissue or revoke it instead");
        }
      }
    }
    CertificateRecord record;
    record.serial = request.serial;
    record.subject = request.subject;
    record.kind = request.kind;
    record.medium = request.medium;
    record.not_after = request.not_after;
    // A soft certificate waits for the investor to download it with the authorisation code.
    record.state = request.medium == Medium::soft ? CertState::pending_download : CertState::active;
    return record;
  }();
  if (outcome) {
    log::info("certificate_transition", {{"serial", outcome->serial},
                                         {"operation", "apply"},
                                         {"from", "none"},
                                         {"to", std::string(to_string(outcome->state))},
                                         {"subject", log::mask_id_number(outcome->subject.id_number)}});
  }
  return refused(std::move(outcome), request.serial, "apply");
}

Result<CertificateRecord> confirm_download(const CertificateRecord& record, TimePoint now) {
  const CertState from = effective_state(record, now);
  if (from != CertState::pending_download) {
    return refused<CertificateRecord>(
        fail("CERT_TRANSITION_NOT_ALLOWED",
             "download is not allowed on a certificate in state " + std::string(to_string(from))),
        record.serial, "download");
  }
  if (now >= record.not_after) {
    return refused<CertificateRecord>(
        fail("CERT_EXPIRED", "certificate " + record.serial + " expired before it was downloaded; apply again"),
        record.serial, "download");
  }
  CertificateRecord after = record;
  after.state = CertState::active;
  log_transition(record, after, "download");
  return after;
}

Result<Replacement> renew(const CertificateRecord& record, const Requester& requester, std::string_view new_serial,
                          TimePoint new_not_after, const RenewalWindow& window, TimePoint now) {
  auto outcome = [&]() -> Result<Replacement> {
    if (auto admitted = admit(record, requester, Operation::renew, now); !admitted) {
      return std::unexpected(admitted.error());
    }
    if (now < record.not_after - window.before_expiry) {
      return fail("CERT_OUTSIDE_RENEWAL_WINDOW", "certificate " + record.serial + " can be renewed only in the last " +
                                                     std::to_string(window.before_expiry.count()) +
                                                     " days of its validity");
    }
    if (auto ok = check_successor(record, new_serial, new_not_after, now); !ok) return std::unexpected(ok.error());
    return make_replacement(record, kSupersededReason, new_serial, record.medium, new_not_after);
  }();
  if (outcome) {
    log_transition(record, outcome->retired, "renew");
    log_transition(record, outcome->successor, "renew");
  }
  return refused(std::move(outcome), record.serial, "renew");
}

Result<CertificateRecord> freeze(const CertificateRecord& record, const Requester& requester, std::string_view reason,
                                 std::span<const std::string> allowed_reasons, TimePoint now) {
  auto outcome = [&]() -> Result<CertificateRecord> {
    auto to = admit(record, requester, Operation::freeze, now);
    if (!to) return std::unexpected(to.error());
    if (auto ok = check_reason(reason, allowed_reasons, "freeze"); !ok) return std::unexpected(ok.error());
    CertificateRecord after = record;
    after.state = *to;
    after.freeze_reason = std::string(reason);
    return after;
  }();
  if (outcome) log_transition(record, *outcome, "freeze");
  return refused(std::move(outcome), record.serial, "freeze");
}

Result<CertificateRecord> unfreeze(const CertificateRecord& record, const Requester& requester, TimePoint now) {
  auto outcome = [&]() -> Result<CertificateRecord> {
    if (auto same = check_subject(record.subject, requester); !same) return std::unexpected(same.error());
    if (record.state == CertState::frozen && effective_state(record, now) == CertState::expired) {
      return fail("CERT_EXPIRED", "certificate " + record.serial + " expired while frozen; apply for a new one");
    }
    auto to = next_state(effective_state(record, now), Operation::unfreeze);
    if (!to) return std::unexpected(to.error());
    CertificateRecord after = record;
    after.state = *to;
    after.freeze_reason.clear();
    return after;
  }();
  if (outcome) log_transition(record, *outcome, "unfreeze");
  return refused(std::move(outcome), record.serial, "unfreeze");
}

Result<Replacement> reissue(const CertificateRecord& record, const Requester& requester, const ReissueRequest& request,
                            std::span<const std::string> allowed_reasons, TimePoint now) {
  auto outcome = [&]() -> Result<Replacement> {
    if (auto admitted = admit(record, requester, Operation::reissue, now); !admitted) {
      return std::unexpected(admitted.error());
    }
    if (auto ok = check_reason(request.reason, allowed_reasons, "reissue"); !ok) return std::unexpected(ok.error());
    if (auto ok = check_successor(record, request.new_serial, request.new_not_after, now); !ok) {
      return std::unexpected(ok.error());
    }
    return make_replacement(record, request.reason, request.new_serial, request.new_medium, request.new_not_after);
  }();
  if (outcome) {
    log_transition(record, outcome->retired, "reissue");
    log_transition(record, outcome->successor, "reissue");
  }
  return refused(std::move(outcome), record.serial, "reissue");
}

Result<CertificateRecord> revoke(const CertificateRecord& record, const Requester& requester, bool confirmed_final,
                                 TimePoint now) {
  auto outcome = [&]() -> Result<CertificateRecord> {
    auto to = admit(record, requester, Operation::revoke, now);
    if (!to) return std::unexpected(to.error());
    if (!confirmed_final) {
      return fail("CERT_REVOCATION_NOT_CONFIRMED",
                  "revocation is final; the investor must confirm that explicitly (recorded) before it is done");
    }
    CertificateRecord after = record;
    after.state = *to;
    after.freeze_reason.clear();
    after.revocation_reason = std::string(kHolderRevokedReason);
    return after;
  }();
  if (outcome) log_transition(record, *outcome, "revoke");
  return refused(std::move(outcome), record.serial, "revoke");
}

Result<void> CertificateBook::add(const CertificateRecord& record) {
  if (records_.contains(record.serial)) {
    return fail("CERT_SERIAL_DUPLICATE", "a certificate with serial " + record.serial + " is already recorded");
  }
  records_.emplace(record.serial, record);
  return {};
}

const CertificateRecord* CertificateBook::find(std::string_view serial) const {
  const auto found = records_.find(serial);
  return found != records_.end() ? &found->second : nullptr;
}

Result<Replacement> CertificateBook::commit(Result<Replacement> replacement) {
  if (!replacement) return replacement;
  // Every precondition is checked before the first change, so the two writes cannot half-happen.
  if (!records_.contains(replacement->retired.serial)) {
    return fail("CERT_UNKNOWN", "certificate " + replacement->retired.serial + " is not recorded");
  }
  if (records_.contains(replacement->successor.serial)) {
    return fail("CERT_SERIAL_DUPLICATE", "a certificate with serial " + replacement->successor.serial +
                                             " is already recorded; nothing was changed");
  }
  records_.insert_or_assign(replacement->retired.serial, replacement->retired);
  records_.emplace(replacement->successor.serial, replacement->successor);
  return replacement;
}

Result<Replacement> CertificateBook::reissue(std::string_view serial, const Requester& requester,
                                             const ReissueRequest& request,
                                             std::span<const std::string> allowed_reasons, TimePoint now) {
  const CertificateRecord* old = find(serial);
  if (old == nullptr) return fail("CERT_UNKNOWN", "certificate " + std::string(serial) + " is not recorded");
  return commit(certificate::reissue(*old, requester, request, allowed_reasons, now));
}

Result<Replacement> CertificateBook::renew(std::string_view serial, const Requester& requester,
                                           std::string_view new_serial, TimePoint new_not_after,
                                           const RenewalWindow& window, TimePoint now) {
  const CertificateRecord* old = find(serial);
  if (old == nullptr) return fail("CERT_UNKNOWN", "certificate " + std::string(serial) + " is not recorded");
  return commit(certificate::renew(*old, requester, new_serial, new_not_after, window, now));
}

}  // namespace kiosk::certificate
