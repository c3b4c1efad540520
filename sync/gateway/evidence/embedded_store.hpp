// The default evidence store (evidence_store.hpp): archives in a content-addressed directory,
// DATA/evidence/objects/<first two hex digits>/<archive sha256> (mode 0400, written to a temporary
// name, fsynced, renamed, directories fsynced), and one row per package in the table
// `evidence_packages` of DATA/index.sqlite (WAL, synchronous=FULL, unique (device_id, package_id)).
// Thread-safe.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sync/gateway/evidence/evidence_store.hpp"

namespace kiosk::gateway::evidence {

inline constexpr std::string_view kEmbeddedStoreKind = "embedded";

class EmbeddedEvidenceStore final : public EvidenceStore {
 public:
  // Creates DATA/evidence/objects and the index table when missing. EVIDENCE_STORE_FAILED.
  static Result<std::unique_ptr<EmbeddedEvidenceStore>> open(const std::filesystem::path& data_dir);
  ~EmbeddedEvidenceStore() override;
  EmbeddedEvidenceStore(const EmbeddedEvidenceStore&) = delete;
  EmbeddedEvidenceStore& operator=(const EmbeddedEvidenceStore&) = delete;

  [[nodiscard]] std::string_view kind() const override { return kEmbeddedStoreKind; }
  Result<StoredPackage> put(const std::filesystem::path& archive_file, const StoredPackage& row) override;
  Result<StoredPackage> find(std::string_view device_id, std::string_view package_id) override;
  Result<std::vector<StoredPackage>> query(const PackageQuery& query) override;
  Result<void> read_archive(const StoredPackage& row, const std::filesystem::path& destination) override;
  Result<void> set_legal_hold(std::string_view device_id, std::string_view package_id, bool hold) override;
  Result<void> remove(std::string_view device_id, std::string_view package_id, std::string_view now) override;
  Result<std::optional<std::string>> checkpoint_hash_at(std::string_view device_id, std::int64_t count) override;

  // Rows whose retain_until is at or before `now` and that are not on legal hold, oldest first, at
  // most `limit`: what the scheduled purge (REQ-47, `gateway evidence-purge`) may delete.
  Result<std::vector<StoredPackage>> due_for_purge(std::string_view now, std::size_t limit);

  // DATA/evidence/objects/<aa>/<sha256> of an archive hash (which must be 64 lowercase hex digits).
  [[nodiscard]] std::filesystem::path object_path(std::string_view archive_sha256) const;

 private:
  struct Impl;
  explicit EmbeddedEvidenceStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::gateway::evidence
