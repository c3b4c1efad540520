// The journal: the kiosk's durable record of every transaction, its steps and the evidence files
// each step produced (ARCHITECTURE.md rule 1, issue 3 item 6). SQLite in WAL mode with
// synchronous=FULL; a step and the SHA-256 of its evidence are committed in one SQL transaction,
// after the evidence files themselves are durable, and commit_step() returns only after COMMIT.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/operation.hpp"

namespace kiosk::audit {
class AuditLog;
}

namespace kiosk::journal {

using TxId = std::int64_t;

// "tx-00000042": how a journal transaction is named outside the kiosk (its evidence package, the
// outbox, the NCIIS checks made for it), so head office can link them.
std::string evidence_transaction_id(TxId id);

// The schema version this build writes; a database with a higher PRAGMA user_version is refused.
inline constexpr int kSchemaVersion = 1;

// Transaction states are kiosk::TxState (domain.hpp), shared with the workflow.

// What is fixed when a transaction opens (REQ-02 rule-pack version, REQ-51 terms hash).
struct TransactionHeader {
  Operation operation = Operation::apply;
  Channel channel = Channel::counter;
  InvestorType investor_type = InvestorType::natural;
  Medium medium = Medium::hard;
  std::string kiosk_id;
  std::string rule_pack_version;
  std::string terms_version_hash;
};

// One workflow step as the workflow reports it. Steps done by the investor alone have no staff actor.
struct StepRecord {
  StepId step = StepId::consent;
  std::string actor_staff_id;           // empty when no staff member acted
  std::optional<StaffRole> actor_role;  // absent when no staff member acted
  TimePoint started_at;
  TimePoint ended_at;
  std::string result;  // stable outcome code of the step, e.g. "ok", "nciis_mismatch"
};

// One evidence item to store with a step: either bytes in memory or the content of a file.
// `kind` names what it is ("chip_photo", "form_image", ...): [a-z0-9_-], 1..40 characters.
struct EvidenceInput {
  std::string kind;
  std::span<const std::uint8_t> bytes;
  std::filesystem::path source_file;  // used instead of `bytes` when not empty

  static EvidenceInput from_bytes(std::string kind, std::span<const std::uint8_t> bytes) {
    return EvidenceInput{std::move(kind), bytes, {}};
  }
  static EvidenceInput from_file(std::string kind, std::filesystem::path file) {
    return EvidenceInput{std::move(kind), {}, std::move(file)};
  }
};

struct StoredEvidence {
  std::int64_t id = 0;
  std::string kind;
  std::string relative_path;  // relative to the evidence directory, '/'-separated
  std::uint64_t size = 0;
  std::string sha256_hex;
};

struct StoredStep {
  std::int64_t id = 0;
  TxId transaction_id = 0;
  int sequence = 0;  // 1, 2, ... within the transaction
  StepRecord record;
  std::vector<StoredEvidence> evidence;
};

struct TransactionRecord {
  TxId id = 0;
  TransactionHeader header;
  TxState state = TxState::open;
  std::string outcome_reason;  // reason code given at close or by recovery; empty while open
  TimePoint opened_at;
  std::optional<TimePoint> closed_at;
  std::vector<StoredStep> steps;
};

enum class DamageKind { missing_file, size_differs, hash_differs };
std::string_view to_string(DamageKind kind);

// A committed evidence row whose file is not what was committed. Reported, never repaired.
struct EvidenceDamage {
  TxId transaction_id = 0;
  std::int64_t step_id = 0;
  std::string relative_path;
  DamageKind kind = DamageKind::missing_file;
};

struct RecoveryReport {
  std::vector<TxId> aborted;                      // open transactions closed as aborted
  std::vector<TxId> resumed;                      // open transactions the resume hook kept open
  std::vector<std::string> removed_temp_files;    // relative paths
  std::vector<std::string> removed_orphan_files;  // final-named files no committed step referenced
  std::vector<EvidenceDamage> damage;
};

// Returns true to keep an open transaction open for the workflow to resume, false to abort it.
using ResumeDecision = std::function<bool(const TransactionRecord&)>;

enum class Durability {
  full,             // WAL + synchronous=FULL: what the kiosk runs
  unsafe_sync_off,  // synchronous=OFF; only for tests that prove the crash tests can fail
};

struct JournalOptions {
  std::filesystem::path database;
  std::filesystem::path evidence_dir;  // not needed when read_only
  const Clock* clock = nullptr;        // required unless read_only
  int busy_timeout_ms = 5000;
  bool read_only = false;  // inspection (kioskctl): no migration, no writes
  Durability durability = Durability::full;
  std::string sqlite_vfs;  // empty: SQLite's default VFS
};

class Journal {
 public:
  // Opens (creating if needed) and migrates the database to kSchemaVersion. Read-only opens
  // refuse a schema other than kSchemaVersion instead of migrating.
  static Result<Journal> open(const JournalOptions& options);

  Journal(Journal&&) noexcept;
  Journal& operator=(Journal&&) noexcept;
  ~Journal();

  Result<TxId> open_transaction(const TransactionHeader& header);
  // Writes every evidence item durably, then commits the step and its evidence rows in one SQL
  // transaction. Returns after COMMIT; on error nothing of the step is committed.
  Result<StoredStep> commit_step(TxId tx, const StepRecord& step, std::span<const EvidenceInput> evidence);
  // outcome is completed, refused or aborted; reason_code is a stable code, never personal data.
  Result<void> close_transaction(TxId tx, TxState outcome, std::string_view reason_code);

  Result<std::vector<TxId>> open_transactions() const;
  // Ids of every transaction that is no longer open, ascending (one query: the evidence sealer's
  // start-up check of which transactions still lack a package).
  Result<std::vector<TxId>> closed_transactions() const;
  Result<TransactionRecord> transaction(TxId tx) const;

  // Run once at start-up before any new transaction: each open transaction is aborted with
  // reason_code unless `resume` says to keep it; the evidence directory is reconciled with the
  // committed rows (temp files and unreferenced files removed, missing or altered files reported).
  Result<RecoveryReport> recover_on_start(std::string_view reason_code, const ResumeDecision& resume = {});

  // PRAGMA integrity_check and foreign_key_check, plus the schema version.
  Result<void> check_integrity() const;
  Result<int> schema_version() const;

  [[nodiscard]] const std::filesystem::path& evidence_dir() const;
  // The audit log kept in the journal's database: every committed step appends its evidence
  // (evidence_recorded) and its staff act (staff_decision) in the same SQL transaction, and every
  // refused or aborted transaction a transaction_refused entry. Null for a read-only journal.
  [[nodiscard]] const audit::AuditLog* audit_log() const;

 private:
  struct Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::journal
