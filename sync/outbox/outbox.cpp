#include "sync/outbox/outbox.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <utility>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/log.hpp"

namespace kiosk::outbox {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDatabaseName = "outbox.sqlite";

constexpr std::array<std::string_view, kPackageStateCount> kStateNames{"sealed",    "uploading", "uploaded",
                                                                       "receipted", "purgeable", "purged"};

std::int64_t to_millis(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

TimePoint from_millis(std::int64_t millis) {
  return TimePoint{std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds{millis})};
}

std::unexpected<Error> sql_failure(sqlite3* db, std::string_view what) {
  return fail("OUTBOX_DB_ERROR", std::string(what) + " failed: " + sqlite3_errmsg(db) +
                                     "; check the disk and the outbox database's permissions");
}

// One prepared statement, finalized on scope exit. Parameters are bound in order with add().
class Query {
 public:
  Query(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &handle_, nullptr) != SQLITE_OK) handle_ = nullptr;
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() { sqlite3_finalize(handle_); }

  [[nodiscard]] bool prepared() const { return handle_ != nullptr; }

  Query& add(std::int64_t value) {
    sqlite3_bind_int64(handle_, ++next_parameter_, value);
    return *this;
  }
  Query& add(std::string_view text) {
    sqlite3_bind_text(handle_, ++next_parameter_, text.empty() ? "" : text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Query& add(std::span<const std::uint8_t> blob) {
    sqlite3_bind_blob(handle_, ++next_parameter_, blob.empty() ? "" : static_cast<const void*>(blob.data()),
                      static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Query& add(std::optional<TimePoint> time) {
    if (time) return add(to_millis(*time));
    sqlite3_bind_null(handle_, ++next_parameter_);
    return *this;
  }

  // true: a row is ready; false: done.
  Result<bool> step(std::string_view what) {
    if (handle_ == nullptr) return sql_failure(db_, what);
    const int code = sqlite3_step(handle_);
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    return sql_failure(db_, what);
  }
  Result<void> execute(std::string_view what) {
    auto stepped = step(what);
    if (!stepped) return std::unexpected(stepped.error());
    return {};
  }

  [[nodiscard]] std::int64_t integer(int column) const { return sqlite3_column_int64(handle_, column); }
  [[nodiscard]] bool null(int column) const { return sqlite3_column_type(handle_, column) == SQLITE_NULL; }
  [[nodiscard]] std::optional<TimePoint> time(int column) const {
    if (null(column)) return std::nullopt;
    return from_millis(integer(column));
  }
  [[nodiscard]] std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(handle_, column));
    return data == nullptr ? std::string()
                           : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(handle_, column)));
  }
  [[nodiscard]] std::vector<std::uint8_t> blob(int column) const {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(handle_, column));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(handle_, column));
    return data == nullptr ? std::vector<std::uint8_t>() : std::vector<std::uint8_t>(data, data + size);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* handle_ = nullptr;
  int next_parameter_ = 0;
};

Result<void> run_sql(sqlite3* db, const char* sql, std::string_view what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return sql_failure(db, what);
  return {};
}

// BEGIN IMMEDIATE on construction; rolled back unless commit() succeeded.
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db) : db_(db) {}
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  ~WriteTransaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Result<void> begin() {
    auto begun = run_sql(db_, "BEGIN IMMEDIATE", "starting an outbox transaction");
    open_ = begun.has_value();
    return begun;
  }
  Result<void> commit() {
    auto committed = run_sql(db_, "COMMIT", "committing an outbox transaction");
    if (committed) open_ = false;
    return committed;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

constexpr const char* kSchema = R"sql(
CREATE TABLE packages (
  id INTEGER PRIMARY KEY,
  transaction_id TEXT NOT NULL UNIQUE,
  package_id TEXT NOT NULL UNIQUE,
  directory_name TEXT NOT NULL UNIQUE,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  manifest_sha256 TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('sealed', 'uploading', 'uploaded', 'receipted', 'purgeable', 'purged')),
  sealed_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error_code TEXT NOT NULL DEFAULT '',
  next_attempt_at INTEGER,
  server_offset INTEGER NOT NULL DEFAULT 0 CHECK (server_offset >= 0 AND server_offset <= size_bytes),
  uploaded_at INTEGER,
  receipt BLOB,
  receipted_at INTEGER,
  purged_at INTEGER,
  legal_hold INTEGER NOT NULL DEFAULT 0 CHECK (legal_hold IN (0, 1))
);
CREATE INDEX packages_by_state ON packages (state, sealed_at, id);
PRAGMA user_version = 1;
)sql";

