#include "sync/gateway/evidence/postgres_index.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <mutex>

namespace kiosk::gateway::evidence {

namespace {

// Times are text in the one canonical form (see the header); "C" collation keeps byte order.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS evidence_packages (
  device_id            text COLLATE "C" NOT NULL,
  package_id           text COLLATE "C" NOT NULL,
  transaction_id       text COLLATE "C" NOT NULL,
  archive_sha256       text COLLATE "C" NOT NULL,
  archive_size         bigint NOT NULL CHECK (archive_size >= 0),
  manifest_sha256      text COLLATE "C" NOT NULL,
  operation            text COLLATE "C" NOT NULL,
  transaction_state    text COLLATE "C" NOT NULL,
  closed_at            text COLLATE "C" NOT NULL,
  checkpoint_count     bigint NOT NULL,
  checkpoint_head_hash text COLLATE "C" NOT NULL,
  received_at          text COLLATE "C" NOT NULL,
  retain_until         text COLLATE "C" NOT NULL,
  legal_hold           boolean NOT NULL DEFAULT false,
  object_ref           text COLLATE "C" NOT NULL,
  PRIMARY KEY (device_id, package_id)
);
CREATE INDEX IF NOT EXISTS evidence_packages_transaction ON evidence_packages (transaction_id, device_id);
CREATE INDEX IF NOT EXISTS evidence_packages_closed_at ON evidence_packages (closed_at);
CREATE INDEX IF NOT EXISTS evidence_packages_checkpoint ON evidence_packages (device_id, checkpoint_count);
)sql";

constexpr const char* kColumns =
    "device_id, package_id, transaction_id, archive_sha256, archive_size, manifest_sha256, operation, "
    "transaction_state, closed_at, checkpoint_count, checkpoint_head_hash, received_at, retain_until, legal_hold, "
    "object_ref";

using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

void ignore_notice(void*, const char*) {}

std::string trimmed(const char* text) {
  std::string out = text != nullptr ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::int64_t to_int(const char* text) {
  std::int64_t value = 0;
  std::from_chars(text, text + std::strlen(text), value);
  return value;
}

StoredPackage row_at(const PGresult* result, int row) {
  auto text = [&](int column) { return std::string(PQgetvalue(result, row, column)); };
  StoredPackage package;
  package.device_id = text(0);
  package.package_id = text(1);
  package.transaction_id = text(2);
  package.archive_sha256 = text(3);
  package.archive_size = static_cast<std::uint64_t>(to_int(PQgetvalue(result, row, 4)));
  package.manifest_sha256 = text(5);
  package.operation = text(6);
  package.transaction_state = text(7);
  package.closed_at = text(8);
  package.checkpoint_count = to_int(PQgetvalue(result, row, 9));
  package.checkpoint_head_hash = text(10);
  package.received_at = text(11);
  package.retain_until = text(12);
  package.legal_hold = text(13) == "t";
  package.object_ref = text(14);
  return package;
}

}  // namespace

struct PostgresEvidenceIndex::Impl {
  PGconn* connection = nullptr;
  std::mutex mutex;

  ~Impl() {
    if (connection != nullptr) PQfinish(connection);
  }

  // Runs one statement; a broken connection is reset and the statement tried once more (every
  // statement here is idempotent, so a retry cannot do a thing twice).
  Result<PgResult> exec(const char* sql, const std::vector<std::string>& params, ExecStatusType expected) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param.c_str());
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (PQstatus(connection) != CONNECTION_OK) PQreset(connection);
      PgResult result(
          PQexecParams(connection, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0),
          PQclear);
      if (result && PQresultStatus(result.get()) == expected) return result;
      if (PQstatus(connection) == CONNECTION_OK || attempt == 1) {
        const std::string detail =
            result ? trimmed(PQresultErrorMessage(result.get())) : trimmed(PQerrorMessage(connection));
        return fail(PQstatus(connection) == CONNECTION_OK ? "EVIDENCE_INDEX_FAILED" : "EVIDENCE_INDEX_UNAVAILABLE",
                    "the PostgreSQL evidence index failed: " + detail);
      }
    }
    return fail("EVIDENCE_INDEX_UNAVAILABLE", "the PostgreSQL evidence index is unreachable");
  }

  Result<std::optional<StoredPackage>> find_locked(std::string_view device_id, std::string_view package_id) {
    static const std::string sql =
        std::string("SELECT ") + kColumns + " FROM evidence_packages WHERE device_id = $1 AND package_id = $2";
    auto result = exec(sql.c_str(), {std::string(device_id), std::string(package_id)}, PGRES_TUPLES_OK);
    if (!result) return std::unexpected(result.error());
    if (PQntuples(result->get()) == 0) return std::optional<StoredPackage>{};
    return std::optional<StoredPackage>{row_at(result->get(), 0)};
  }
};

Result<PostgresEvidenceIndex> PostgresEvidenceIndex::open(const std::string& conninfo) {
  auto impl = std::make_unique<Impl>();
  impl->connection = PQconnectdb(conninfo.c_str());
  if (impl->connection == nullptr) return fail("EVIDENCE_INDEX_UNAVAILABLE", "libpq could not allocate a connection");
  if (PQstatus(impl->connection) != CONNECTION_OK)
    return fail("EVIDENCE_INDEX_UNAVAILABLE",
                "cannot connect to the PostgreSQL evidence index ([evidence.postgres] conninfo): " +
                    trimmed(PQerrorMessage(impl->connection)));
  PQsetNoticeProcessor(impl->connection, ignore_notice, nullptr);
  // Several statements in one string: only PQexec takes that, and the schema has no parameters.
  PgResult result(PQexec(impl->connection, kSchema), PQclear);
  if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK)
    return fail("EVIDENCE_INDEX_FAILED",
                "cannot create the evidence_packages table: " +
                    trimmed(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(impl->connection)));
  return PostgresEvidenceIndex(std::move(impl));
}

