#include "sync/gateway/store.hpp"

#include "kiosk/core/time_text.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <ctime>
#include <mutex>
#include <utility>
#include <vector>

namespace kiosk::gateway {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

std::optional<std::vector<unsigned char>> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<unsigned char> bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = value(hex[i]);
    const int low = value(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes.push_back(static_cast<unsigned char>(high * 16 + low));
  }
  return bytes;
}

bool pbkdf2(std::string_view password, const std::vector<unsigned char>& salt, int iterations, unsigned char* out,
            std::size_t out_size) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                           static_cast<int>(salt.size()), iterations, EVP_sha256(), static_cast<int>(out_size),
                           out) == 1;
}

std::string utc_now_text() { return utc_iso8601(std::chrono::system_clock::now()); }

// Move-only owner of a prepared statement.
struct Statement {
  sqlite3_stmt* handle = nullptr;
  Statement() = default;
  Statement(Statement&& other) noexcept : handle(std::exchange(other.handle, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(handle); }
};

void bind_text(sqlite3_stmt* statement, int index, std::string_view text) {
  sqlite3_bind_text(statement, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* statement, int index) {
  const unsigned char* text = sqlite3_column_text(statement, index);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

}  // namespace

Result<PasswordHash> hash_password(std::string_view password, int iterations) {
  std::vector<unsigned char> salt(kSaltBytes);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return fail("RANDOM_UNAVAILABLE", "the system random generator failed");
  }
  unsigned char derived[kHashBytes];
  if (!pbkdf2(password, salt, iterations, derived, sizeof derived)) {
    return fail("PASSWORD_HASH_FAILED", "PBKDF2 failed");
  }
  return PasswordHash{hex_encode(salt.data(), salt.size()), hex_encode(derived, sizeof derived), iterations};
}

bool verify_password(std::string_view password, const PasswordHash& stored) {
  const auto salt = hex_decode(stored.salt_hex);
  const auto expected = hex_decode(stored.hash_hex);
  if (!salt || !expected || expected->size() != kHashBytes || stored.iterations < 1) return false;
  unsigned char derived[kHashBytes];
  if (!pbkdf2(password, *salt, stored.iterations, derived, sizeof derived)) return false;
  return CRYPTO_memcmp(derived, expected->data(), kHashBytes) == 0;
}

bool is_valid_staff_id(std::string_view staff_id) {
  if (staff_id.empty() || staff_id.size() > 32) return false;
  for (const char c : staff_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_valid_role(std::string_view role) {
  return role == "witness" || role == "operator" || role == "reviewer" || role == "inspector";
}

struct Store::Impl {
  sqlite3* db = nullptr;
  std::mutex mutex;
  ~Impl() { sqlite3_close_v2(db); }

  Result<void> exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message != nullptr ? message : sqlite3_errmsg(db);
      sqlite3_free(message);
      return fail("STORAGE_FAILED", "index database: " + text);
    }
    return {};
  }

  // Databases made before the inspector role (REQ-44) have a CHECK on staff.role without it; SQLite
  // cannot alter a CHECK, so the table is rebuilt with the same rows in one transaction.
  Result<void> allow_inspector_role() {
    std::string table_sql;
    {
      // Finalized before the rebuild: an open statement on the schema keeps DROP TABLE locked.
      auto statement = prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'staff'");
      if (!statement) return std::unexpected(statement.error());
      if (sqlite3_step(statement->handle) != SQLITE_ROW) {
        return fail("STORAGE_FAILED", "index database: no staff table");
      }
      table_sql = column_text(statement->handle, 0);
    }
    if (table_sql.find("'inspector'") != std::string::npos) return {};
    const char* rebuild =
        "BEGIN IMMEDIATE;"
        "CREATE TABLE staff_with_inspector ("
        "  staff_id TEXT PRIMARY KEY NOT NULL,"
        "  display_name TEXT NOT NULL,"
        "  role TEXT NOT NULL CHECK (role IN ('witness','operator','reviewer','inspector')),"
        "  password_salt TEXT NOT NULL,"
        "  password_hash TEXT NOT NULL,"
        "  password_iterations INTEGER NOT NULL,"
        "  created_at TEXT NOT NULL);"
        "INSERT INTO staff_with_inspector SELECT staff_id, display_name, role, password_salt, password_hash,"
        "  password_iterations, created_at FROM staff;"
        "DROP TABLE staff;"
        "ALTER TABLE staff_with_inspector RENAME TO staff;"
        "COMMIT;";
    if (auto rebuilt = exec(rebuild); !rebuilt) {
      (void)exec("ROLLBACK;");
      return rebuilt;
    }
    return {};
  }

  Result<Statement> prepare(const char* sql) {
    Statement statement;
    if (sqlite3_prepare_v2(db, sql, -1, &statement.handle, nullptr) != SQLITE_OK) {
      return fail("STORAGE_FAILED", std::string("index database: ") + sqlite3_errmsg(db));
    }
    return statement;
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

Result<Store> Store::open(const std::filesystem::path& data_dir) {
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    return fail("STORAGE_OPEN_FAILED", "cannot create data directory " + data_dir.string() + ": " + error.message());
  }
  const auto file = data_dir / "index.sqlite";
  auto impl = std::make_unique<Impl>();
  if (sqlite3_open_v2(file.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return fail("STORAGE_OPEN_FAILED", "cannot open " + file.string() + ": " +
                                           (impl->db != nullptr ? sqlite3_errmsg(impl->db) : "out of memory"));
  }
  // Password hashes live here: readable by the gateway's user only.
  ::chmod(file.c_str(), 0600);
  sqlite3_busy_timeout(impl->db, 5000);  // add-staff may run while the gateway serves
  const char* schema =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS staff ("
      "  staff_id TEXT PRIMARY KEY NOT NULL,"
      "  display_name TEXT NOT NULL,"
      "  role TEXT NOT NULL CHECK (role IN ('witness','operator','reviewer','inspector')),"
      "  password_salt TEXT NOT NULL,"
      "  password_hash TEXT NOT NULL,"
      "  password_iterations INTEGER NOT NULL,"
      "  created_at TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS devices ("
      "  device_id TEXT NOT NULL,"
      "  certificate_serial TEXT NOT NULL,"
      "  fingerprint_sha256 TEXT NOT NULL,"
      "  not_after INTEGER NOT NULL,"
      "  enrolled_at TEXT NOT NULL,"
      "  PRIMARY KEY (device_id, certificate_serial));"
      "CREATE TABLE IF NOT EXISTS nciis_queries ("
      "  request_id TEXT PRIMARY KEY NOT NULL,"
      "  device_id TEXT NOT NULL,"
      "  transaction_id TEXT NOT NULL,"
      "  checked_at TEXT NOT NULL,"
      "  result TEXT NOT NULL CHECK (result IN ('MATCH','MISMATCH','NOT_FOUND','ERROR')),"
      "  photo_sha256 TEXT NOT NULL,"
      "  id_number_hmac TEXT NOT NULL,"
      "  error_code TEXT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS nciis_queries_by_person ON nciis_queries (id_number_hmac);"
      "CREATE TABLE IF NOT EXISTS evidence_access ("
      "  at TEXT NOT NULL,"
      "  staff_id TEXT NOT NULL,"
      "  role TEXT NOT NULL,"
      "  action TEXT NOT NULL,"
      "  criteria TEXT NOT NULL,"
      "  result_code TEXT NOT NULL,"
      "  count INTEGER NOT NULL);";
  if (auto created = impl->exec(schema); !created) {
    return fail("STORAGE_OPEN_FAILED", file.string() + ": " + created.error().message);
  }
  if (auto migrated = impl->allow_inspector_role(); !migrated) {
    return fail("STORAGE_OPEN_FAILED", file.string() + ": " + migrated.error().message);
  }
  return Store(std::move(impl));
}

Result<void> Store::add_staff(std::string_view staff_id, std::string_view display_name, std::string_view role,
                              std::string_view password) {
  if (!is_valid_staff_id(staff_id)) {
    return fail("STAFF_INVALID", "staff id must be 1-32 letters, digits, '_' or '-' (for example W0001)");
  }
  if (display_name.empty() || display_name.size() > 128) {
    return fail("STAFF_INVALID", "the display name must be 1-128 bytes");
  }
  for (const char c : display_name) {
    if (static_cast<unsigned char>(c) < 0x20) return fail("STAFF_INVALID", "the display name has a control character");
  }
  if (!is_valid_role(role)) return fail("STAFF_INVALID", "role must be witness, operator, reviewer or inspector");
  if (password.empty()) return fail("STAFF_INVALID", "the password must not be empty");
  auto hashed = hash_password(password);
  if (!hashed) return std::unexpected(hashed.error());

  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->prepare(
      "INSERT INTO staff (staff_id, display_name, role, password_salt, password_hash, password_iterations, "
      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!statement) return std::unexpected(statement.error());
  sqlite3_stmt* s = statement->handle;
  bind_text(s, 1, staff_id);
  bind_text(s, 2, display_name);
  bind_text(s, 3, role);
  bind_text(s, 4, hashed->salt_hex);
  bind_text(s, 5, hashed->hash_hex);
  sqlite3_bind_int(s, 6, hashed->iterations);
  bind_text(s, 7, utc_now_text());
  const int step = sqlite3_step(s);
  if (step == SQLITE_CONSTRAINT) {
    return fail("STAFF_EXISTS", "staff id " + std::string(staff_id) + " already exists");
  }
  if (step != SQLITE_DONE) return fail("STORAGE_FAILED", std::string("index database: ") + sqlite3_errmsg(impl_->db));
  return {};
}

Result<std::optional<StaffRecord>> Store::find_staff(std::string_view staff_id) {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->prepare(
      "SELECT staff_id, display_name, role, password_salt, password_hash, password_iterations FROM staff "
      "WHERE staff_id = ?1");
  if (!statement) return std::unexpected(statement.error());
  sqlite3_stmt* s = statement->handle;
  bind_text(s, 1, staff_id);
  const int step = sqlite3_step(s);
  if (step == SQLITE_DONE) return std::optional<StaffRecord>();
  if (step != SQLITE_ROW) return fail("STORAGE_FAILED", std::string("index database: ") + sqlite3_errmsg(impl_->db));
  StaffRecord record{column_text(s, 0), column_text(s, 1), column_text(s, 2),
                     PasswordHash{column_text(s, 3), column_text(s, 4), sqlite3_column_int(s, 5)}};
  return std::optional<StaffRecord>(std::move(record));
}

Result<void> Store::record_device(const EnrolledDevice& device) {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->prepare(
      "INSERT INTO devices (device_id, certificate_serial, fingerprint_sha256, not_after, enrolled_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!statement) return std::unexpected(statement.error());
  sqlite3_stmt* s = statement->handle;
  bind_text(s, 1, device.device_id);
  bind_text(s, 2, device.serial_hex);
  bind_text(s, 3, device.fingerprint_sha256);
  sqlite3_bind_int64(s, 4, device.not_after_unix);
  bind_text(s, 5, utc_now_text());
  if (sqlite3_step(s) != SQLITE_DONE) {
    return fail("STORAGE_FAILED", std::string("cannot record the device: ") + sqlite3_errmsg(impl_->db));
  }
  return {};
}

Result<std::int64_t> Store::count_devices() {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->prepare("SELECT COUNT(*) FROM devices");
  if (!statement) return std::unexpected(statement.error());
  if (sqlite3_step(statement->handle) != SQLITE_ROW) {
    return fail("STORAGE_FAILED", std::string("index database: ") + sqlite3_errmsg(impl_->db));
  }
  return static_cast<std::int64_t>(sqlite3_column_int64(statement->handle, 0));
}

Result<void> Store::record_nciis_query(const NciisQueryRecord& record) {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->prepare(
      "INSERT INTO nciis_queries (request_id, device_id, transaction_id, checked_at, result, photo_sha256, "
      "id_number_hmac, error_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!statement) return std::unexpected(statement.error());
  sqlite3_stmt* s = statement->handle;
  bind_text(s, 1, record.request_id);
  bind_text(s, 2, record.device_id);
  bind_text(s, 3, record.transaction_id);
  bind_text(s, 4, record.checked_at);
  bind_text(s, 5, record.result);
  bind_text(s, 6, record.photo_sha256);
  bind_text(s, 7, record.id_number_hmac);
  bind_text(s, 8, record.error_code);
  if (sqlite3_step(s) != SQLITE_DONE) {
    return fail("STORAGE_FAILED", std::string("cannot record the NCIIS query: ") + sqlite3_errmsg(impl_->db));
  }
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> Store::nciis_transactions_of(std::string_view id_number_hmac) {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->prepare(
      "SELECT DISTINCT device_id, transaction_id FROM nciis_queries WHERE id_number_hmac = ?1 "
      "ORDER BY device_id, transaction_id");
  if (!statement) return std::unexpected(statement.error());
  sqlite3_stmt* s = statement->handle;
  bind_text(s, 1, id_number_hmac);
  std::vector<std::pair<std::string, std::string>> pairs;
  int step = SQLITE_ROW;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) pairs.emplace_back(column_text(s, 0), column_text(s, 1));
  if (step != SQLITE_DONE) return fail("STORAGE_FAILED", std::string("index database: ") + sqlite3_errmsg(impl_->db));
  return pairs;
}

Result<void> Store::record_evidence_access(const EvidenceAccessRecord& record) {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->prepare(
      "INSERT INTO evidence_access (at, staff_id, role, action, criteria, result_code, count) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!statement) return std::unexpected(statement.error());
  sqlite3_stmt* s = statement->handle;
  bind_text(s, 1, record.at);
  bind_text(s, 2, record.staff_id);
  bind_text(s, 3, record.role);
  bind_text(s, 4, record.action);
  bind_text(s, 5, record.criteria);
  bind_text(s, 6, record.result_code);
  sqlite3_bind_int64(s, 7, record.count);
  if (sqlite3_step(s) != SQLITE_DONE) {
    return fail("STORAGE_FAILED", std::string("cannot record the evidence access: ") + sqlite3_errmsg(impl_->db));
  }
  return {};
}

Result<std::optional<std::string>> Store::uploaded_device_certificate(std::string_view device_id,
                                                                      std::string_view package_id) {
  std::lock_guard lock(impl_->mutex);
  {
    // The upload store makes the table and its column; a gateway without uploads has none.
    auto column = impl_->prepare("SELECT 1 FROM pragma_table_info('uploads') WHERE name = 'device_certificate'");
    if (!column) return std::unexpected(column.error());
    const int step = sqlite3_step(column->handle);
    if (step == SQLITE_DONE) return std::optional<std::string>();
    if (step != SQLITE_ROW) return fail("STORAGE_FAILED", std::string("index database: ") + sqlite3_errmsg(impl_->db));
  }
  auto statement = impl_->prepare(
      "SELECT device_certificate FROM uploads WHERE device_id = ?1 AND state = 'complete' "
      "AND device_certificate != '' AND (?2 = '' OR package_id = ?2) ORDER BY completed_at DESC, rowid DESC LIMIT 1");
  if (!statement) return std::unexpected(statement.error());
  sqlite3_stmt* s = statement->handle;
  bind_text(s, 1, device_id);
  bind_text(s, 2, package_id);
  const int step = sqlite3_step(s);
  if (step == SQLITE_DONE) return std::optional<std::string>();
  if (step != SQLITE_ROW) return fail("STORAGE_FAILED", std::string("index database: ") + sqlite3_errmsg(impl_->db));
  return std::optional<std::string>(column_text(s, 0));
}

Result<std::vector<EvidenceAccessRecord>> Store::evidence_access_records() {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->prepare(
      "SELECT at, staff_id, role, action, criteria, result_code, count FROM evidence_access ORDER BY rowid");
  if (!statement) return std::unexpected(statement.error());
  sqlite3_stmt* s = statement->handle;
  std::vector<EvidenceAccessRecord> records;
  int step = SQLITE_ROW;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    records.push_back(EvidenceAccessRecord{column_text(s, 0), column_text(s, 1), column_text(s, 2), column_text(s, 3),
                                           column_text(s, 4), column_text(s, 5), sqlite3_column_int64(s, 6)});
  }
  if (step != SQLITE_DONE) return fail("STORAGE_FAILED", std::string("index database: ") + sqlite3_errmsg(impl_->db));
  return records;
}

}  // namespace kiosk::gateway