constexpr const char* kColumns =
    "id, transaction_id, package_id, directory_name, size_bytes, manifest_sha256, state, sealed_at, attempts, "
    "last_error_code, next_attempt_at, server_offset, uploaded_at, receipt, receipted_at, purged_at, legal_hold";

std::string select_sql(std::string_view tail) {
  return std::string("SELECT ") + kColumns + " FROM packages " + std::string(tail);
}

Result<OutboxEntry> entry_from(const Query& row) {
  OutboxEntry entry;
  entry.id = row.integer(0);
  entry.package.transaction_id = row.text(1);
  entry.package.package_id = row.text(2);
  entry.package.directory_name = row.text(3);
  entry.package.size_bytes = static_cast<std::uint64_t>(row.integer(4));
  entry.package.manifest_sha256 = row.text(5);
  const auto state = parse_package_state(row.text(6));
  if (!state) return fail("OUTBOX_CORRUPT_ROW", "outbox row " + std::to_string(entry.id) + " has an unknown state");
  entry.state = *state;
  entry.sealed_at = from_millis(row.integer(7));
  entry.attempts = static_cast<int>(row.integer(8));
  entry.last_error_code = row.text(9);
  entry.next_attempt_at = row.time(10);
  entry.server_offset = static_cast<std::uint64_t>(row.integer(11));
  entry.uploaded_at = row.time(12);
  entry.receipt = row.blob(13);
  entry.receipted_at = row.time(14);
  entry.purged_at = row.time(15);
  entry.legal_hold = row.integer(16) != 0;
  return entry;
}

bool is_name_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

bool is_name(std::string_view text, std::size_t max_size) {
  return !text.empty() && text.size() <= max_size && std::all_of(text.begin(), text.end(), is_name_character);
}

Result<void> check_package(const PackageRef& package) {
  // Purge deletes this directory: it must be a plain child of the outbox directory, never a path
  // that reaches elsewhere, and never the database or its WAL.
  const std::string_view dir = package.directory_name;
  if (!is_name(dir, 128) || dir.front() == '.' || dir.starts_with(kDatabaseName)) {
    return fail("OUTBOX_BAD_PACKAGE",
                "a package directory name has 1 to 128 letters, digits, '_', '-' or '.', does not start with '.' "
                "and is not the outbox database");
  }
  if (!is_name(package.package_id, 64)) {
    return fail("OUTBOX_BAD_PACKAGE", "a package id has 1 to 64 letters, digits, '_', '-' or '.'");
  }
  if (!is_name(package.transaction_id, 64)) {
    return fail("OUTBOX_BAD_PACKAGE", "a transaction id has 1 to 64 letters, digits, '_', '-' or '.'");
  }
  const auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  if (package.manifest_sha256.size() != 64 ||
      !std::all_of(package.manifest_sha256.begin(), package.manifest_sha256.end(), is_hex)) {
    return fail("OUTBOX_BAD_PACKAGE", "the manifest SHA-256 must be 64 lowercase hex digits");
  }
  if (package.size_bytes > static_cast<std::uint64_t>(INT64_MAX)) {
    return fail("OUTBOX_BAD_PACKAGE", "the package size is out of range");
  }
  return {};
}

std::string describe_states(std::initializer_list<PackageState> states) {
  std::string text;
  for (const PackageState state : states) {
    if (!text.empty()) text += " or ";
    text += to_string(state);
  }
  return text;
}

}  // namespace

std::string_view to_string(PackageState state) { return kStateNames[static_cast<std::size_t>(state)]; }

