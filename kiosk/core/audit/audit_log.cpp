#include "kiosk/core/audit/audit_log.hpp"

#include <openssl/evp.h>
#include <sqlite3.h>

#include <array>
#include <cstdio>

#include "kiosk/core/time_text.hpp"

namespace kiosk::audit {
namespace {

constexpr std::string_view kHashVersionTag = "kiosk-audit-v1";

// Position (the rowid) is the order in which entries were stored; sequence is the number the
// chain gives them. Keeping both lets verify() tell a reordered entry from a missing one.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_log (
  position   INTEGER PRIMARY KEY,
  sequence   INTEGER NOT NULL UNIQUE,
  time_utc   TEXT NOT NULL,
  actor_id   TEXT NOT NULL,
  actor_role TEXT NOT NULL,
  kiosk_id   TEXT NOT NULL,
  action     TEXT NOT NULL,
  object     TEXT NOT NULL,
  result     TEXT NOT NULL,
  details    TEXT NOT NULL,
  prev_hash  TEXT NOT NULL,
  entry_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
)sql";

constexpr const char* kSelectColumns =
    "SELECT sequence, time_utc, actor_id, actor_role, kiosk_id, action, object, result, details, prev_hash, "
    "entry_hash FROM audit_log ORDER BY position";

std::string db_message(sqlite3* db) { return db != nullptr ? sqlite3_errmsg(db) : "out of memory"; }

Error db_error(sqlite3* db, std::string_view what) {
  return Error{"AUDIT_DB_ERROR", std::string(what) + ": " + db_message(db) +
                                     " (check that the database file is writable and not locked by another program)"};
}

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  [[nodiscard]] bool ok() const { return stmt_ != nullptr; }
  void bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  int step() { return sqlite3_step(stmt_); }
  [[nodiscard]] std::string text(int column) const {
    const unsigned char* value = sqlite3_column_text(stmt_, column);
    const int length = sqlite3_column_bytes(stmt_, column);
    return value != nullptr ? std::string(reinterpret_cast<const char*>(value), static_cast<std::size_t>(length))
                            : std::string();
  }
  [[nodiscard]] std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

AuditEntry read_entry(const Statement& row) {
  AuditEntry entry;
  entry.sequence = row.integer(0);
  entry.time_utc = row.text(1);
  entry.actor_id = row.text(2);
  entry.actor_role = row.text(3);
  entry.kiosk_id = row.text(4);
  entry.action = row.text(5);
  entry.object = row.text(6);
  entry.result = row.text(7);
  entry.details = row.text(8);
  entry.prev_hash = row.text(9);
  entry.entry_hash = row.text(10);
  return entry;
}

Result<void> exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : db_message(db);
    sqlite3_free(message);
    return fail("AUDIT_DB_ERROR", std::string("audit database statement failed: ") + text);
  }
  return {};
}

Result<bool> has_audit_table(sqlite3* db) {
  Statement query(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'");
  if (!query.ok()) return std::unexpected(db_error(db, "cannot read the database schema"));
  const int rc = query.step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(db_error(db, "cannot read the database schema"));
}

Result<bool> sequence_exists(sqlite3* db, std::int64_t sequence) {
  Statement query(db, "SELECT 1 FROM audit_log WHERE sequence = ?1");
  if (!query.ok()) return std::unexpected(db_error(db, "cannot read the audit log"));
  query.bind(1, sequence);
  const int rc = query.step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(db_error(db, "cannot read the audit log"));
}

Result<VerifyReport> verify_chain(sqlite3* db, const std::optional<Checkpoint>& expected) {
  Statement rows(db, kSelectColumns);
  if (!rows.ok()) return std::unexpected(db_error(db, "cannot read the audit log"));

  VerifyReport report;
  report.verified.head_hash = std::string(kGenesisHash);
  std::string hash_before_head(kGenesisHash);  // entry_hash of entry count-1
  std::optional<std::string> hash_at_checkpoint;
  if (expected && expected->count == 0) hash_at_checkpoint = std::string(kGenesisHash);

  const auto stop = [&report](std::string code, std::int64_t sequence, std::string message) {
    report.problem = ChainProblem{std::move(code), sequence, std::move(message)};
    return report;
  };

  int rc = SQLITE_ROW;
  while ((rc = rows.step()) == SQLITE_ROW) {
    const AuditEntry entry = read_entry(rows);
    const std::int64_t wanted = report.verified.count + 1;
    if (entry.sequence != wanted) {
      auto later = sequence_exists(db, wanted);
      if (!later) return std::unexpected(later.error());
      if (*later) {
        return stop("AUDIT_ENTRY_OUT_OF_ORDER", wanted,
                    "entry " + std::to_string(wanted) + " is stored after entry " + std::to_string(entry.sequence) +
                        ": the log was reordered");
      }
      return stop("AUDIT_ENTRY_MISSING", wanted,
                  "entry " + std::to_string(wanted) + " is missing: the next stored entry is " +
                      std::to_string(entry.sequence));
    }
    if (compute_entry_hash(entry) != entry.entry_hash) {
      return stop("AUDIT_ENTRY_ALTERED", entry.sequence,
                  "entry " + std::to_string(entry.sequence) + " was altered: its content no longer matches its hash");
    }
    if (entry.prev_hash != report.verified.head_hash) {
      // The entry itself is intact, so the one before it was rewritten with a recomputed hash.
      if (entry.sequence == 1) {
        return stop("AUDIT_ENTRY_ALTERED", 1, "entry 1 does not start the chain: earlier history was rewritten");
      }
      report.verified.count -= 1;
      report.verified.head_hash = hash_before_head;
      return stop("AUDIT_ENTRY_ALTERED", entry.sequence - 1,
                  "entry " + std::to_string(entry.sequence - 1) + " was altered: entry " +
                      std::to_string(entry.sequence) + " recorded a different hash for it");
    }
    hash_before_head = report.verified.head_hash;
    report.verified.count = entry.sequence;
    report.verified.head_hash = entry.entry_hash;
    if (expected && expected->count == entry.sequence) hash_at_checkpoint = entry.entry_hash;
  }
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db, "cannot read the audit log"));

  if (expected) {
    if (expected->count > report.verified.count) {
      return stop("AUDIT_TAIL_TRUNCATED", report.verified.count + 1,
                  "the log ends at entry " + std::to_string(report.verified.count) + " but the checkpoint covers " +
                      std::to_string(expected->count) + " entries: entries from " +
                      std::to_string(report.verified.count + 1) + " on were removed");
    }
    if (hash_at_checkpoint != expected->head_hash) {
      return stop("AUDIT_CHECKPOINT_MISMATCH", expected->count,
                  "entry " + std::to_string(expected->count) +
                      " differs from the checkpoint: the history up to it was rewritten");
    }
  }
  return report;
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

