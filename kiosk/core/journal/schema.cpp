#include "kiosk/core/journal/schema.hpp"

#include <sqlite3.h>

#include <array>
#include <string>

namespace kiosk::journal {
namespace {

constexpr std::string_view kMigration1 = R"sql(
CREATE TABLE transactions (
  id INTEGER PRIMARY KEY,
  operation TEXT NOT NULL,
  channel TEXT NOT NULL,
  investor_type TEXT NOT NULL,
  medium TEXT NOT NULL,
  kiosk_id TEXT NOT NULL,
  rule_pack_version TEXT NOT NULL,
  terms_version_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'completed', 'refused', 'aborted')),
  outcome_reason TEXT NOT NULL DEFAULT '',
  opened_at_ms INTEGER NOT NULL,
  closed_at_ms INTEGER
);
CREATE TABLE steps (
  id INTEGER PRIMARY KEY,
  transaction_id INTEGER NOT NULL REFERENCES transactions (id),
  step TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  actor_staff_id TEXT NOT NULL DEFAULT '',
  actor_role TEXT NOT NULL DEFAULT '',
  started_at_ms INTEGER NOT NULL,
  ended_at_ms INTEGER NOT NULL,
  result TEXT NOT NULL,
  UNIQUE (transaction_id, sequence)
);
CREATE TABLE evidence (
  id INTEGER PRIMARY KEY,
  step_id INTEGER NOT NULL REFERENCES steps (id),
  kind TEXT NOT NULL,
  relative_path TEXT NOT NULL UNIQUE,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64)
);
CREATE INDEX transactions_by_state ON transactions (state);
CREATE INDEX evidence_by_step ON evidence (step_id);
)sql";

constexpr std::array<std::string_view, 1> kMigrations{kMigration1};

std::string sqlite_message(sqlite3* db) { return db != nullptr ? sqlite3_errmsg(db) : "no database handle"; }

}  // namespace

std::span<const std::string_view> schema_migrations() { return kMigrations; }

Result<int> read_user_version(sqlite3* db) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr) != SQLITE_OK) {
    return fail("JOURNAL_SCHEMA_UNREADABLE", "cannot read the journal's schema version: " + sqlite_message(db));
  }
  int version = -1;
  if (sqlite3_step(statement) == SQLITE_ROW) version = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  if (version < 0) {
    return fail("JOURNAL_SCHEMA_UNREADABLE", "cannot read the journal's schema version: " + sqlite_message(db));
  }
  return version;
}

Result<void> apply_migrations(sqlite3* db, std::span<const std::string_view> migrations) {
  auto current = read_user_version(db);
  if (!current) return std::unexpected(current.error());
  const int known = static_cast<int>(migrations.size());
  if (*current > known) {
    return fail("JOURNAL_SCHEMA_TOO_NEW", "the journal has schema version " + std::to_string(*current) +
                                              " but this program knows only up to " + std::to_string(known) +
                                              "; install the newer kiosk software that wrote it, never downgrade");
  }
  for (int version = *current; version < known; ++version) {
    const std::string sql = "BEGIN IMMEDIATE;\n" + std::string(migrations[static_cast<std::size_t>(version)]) +
                            "\nPRAGMA user_version = " + std::to_string(version + 1) + ";\nCOMMIT;";
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string detail = message != nullptr ? message : sqlite_message(db);
      sqlite3_free(message);
      if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return fail("JOURNAL_MIGRATION_FAILED", "migrating the journal from schema version " + std::to_string(version) +
                                                  " to " + std::to_string(version + 1) + " failed (" + detail +
                                                  "); the journal was left at version " + std::to_string(version));
    }
  }
  return {};
}

}  // namespace kiosk::journal