std::optional<PackageState> parse_package_state(std::string_view text) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == text) return static_cast<PackageState>(i);
  }
  return std::nullopt;
}

std::optional<PackageState> forward_state(PackageState from) {
  if (from == PackageState::purged) return std::nullopt;
  return static_cast<PackageState>(static_cast<std::size_t>(from) + 1);
}

std::chrono::milliseconds backoff_bound(const BackoffPolicy& policy, int failures_before) {
  const std::int64_t base = std::max<std::int64_t>(policy.base.count(), 0);
  const std::int64_t cap = std::max<std::int64_t>(policy.cap.count(), 0);
  std::int64_t bound = base;
  // Doubling stops at the cap, so the product never overflows however many failures there were.
  for (int i = 0; i < failures_before && bound < cap; ++i) bound = bound > cap / 2 ? cap : bound * 2;
  return std::chrono::milliseconds{std::min(bound, cap)};
}

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int failures_before, std::uint64_t random_value) {
  const auto bound = static_cast<std::uint64_t>(backoff_bound(policy, failures_before).count());
  return std::chrono::milliseconds{static_cast<std::int64_t>(random_value % (bound + 1))};
}

struct Outbox::Impl {
  sqlite3* db = nullptr;
  fs::path directory;
  BackoffPolicy backoff;
  std::function<std::uint64_t()> random;

  ~Impl() {
    if (db != nullptr) sqlite3_close_v2(db);
  }

  Result<std::optional<OutboxEntry>> load_where(const std::string& tail, const std::function<void(Query&)>& bind,
                                                std::string_view what) const {
    const std::string sql = select_sql(tail);
    Query query(db, sql.c_str());
    bind(query);
    auto row = query.step(what);
    if (!row) return std::unexpected(row.error());
    if (!*row) return std::optional<OutboxEntry>{};
    auto entry = entry_from(query);
    if (!entry) return std::unexpected(entry.error());
    return std::optional<OutboxEntry>{std::move(*entry)};
  }

  Result<std::vector<OutboxEntry>> load_all(const std::string& tail, const std::function<void(Query&)>& bind,
                                            std::string_view what) const {
    const std::string sql = select_sql(tail);
    Query query(db, sql.c_str());
    bind(query);
    std::vector<OutboxEntry> result;
    for (;;) {
      auto row = query.step(what);
      if (!row) return std::unexpected(row.error());
      if (!*row) return result;
      auto entry = entry_from(query);
      if (!entry) return std::unexpected(entry.error());
      result.push_back(std::move(*entry));
    }
  }

  Result<OutboxEntry> load(EntryId id) const {
    auto found = load_where(
        "WHERE id = ?", [id](Query& q) { q.add(id); }, "reading an outbox entry");
    if (!found) return std::unexpected(found.error());
    if (!*found) return fail("OUTBOX_UNKNOWN_PACKAGE", "the outbox has no entry " + std::to_string(id));
    return std::move(**found);
  }

  // One state change as one SQL transaction: the entry must be in one of `from`; `update` runs
  // the UPDATE inside the transaction. Returns the entry as committed.
  Result<OutboxEntry> change(EntryId id, std::string_view operation, std::initializer_list<PackageState> from,
                             const std::function<Result<void>(const OutboxEntry&)>& update) {
    WriteTransaction transaction(db);
    if (auto begun = transaction.begin(); !begun) return std::unexpected(begun.error());
    auto current = load(id);
    if (!current) return std::unexpected(current.error());
    if (std::find(from.begin(), from.end(), current->state) == from.end()) {
      return fail("OUTBOX_ILLEGAL_TRANSITION", "cannot " + std::string(operation) + " package " +
                                                   current->package.package_id + ": it is " +
                                                   std::string(to_string(current->state)) + ", and " +
                                                   std::string(operation) + " needs " + describe_states(from));
    }
    if (auto updated = update(*current); !updated) return std::unexpected(updated.error());
    if (auto committed = transaction.commit(); !committed) return std::unexpected(committed.error());
    return load(id);
  }