Result<DbHandle> open_db(const std::filesystem::path& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    return fail("AUDIT_DB_UNREADABLE", "cannot open audit database " + path.string() + ": " + db_message(raw) +
                                           " (check the path and its permissions)");
  }
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

void append_field(std::string& out, std::string_view field) {
  const auto length = static_cast<std::uint64_t>(field.size());
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((length >> shift) & 0xFFU);
  out.append(field);
}

}  // namespace

std::string entry_hash_input(const AuditEntry& entry) {
  std::string out;
  append_field(out, kHashVersionTag);
  append_field(out, std::to_string(entry.sequence));
  append_field(out, entry.time_utc);
  append_field(out, entry.actor_id);
  append_field(out, entry.actor_role);
  append_field(out, entry.kiosk_id);
  append_field(out, entry.action);
  append_field(out, entry.object);
  append_field(out, entry.result);
  append_field(out, entry.details);
  append_field(out, entry.prev_hash);
  return out;
}

std::string compute_entry_hash(const AuditEntry& entry) {
  const std::string input = entry_hash_input(entry);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) return {};
  std::string hex;
  hex.reserve(length * 2U);
  constexpr std::string_view kDigits = "0123456789abcdef";
  for (unsigned int i = 0; i < length; ++i) {
    hex += kDigits[digest[i] >> 4U];
    hex += kDigits[digest[i] & 0x0FU];
  }
  return hex;
}

struct AuditLog::Owned {
  DbHandle db;
};

AuditLog::AuditLog(sqlite3* db, std::unique_ptr<Owned> owned, const Clock& clock)
    : db_(db), owned_(std::move(owned)), clock_(&clock) {}
AuditLog::AuditLog(AuditLog&&) noexcept = default;
AuditLog& AuditLog::operator=(AuditLog&&) noexcept = default;
AuditLog::~AuditLog() = default;

Result<AuditLog> AuditLog::attach(sqlite3* db, const Clock& clock) {
  if (db == nullptr) return fail("AUDIT_DB_ERROR", "no database handle was given to the audit log");
  if (auto created = exec(db, kSchema); !created) return std::unexpected(created.error());
  return AuditLog(db, nullptr, clock);
}

Result<AuditLog> AuditLog::open(const std::filesystem::path& path, const Clock& clock) {
  auto db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db) return std::unexpected(db.error());
  {
    Statement wal(db->get(), "PRAGMA journal_mode=WAL");
    if (!wal.ok() || wal.step() != SQLITE_ROW || wal.text(0) != "wal") {
      return fail("AUDIT_DB_ERROR", "cannot switch " + path.string() + " to WAL journaling: " + db_message(db->get()));
    }
  }
  if (auto full = exec(db->get(), "PRAGMA synchronous=FULL"); !full) return std::unexpected(full.error());
  if (auto created = exec(db->get(), kSchema); !created) return std::unexpected(created.error());
  auto owned = std::make_unique<Owned>();
  sqlite3* raw = db->get();
  owned->db = std::move(*db);
  return AuditLog(raw, std::move(owned), clock);
}

