// One parameterised SQLite statement from start to finish, for the gateway's small tables (uploads,
// evidence index, receipts): prepare, bind ?1, ?2, ... in order, hand each result row to a callback,
// finalise. The error is SQLite's own message; each caller turns it into its own error code.
#pragma once

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace kiosk::gateway {

using SqlParam = std::variant<std::string_view, std::int64_t>;

template <class RowFn>
std::expected<void, std::string> run_sql(sqlite3* db, const char* sql, std::span<const SqlParam> params, RowFn&& row) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return std::unexpected(std::string("query failed: ") + sqlite3_errmsg(db));
  }
  int index = 1;
  for (const auto& param : params) {
    if (const auto* text = std::get_if<std::string_view>(&param)) {
      sqlite3_bind_text(stmt, index, text->data(), static_cast<int>(text->size()), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_int64(stmt, index, std::get<std::int64_t>(param));
    }
    ++index;
  }
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) row(stmt);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return std::unexpected(std::string("write failed: ") + sqlite3_errmsg(db));
  return {};
}

// Opens DATA/index.sqlite as each part of the gateway does for its own tables (the file is shared:
// mode 0600, WAL, synchronous=FULL, 5 s busy timeout) and runs `schema` (CREATE ... IF NOT EXISTS).
// On failure the connection is closed and the message names the file.
inline std::expected<sqlite3*, std::string> open_index_database(const std::filesystem::path& file, const char* schema) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    return std::unexpected("cannot open " + file.string());
  }
  ::chmod(file.c_str(), 0600);
  sqlite3_busy_timeout(db, 5000);
  char* message = nullptr;
  const std::string statements = std::string("PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;") + schema;
  if (sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    sqlite3_close(db);
    return std::unexpected("cannot prepare the tables in " + file.string() + ": " + text);
  }
  return db;
}

}  // namespace kiosk::gateway