  Result<void> update_row(const char* sql, const std::function<void(Query&)>& bind, std::string_view what) {
    Query query(db, sql);
    bind(query);
    return query.execute(what);
  }

  Result<OutboxEntry> move_state(EntryId id, std::string_view operation, PackageState from, PackageState to,
                                 std::optional<TimePoint> purged_at = std::nullopt) {
    return change(id, operation, {from}, [&](const OutboxEntry&) {
      return update_row(
          "UPDATE packages SET state = ?, purged_at = COALESCE(?, purged_at) WHERE id = ?",
          [&](Query& q) { q.add(to_string(to)).add(purged_at).add(id); }, "changing an outbox entry's state");
    });
  }

  Result<PurgedPackage> delete_files(const OutboxEntry& entry, TimePoint now, const AuditSink& audit_sink) {
    PurgedPackage purged{entry.package.package_id, entry.package.transaction_id, entry.package.size_bytes,
                         entry.receipted_at.value_or(TimePoint{}), now};
    if (auto audited = audit_sink(purged); !audited) return std::unexpected(audited.error());
    std::error_code error;
    fs::remove_all(directory / entry.package.directory_name, error);
    if (error) {
      return fail("OUTBOX_PURGE_FAILED", "deleting the local copy of package " + entry.package.package_id +
                                             " failed: " + error.message() + "; it stays purgeable and is retried");
    }
    // The removal must be durable before the row says purged.
    if (auto synced = journal::fsync_directory(directory); !synced) return std::unexpected(synced.error());
    auto moved = move_state(entry.id, "finish the purge of", PackageState::purgeable, PackageState::purged, now);
    if (!moved) return std::unexpected(moved.error());
    log::info("outbox_package_purged", {{"package_id", entry.package.package_id},
                                        {"transaction_id", entry.package.transaction_id},
                                        {"bytes", std::to_string(entry.package.size_bytes)}});
    return purged;
  }
};

Outbox::Outbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Outbox::Outbox(Outbox&&) noexcept = default;
Outbox& Outbox::operator=(Outbox&&) noexcept = default;
Outbox::~Outbox() = default;

Result<Outbox> Outbox::open(const OutboxOptions& options) {
  if (options.state_dir.empty()) return fail("OUTBOX_BAD_OPTIONS", "the outbox needs a state directory");
  if (options.backoff.base.count() <= 0 || options.backoff.cap < options.backoff.base) {
    return fail("OUTBOX_BAD_OPTIONS", "the retry backoff needs a positive base and a cap of at least the base");
  }
  auto impl = std::make_unique<Impl>();
  impl->directory = options.state_dir / "outbox";
  impl->backoff = options.backoff;
  impl->random = options.random;
  if (!impl->random) {
    auto generator = std::make_shared<std::mt19937_64>(std::random_device{}());
    auto mutex = std::make_shared<std::mutex>();
    impl->random = [generator, mutex] {
      std::lock_guard lock(*mutex);
      return (*generator)();
    };
  }
  std::error_code error;
  fs::create_directories(options.state_dir, error);
  if (error) {
    return fail("OUTBOX_DIR_UNUSABLE", "cannot create the state directory: " + error.message());
  }
  if (auto made = journal::ensure_directory_durable(impl->directory); !made) return std::unexpected(made.error());

  const fs::path database = impl->directory / kDatabaseName;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  const char* vfs = options.sqlite_vfs.empty() ? nullptr : options.sqlite_vfs.c_str();
  if (sqlite3_open_v2(database.c_str(), &impl->db, flags, vfs) != SQLITE_OK) {
    return sql_failure(impl->db, "opening the outbox database");
  }
  sqlite3_busy_timeout(impl->db, options.busy_timeout_ms);
  {
    Query mode(impl->db, "PRAGMA journal_mode = WAL");
    auto row = mode.step("switching the outbox to WAL");
    if (!row) return std::unexpected(row.error());
    if (!*row || mode.text(0) != "wal") {
      return fail("OUTBOX_DB_ERROR", "the outbox database cannot use WAL mode on this filesystem");
    }
  }
  const char* synchronous =
      options.durability == Durability::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = OFF";
  if (auto set = run_sql(impl->db, synchronous, "setting synchronous"); !set) return std::unexpected(set.error());

  int version = 0;
  {
    Query query(impl->db, "PRAGMA user_version");
    auto row = query.step("reading the outbox schema version");
    if (!row) return std::unexpected(row.error());
    version = *row ? static_cast<int>(query.integer(0)) : 0;
  }
  if (version > kSchemaVersion) {
    return fail("OUTBOX_SCHEMA_TOO_NEW", "the outbox database has schema version " + std::to_string(version) +
                                             " but this build knows only up to " + std::to_string(kSchemaVersion) +
                                             "; run the newer kiosk build");
  }
  if (version == 0) {
    WriteTransaction transaction(impl->db);
    if (auto begun = transaction.begin(); !begun) return std::unexpected(begun.error());
    if (auto created = run_sql(impl->db, kSchema, "creating the outbox schema"); !created) {
      return std::unexpected(created.error());
    }
    if (auto committed = transaction.commit(); !committed) return std::unexpected(committed.error());
  }
  return Outbox(std::move(impl));
}

