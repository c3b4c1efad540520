#include "kiosk/core/journal/journal.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/journal/schema.hpp"
#include "kiosk/core/log.hpp"

namespace kiosk::journal {
namespace {

constexpr std::size_t kMaxEvidencePerStep = 64;

std::int64_t to_millis(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

TimePoint from_millis(std::int64_t millis) {
  return TimePoint{std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds{millis})};
}

std::unexpected<Error> db_error(sqlite3* db, std::string_view what) {
  return fail("JOURNAL_DB_ERROR", std::string(what) + " failed: " + sqlite3_errmsg(db) +
                                      "; check the disk and the journal file's permissions");
}

// A prepared statement that is finalized when it goes out of scope.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  Statement(Statement&& other) noexcept : db_(other.db_), statement_(std::exchange(other.statement_, nullptr)) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(statement_); }

  static Result<Statement> prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK) return db_error(db, "preparing a query");
    return Statement(db, statement);
  }

  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(statement_, index, value);
    return *this;
  }
  Statement& bind(int index, std::string_view value) {
    // A null data pointer would bind SQL NULL; an empty value is the empty string here.
    sqlite3_bind_text(statement_, index, value.data() != nullptr ? value.data() : "", static_cast<int>(value.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind_null(int index) {
    sqlite3_bind_null(statement_, index);
    return *this;
  }

  // SQLITE_ROW or SQLITE_DONE; anything else becomes an error naming `what`.
  Result<bool> next_row(std::string_view what) {
    const int code = sqlite3_step(statement_);
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    return db_error(db_, what);
  }
  Result<void> run(std::string_view what) {
    auto row = next_row(what);
    if (!row) return std::unexpected(row.error());
    return {};
  }

  [[nodiscard]] std::int64_t int64(int column) const { return sqlite3_column_int64(statement_, column); }
  [[nodiscard]] bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  [[nodiscard]] std::string text(int column) const {
    const auto* data = sqlite3_column_text(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    return data == nullptr ? std::string()
                           : std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_;
};

Result<void> exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return db_error(db, sql);
  return {};
}

bool is_code_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

// Reason codes and step results are stable codes, which also keeps personal data out of them.
Result<void> check_code(std::string_view value, std::string_view what) {
  if (value.empty() || value.size() > 64) {
    return fail("JOURNAL_BAD_CODE", std::string(what) + " must be a code of 1 to 64 characters");
  }
  for (const char c : value) {
    if (!is_code_character(c)) {
      return fail("JOURNAL_BAD_CODE", std::string(what) + " may hold only letters, digits, '_', '-' and '.'");
    }
  }
  return {};
}

Result<void> check_kind(std::string_view kind) {
  if (kind.empty() || kind.size() > 40)
    return fail("JOURNAL_BAD_EVIDENCE_KIND", "an evidence kind has 1 to 40 characters");
  for (const char c : kind) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return fail("JOURNAL_BAD_EVIDENCE_KIND",
                  "evidence kind '" + std::string(kind) + "' may hold only lowercase letters, digits, '_' and '-'");
    }
  }
  return {};
}

std::string transaction_folder(TxId tx) { return evidence_transaction_id(tx); }

std::string evidence_file_name(int sequence, StepId step, std::size_t index, std::string_view kind) {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "s%03d-", sequence);
  return std::string(prefix) + std::string(kiosk::to_string(step)) + "-" + std::to_string(index + 1) + "-" +
         std::string(kind);
}

template <class E>
Result<E> parse_column(const std::string& text, std::string_view what) {
  auto value = kiosk::parse_enum<E>(text);
  if (!value)
    return fail("JOURNAL_CORRUPT_ROW", "the journal holds an unknown " + std::string(what) + " '" + text + "'");
  return *value;
}

}  // namespace

std::string evidence_transaction_id(TxId id) {
  char name[32];
  std::snprintf(name, sizeof name, "tx-%08lld", static_cast<long long>(id));
  return name;
}

std::string_view to_string(DamageKind kind) {
  switch (kind) {
    case DamageKind::missing_file: return "missing_file";
    case DamageKind::size_differs: return "size_differs";
    case DamageKind::hash_differs: return "hash_differs";
  }
  return "missing_file";
}

