// The audit log (REQ-45, M2 E12): an append-only, hash-chained record of every staff action,
// configuration or rule-pack change, clock change and evidence event. Each entry's hash covers a
// length-prefixed encoding of all its fields and the previous entry's hash, so editing, deleting
// or reordering any entry breaks the chain, and verify() names the first entry where it breaks.
//
// Stored in SQLite: attach() creates the table in a database the caller owns, so a journal step
// and its audit entry can commit in one SQL transaction; open() manages a standalone file (WAL,
// synchronous=FULL). Callers pass only masked values: no names or full ID numbers in any field.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"

struct sqlite3;

namespace kiosk::audit {

// The documented set of audited actions. Stable identifiers: stored in every entry.
enum class AuditAction {
  staff_sign_in,
  staff_sign_out,
  staff_assigned,            // a staff member took a role in a transaction
  staff_assignment_refused,  // eligibility or conflict check refused it (REQ-12, REQ-16)
  staff_decision,            // witness confirmation, review passed/failed (REQ-27)
  staff_registry_loaded,     // a new head-office staff feed took effect
  config_changed,            // kiosk configuration changed
  rule_pack_loaded,          // a rule pack took effect (REQ-02)
  rule_pack_refused,         // unsigned, bad signature, no filing reference
  clock_changed,             // system time adjusted (the chain's times must stay explainable)
  evidence_recorded,         // an evidence file was stored with its SHA-256
  evidence_uploaded,         // head office acknowledged an evidence package
  evidence_deleted,          // a local copy removed after receipt and retention (REQ-43)
  certificate_operation,     // apply/renew/freeze/unfreeze/reissue/revoke at the CA
  transaction_refused,       // a transaction refused or aborted, with its code
};

// A new entry as a caller describes it. `actor_role` is a StaffRole name, or "system"/"investor".
struct AuditEvent {
  std::string actor_id;
  std::string actor_role;
  std::string kiosk_id;
  AuditAction action = AuditAction::staff_sign_in;
  std::string object;   // what was acted on: a transaction id, a certificate serial, a file name
  std::string result;   // "ok" or a stable refusal code
  std::string details;  // free text without personal data (mask before passing)
};

// An entry as stored: the event plus its place in the chain.
struct AuditEntry {
  std::int64_t sequence = 0;  // 1, 2, 3, ... without gaps
  std::string time_utc;       // ISO 8601 with milliseconds, from the injected clock
  std::string actor_id;
  std::string actor_role;
  std::string kiosk_id;
  std::string action;  // to_string(AuditAction)
  std::string object;
  std::string result;
  std::string details;
  std::string prev_hash;   // hex SHA-256 of the previous entry; kGenesisHash for the first
  std::string entry_hash;  // hex SHA-256 over entry_hash_input()
};

// A point in the chain worth remembering elsewhere (an evidence manifest, head office): a later
// verify() against it detects a truncated tail or a rewritten history.
struct Checkpoint {
  std::int64_t count = 0;  // entries 1..count
  std::string head_hash;   // entry_hash of entry `count`; kGenesisHash when count is 0
};

// The first place where the chain is broken.
struct ChainProblem {
  std::string code;  // AUDIT_ENTRY_ALTERED, AUDIT_ENTRY_MISSING, AUDIT_ENTRY_OUT_OF_ORDER, ...
  std::int64_t sequence = 0;
  std::string message;
};

struct VerifyReport {
  Checkpoint verified;                  // the entries that verified before any problem
  std::optional<ChainProblem> problem;  // empty when the whole chain (and checkpoint) verified
};

inline constexpr std::string_view kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

// The exact bytes hashed for an entry: a version tag, then every field as 8-byte big-endian length
// plus bytes, in a fixed order, ending with prev_hash. Public so that head office can re-verify.
std::string entry_hash_input(const AuditEntry& entry);
std::string compute_entry_hash(const AuditEntry& entry);

class AuditLog {
 public:
  // Uses `db` (owned by the caller, which must outlive this object) and creates the audit table
  // and its append-only triggers if they are missing.
  static Result<AuditLog> attach(sqlite3* db, const Clock& clock);
  // Opens or creates a standalone audit database with WAL and synchronous=FULL.
  static Result<AuditLog> open(const std::filesystem::path& path, const Clock& clock);
  // Verifies the log in an existing database file without writing to it (for `kioskctl audit
  // verify`). AUDIT_DB_UNREADABLE if the file is missing or not a database, AUDIT_NO_LOG if it
  // holds no audit table.
  static Result<VerifyReport> verify_file(const std::filesystem::path& path,
                                          const std::optional<Checkpoint>& expected = std::nullopt);

  AuditLog(AuditLog&&) noexcept;
  AuditLog& operator=(AuditLog&&) noexcept;
  ~AuditLog();

  // Appends one entry. Inside the caller's open SQL transaction it joins it (a savepoint: an
  // error undoes only this entry and the caller decides); otherwise it commits on its own.
  Result<AuditEntry> append(const AuditEvent& event);

  // Walks the chain from entry 1. With `expected`, also checks that the chain still contains that
  // checkpoint unchanged (AUDIT_TAIL_TRUNCATED, AUDIT_CHECKPOINT_MISMATCH). An Error only when the
  // database cannot be read; a broken chain is a report with a problem.
  [[nodiscard]] Result<VerifyReport> verify(const std::optional<Checkpoint>& expected = std::nullopt) const;

  [[nodiscard]] Result<Checkpoint> head() const;
  [[nodiscard]] Result<std::vector<AuditEntry>> entries() const;

 private:
  struct Owned;
  AuditLog(sqlite3* db, std::unique_ptr<Owned> owned, const Clock& clock);
  sqlite3* db_ = nullptr;
  std::unique_ptr<Owned> owned_;  // set when this object opened the database itself
  const Clock* clock_ = nullptr;
};

}  // namespace kiosk::audit

namespace kiosk {
template <>
struct EnumNames<audit::AuditAction> {
  using A = audit::AuditAction;
  static constexpr std::array values = std::to_array<std::pair<A, std::string_view>>({
      {A::staff_sign_in, "staff_sign_in"},
      {A::staff_sign_out, "staff_sign_out"},
      {A::staff_assigned, "staff_assigned"},
      {A::staff_assignment_refused, "staff_assignment_refused"},
      {A::staff_decision, "staff_decision"},
      {A::staff_registry_loaded, "staff_registry_loaded"},
      {A::config_changed, "config_changed"},
      {A::rule_pack_loaded, "rule_pack_loaded"},
      {A::rule_pack_refused, "rule_pack_refused"},
      {A::clock_changed, "clock_changed"},
      {A::evidence_recorded, "evidence_recorded"},
      {A::evidence_uploaded, "evidence_uploaded"},
      {A::evidence_deleted, "evidence_deleted"},
      {A::certificate_operation, "certificate_operation"},
      {A::transaction_refused, "transaction_refused"},
  });
};
}  // namespace kiosk
