// The journal's schema as an ordered list of migrations: migration i takes PRAGMA user_version
// from i to i + 1 inside one SQL transaction, so a failed migration leaves the previous version.
#pragma once

#include <span>
#include <string_view>

#include "kiosk/core/error.hpp"

struct sqlite3;

namespace kiosk::journal {

// The migrations of this build; their count is kSchemaVersion.
std::span<const std::string_view> schema_migrations();

// Brings `db` to migrations.size(); refuses a database whose user_version is higher.
Result<void> apply_migrations(sqlite3* db, std::span<const std::string_view> migrations);

Result<int> read_user_version(sqlite3* db);

}  // namespace kiosk::journal
