// The Object Lock store's index of stored packages in PostgreSQL (libpq): one row per
// (device_id, package_id) in table evidence_packages, created on open if absent. Every statement is
// parameterised. Times are kept as the UTC text "YYYY-MM-DDTHH:MM:SS.mmmZ" in "C"-collated columns,
// so text order is time order and ORDER BY matches the byte order the embedded store uses.
//
// Error codes: EVIDENCE_INDEX_UNAVAILABLE (cannot connect; the message never repeats the conninfo,
// which may hold a password), EVIDENCE_INDEX_FAILED (a statement failed), EVIDENCE_CONFLICT.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"
#include "sync/gateway/evidence/evidence_store.hpp"

namespace kiosk::gateway::evidence {

class PostgresEvidenceIndex {
 public:
  // Connects and creates the table and its indexes if absent. One connection, used under a mutex;
  // it is reset once when a statement finds it broken (the server restarted).
  static Result<PostgresEvidenceIndex> open(const std::string& conninfo);
  PostgresEvidenceIndex(PostgresEvidenceIndex&&) noexcept;
  PostgresEvidenceIndex& operator=(PostgresEvidenceIndex&&) noexcept;
  ~PostgresEvidenceIndex();

  // INSERT .. ON CONFLICT DO NOTHING, then SELECT: returns the row now stored, which is `row` or the
  // one stored before with the same archive_sha256; EVIDENCE_CONFLICT when that one has another hash.
  Result<StoredPackage> insert_or_get(const StoredPackage& row);
  Result<std::optional<StoredPackage>> find(std::string_view device_id, std::string_view package_id);
  Result<std::vector<StoredPackage>> query(const PackageQuery& query);
  // False when there is no such row.
  Result<bool> set_legal_hold(std::string_view device_id, std::string_view package_id, bool hold);
  Result<bool> remove(std::string_view device_id, std::string_view package_id);
  Result<std::optional<std::string>> checkpoint_hash_at(std::string_view device_id, std::int64_t count);

 private:
  struct Impl;
  explicit PostgresEvidenceIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::gateway::evidence