struct Journal::Impl {
  sqlite3* db = nullptr;
  std::filesystem::path evidence_dir;
  const Clock* clock = nullptr;
  bool read_only = false;
  // The audit log lives in the same database, so that a step and its audit entries commit in one
  // SQL transaction (REQ-45): there is never a committed step without its audit trail.
  std::optional<audit::AuditLog> audit;

  // Appends inside the caller's open SQL transaction.
  Result<void> audit_append(audit::AuditEvent event) {
    if (!audit) return {};
    auto appended = audit->append(event);
    if (!appended) return std::unexpected(appended.error());
    return {};
  }

  Result<std::string> kiosk_id_of(TxId tx) const {
    auto query = Statement::prepare(db, "SELECT kiosk_id FROM transactions WHERE id = ?1");
    if (!query) return std::unexpected(query.error());
    query->bind(1, tx);
    auto row = query->next_row("reading a transaction's kiosk");
    if (!row) return std::unexpected(row.error());
    if (!*row) return fail("JOURNAL_TX_UNKNOWN", "there is no transaction " + std::to_string(tx));
    return query->text(0);
  }

  ~Impl() {
    if (db != nullptr) sqlite3_close_v2(db);
  }

  Result<std::optional<TxState>> state_of(TxId tx) const {
    auto query = Statement::prepare(db, "SELECT state FROM transactions WHERE id = ?1");
    if (!query) return std::unexpected(query.error());
    query->bind(1, tx);
    auto row = query->next_row("reading a transaction's state");
    if (!row) return std::unexpected(row.error());
    if (!*row) return std::optional<TxState>{};
    auto state = parse_enum<TxState>(query->text(0));
    if (!state) return fail("JOURNAL_CORRUPT_ROW", "transaction " + std::to_string(tx) + " has an unknown state");
    return state;
  }

  Result<void> require_open(TxId tx) const {
    auto state = state_of(tx);
    if (!state) return std::unexpected(state.error());
    if (!state->has_value()) return fail("JOURNAL_TX_UNKNOWN", "there is no transaction " + std::to_string(tx));
    if (**state != TxState::open) {
      return fail("JOURNAL_TX_NOT_OPEN", "transaction " + std::to_string(tx) + " is already " +
                                             std::string(to_string(**state)) + "; a closed transaction takes no steps");
    }
    return {};
  }

  Result<void> require_writable() const {
    if (read_only) return fail("JOURNAL_READ_ONLY", "this journal was opened read-only for inspection");
    return {};
  }

  void remove_files_quietly(const std::vector<std::filesystem::path>& files) const {
    for (const auto& file : files) {
      std::error_code ignored;
      std::filesystem::remove(file, ignored);
    }
  }
};

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Journal::Journal(Journal&&) noexcept = default;
Journal& Journal::operator=(Journal&&) noexcept = default;
Journal::~Journal() = default;

const std::filesystem::path& Journal::evidence_dir() const { return impl_->evidence_dir; }

