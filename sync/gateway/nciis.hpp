// The gateway's relay to NCIIS (公民身份信息核查, the MPS citizen identity service): the adapter
// interface every back end implements, the embedded simulator, and NciisService, which asks the
// adapter and records every query durably (keyed hash of the ID number, never the number) before
// the answer goes back to the kiosk (REQ-05, REQ-06).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "kiosk/core/error.hpp"
#include "sync/gateway/gateway_config.hpp"
#include "sync/gateway/store.hpp"

namespace kiosk::gateway {

// 一致 / 不一致 / 库中无此号, plus ERROR when the service could not answer at all (outage,
// timeout). ERROR is not a verdict about the person: the kiosk may retry or use the card reader.
enum class NciisResult { match, mismatch, not_found, error };
std::string_view to_string(NciisResult result);  // "MATCH", "MISMATCH", "NOT_FOUND", "ERROR"

struct NciisQuery {
  std::string name;       // as on the ID card, UTF-8
  std::string id_number;  // 18 characters, GB 11643
};

struct NciisReply {
  NciisResult result = NciisResult::error;
  std::string request_id;            // made by the gateway, random; never derived from personal data
  std::string checked_at;            // UTC ISO 8601
  std::optional<std::string> photo;  // the registered photo (raw bytes), on MATCH only
  std::string error_code;            // ERROR only: why the service did not answer
  std::string error_message;         // ERROR only
};

// One implementation per NCIIS back end. check() answers every well-formed query with a reply
// (ERROR included); it fails only when it cannot even make a reply (e.g. no random request id).
class NciisAdapter {
 public:
  virtual ~NciisAdapter() = default;
  virtual Result<NciisReply> check(const NciisQuery& query) = 0;
};

// 17 digits and a check character (0-9 or X) that is right under ISO 7064 MOD 11-2.
bool is_valid_citizen_id_number(std::string_view id_number);
inline constexpr std::size_t kMaxNciisNameBytes = 64;
// 1-64 bytes of well-formed UTF-8 (no overlong forms, no surrogates) without control characters.
bool is_valid_nciis_name(std::string_view name);
// 32 random lowercase hex digits.
Result<std::string> new_nciis_request_id();

// The embedded default back end. Fixtures are TOML:
//   [[person]]
//   id_number = "11010519491231002X"   # fictional, but with a valid check character
//   name = "测试一"
//   photo_file = "photos/a.jpg"        # optional, relative to the fixtures file, at most 256 KiB
//   outcome = "normal"                 # or "service-error" (every query for it answers ERROR)
// Rules: unknown number → NOT_FOUND; same name → MATCH (+ photo); other name → MISMATCH;
// outcome service-error → ERROR. Fixture errors (NCIIS_FIXTURES_INVALID) name file, line and key.
class SimulatedNciis final : public NciisAdapter {
 public:
  static constexpr std::size_t kMaxPhotoBytes = 256 * 1024;

  static Result<std::unique_ptr<SimulatedNciis>> from_file(const std::filesystem::path& file);
  // Photo files resolve against `base_dir`; with an empty base_dir a photo_file is refused.
  static Result<std::unique_ptr<SimulatedNciis>> from_text(std::string_view text, std::string source_name,
                                                           std::filesystem::path base_dir);
  // The fixtures compiled into the binary (sync/gateway/nciis_fixtures.toml).
  static Result<std::unique_ptr<SimulatedNciis>> embedded_default();

  Result<NciisReply> check(const NciisQuery& query) override;
  [[nodiscard]] std::size_t person_count() const { return people_.size(); }

  struct Person {
    std::string name;
    std::optional<std::string> photo;
    bool service_error = false;
  };

 private:
  explicit SimulatedNciis(std::unordered_map<std::string, Person> people) : people_(std::move(people)) {}
  std::unordered_map<std::string, Person> people_;  // keyed by ID number; read-only after load
};

// The text of sync/gateway/nciis_fixtures.toml, embedded at build time.
std::string_view embedded_nciis_fixtures();

// The back end named by [nciis]: "simulator" with its fixtures (or the embedded default).
// NCIIS_BACKEND_UNSUPPORTED for any other name.
Result<std::unique_ptr<NciisAdapter>> make_nciis_adapter(const GatewayConfig& config);

// DATA/nciis-hmac.key: 32 random bytes made on first start (mode 0600), the key of the hash that
// stands in for ID numbers in nciis_queries. Kept outside index.sqlite so a copy of the database
// alone does not allow guessing numbers back from their hashes.
Result<std::string> load_or_create_nciis_hmac_key(const std::filesystem::path& data_dir);
// HMAC-SHA256(key, id_number), hex.
std::string id_number_hmac_hex(std::string_view key, std::string_view id_number);

// Asks the adapter and records the query before returning, so no kiosk holds an answer the gateway
// has no record of. Thread-safe when the adapter is (the simulator is read-only).
class NciisService {
 public:
  NciisService(std::unique_ptr<NciisAdapter> adapter, Store& store, std::string hmac_key);

  // STORAGE_FAILED when the record cannot be written (then no answer is given);
  // RANDOM_UNAVAILABLE when no request id can be made.
  Result<NciisReply> check_and_record(const NciisQuery& query, std::string_view device_id,
                                      std::string_view transaction_id);

 private:
  std::unique_ptr<NciisAdapter> adapter_;
  Store& store_;
  std::string hmac_key_;
};

std::string sha256_hex_of(std::string_view bytes);
std::string base64_encode(std::string_view bytes);

}  // namespace kiosk::gateway