const fs::path& Outbox::directory() const { return impl_->directory; }

fs::path Outbox::package_path(const OutboxEntry& entry) const {
  return impl_->directory / entry.package.directory_name;
}

Result<EnqueueResult> Outbox::enqueue(const PackageRef& package, TimePoint now) {
  if (auto valid = check_package(package); !valid) return std::unexpected(valid.error());
  std::error_code error;
  if (!fs::exists(impl_->directory / package.directory_name, error)) {
    return fail("OUTBOX_PACKAGE_MISSING",
                "package " + package.package_id + " has no directory in the outbox; seal it there before queueing it");
  }
  WriteTransaction transaction(impl_->db);
  if (auto begun = transaction.begin(); !begun) return std::unexpected(begun.error());
  auto existing = impl_->load_where(
      "WHERE transaction_id = ?", [&](Query& q) { q.add(package.transaction_id); }, "looking up a transaction");
  if (!existing) return std::unexpected(existing.error());
  if (*existing) {
    // A re-seal after a crash: the first package queued for the transaction stays the one sent.
    if ((*existing)->package.package_id != package.package_id) {
      log::warn("outbox_second_package_ignored", {{"transaction_id", package.transaction_id},
                                                  {"queued_package_id", (*existing)->package.package_id},
                                                  {"ignored_package_id", package.package_id}});
    }
    return EnqueueResult{std::move(**existing), false};
  }
  auto clash = impl_->load_where(
      "WHERE package_id = ? OR directory_name = ?",
      [&](Query& q) { q.add(package.package_id).add(package.directory_name); }, "looking up a package");
  if (!clash) return std::unexpected(clash.error());
  if (*clash) {
    return fail("OUTBOX_DUPLICATE_PACKAGE", "package " + package.package_id +
                                                " or its directory is already queued for transaction " +
                                                (*clash)->package.transaction_id);
  }
  Query insert(impl_->db,
               "INSERT INTO packages (transaction_id, package_id, directory_name, size_bytes, manifest_sha256, state, "
               "sealed_at) VALUES (?, ?, ?, ?, ?, 'sealed', ?)");
  insert.add(package.transaction_id)
      .add(package.package_id)
      .add(package.directory_name)
      .add(static_cast<std::int64_t>(package.size_bytes))
      .add(package.manifest_sha256)
      .add(to_millis(now));
  if (auto inserted = insert.execute("queueing a package"); !inserted) return std::unexpected(inserted.error());
  const EntryId id = sqlite3_last_insert_rowid(impl_->db);
  if (auto committed = transaction.commit(); !committed) return std::unexpected(committed.error());
  auto entry = impl_->load(id);
  if (!entry) return std::unexpected(entry.error());
  return EnqueueResult{std::move(*entry), true};
}

Result<std::optional<OutboxEntry>> Outbox::next_due(TimePoint now) const {
  return impl_->load_where(
      "WHERE state = 'sealed' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY sealed_at, id LIMIT 1",
      [&](Query& q) { q.add(to_millis(now)); }, "finding the next package to upload");
}