Result<Journal> Journal::open(const JournalOptions& options) {
  if (options.database.empty()) return fail("JOURNAL_BAD_OPTIONS", "no journal database file was given");
  if (!options.read_only && (options.clock == nullptr || options.evidence_dir.empty())) {
    return fail("JOURNAL_BAD_OPTIONS", "a writable journal needs a clock and an evidence directory");
  }
  auto impl = std::make_unique<Impl>();
  impl->clock = options.clock;
  impl->read_only = options.read_only;
  if (!options.read_only) {
    std::filesystem::path database_dir = options.database.parent_path();
    if (!database_dir.empty()) {
      if (auto made = ensure_directory_durable(database_dir); !made) return std::unexpected(made.error());
    }
    if (auto made = ensure_directory_durable(options.evidence_dir); !made) return std::unexpected(made.error());
    std::error_code error;
    impl->evidence_dir = std::filesystem::absolute(options.evidence_dir, error);
    if (error) return fail("JOURNAL_BAD_OPTIONS", "cannot resolve the evidence directory: " + error.message());
  } else if (std::error_code error; !std::filesystem::exists(options.database, error)) {
    return fail("JOURNAL_NOT_FOUND",
                "there is no journal at " + options.database.string() + "; check the path of the kiosk's journal file");
  }

  const int flags = options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const char* vfs = options.sqlite_vfs.empty() ? nullptr : options.sqlite_vfs.c_str();
  if (sqlite3_open_v2(options.database.c_str(), &impl->db, flags | SQLITE_OPEN_NOMUTEX, vfs) != SQLITE_OK) {
    const std::string detail = impl->db != nullptr ? sqlite3_errmsg(impl->db) : "out of memory";
    return fail("JOURNAL_OPEN_FAILED", "cannot open the journal " + options.database.string() + ": " + detail);
  }
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, options.busy_timeout_ms);

  if (!options.read_only) {
    auto mode = Statement::prepare(impl->db, "PRAGMA journal_mode = WAL");
    if (!mode) return std::unexpected(mode.error());
    auto row = mode->next_row("switching the journal to WAL mode");
    if (!row) return std::unexpected(row.error());
    if (!*row || mode->text(0) != "wal") {
      return fail("JOURNAL_WAL_UNAVAILABLE", "SQLite refused WAL mode for " + options.database.string() +
                                                 "; the journal must be on a local file system");
    }
    const char* sync_pragma =
        options.durability == Durability::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = OFF";
    if (auto done = exec(impl->db, sync_pragma); !done) return std::unexpected(done.error());
  }
  if (auto done = exec(impl->db, "PRAGMA foreign_keys = ON"); !done) return std::unexpected(done.error());

  if (options.read_only) {
    auto version = read_user_version(impl->db);
    if (!version) return std::unexpected(version.error());
    if (*version == 0) {
      return fail("JOURNAL_EMPTY", options.database.string() + " holds no journal (schema version 0)");
    }
    if (*version > kSchemaVersion) {
      return fail("JOURNAL_SCHEMA_TOO_NEW", "the journal has schema version " + std::to_string(*version) +
                                                " but this program knows only up to " + std::to_string(kSchemaVersion) +
                                                "; use the kioskctl shipped with the kiosk software that wrote it");
    }
    if (*version < kSchemaVersion) {
      return fail("JOURNAL_SCHEMA_TOO_OLD", "the journal has schema version " + std::to_string(*version) +
                                                "; start the kiosk once so that it migrates the journal");
    }
  } else {
    if (auto migrated = apply_migrations(impl->db, schema_migrations()); !migrated) {
      return std::unexpected(migrated.error());
    }
    auto audit_log = audit::AuditLog::attach(impl->db, *options.clock);
    if (!audit_log) return std::unexpected(audit_log.error());
    impl->audit.emplace(std::move(*audit_log));
  }
  return Journal(std::move(impl));
}

Result<TxId> Journal::open_transaction(const TransactionHeader& header) {
  if (auto writable = impl_->require_writable(); !writable) return std::unexpected(writable.error());
  if (auto ok = check_code(header.kiosk_id, "the kiosk id"); !ok) return std::unexpected(ok.error());
  if (auto ok = check_code(header.rule_pack_version, "the rule-pack version"); !ok) return std::unexpected(ok.error());
  if (auto ok = check_code(header.terms_version_hash, "the terms version hash"); !ok) {
    return std::unexpected(ok.error());
  }
  auto insert = Statement::prepare(impl_->db,
                                   "INSERT INTO transactions (operation, channel, investor_type, medium, kiosk_id, "
                                   "rule_pack_version, terms_version_hash, state, opened_at_ms) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8)");
  if (!insert) return std::unexpected(insert.error());
  insert->bind(1, kiosk::to_string(header.operation))
      .bind(2, kiosk::to_string(header.channel))
      .bind(3, kiosk::to_string(header.investor_type))
      .bind(4, kiosk::to_string(header.medium))
      .bind(5, header.kiosk_id)
      .bind(6, header.rule_pack_version)
      .bind(7, header.terms_version_hash)
      .bind(8, to_millis(impl_->clock->now()));
  if (auto done = insert->run("recording a new transaction"); !done) return std::unexpected(done.error());
  return static_cast<TxId>(sqlite3_last_insert_rowid(impl_->db));
}