Result<VerifyReport> AuditLog::verify_file(const std::filesystem::path& path,
                                           const std::optional<Checkpoint>& expected) {
  std::error_code ignored;
  if (!std::filesystem::is_regular_file(path, ignored)) {
    return fail("AUDIT_DB_UNREADABLE", "no database file at " + path.string() + ": give the journal with --db PATH");
  }
  auto db = open_db(path, SQLITE_OPEN_READONLY);
  if (!db) return std::unexpected(db.error());
  auto has_table = has_audit_table(db->get());
  if (!has_table) {
    return fail("AUDIT_DB_UNREADABLE",
                path.string() + " cannot be read as an SQLite database: " + has_table.error().message);
  }
  if (!*has_table) return fail("AUDIT_NO_LOG", path.string() + " holds no audit log (no audit_log table)");
  return verify_chain(db->get(), expected);
}

Result<AuditEntry> AuditLog::append(const AuditEvent& event) {
  const bool own_transaction = sqlite3_get_autocommit(db_) != 0;
  if (auto began = exec(db_, own_transaction ? "BEGIN IMMEDIATE" : "SAVEPOINT audit_append"); !began) {
    return std::unexpected(began.error());
  }
  const auto undo = [&] {
    (void)exec(db_, own_transaction ? "ROLLBACK" : "ROLLBACK TO audit_append; RELEASE audit_append");
  };

  AuditEntry entry;
  entry.sequence = 1;
  entry.prev_hash = std::string(kGenesisHash);
  {
    Statement last(db_, "SELECT sequence, entry_hash FROM audit_log ORDER BY position DESC LIMIT 1");
    const int rc = last.ok() ? last.step() : SQLITE_ERROR;
    if (rc == SQLITE_ROW) {
      entry.sequence = last.integer(0) + 1;
      entry.prev_hash = last.text(1);
    } else if (rc != SQLITE_DONE) {
      Error error = db_error(db_, "cannot read the audit log head");
      undo();
      return std::unexpected(error);
    }
  }
  entry.time_utc = utc_iso8601(clock_->now(), TimePrecision::milliseconds);
  entry.actor_id = event.actor_id;
  entry.actor_role = event.actor_role;
  entry.kiosk_id = event.kiosk_id;
  entry.action = std::string(to_string(event.action));
  entry.object = event.object;
  entry.result = event.result;
  entry.details = event.details;
  entry.entry_hash = compute_entry_hash(entry);
  if (entry.entry_hash.empty()) {
    undo();
    return fail("AUDIT_HASH_FAILED", "OpenSSL could not compute SHA-256; the entry was not written");
  }

  Statement insert(db_,
                   "INSERT INTO audit_log (sequence, time_utc, actor_id, actor_role, kiosk_id, action, object, result, "
                   "details, prev_hash, entry_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!insert.ok()) {
    Error error = db_error(db_, "cannot prepare the audit insert");
    undo();
    return std::unexpected(error);
  }
  insert.bind(1, entry.sequence);
  insert.bind(2, entry.time_utc);
  insert.bind(3, entry.actor_id);
  insert.bind(4, entry.actor_role);
  insert.bind(5, entry.kiosk_id);
  insert.bind(6, entry.action);
  insert.bind(7, entry.object);
  insert.bind(8, entry.result);
  insert.bind(9, entry.details);
  insert.bind(10, entry.prev_hash);
  insert.bind(11, entry.entry_hash);
  if (insert.step() != SQLITE_DONE) {
    Error error = db_error(db_, "cannot write the audit entry");
    undo();
    return std::unexpected(error);
  }
  if (auto done = exec(db_, own_transaction ? "COMMIT" : "RELEASE audit_append"); !done) {
    undo();
    return std::unexpected(done.error());
  }
  return entry;
}

Result<VerifyReport> AuditLog::verify(const std::optional<Checkpoint>& expected) const {
  return verify_chain(db_, expected);
}

Result<Checkpoint> AuditLog::head() const {
  Statement last(db_, "SELECT sequence, entry_hash FROM audit_log ORDER BY position DESC LIMIT 1");
  const int rc = last.ok() ? last.step() : SQLITE_ERROR;
  if (rc == SQLITE_ROW) return Checkpoint{last.integer(0), last.text(1)};
  if (rc == SQLITE_DONE) return Checkpoint{0, std::string(kGenesisHash)};
  return std::unexpected(db_error(db_, "cannot read the audit log head"));
}

Result<std::vector<AuditEntry>> AuditLog::entries() const {
  Statement rows(db_, kSelectColumns);
  if (!rows.ok()) return std::unexpected(db_error(db_, "cannot read the audit log"));
  std::vector<AuditEntry> out;
  int rc = SQLITE_ROW;
  while ((rc = rows.step()) == SQLITE_ROW) out.push_back(read_entry(rows));
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "cannot read the audit log"));
  return out;
}

}  // namespace kiosk::audit
