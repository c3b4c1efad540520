// Where head office keeps verified evidence packages for the 20-year retention (REQ-41 to REQ-44),
// behind one interface with two implementations:
//   - EmbeddedEvidenceStore (embedded_store.hpp): the default; a content-addressed directory under
//     DATA/evidence/ (fsync-correct) and its index in DATA/index.sqlite;
//   - ObjectLockEvidenceStore (object_lock_store.hpp): the scale-out one; an S3-compatible bucket
//     with Object Lock in COMPLIANCE mode (retain-until per REQ-42) and a PostgreSQL index.
// The intake (evidence_intake.hpp) verifies a package before it calls put(); a store only keeps
// bytes and index rows, it never judges a package.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"

namespace kiosk::gateway::evidence {

// One verified package as the index knows it. Times are UTC "YYYY-MM-DDTHH:MM:SS.mmmZ".
struct StoredPackage {
  std::string device_id;       // CN of the uploading device's certificate (= manifest kiosk_id)
  std::string package_id;      // the manifest's package_id (32 lowercase hex)
  std::string transaction_id;  // "tx-NNNNNNNN": the kiosk's journal transaction
  std::string archive_sha256;  // SHA-256 of the uploaded archive (64 lowercase hex): the content address
  std::uint64_t archive_size = 0;
  std::string manifest_sha256;        // SHA-256 of manifest.json
  std::string operation;              // apply, renew, ... (the manifest's transaction.operation)
  std::string transaction_state;      // completed, aborted, refused, ...
  std::string closed_at;              // the transaction's close time (manifest)
  std::int64_t checkpoint_count = 0;  // the manifest's audit checkpoint
  std::string checkpoint_head_hash;
  std::string received_at;   // when head office stored it
  std::string retain_until;  // earliest deletion time (REQ-42), computed by the intake
  bool legal_hold = false;
  std::string
      object_ref;  // where the store keeps the bytes (embedded: path under DATA/evidence/; S3: "bucket/key#versionId")
};

struct PackageQuery {
  std::optional<std::string> device_id;
  std::optional<std::string> transaction_id;                             // with device_id, or across devices
  std::optional<std::string> closed_from;                                // inclusive, UTC text as above
  std::optional<std::string> closed_to;                                  // exclusive
  std::vector<std::pair<std::string, std::string>> device_transactions;  // (device_id, transaction_id) pairs
  std::size_t limit = 1000;
};

class EvidenceStore {
 public:
  virtual ~EvidenceStore() = default;

  // Human-readable kind for logs and receipts: "embedded" or "s3-object-lock".
  [[nodiscard]] virtual std::string_view kind() const = 0;

  // Stores the archive file's bytes (content-addressed by row.archive_sha256, which the caller has
  // verified) and then the index row. Idempotent: storing the same (device_id, package_id) with the
  // same archive_sha256 again returns the row already stored (with its original received_at and
  // object_ref) and writes nothing. The same (device_id, package_id) with another hash is
  // EVIDENCE_CONFLICT. EVIDENCE_STORE_FAILED when the bytes or the row could not be made durable;
  // nothing is indexed then. The returned row has object_ref filled in.
  virtual Result<StoredPackage> put(const std::filesystem::path& archive_file, const StoredPackage& row) = 0;

  // EVIDENCE_NOT_FOUND when there is no such row.
  virtual Result<StoredPackage> find(std::string_view device_id, std::string_view package_id) = 0;

  // Rows matching every given criterion, ordered by (device_id, transaction_id, package_id).
  virtual Result<std::vector<StoredPackage>> query(const PackageQuery& query) = 0;

  // Copies the stored archive to `destination` (created; temp -> fsync -> rename) and checks its
  // SHA-256 against the row (EVIDENCE_CORRUPT when it differs: the copy is removed).
  virtual Result<void> read_archive(const StoredPackage& row, const std::filesystem::path& destination) = 0;

  // Sets or clears a legal hold (REQ-47). EVIDENCE_NOT_FOUND.
  virtual Result<void> set_legal_hold(std::string_view device_id, std::string_view package_id, bool hold) = 0;

  // Deletes the bytes and the row. Refused before retain_until (EVIDENCE_RETENTION_ACTIVE) and under
  // a legal hold (EVIDENCE_LEGAL_HOLD), whatever the caller; `now` is UTC text as above.
  virtual Result<void> remove(std::string_view device_id, std::string_view package_id, std::string_view now) = 0;

  // The newest checkpoint this device has stored with the given count, if any: the intake uses it to
  // refuse a second, different head hash for the same count (a forked audit chain).
  virtual Result<std::optional<std::string>> checkpoint_hash_at(std::string_view device_id, std::int64_t count) = 0;
};

}  // namespace kiosk::gateway::evidence