Result<std::optional<TimePoint>> Outbox::next_wake() const {
  Query query(impl_->db,
              "SELECT MIN(COALESCE(next_attempt_at, sealed_at)), COUNT(*) FROM packages WHERE state = 'sealed'");
  auto row = query.step("finding the next retry time");
  if (!row) return std::unexpected(row.error());
  if (!*row || query.integer(1) == 0) return std::optional<TimePoint>{};
  return query.time(0);
}

Result<OutboxEntry> Outbox::start_upload(EntryId id) {
  return impl_->move_state(id, "start the upload of", PackageState::sealed, PackageState::uploading);
}

Result<OutboxEntry> Outbox::record_progress(EntryId id, std::uint64_t server_offset) {
  return impl_->change(id, "record upload progress of", {PackageState::uploading}, [&](const OutboxEntry& current) {
    if (server_offset > current.package.size_bytes) {
      return Result<void>(fail("OUTBOX_BAD_OFFSET", "the server offset " + std::to_string(server_offset) +
                                                        " is beyond package " + current.package.package_id + "'s " +
                                                        std::to_string(current.package.size_bytes) + " bytes"));
    }
    return impl_->update_row(
        "UPDATE packages SET server_offset = ? WHERE id = ?",
        [&](Query& q) { q.add(static_cast<std::int64_t>(server_offset)).add(id); }, "recording upload progress");
  });
}

Result<OutboxEntry> Outbox::record_failure(EntryId id, std::string_view error_code, TimePoint now) {
  if (!is_name(error_code, 64)) {
    return fail("OUTBOX_BAD_CODE", "an upload error code has 1 to 64 letters, digits, '_', '-' or '.'");
  }
  return impl_->change(id, "record an upload failure of", {PackageState::uploading}, [&](const OutboxEntry& current) {
    const auto delay = backoff_delay(impl_->backoff, current.attempts, impl_->random());
    return impl_->update_row(
        "UPDATE packages SET state = 'sealed', attempts = attempts + 1, last_error_code = ?, next_attempt_at = ? "
        "WHERE id = ?",
        [&](Query& q) { q.add(error_code).add(to_millis(now + delay)).add(id); }, "recording an upload failure");
  });
}

Result<OutboxEntry> Outbox::mark_uploaded(EntryId id, TimePoint now) {
  return impl_->change(id, "mark as uploaded", {PackageState::uploading}, [&](const OutboxEntry&) {
    return impl_->update_row(
        "UPDATE packages SET state = 'uploaded', server_offset = size_bytes, uploaded_at = ? WHERE id = ?",
        [&](Query& q) { q.add(to_millis(now)).add(id); }, "marking a package uploaded");
  });
}

Result<OutboxEntry> Outbox::mark_receipted(EntryId id, std::span<const std::uint8_t> receipt_bytes, TimePoint now) {
  if (receipt_bytes.empty() || receipt_bytes.size() > kMaxReceiptBytes) {
    return fail("OUTBOX_BAD_RECEIPT", "a receipt has 1 to " + std::to_string(kMaxReceiptBytes) + " bytes; got " +
                                          std::to_string(receipt_bytes.size()));
  }
  return impl_->change(id, "mark as receipted", {PackageState::uploaded}, [&](const OutboxEntry&) {
    return impl_->update_row(
        "UPDATE packages SET state = 'receipted', receipt = ?, receipted_at = ? WHERE id = ?",
        [&](Query& q) { q.add(receipt_bytes).add(to_millis(now)).add(id); }, "storing a receipt");
  });
}

