// ObjectLockEvidenceStore: the scale-out evidence store. Archive bytes go to an S3-compatible bucket
// with Object Lock (each object version in COMPLIANCE mode until the row's retain_until, so not even
// the storage admin can delete it early), the index rows to PostgreSQL (postgres_index.hpp).
//
// Object key: evidence/<device_id>/<package_id>/<archive_sha256>.csdcpkg.tar
// object_ref: "<bucket>/<key>#<versionId>" (the version is what the lock protects).
//
// put() writes the object first and the index row second. A crash between the two leaves a locked
// object that no row points to: harmless (it is the same bytes a retry stores again, under a new
// version) and it expires with its retention. The reverse order could index bytes that are not there.
//
// Codes beyond evidence_store.hpp: EVIDENCE_STORE_UNSAFE (the bucket has no Object Lock),
// EVIDENCE_STORE_CONFIG (a bad [evidence.s3] / [evidence.postgres] value), EVIDENCE_BAD_ROW (a row
// whose ids cannot form an object key, or a time not in the UTC text form), and from open() the S3_*
// codes of s3_client.hpp (e.g. S3_AUTH_FAILED for a wrong secret) and EVIDENCE_INDEX_UNAVAILABLE.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "kiosk/core/config_reader.hpp"
#include "kiosk/core/error.hpp"
#include "sync/gateway/evidence/evidence_store.hpp"
#include "sync/gateway/evidence/postgres_index.hpp"
#include "sync/gateway/evidence/s3_client.hpp"

namespace kiosk::gateway::evidence {

struct ObjectLockStoreConfig {
  std::string endpoint;  // https://host[:port]; http:// only for 127.0.0.1
  std::string region;
  std::string bucket;
  std::string access_key;
  std::filesystem::path secret_key_file;  // the secret is read from this file, never from the config
  std::string postgres_conninfo;          // libpq conninfo; may hold a password, so never logged
  std::filesystem::path ca_file;          // for an https endpoint; empty: the system trust store
};

// Reads [evidence.s3] endpoint, region (default "us-east-1"), bucket, access_key, secret_key_file,
// ca_file (optional) and [evidence.postgres] conninfo. EVIDENCE_STORE_CONFIG for a missing or bad
// value; the caller still runs check_no_unknown_keys() afterwards.
Result<ObjectLockStoreConfig> read_object_lock_store_config(ConfigReader& reader);

class ObjectLockEvidenceStore final : public EvidenceStore {
 public:
  // Reads the secret, creates the bucket with Object Lock if absent, refuses a bucket without Object
  // Lock (EVIDENCE_STORE_UNSAFE) and opens (creating) the index.
  static Result<std::unique_ptr<ObjectLockEvidenceStore>> open(const ObjectLockStoreConfig& config);

  [[nodiscard]] std::string_view kind() const override { return "s3-object-lock"; }
  Result<StoredPackage> put(const std::filesystem::path& archive_file, const StoredPackage& row) override;
  Result<StoredPackage> find(std::string_view device_id, std::string_view package_id) override;
  Result<std::vector<StoredPackage>> query(const PackageQuery& query) override;
  Result<void> read_archive(const StoredPackage& row, const std::filesystem::path& destination) override;
  Result<void> set_legal_hold(std::string_view device_id, std::string_view package_id, bool hold) override;
  Result<void> remove(std::string_view device_id, std::string_view package_id, std::string_view now) override;
  Result<std::optional<std::string>> checkpoint_hash_at(std::string_view device_id, std::int64_t count) override;

  // The object key of a row: evidence/<device_id>/<package_id>/<archive_sha256>.csdcpkg.tar
  static std::string object_key(const StoredPackage& row);

 private:
  ObjectLockEvidenceStore(std::string bucket, S3Client s3, PostgresEvidenceIndex index);

  std::string bucket_;
  S3Client s3_;
  PostgresEvidenceIndex index_;
};

}  // namespace kiosk::gateway::evidence
