// The gateway's embedded index (DATA/index.sqlite): staff accounts, enrolled devices, the record
// of NCIIS queries and the record of every evidence access (REQ-44).
// SQLite in WAL mode with synchronous=FULL so that an acknowledged write survives a power cut.
// Thread-safe: one connection guarded by a mutex (the gateway's write rate is tiny).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiosk/core/error.hpp"
#include "sync/gateway/pki.hpp"

namespace kiosk::gateway {

inline constexpr int kPasswordIterations = 200000;

// PBKDF2-HMAC-SHA256 with a per-user random salt; hex encoded for storage.
struct PasswordHash {
  std::string salt_hex;
  std::string hash_hex;
  int iterations = kPasswordIterations;
};

Result<PasswordHash> hash_password(std::string_view password, int iterations = kPasswordIterations);
// Constant-time comparison; false for a malformed stored hash.
bool verify_password(std::string_view password, const PasswordHash& stored);

bool is_valid_staff_id(std::string_view staff_id);
bool is_valid_role(std::string_view role);  // witness, operator, reviewer, inspector

struct StaffRecord {
  std::string staff_id;
  std::string display_name;
  std::string role;
  PasswordHash password;
};

// One row of nciis_queries. Holds no name and no ID number: the number is only present as a keyed
// hash (HMAC-SHA256 with the gateway's own secret), enough to find a person's queries again.
struct NciisQueryRecord {
  std::string request_id;
  std::string device_id;
  std::string transaction_id;
  std::string checked_at;
  std::string result;        // MATCH, MISMATCH, NOT_FOUND, ERROR
  std::string photo_sha256;  // empty when no photo came back
  std::string id_number_hmac;
  std::string error_code;  // ERROR only
};

// One row of evidence_access: who asked head office for evidence, what for, and the answer.
// `criteria` is JSON with any investor ID number replaced by its keyed hash: no personal data.
struct EvidenceAccessRecord {
  std::string at;           // UTC "YYYY-MM-DDTHH:MM:SS.mmmZ"
  std::string staff_id;     // empty when the caller was not signed in
  std::string role;         // empty when the caller was not signed in
  std::string action;       // search, archive, certificate
  std::string criteria;     // JSON object
  std::string result_code;  // OK or the error code answered
  std::int64_t count = 0;   // packages listed, or 1 for a delivered archive / certificate
};

class Store {
 public:
  // Opens (creating if needed) DATA/index.sqlite and its tables. STORAGE_OPEN_FAILED otherwise.
  static Result<Store> open(const std::filesystem::path& data_dir);
  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  // STAFF_EXISTS if the id is taken; STAFF_INVALID for a bad id, name, role or empty password.
  Result<void> add_staff(std::string_view staff_id, std::string_view display_name, std::string_view role,
                         std::string_view password);
  Result<std::optional<StaffRecord>> find_staff(std::string_view staff_id);
  Result<void> record_device(const EnrolledDevice& device);
  Result<std::int64_t> count_devices();
  // Durable (synchronous=FULL) before it returns. STORAGE_FAILED otherwise.
  Result<void> record_nciis_query(const NciisQueryRecord& record);
  // (device_id, transaction_id) of every NCIIS query made for this keyed hash of an ID number.
  Result<std::vector<std::pair<std::string, std::string>>> nciis_transactions_of(std::string_view id_number_hmac);
  // Durable before it returns. STORAGE_FAILED otherwise.
  Result<void> record_evidence_access(const EvidenceAccessRecord& record);
  // The PEM client certificate recorded with a complete upload (table `uploads`, written by the
  // upload store) of this device: of the package `package_id`, or with an empty package_id of the
  // device's newest upload. nullopt when none is recorded.
  Result<std::optional<std::string>> uploaded_device_certificate(std::string_view device_id,
                                                                 std::string_view package_id);
  // Every evidence_access row, oldest first (for audits and tests).
  Result<std::vector<EvidenceAccessRecord>> evidence_access_records();

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::gateway