Result<std::vector<PurgedPackage>> Outbox::purge_due(TimePoint now, std::chrono::seconds local_retention,
                                                     const AuditSink& audit_sink) {
  if (!audit_sink) return fail("OUTBOX_NO_AUDIT_SINK", "every purge must reach the audit log; pass an audit sink");
  if (local_retention.count() < 0) return fail("OUTBOX_BAD_OPTIONS", "the local retention cannot be negative");
  const auto receipted_before = to_millis(now - local_retention);
  auto ripe = impl_->load_all(
      "WHERE state = 'receipted' AND legal_hold = 0 AND receipted_at <= ? ORDER BY receipted_at, id",
      [&](Query& q) { q.add(receipted_before); }, "finding packages past their retention");
  if (!ripe) return std::unexpected(ripe.error());
  for (const auto& entry : *ripe) {
    auto moved = impl_->change(entry.id, "make purgeable", {PackageState::receipted}, [&](const OutboxEntry& current) {
      // The hold may have been set since the list was read; the row, not the list, decides.
      if (current.legal_hold) return Result<void>{};
      return impl_->update_row(
          "UPDATE packages SET state = 'purgeable' WHERE id = ?", [&](Query& q) { q.add(entry.id); },
          "marking a package purgeable");
    });
    if (!moved) return std::unexpected(moved.error());
  }
  // Includes packages an interrupted earlier purge left purgeable.
  auto purgeable = impl_->load_all(
      "WHERE state = 'purgeable' AND legal_hold = 0 ORDER BY receipted_at, id", [](Query&) {},
      "finding purgeable packages");
  if (!purgeable) return std::unexpected(purgeable.error());
  std::vector<PurgedPackage> purged;
  for (const auto& entry : *purgeable) {
    auto done = impl_->delete_files(entry, now, audit_sink);
    if (!done) return std::unexpected(done.error());
    purged.push_back(std::move(*done));
  }
  return purged;
}

Result<OutboxEntry> Outbox::set_legal_hold(std::string_view transaction_id, bool hold) {
  auto found = find_by_transaction(transaction_id);
  if (!found) return std::unexpected(found.error());
  if (!*found)
    return fail("OUTBOX_UNKNOWN_PACKAGE", "no package is queued for transaction " + std::string(transaction_id));
  const EntryId id = (*found)->id;
  // Any state: a hold is recorded even on a purged row, whose head-office copy it then concerns.
  auto changed =
      impl_->change(id, "set the legal hold of",
                    {PackageState::sealed, PackageState::uploading, PackageState::uploaded, PackageState::receipted,
                     PackageState::purgeable, PackageState::purged},
                    [&](const OutboxEntry&) {
                      return impl_->update_row(
                          "UPDATE packages SET legal_hold = ? WHERE id = ?",
                          [&](Query& q) { q.add(std::int64_t{hold ? 1 : 0}).add(id); }, "setting a legal hold");
                    });
  if (changed) {
    log::info("outbox_legal_hold", {{"transaction_id", std::string(transaction_id)}, {"hold", hold ? "on" : "off"}});
  }
  return changed;
}

Result<RecoveryReport> Outbox::recover() {
  RecoveryReport report;
  {
    WriteTransaction transaction(impl_->db);
    if (auto begun = transaction.begin(); !begun) return std::unexpected(begun.error());
    auto interrupted = impl_->load_all(
        "WHERE state = 'uploading' ORDER BY id", [](Query&) {}, "finding interrupted uploads");
    if (!interrupted) return std::unexpected(interrupted.error());
    for (const auto& entry : *interrupted) report.returned_to_sealed.push_back(entry.package.package_id);
    if (auto reset = run_sql(impl_->db, "UPDATE packages SET state = 'sealed' WHERE state = 'uploading'",
                             "returning interrupted uploads to sealed");
        !reset) {
      return std::unexpected(reset.error());
    }
    if (auto committed = transaction.commit(); !committed) return std::unexpected(committed.error());
  }
  auto kept = impl_->load_all(
      "WHERE state NOT IN ('purgeable', 'purged') ORDER BY id", [](Query&) {}, "listing packages with local copies");
  if (!kept) return std::unexpected(kept.error());
  for (const auto& entry : *kept) {
    std::error_code error;
    if (!fs::exists(package_path(entry), error)) {
      report.missing_files.push_back(entry.package.package_id);
      log::warn("outbox_package_missing",
                {{"package_id", entry.package.package_id}, {"state", std::string(to_string(entry.state))}});
    }
  }
  if (!report.returned_to_sealed.empty()) {
    log::info("outbox_uploads_interrupted", {{"count", std::to_string(report.returned_to_sealed.size())}});
  }
  return report;
}

