// The durable evidence outbox (issue 6 items 2 and 5): one row per sealed evidence package in a
// SQLite database (WAL, synchronous=FULL) at <state_dir>/outbox/outbox.sqlite, the package
// directories beside it. A package moves
//   sealed -> uploading -> uploaded -> receipted -> purgeable -> purged
// (a failed upload goes back from uploading to sealed with a retry time); each move is one SQL
// transaction that returns only after COMMIT, and any other move is refused with
// OUTBOX_ILLEGAL_TRANSITION. A purged row is kept (with purged_at) after its files are deleted.
#pragma once

#include <array>
#include <chrono>
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
#include "kiosk/core/error.hpp"

namespace kiosk::outbox {

using EntryId = std::int64_t;

inline constexpr int kSchemaVersion = 1;
// Head-office receipts are small signed documents; anything bigger is refused, not stored.
inline constexpr std::size_t kMaxReceiptBytes = 64 * 1024;

enum class PackageState { sealed, uploading, uploaded, receipted, purgeable, purged };
inline constexpr std::size_t kPackageStateCount = 6;
std::string_view to_string(PackageState state);
std::optional<PackageState> parse_package_state(std::string_view text);
// The one state a successful operation moves `from` to, besides uploading -> sealed on failure.
std::optional<PackageState> forward_state(PackageState from);

// A sealed package as the packager hands it over. The outbox does not read its content.
struct PackageRef {
  std::string directory_name;    // a direct child of the outbox directory: [A-Za-z0-9._-], no leading '.'
  std::string package_id;        // [A-Za-z0-9._-], 1..64
  std::string transaction_id;    // [A-Za-z0-9._-], 1..64; one package per transaction
  std::uint64_t size_bytes = 0;  // bytes to upload
  std::string manifest_sha256;   // 64 lowercase hex digits
};

struct OutboxEntry {
  EntryId id = 0;
  PackageRef package;
  PackageState state = PackageState::sealed;
  TimePoint sealed_at;
  int attempts = 0;                          // failed upload attempts so far
  std::string last_error_code;               // of the last failure; empty when none
  std::optional<TimePoint> next_attempt_at;  // absent: due at once
  std::uint64_t server_offset = 0;           // bytes the server confirmed, to resume from
  std::optional<TimePoint> uploaded_at;
  std::vector<std::uint8_t> receipt;  // head office's signed receipt, as the caller verified it
  std::optional<TimePoint> receipted_at;
  std::optional<TimePoint> purged_at;
  bool legal_hold = false;
};

// Exponential backoff with full jitter: after a package's n-th failed attempt, the next attempt is
// due after a uniformly random delay in [0, min(cap, base * 2^(n-1))].
struct BackoffPolicy {
  std::chrono::milliseconds base{2'000};
  std::chrono::milliseconds cap{15 * 60'000};
};
// The upper bound min(cap, base * 2^failures_before), saturating instead of overflowing.
std::chrono::milliseconds backoff_bound(const BackoffPolicy& policy, int failures_before);
// A delay in [0, backoff_bound(policy, failures_before)] chosen by `random_value`.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int failures_before, std::uint64_t random_value);

enum class Durability {
  full,             // WAL + synchronous=FULL: what the kiosk runs
  unsafe_sync_off,  // synchronous=OFF; only for tests that prove the power-cut tests can fail
};

struct OutboxOptions {
  std::filesystem::path state_dir;  // the outbox lives in state_dir/outbox/
  BackoffPolicy backoff;
  int busy_timeout_ms = 5000;
  Durability durability = Durability::full;
  std::string sqlite_vfs;  // empty: SQLite's default VFS
  // The jitter's random source; empty: a generator seeded from std::random_device.
  std::function<std::uint64_t()> random;
};

struct EnqueueResult {
  OutboxEntry entry;
  // False when the transaction already had a package: the existing row is returned unchanged and
  // the caller's new package is not queued (the caller may delete its directory).
  bool newly_queued = true;
};

struct PurgedPackage {
  std::string package_id;
  std::string transaction_id;
  std::uint64_t size_bytes = 0;
  TimePoint receipted_at;
  TimePoint purged_at;
};

// Called once for each package about to be deleted, before its files go; an error stops the purge
// of that package (it stays purgeable and is tried again on the next purge_due). A crash between
// the callback and the end of the deletion repeats the callback: the audit trail may hold a purge
// twice, never zero times.
using AuditSink = std::function<Result<void>(const PurgedPackage&)>;

struct RecoveryReport {
  std::vector<std::string> returned_to_sealed;  // package ids whose upload was interrupted
  std::vector<std::string> missing_files;       // package ids (not purged) whose directory is gone
};

struct OutboxStats {
  std::array<std::uint64_t, kPackageStateCount> count_by_state{};  // indexed by PackageState
  std::optional<std::chrono::seconds> oldest_unsent_age;           // oldest sealed or uploading package
  std::uint64_t bytes_pending = 0;  // sealed and uploading packages: bytes the server does not have yet
  std::uint64_t legal_holds = 0;    // packages on legal hold, any state
  [[nodiscard]] std::uint64_t count(PackageState state) const {
    return count_by_state[static_cast<std::size_t>(state)];
  }
};

class Outbox {
 public:
  // Creates state_dir/outbox/ and the database if needed; refuses a newer schema.
  static Result<Outbox> open(const OutboxOptions& options);

  Outbox(Outbox&&) noexcept;
  Outbox& operator=(Outbox&&) noexcept;
  ~Outbox();

  [[nodiscard]] const std::filesystem::path& directory() const;  // where package directories go
  [[nodiscard]] std::filesystem::path package_path(const OutboxEntry& entry) const;

  // Queues a sealed package whose directory already exists in directory(). Idempotent per
  // transaction id: a second package for the same transaction is not queued (see EnqueueResult).
  Result<EnqueueResult> enqueue(const PackageRef& package, TimePoint now);

  // The oldest sealed package whose retry time has come, if any. Reads only.
  Result<std::optional<OutboxEntry>> next_due(TimePoint now) const;
  // The earliest time a sealed package becomes due, for the uploader to sleep until.
  Result<std::optional<TimePoint>> next_wake() const;

  // sealed -> uploading.
  Result<OutboxEntry> start_upload(EntryId id);
  // While uploading: the offset the server confirmed (0..size_bytes).
  Result<OutboxEntry> record_progress(EntryId id, std::uint64_t server_offset);
  // uploading -> sealed, attempts + 1, error_code kept, next attempt after a jittered backoff.
  Result<OutboxEntry> record_failure(EntryId id, std::string_view error_code, TimePoint now);
  // uploading -> uploaded (the server holds every byte).
  Result<OutboxEntry> mark_uploaded(EntryId id, TimePoint now);
  // uploaded -> receipted. The caller verified the receipt; the outbox stores it.
  Result<OutboxEntry> mark_receipted(EntryId id, std::span<const std::uint8_t> receipt_bytes, TimePoint now);

  // Deletes the local copy of every receipted package whose receipt is at least `local_retention`
  // old and that is not on legal hold (REQ-42, 43, 47): receipted -> purgeable, audit_sink, files
  // removed, -> purged. Also finishes purgeable packages an earlier run left. Returns what it purged.
  Result<std::vector<PurgedPackage>> purge_due(TimePoint now, std::chrono::seconds local_retention,
                                               const AuditSink& audit_sink);

  // Sets or clears the legal hold of a transaction's package (any state).
  Result<OutboxEntry> set_legal_hold(std::string_view transaction_id, bool hold);

  // Run once at start-up: uploading -> sealed (the server offset is kept for resume); packages
  // whose directory is missing are reported, never deleted.
  Result<RecoveryReport> recover();

  Result<OutboxEntry> entry(EntryId id) const;
  Result<std::optional<OutboxEntry>> find_by_transaction(std::string_view transaction_id) const;
  Result<std::vector<OutboxEntry>> entries() const;
  // The transaction id of every package ever queued (purged ones included), in one query.
  Result<std::vector<std::string>> queued_transaction_ids() const;
  Result<OutboxStats> stats(TimePoint now) const;
  // PRAGMA integrity_check, the schema version, and the row invariants (a purged or purgeable
  // package has a receipt; purged_at exactly on purged rows; offsets within size).
  Result<void> check_integrity() const;

 private:
  struct Impl;
  explicit Outbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::outbox