PostgresEvidenceIndex::PostgresEvidenceIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresEvidenceIndex::PostgresEvidenceIndex(PostgresEvidenceIndex&&) noexcept = default;
PostgresEvidenceIndex& PostgresEvidenceIndex::operator=(PostgresEvidenceIndex&&) noexcept = default;
PostgresEvidenceIndex::~PostgresEvidenceIndex() = default;

Result<StoredPackage> PostgresEvidenceIndex::insert_or_get(const StoredPackage& row) {
  static const std::string sql = std::string("INSERT INTO evidence_packages (") + kColumns +
                                 ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                                 " ON CONFLICT (device_id, package_id) DO NOTHING";
  const std::lock_guard lock(impl_->mutex);
  auto inserted = impl_->exec(
      sql.c_str(),
      {row.device_id, row.package_id, row.transaction_id, row.archive_sha256, std::to_string(row.archive_size),
       row.manifest_sha256, row.operation, row.transaction_state, row.closed_at, std::to_string(row.checkpoint_count),
       row.checkpoint_head_hash, row.received_at, row.retain_until, row.legal_hold ? "true" : "false", row.object_ref},
      PGRES_COMMAND_OK);
  if (!inserted) return std::unexpected(inserted.error());
  auto stored = impl_->find_locked(row.device_id, row.package_id);
  if (!stored) return std::unexpected(stored.error());
  if (!stored->has_value())
    return fail("EVIDENCE_INDEX_FAILED", "the evidence row vanished between INSERT and SELECT (removed concurrently)");
  if ((*stored)->archive_sha256 != row.archive_sha256)
    return fail("EVIDENCE_CONFLICT",
                "package " + row.package_id + " of this device is already stored with another archive hash");
  return **stored;
}

Result<std::optional<StoredPackage>> PostgresEvidenceIndex::find(std::string_view device_id,
                                                                 std::string_view package_id) {
  const std::lock_guard lock(impl_->mutex);
  return impl_->find_locked(device_id, package_id);
}

Result<std::vector<StoredPackage>> PostgresEvidenceIndex::query(const PackageQuery& query) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM evidence_packages WHERE true";
  std::vector<std::string> params;
  auto placeholder = [&](std::string value) {
    params.push_back(std::move(value));
    return "$" + std::to_string(params.size());
  };
  if (query.device_id) sql += " AND device_id = " + placeholder(*query.device_id);
  if (query.transaction_id) sql += " AND transaction_id = " + placeholder(*query.transaction_id);
  if (query.closed_from) sql += " AND closed_at >= " + placeholder(*query.closed_from);
  if (query.closed_to) sql += " AND closed_at < " + placeholder(*query.closed_to);
  if (!query.device_transactions.empty()) {
    sql += " AND (";
    for (std::size_t i = 0; i < query.device_transactions.size(); ++i) {
      if (i > 0) sql += " OR ";
      sql += "(device_id = " + placeholder(query.device_transactions[i].first);
      sql += " AND transaction_id = " + placeholder(query.device_transactions[i].second) + ")";
    }
    sql += ")";
  }
  sql += " ORDER BY device_id, transaction_id, package_id LIMIT " + placeholder(std::to_string(query.limit));
  const std::lock_guard lock(impl_->mutex);
  auto result = impl_->exec(sql.c_str(), params, PGRES_TUPLES_OK);
  if (!result) return std::unexpected(result.error());
  std::vector<StoredPackage> rows;
  const int count = PQntuples(result->get());
  rows.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) rows.push_back(row_at(result->get(), i));
  return rows;
}

Result<bool> PostgresEvidenceIndex::set_legal_hold(std::string_view device_id, std::string_view package_id, bool hold) {
  const std::lock_guard lock(impl_->mutex);
  auto result =
      impl_->exec("UPDATE evidence_packages SET legal_hold = $3 WHERE device_id = $1 AND package_id = $2",
                  {std::string(device_id), std::string(package_id), hold ? "true" : "false"}, PGRES_COMMAND_OK);
  if (!result) return std::unexpected(result.error());
  return std::string_view(PQcmdTuples(result->get())) != "0";
}

Result<bool> PostgresEvidenceIndex::remove(std::string_view device_id, std::string_view package_id) {
  const std::lock_guard lock(impl_->mutex);
  auto result = impl_->exec("DELETE FROM evidence_packages WHERE device_id = $1 AND package_id = $2",
                            {std::string(device_id), std::string(package_id)}, PGRES_COMMAND_OK);
  if (!result) return std::unexpected(result.error());
  return std::string_view(PQcmdTuples(result->get())) != "0";
}

Result<std::optional<std::string>> PostgresEvidenceIndex::checkpoint_hash_at(std::string_view device_id,
                                                                             std::int64_t count) {
  const std::lock_guard lock(impl_->mutex);
  auto result = impl_->exec(
      "SELECT checkpoint_head_hash FROM evidence_packages WHERE device_id = $1 AND checkpoint_count = $2"
      " ORDER BY received_at DESC, package_id DESC LIMIT 1",
      {std::string(device_id), std::to_string(count)}, PGRES_TUPLES_OK);
  if (!result) return std::unexpected(result.error());
  if (PQntuples(result->get()) == 0) return std::optional<std::string>{};
  return std::optional<std::string>{PQgetvalue(result->get(), 0, 0)};
}

}  // namespace kiosk::gateway::evidence