Result<OutboxEntry> Outbox::entry(EntryId id) const { return impl_->load(id); }

Result<std::optional<OutboxEntry>> Outbox::find_by_transaction(std::string_view transaction_id) const {
  return impl_->load_where(
      "WHERE transaction_id = ?", [&](Query& q) { q.add(transaction_id); }, "looking up a transaction");
}

Result<std::vector<OutboxEntry>> Outbox::entries() const {
  return impl_->load_all(
      "ORDER BY id", [](Query&) {}, "listing the outbox");
}

Result<std::vector<std::string>> Outbox::queued_transaction_ids() const {
  Query query(impl_->db, "SELECT transaction_id FROM packages ORDER BY id");
  std::vector<std::string> ids;
  for (;;) {
    auto row = query.step("listing queued transactions");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    ids.push_back(query.text(0));
  }
  return ids;
}

Result<OutboxStats> Outbox::stats(TimePoint now) const {
  OutboxStats stats;
  {
    Query query(impl_->db, "SELECT state, COUNT(*) FROM packages GROUP BY state");
    for (;;) {
      auto row = query.step("counting packages");
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      const auto state = parse_package_state(query.text(0));
      if (!state) return fail("OUTBOX_CORRUPT_ROW", "the outbox holds an unknown state");
      stats.count_by_state[static_cast<std::size_t>(*state)] = static_cast<std::uint64_t>(query.integer(1));
    }
  }
  Query pending(impl_->db,
                "SELECT MIN(sealed_at), COALESCE(SUM(size_bytes - server_offset), 0), COUNT(*), "
                "(SELECT COUNT(*) FROM packages WHERE legal_hold = 1) "
                "FROM packages WHERE state IN ('sealed', 'uploading')");
  auto row = pending.step("summing pending packages");
  if (!row) return std::unexpected(row.error());
  if (*row) {
    if (pending.integer(2) > 0) {
      const auto age = now - from_millis(pending.integer(0));
      stats.oldest_unsent_age =
          std::max(std::chrono::seconds{0}, std::chrono::duration_cast<std::chrono::seconds>(age));
    }
    stats.bytes_pending = static_cast<std::uint64_t>(pending.integer(1));
    stats.legal_holds = static_cast<std::uint64_t>(pending.integer(3));
  }
  return stats;
}

Result<void> Outbox::check_integrity() const {
  {
    Query query(impl_->db, "PRAGMA integrity_check");
    auto row = query.step("checking the outbox database");
    if (!row) return std::unexpected(row.error());
    if (!*row || query.text(0) != "ok") {
      return fail("OUTBOX_CORRUPT", "the outbox database failed its integrity check: " + query.text(0));
    }
  }
  {
    Query query(impl_->db, "PRAGMA user_version");
    auto row = query.step("reading the outbox schema version");
    if (!row) return std::unexpected(row.error());
    if (!*row || query.integer(0) != kSchemaVersion) {
      return fail("OUTBOX_CORRUPT", "the outbox database has an unexpected schema version");
    }
  }
  Query broken(impl_->db,
               "SELECT package_id FROM packages WHERE "
               "(state IN ('receipted', 'purgeable', 'purged') AND (receipt IS NULL OR length(receipt) = 0 "
               "  OR receipted_at IS NULL)) "
               "OR (state IN ('uploaded', 'receipted', 'purgeable', 'purged') AND uploaded_at IS NULL) "
               "OR ((state = 'purged') <> (purged_at IS NOT NULL)) "
               "OR server_offset > size_bytes LIMIT 1");
  auto row = broken.step("checking the outbox rows");
  if (!row) return std::unexpected(row.error());
  if (*row) return fail("OUTBOX_CORRUPT", "outbox row of package " + broken.text(0) + " breaks the state invariants");
  return {};
}

}  // namespace kiosk::outbox
