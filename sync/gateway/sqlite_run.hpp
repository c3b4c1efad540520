// One parameterised SQLite statement from start to finish, for the gateway's small tables (uploads,
// evidence index, receipts): prepare, bind ?1, ?2, ... in order, hand each result row to a callback,
// finalise. The error is SQLite's own message; each caller turns it into its own error code.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <expected>
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

}  // namespace kiosk::gateway