Result<StoredStep> Journal::commit_step(TxId tx, const StepRecord& step, std::span<const EvidenceInput> evidence) {
  if (auto writable = impl_->require_writable(); !writable) return std::unexpected(writable.error());
  if (auto ok = check_code(step.result, "the step result"); !ok) return std::unexpected(ok.error());
  if (step.ended_at < step.started_at) {
    return fail("JOURNAL_BAD_STEP", "step " + std::string(kiosk::to_string(step.step)) + " ends before it starts");
  }
  if (step.actor_staff_id.empty() != !step.actor_role.has_value()) {
    return fail("JOURNAL_BAD_STEP", "a step's staff actor needs both a staff id and a role, or neither");
  }
  if (!step.actor_staff_id.empty()) {
    if (auto ok = check_code(step.actor_staff_id, "the actor's staff id"); !ok) return std::unexpected(ok.error());
  }
  if (evidence.size() > kMaxEvidencePerStep) {
    return fail("JOURNAL_BAD_STEP",
                "a step may carry at most " + std::to_string(kMaxEvidencePerStep) + " evidence items");
  }
  for (const auto& item : evidence) {
    if (auto ok = check_kind(item.kind); !ok) return std::unexpected(ok.error());
  }
  if (auto open = impl_->require_open(tx); !open) return std::unexpected(open.error());

  auto next =
      Statement::prepare(impl_->db, "SELECT COALESCE(MAX(sequence), 0) + 1 FROM steps WHERE transaction_id = ?1");
  if (!next) return std::unexpected(next.error());
  next->bind(1, tx);
  if (auto row = next->next_row("numbering a step"); !row) return std::unexpected(row.error());
  const int sequence = static_cast<int>(next->int64(0));

  // The files first: durable under their final names before the row that vouches for them.
  const std::string folder = transaction_folder(tx);
  if (auto made = ensure_directory_durable(impl_->evidence_dir / folder); !made) return std::unexpected(made.error());
  StoredStep stored;
  stored.transaction_id = tx;
  stored.sequence = sequence;
  stored.record = step;
  std::vector<std::filesystem::path> written;
  for (std::size_t i = 0; i < evidence.size(); ++i) {
    const EvidenceInput& item = evidence[i];
    const std::string relative = folder + "/" + evidence_file_name(sequence, step.step, i, item.kind);
    const std::filesystem::path target = impl_->evidence_dir / relative;
    auto digest = item.source_file.empty() ? write_file_atomically(target, item.bytes)
                                           : copy_file_atomically(target, item.source_file);
    if (!digest) {
      impl_->remove_files_quietly(written);
      return std::unexpected(digest.error());
    }
    written.push_back(target);
    stored.evidence.push_back(StoredEvidence{0, item.kind, relative, digest->size, digest->sha256_hex});
  }

  auto rollback_and_fail = [&](const Error& error) -> Result<StoredStep> {
    if (sqlite3_get_autocommit(impl_->db) == 0) sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
    impl_->remove_files_quietly(written);
    return std::unexpected(error);
  };

  if (auto begun = exec(impl_->db, "BEGIN IMMEDIATE"); !begun) return rollback_and_fail(begun.error());
  // Another writer between the numbering and the lock would make the file names lie.
  if (auto open = impl_->require_open(tx); !open) return rollback_and_fail(open.error());
  auto renumber =
      Statement::prepare(impl_->db, "SELECT COALESCE(MAX(sequence), 0) + 1 FROM steps WHERE transaction_id = ?1");
  if (!renumber) return rollback_and_fail(renumber.error());
  renumber->bind(1, tx);
  if (auto row = renumber->next_row("numbering a step"); !row) return rollback_and_fail(row.error());
  if (renumber->int64(0) != sequence) {
    return rollback_and_fail(
        Error{"JOURNAL_CONCURRENT_WRITER", "another process added a step to transaction " + std::to_string(tx) +
                                               " at the same time; only one kiosk program may write the journal"});
  }
  auto insert_step =
      Statement::prepare(impl_->db,
                         "INSERT INTO steps (transaction_id, step, sequence, actor_staff_id, actor_role, "
                         "started_at_ms, ended_at_ms, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!insert_step) return rollback_and_fail(insert_step.error());
  insert_step->bind(1, tx)
      .bind(2, kiosk::to_string(step.step))
      .bind(3, std::int64_t{sequence})
      .bind(4, step.actor_staff_id)
      .bind(5, step.actor_role ? kiosk::to_string(*step.actor_role) : std::string_view{})
      .bind(6, to_millis(step.started_at))
      .bind(7, to_millis(step.ended_at))
      .bind(8, step.result);
  if (auto done = insert_step->run("recording a step"); !done) return rollback_and_fail(done.error());
  stored.id = sqlite3_last_insert_rowid(impl_->db);
  for (auto& item : stored.evidence) {
    auto one = Statement::prepare(
        impl_->db,
        "INSERT INTO evidence (step_id, kind, relative_path, size_bytes, sha256) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!one) return rollback_and_fail(one.error());
    one->bind(1, stored.id)
        .bind(2, item.kind)
        .bind(3, item.relative_path)
        .bind(4, static_cast<std::int64_t>(item.size))
        .bind(5, item.sha256_hex);
    if (auto done = one->run("recording an evidence file"); !done) return rollback_and_fail(done.error());
    item.id = sqlite3_last_insert_rowid(impl_->db);
  }
  // The audit trail of this step, in the same SQL transaction: each evidence file with its hash,
  // and the staff member's act when one acted.
  auto kiosk_id = impl_->kiosk_id_of(tx);
  if (!kiosk_id) return rollback_and_fail(kiosk_id.error());
  const std::string actor_id = step.actor_staff_id.empty() ? std::string("kiosk") : step.actor_staff_id;
  const std::string actor_role =
      step.actor_role ? std::string(kiosk::to_string(*step.actor_role)) : std::string("system");
  const std::string step_name(kiosk::to_string(step.step));
  for (const auto& item : stored.evidence) {
    if (auto logged = impl_->audit_append(
            {.actor_id = actor_id,
             .actor_role = actor_role,
             .kiosk_id = *kiosk_id,
             .action = audit::AuditAction::evidence_recorded,
             .object = item.relative_path,
             .result = "ok",
             .details = "tx=" + std::to_string(tx) + " step=" + step_name + " sha256=" + item.sha256_hex});
        !logged) {
      return rollback_and_fail(logged.error());
    }
  }
  if (!step.actor_staff_id.empty()) {
    if (auto logged = impl_->audit_append({.actor_id = actor_id,
                                           .actor_role = actor_role,
                                           .kiosk_id = *kiosk_id,
                                           .action = audit::AuditAction::staff_decision,
                                           .object = "tx=" + std::to_string(tx),
                                           .result = step.result,
                                           .details = "step=" + step_name});
        !logged) {
      return rollback_and_fail(logged.error());
    }
  }
  if (auto committed = exec(impl_->db, "COMMIT"); !committed) {
    // After a failed COMMIT the rows may still reach the disk (an I/O error after the WAL write),
    // so the files stay: recover_on_start() removes them if no committed row refers to them.
    if (sqlite3_get_autocommit(impl_->db) == 0) sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
    return std::unexpected(committed.error());
  }
  return stored;
}

Result<void> Journal::close_transaction(TxId tx, TxState outcome, std::string_view reason_code) {
  if (auto writable = impl_->require_writable(); !writable) return std::unexpected(writable.error());
  if (outcome == TxState::open) {
    return fail("JOURNAL_BAD_OUTCOME", "a transaction closes as completed, refused or aborted, not open");
  }
  if (auto ok = check_code(reason_code, "the outcome reason code"); !ok) return std::unexpected(ok.error());
  // The state change and, for a refusal or an abort, its audit entry commit together.
  const auto rollback = [this] {
    if (sqlite3_get_autocommit(impl_->db) == 0) sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
  };
  const auto rollback_and_fail = [&rollback](const Error& error) -> Result<void> {
    rollback();
    return std::unexpected(error);
  };
  if (auto begun = exec(impl_->db, "BEGIN IMMEDIATE"); !begun) return rollback_and_fail(begun.error());
  auto update = Statement::prepare(impl_->db,
                                   "UPDATE transactions SET state = ?1, outcome_reason = ?2, closed_at_ms = ?3 "
                                   "WHERE id = ?4 AND state = 'open'");
  if (!update) return rollback_and_fail(update.error());
  update->bind(1, to_string(outcome)).bind(2, reason_code).bind(3, to_millis(impl_->clock->now())).bind(4, tx);
  if (auto done = update->run("closing a transaction"); !done) return rollback_and_fail(done.error());
  if (sqlite3_changes(impl_->db) != 1) {
    auto explained = impl_->require_open(tx);  // explains why nothing changed
    rollback();
    return explained;
  }
  if (outcome != TxState::completed) {
    auto kiosk_id = impl_->kiosk_id_of(tx);
    if (!kiosk_id) return rollback_and_fail(kiosk_id.error());
    if (auto logged = impl_->audit_append({.actor_id = "kiosk",
                                           .actor_role = "system",
                                           .kiosk_id = *kiosk_id,
                                           .action = audit::AuditAction::transaction_refused,
                                           .object = "tx=" + std::to_string(tx),
                                           .result = std::string(reason_code),
                                           .details = "state=" + std::string(kiosk::to_string(outcome))});
        !logged) {
      return rollback_and_fail(logged.error());
    }
  }
  if (auto committed = exec(impl_->db, "COMMIT"); !committed) return rollback_and_fail(committed.error());
  return {};
}

const audit::AuditLog* Journal::audit_log() const { return impl_->audit ? &*impl_->audit : nullptr; }

Result<std::vector<TxId>> Journal::open_transactions() const {
  auto query = Statement::prepare(impl_->db, "SELECT id FROM transactions WHERE state = 'open' ORDER BY id");
  if (!query) return std::unexpected(query.error());
  std::vector<TxId> ids;
  for (;;) {
    auto row = query->next_row("listing open transactions");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    ids.push_back(query->int64(0));
  }
  return ids;
}

Result<std::vector<TxId>> Journal::closed_transactions() const {
  auto query = Statement::prepare(impl_->db, "SELECT id FROM transactions WHERE state <> 'open' ORDER BY id");
  if (!query) return std::unexpected(query.error());
  std::vector<TxId> ids;
  for (;;) {
    auto row = query->next_row("listing closed transactions");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    ids.push_back(query->int64(0));
  }
  return ids;
}

Result<TransactionRecord> Journal::transaction(TxId tx) const {
  auto query = Statement::prepare(impl_->db,
                                  "SELECT operation, channel, investor_type, medium, kiosk_id, rule_pack_version, "
                                  "terms_version_hash, state, outcome_reason, opened_at_ms, closed_at_ms "
                                  "FROM transactions WHERE id = ?1");
  if (!query) return std::unexpected(query.error());
  query->bind(1, tx);
  auto row = query->next_row("reading a transaction");
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail("JOURNAL_TX_UNKNOWN", "there is no transaction " + std::to_string(tx) + " in the journal");

  TransactionRecord record;
  record.id = tx;
  auto operation = operation_from_string(query->text(0));
  auto channel = parse_column<Channel>(query->text(1), "channel");
  auto investor = parse_column<InvestorType>(query->text(2), "investor type");
  auto medium = parse_column<Medium>(query->text(3), "medium");
  auto state = parse_enum<TxState>(query->text(7));
  if (!operation || !state) return fail("JOURNAL_CORRUPT_ROW", "transaction " + std::to_string(tx) + " is unreadable");
  if (!channel) return std::unexpected(channel.error());
  if (!investor) return std::unexpected(investor.error());
  if (!medium) return std::unexpected(medium.error());
  record.header =
      TransactionHeader{*operation, *channel, *investor, *medium, query->text(4), query->text(5), query->text(6)};
  record.state = *state;
  record.outcome_reason = query->text(8);
  record.opened_at = from_millis(query->int64(9));
  if (!query->is_null(10)) record.closed_at = from_millis(query->int64(10));

  auto steps = Statement::prepare(impl_->db,
                                  "SELECT id, step, sequence, actor_staff_id, actor_role, started_at_ms, ended_at_ms, "
                                  "result FROM steps WHERE transaction_id = ?1 ORDER BY sequence");
  if (!steps) return std::unexpected(steps.error());
  steps->bind(1, tx);
  std::map<std::int64_t, std::size_t> index_of_step;
  for (;;) {
    auto step_row = steps->next_row("reading steps");
    if (!step_row) return std::unexpected(step_row.error());
    if (!*step_row) break;
    StoredStep step;
    step.id = steps->int64(0);
    step.transaction_id = tx;
    auto step_id = parse_column<StepId>(steps->text(1), "step");
    if (!step_id) return std::unexpected(step_id.error());
    step.record.step = *step_id;
    step.sequence = static_cast<int>(steps->int64(2));
    step.record.actor_staff_id = steps->text(3);
    if (const std::string role = steps->text(4); !role.empty()) {
      auto parsed = parse_column<StaffRole>(role, "staff role");
      if (!parsed) return std::unexpected(parsed.error());
      step.record.actor_role = *parsed;
    }
    step.record.started_at = from_millis(steps->int64(5));
    step.record.ended_at = from_millis(steps->int64(6));
    step.record.result = steps->text(7);
    index_of_step[step.id] = record.steps.size();
    record.steps.push_back(std::move(step));
  }

  auto evidence = Statement::prepare(impl_->db,
                                     "SELECT e.id, e.step_id, e.kind, e.relative_path, e.size_bytes, e.sha256 "
                                     "FROM evidence e JOIN steps s ON s.id = e.step_id "
                                     "WHERE s.transaction_id = ?1 ORDER BY e.id");
  if (!evidence) return std::unexpected(evidence.error());
  evidence->bind(1, tx);
  for (;;) {
    auto evidence_row = evidence->next_row("reading evidence");
    if (!evidence_row) return std::unexpected(evidence_row.error());
    if (!*evidence_row) break;
    const auto found = index_of_step.find(evidence->int64(1));
    if (found == index_of_step.end()) continue;
    record.steps[found->second].evidence.push_back(
        StoredEvidence{evidence->int64(0), evidence->text(2), evidence->text(3),
                       static_cast<std::uint64_t>(evidence->int64(4)), evidence->text(5)});
  }
  return record;
}

Result<RecoveryReport> Journal::recover_on_start(std::string_view reason_code, const ResumeDecision& resume) {
  if (auto writable = impl_->require_writable(); !writable) return std::unexpected(writable.error());
  if (auto ok = check_code(reason_code, "the recovery reason code"); !ok) return std::unexpected(ok.error());
  RecoveryReport report;

  auto open = open_transactions();
  if (!open) return std::unexpected(open.error());
  for (const TxId tx : *open) {
    if (resume) {
      auto record = transaction(tx);
      if (!record) return std::unexpected(record.error());
      if (resume(*record)) {
        report.resumed.push_back(tx);
        continue;
      }
    }
    if (auto closed = close_transaction(tx, TxState::aborted, reason_code); !closed) {
      return std::unexpected(closed.error());
    }
    report.aborted.push_back(tx);
  }

  struct Committed {
    TxId tx;
    std::int64_t step_id;
    std::uint64_t size;
    std::string sha256_hex;
  };
  std::map<std::string, Committed> committed;
  auto rows = Statement::prepare(impl_->db,
                                 "SELECT e.relative_path, s.transaction_id, e.step_id, e.size_bytes, e.sha256 "
                                 "FROM evidence e JOIN steps s ON s.id = e.step_id");
  if (!rows) return std::unexpected(rows.error());
  for (;;) {
    auto row = rows->next_row("listing committed evidence");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    committed.emplace(rows->text(0), Committed{rows->int64(1), rows->int64(2),
                                               static_cast<std::uint64_t>(rows->int64(3)), rows->text(4)});
  }

  // Files no committed step vouches for: a crash between rename and COMMIT leaves them behind.
  std::set<std::filesystem::path> touched_directories;
  std::error_code walk_error;
  std::vector<std::filesystem::path> to_remove;
  for (auto it = std::filesystem::recursive_directory_iterator(impl_->evidence_dir, walk_error);
       !walk_error && it != std::filesystem::recursive_directory_iterator(); it.increment(walk_error)) {
    std::error_code entry_error;
    if (!it->is_regular_file(entry_error)) continue;
    const std::string relative =
        std::filesystem::relative(it->path(), impl_->evidence_dir, entry_error).generic_string();
    if (entry_error) continue;
    if (is_temp_name(it->path().filename().string())) {
      report.removed_temp_files.push_back(relative);
      to_remove.push_back(it->path());
    } else if (!committed.contains(relative)) {
      report.removed_orphan_files.push_back(relative);
      to_remove.push_back(it->path());
    }
  }
  if (walk_error) {
    return fail("JOURNAL_EVIDENCE_UNREADABLE",
                "cannot list the evidence directory " + impl_->evidence_dir.string() + ": " + walk_error.message());
  }
  for (const auto& file : to_remove) {
    std::error_code error;
    std::filesystem::remove(file, error);
    if (error) {
      return fail("JOURNAL_EVIDENCE_CLEANUP_FAILED", "cannot remove " + file.string() + ": " + error.message());
    }
    touched_directories.insert(file.parent_path());
  }
  for (const auto& directory : touched_directories) {
    if (auto synced = fsync_directory(directory); !synced) return std::unexpected(synced.error());
  }

  for (const auto& [relative, expected] : committed) {
    const std::filesystem::path file = impl_->evidence_dir / relative;
    std::error_code error;
    if (!std::filesystem::is_regular_file(file, error)) {
      report.damage.push_back(EvidenceDamage{expected.tx, expected.step_id, relative, DamageKind::missing_file});
      continue;
    }
    auto digest = digest_file(file);
    if (!digest) {
      report.damage.push_back(EvidenceDamage{expected.tx, expected.step_id, relative, DamageKind::missing_file});
    } else if (digest->size != expected.size) {
      report.damage.push_back(EvidenceDamage{expected.tx, expected.step_id, relative, DamageKind::size_differs});
    } else if (digest->sha256_hex != expected.sha256_hex) {
      report.damage.push_back(EvidenceDamage{expected.tx, expected.step_id, relative, DamageKind::hash_differs});
    }
  }

  // Paths name only the transaction number, step and kind: no personal data.
  for (const auto& damage : report.damage) {
    log::error("journal_evidence_damaged", {{"transaction", std::to_string(damage.transaction_id)},
                                            {"step", std::to_string(damage.step_id)},
                                            {"path", damage.relative_path},
                                            {"damage", std::string(to_string(damage.kind))}});
  }
  const log::Level level = report.damage.empty() ? log::Level::info : log::Level::error;
  log::write(level, "journal_recovered",
             {{"reason", std::string(reason_code)},
              {"aborted", std::to_string(report.aborted.size())},
              {"resumed", std::to_string(report.resumed.size())},
              {"removed_temp_files", std::to_string(report.removed_temp_files.size())},
              {"removed_orphan_files", std::to_string(report.removed_orphan_files.size())},
              {"damaged_evidence", std::to_string(report.damage.size())}});
  return report;
}

Result<int> Journal::schema_version() const { return read_user_version(impl_->db); }

Result<void> Journal::check_integrity() const {
  auto integrity = Statement::prepare(impl_->db, "PRAGMA integrity_check");
  if (!integrity) return std::unexpected(integrity.error());
  auto row = integrity->next_row("checking the journal's integrity");
  if (!row) return std::unexpected(row.error());
  if (!*row || integrity->text(0) != "ok") {
    return fail("JOURNAL_CORRUPT",
                "SQLite integrity_check reports: " + (*row ? integrity->text(0) : std::string("nothing")));
  }
  auto keys = Statement::prepare(impl_->db, "PRAGMA foreign_key_check");
  if (!keys) return std::unexpected(keys.error());
  auto key_row = keys->next_row("checking the journal's references");
  if (!key_row) return std::unexpected(key_row.error());
  if (*key_row) return fail("JOURNAL_CORRUPT", "a row of table " + keys->text(0) + " points at a missing row");
  auto version = schema_version();
  if (!version) return std::unexpected(version.error());
  if (*version != kSchemaVersion) {
    return fail("JOURNAL_CORRUPT", "the journal's schema version is " + std::to_string(*version) + ", expected " +
                                       std::to_string(kSchemaVersion));
  }
  return {};
}

}  // namespace kiosk::journal
