#include "sync/gateway/evidence/embedded_store.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <variant>

#include "kiosk/core/hex_text.hpp"
#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/log.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "sync/gateway/evidence/retention.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/gateway/sqlite_run.hpp"

namespace kiosk::gateway::evidence {
namespace {

namespace fs = std::filesystem;
using Param = SqlParam;

Error store_error(std::string what) { return Error{"EVIDENCE_STORE_FAILED", std::move(what)}; }

struct Fd {
  int fd = -1;
  explicit Fd(int value) : fd(value) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The journal's directory fsync, with this store's error code.
Result<void> fsync_dir(const fs::path& dir) {
  auto synced = journal::fsync_directory(dir);
  if (!synced) return std::unexpected(store_error(synced.error().message));
  return {};
}

struct CopyResult {
  std::string sha256;
  std::uint64_t size = 0;
};

// Copies `from` into the new file `to` (O_EXCL, mode 0600) while hashing, and fsyncs it. On error
// the partial copy is removed.
Result<CopyResult> copy_and_hash(const fs::path& from, const fs::path& to) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) return std::unexpected(store_error("cannot read " + from.string() + ": " + std::strerror(errno)));
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.fd < 0) return std::unexpected(store_error("cannot create " + to.string() + ": " + std::strerror(errno)));
  openssl::MdContext md(EVP_MD_CTX_new());
  bool ok = md && EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) == 1;
  std::vector<unsigned char> buffer(256 * 1024);
  CopyResult result;
  std::string reason;
  while (ok) {
    const ssize_t got = ::read(in.fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      reason = std::strerror(errno);
      ok = false;
      break;
    }
    if (got == 0) break;
    EVP_DigestUpdate(md.get(), buffer.data(), static_cast<std::size_t>(got));
    std::size_t written = 0;
    while (written < static_cast<std::size_t>(got)) {
      const ssize_t n = ::write(out.fd, buffer.data() + written, static_cast<std::size_t>(got) - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        reason = std::strerror(errno);
        ok = false;
        break;
      }
      written += static_cast<std::size_t>(n);
    }
    result.size += static_cast<std::uint64_t>(got);
  }
  if (ok && ::fsync(out.fd) != 0) {
    reason = std::strerror(errno);
    ok = false;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (ok) ok = EVP_DigestFinal_ex(md.get(), digest.data(), &digest_size) == 1;
  if (!ok) {
    std::error_code ignored;
    fs::remove(to, ignored);
    return std::unexpected(store_error("cannot copy " + from.string() + " to " + to.string() + ": " + reason));
  }
  result.sha256 = hex_encode(digest.data(), digest_size);
  return result;
}

Result<CopyResult> hash_file(const fs::path& file) {
  Fd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) return std::unexpected(store_error("cannot read " + file.string() + ": " + std::strerror(errno)));
  openssl::MdContext md(EVP_MD_CTX_new());
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1) {
    return std::unexpected(store_error("cannot start SHA-256"));
  }
  std::vector<unsigned char> buffer(256 * 1024);
  CopyResult result;
  while (true) {
    const ssize_t got = ::read(in.fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::unexpected(store_error("cannot read " + file.string() + ": " + std::strerror(errno)));
    if (got == 0) break;
    EVP_DigestUpdate(md.get(), buffer.data(), static_cast<std::size_t>(got));
    result.size += static_cast<std::uint64_t>(got);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  EVP_DigestFinal_ex(md.get(), digest.data(), &digest_size);
  result.sha256 = hex_encode(digest.data(), digest_size);
  return result;
}

std::string column_text(sqlite3_stmt* stmt, int column) {
  const auto* text = sqlite3_column_text(stmt, column);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

constexpr const char* kColumns =
    "device_id, package_id, transaction_id, archive_sha256, archive_size, manifest_sha256, operation, "
    "transaction_state, closed_at, checkpoint_count, checkpoint_head_hash, received_at, retain_until, legal_hold, "
    "object_ref";

StoredPackage row_from(sqlite3_stmt* stmt) {
  StoredPackage row;
  row.device_id = column_text(stmt, 0);
  row.package_id = column_text(stmt, 1);
  row.transaction_id = column_text(stmt, 2);
  row.archive_sha256 = column_text(stmt, 3);
  row.archive_size = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 4));
  row.manifest_sha256 = column_text(stmt, 5);
  row.operation = column_text(stmt, 6);
  row.transaction_state = column_text(stmt, 7);
  row.closed_at = column_text(stmt, 8);
  row.checkpoint_count = sqlite3_column_int64(stmt, 9);
  row.checkpoint_head_hash = column_text(stmt, 10);
  row.received_at = column_text(stmt, 11);
  row.retain_until = column_text(stmt, 12);
  row.legal_hold = sqlite3_column_int64(stmt, 13) != 0;
  row.object_ref = column_text(stmt, 14);
  return row;
}

}  // namespace

struct EmbeddedEvidenceStore::Impl {
  fs::path evidence_dir;
  fs::path objects_dir;
  sqlite3* db = nullptr;
  std::mutex mutex;  // guards db and the object directory's writes

  ~Impl() {
    if (db != nullptr) sqlite3_close(db);
  }

  template <class RowFn>
  Result<void> run(const std::string& sql, const std::vector<Param>& params, RowFn&& row) {
    auto ran = run_sql(db, sql.c_str(), params, std::forward<RowFn>(row));
    if (!ran) return std::unexpected(store_error("evidence index " + ran.error()));
    return {};
  }
  Result<void> exec(const std::string& sql, const std::vector<Param>& params) {
    return run(sql, params, [](sqlite3_stmt*) {});
  }

  Result<std::optional<StoredPackage>> find_locked(std::string_view device_id, std::string_view package_id) {
    std::optional<StoredPackage> found;
    auto ran =
        run(std::string("SELECT ") + kColumns + " FROM evidence_packages WHERE device_id = ?1 AND package_id = ?2",
            {device_id, package_id}, [&](sqlite3_stmt* stmt) { found = row_from(stmt); });
    if (!ran) return std::unexpected(ran.error());
    return found;
  }

  // Makes objects/<aa>/<sha> hold exactly the archive's bytes: an existing object is kept when its
  // hash is right (content addressing: same bytes, same file) and replaced when it is not.
  Result<std::string> store_object(const fs::path& archive_file, const StoredPackage& row) {
    const fs::path shard = objects_dir / row.archive_sha256.substr(0, 2);
    const fs::path object = shard / row.archive_sha256;
    const std::string object_ref = "objects/" + row.archive_sha256.substr(0, 2) + "/" + row.archive_sha256;
    std::error_code exists_error;
    if (fs::exists(object, exists_error)) {
      auto existing = hash_file(object);
      if (existing && existing->sha256 == row.archive_sha256 && existing->size == row.archive_size) return object_ref;
      log::warn("evidence_object_replaced", {{"archive_sha256", row.archive_sha256}});
    }
    std::error_code dir_error;
    const bool shard_created = fs::create_directory(shard, dir_error);
    if (dir_error) return std::unexpected(store_error("cannot create " + shard.string() + ": " + dir_error.message()));
    if (shard_created) {
      ::chmod(shard.c_str(), 0700);
      if (auto synced = fsync_dir(objects_dir); !synced) return std::unexpected(synced.error());
    }
    auto suffix = random_hex(8);
    if (!suffix) return std::unexpected(store_error("cannot make a temporary name"));
    const fs::path temporary = shard / (".tmp-" + row.archive_sha256 + "-" + *suffix);
    auto copied = copy_and_hash(archive_file, temporary);
    if (!copied) return std::unexpected(copied.error());
    std::error_code ignored;
    if (copied->sha256 != row.archive_sha256 || copied->size != row.archive_size) {
      fs::remove(temporary, ignored);
      return std::unexpected(store_error("the archive's SHA-256 or size differs from the row's; nothing stored"));
    }
    // Read-only from here on: evidence is never edited in place.
    if (::chmod(temporary.c_str(), 0400) != 0 || ::rename(temporary.c_str(), object.c_str()) != 0) {
      const std::string reason = std::strerror(errno);
      fs::remove(temporary, ignored);
      return std::unexpected(store_error("cannot move the archive into " + shard.string() + ": " + reason));
    }
    if (auto synced = fsync_dir(shard); !synced) return std::unexpected(synced.error());
    return object_ref;
  }

  // An object_ref this store wrote: "objects/<aa>/<64 hex>" (checked, so a row cannot point elsewhere).
  std::optional<fs::path> object_of(const StoredPackage& row) const {
    const std::string_view ref = row.object_ref;
    if (ref.size() != 8 + 3 + 64 || !ref.starts_with("objects/") || ref[10] != '/') return std::nullopt;
    const auto sha = ref.substr(11);
    if (!is_lower_hex(sha, 64) || ref.substr(8, 2) != sha.substr(0, 2)) return std::nullopt;
    return evidence_dir / std::string(ref);
  }
};

EmbeddedEvidenceStore::EmbeddedEvidenceStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedEvidenceStore::~EmbeddedEvidenceStore() = default;

fs::path EmbeddedEvidenceStore::object_path(std::string_view archive_sha256) const {
  return impl_->objects_dir / std::string(archive_sha256.substr(0, 2)) / std::string(archive_sha256);
}

Result<std::unique_ptr<EmbeddedEvidenceStore>> EmbeddedEvidenceStore::open(const fs::path& data_dir) {
  auto impl = std::make_unique<Impl>();
  impl->evidence_dir = data_dir / "evidence";
  impl->objects_dir = impl->evidence_dir / "objects";
  std::error_code dir_error;
  fs::create_directories(impl->objects_dir, dir_error);
  if (dir_error) {
    return std::unexpected(store_error("cannot create " + impl->objects_dir.string() + ": " + dir_error.message()));
  }
  ::chmod(impl->evidence_dir.c_str(), 0700);
  ::chmod(impl->objects_dir.c_str(), 0700);
  const fs::path index = data_dir / "index.sqlite";
  const char* schema =
      "CREATE TABLE IF NOT EXISTS evidence_packages ("
      "  device_id TEXT NOT NULL,"
      "  package_id TEXT NOT NULL,"
      "  transaction_id TEXT NOT NULL,"
      "  archive_sha256 TEXT NOT NULL,"
      "  archive_size INTEGER NOT NULL,"
      "  manifest_sha256 TEXT NOT NULL,"
      "  operation TEXT NOT NULL,"
      "  transaction_state TEXT NOT NULL,"
      "  closed_at TEXT NOT NULL,"
      "  checkpoint_count INTEGER NOT NULL,"
      "  checkpoint_head_hash TEXT NOT NULL,"
      "  received_at TEXT NOT NULL,"
      "  retain_until TEXT NOT NULL,"
      "  legal_hold INTEGER NOT NULL DEFAULT 0,"
      "  object_ref TEXT NOT NULL,"
      "  UNIQUE (device_id, package_id));"
      "CREATE INDEX IF NOT EXISTS evidence_packages_transaction ON evidence_packages (device_id, transaction_id);"
      "CREATE INDEX IF NOT EXISTS evidence_packages_closed ON evidence_packages (closed_at);"
      "CREATE INDEX IF NOT EXISTS evidence_packages_checkpoint ON evidence_packages (device_id, checkpoint_count);";
  auto opened = open_index_database(index, schema);
  if (!opened) return std::unexpected(store_error(opened.error()));
  impl->db = *opened;
  return std::unique_ptr<EmbeddedEvidenceStore>(new EmbeddedEvidenceStore(std::move(impl)));
}

Result<StoredPackage> EmbeddedEvidenceStore::put(const fs::path& archive_file, const StoredPackage& row) {
  if (!is_lower_hex(row.archive_sha256, 64) || row.device_id.empty() || row.package_id.empty() ||
      !is_utc_millis_text(row.received_at) || !is_utc_millis_text(row.retain_until)) {
    return std::unexpected(store_error("the row to store is malformed (hash, ids or times)"));
  }
  Impl& s = *impl_;
  std::lock_guard lock(s.mutex);
  auto existing = s.find_locked(row.device_id, row.package_id);
  if (!existing) return std::unexpected(existing.error());
  if (*existing) {
    if ((*existing)->archive_sha256 != row.archive_sha256) {
      return fail("EVIDENCE_CONFLICT", "this device already stored this package with another archive");
    }
    return **existing;  // idempotent: the original row, nothing written
  }
  auto object_ref = s.store_object(archive_file, row);
  if (!object_ref) return std::unexpected(object_ref.error());
  StoredPackage stored = row;
  stored.object_ref = *object_ref;
  auto inserted = s.exec("INSERT INTO evidence_packages (" + std::string(kColumns) +
                             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                         {stored.device_id, stored.package_id, stored.transaction_id, stored.archive_sha256,
                          static_cast<std::int64_t>(stored.archive_size), stored.manifest_sha256, stored.operation,
                          stored.transaction_state, stored.closed_at, stored.checkpoint_count,
                          stored.checkpoint_head_hash, stored.received_at, stored.retain_until,
                          static_cast<std::int64_t>(stored.legal_hold ? 1 : 0), stored.object_ref});
  // The object stays on failure: it is content-addressed, so a retry finds and reuses it.
  if (!inserted) return std::unexpected(inserted.error());
  log::info("evidence_stored", {{"device_id", stored.device_id},
                                {"package_id", stored.package_id},
                                {"transaction_id", stored.transaction_id},
                                {"archive_sha256", stored.archive_sha256},
                                {"retain_until", stored.retain_until}});
  return stored;
}

Result<StoredPackage> EmbeddedEvidenceStore::find(std::string_view device_id, std::string_view package_id) {
  std::lock_guard lock(impl_->mutex);
  auto found = impl_->find_locked(device_id, package_id);
  if (!found) return std::unexpected(found.error());
  if (!*found) return fail("EVIDENCE_NOT_FOUND", "no stored package with this device and package id");
  return **found;
}

Result<std::vector<StoredPackage>> EmbeddedEvidenceStore::query(const PackageQuery& query) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM evidence_packages WHERE 1";
  std::vector<Param> params;
  const auto bind = [&](const std::string& value) {
    params.emplace_back(std::string_view(value));
    return "?" + std::to_string(params.size());
  };
  if (query.device_id) sql += " AND device_id = " + bind(*query.device_id);
  if (query.transaction_id) sql += " AND transaction_id = " + bind(*query.transaction_id);
  if (query.closed_from) sql += " AND closed_at >= " + bind(*query.closed_from);
  if (query.closed_to) sql += " AND closed_at < " + bind(*query.closed_to);
  if (!query.device_transactions.empty()) {
    sql += " AND (";
    for (std::size_t i = 0; i < query.device_transactions.size(); ++i) {
      const auto& [device, transaction] = query.device_transactions[i];
      sql += (i == 0 ? "" : " OR ");
      const std::string device_param = bind(device);
      sql += "(device_id = " + device_param + " AND transaction_id = " + bind(transaction) + ")";
    }
    sql += ")";
  }
  sql += " ORDER BY device_id, transaction_id, package_id LIMIT " + std::to_string(query.limit);
  std::vector<StoredPackage> rows;
  std::lock_guard lock(impl_->mutex);
  auto ran = impl_->run(sql, params, [&](sqlite3_stmt* stmt) { rows.push_back(row_from(stmt)); });
  if (!ran) return std::unexpected(ran.error());
  return rows;
}

Result<void> EmbeddedEvidenceStore::read_archive(const StoredPackage& row, const fs::path& destination) {
  const auto object = impl_->object_of(row);
  if (!object) return std::unexpected(store_error("the row's object_ref is not one this store writes"));
  const fs::path parent = destination.has_parent_path() ? destination.parent_path() : fs::path(".");
  auto suffix = random_hex(8);
  if (!suffix) return std::unexpected(store_error("cannot make a temporary name"));
  const fs::path temporary = parent / (".tmp-" + destination.filename().string() + "-" + *suffix);
  auto copied = copy_and_hash(*object, temporary);
  if (!copied) return std::unexpected(copied.error());
  std::error_code ignored;
  if (copied->sha256 != row.archive_sha256 || copied->size != row.archive_size) {
    fs::remove(temporary, ignored);
    log::error("evidence_object_corrupt",
               {{"device_id", row.device_id}, {"package_id", row.package_id}, {"archive_sha256", row.archive_sha256}});
    return fail("EVIDENCE_CORRUPT", "the stored archive's SHA-256 differs from its index row; restore it from backup");
  }
  if (::rename(temporary.c_str(), destination.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    fs::remove(temporary, ignored);
    return std::unexpected(store_error("cannot create " + destination.string() + ": " + reason));
  }
  return fsync_dir(parent);
}

Result<void> EmbeddedEvidenceStore::set_legal_hold(std::string_view device_id, std::string_view package_id, bool hold) {
  std::lock_guard lock(impl_->mutex);
  auto found = impl_->find_locked(device_id, package_id);
  if (!found) return std::unexpected(found.error());
  if (!*found) return fail("EVIDENCE_NOT_FOUND", "no stored package with this device and package id");
  auto updated = impl_->exec("UPDATE evidence_packages SET legal_hold = ?3 WHERE device_id = ?1 AND package_id = ?2",
                             {device_id, package_id, static_cast<std::int64_t>(hold ? 1 : 0)});
  if (!updated) return updated;
  log::info(
      "evidence_legal_hold",
      {{"device_id", std::string(device_id)}, {"package_id", std::string(package_id)}, {"hold", hold ? "on" : "off"}});
  return {};
}

Result<void> EmbeddedEvidenceStore::remove(std::string_view device_id, std::string_view package_id,
                                           std::string_view now) {
  if (!is_utc_millis_text(now)) return std::unexpected(store_error("`now` must be UTC text YYYY-MM-DDTHH:MM:SS.mmmZ"));
  Impl& s = *impl_;
  std::lock_guard lock(s.mutex);
  auto found = s.find_locked(device_id, package_id);
  if (!found) return std::unexpected(found.error());
  if (!*found) return fail("EVIDENCE_NOT_FOUND", "no stored package with this device and package id");
  const StoredPackage& row = **found;
  const auto refuse = [&](const char* code, const std::string& message) {
    log::warn("evidence_delete_refused", {{"device_id", row.device_id},
                                          {"package_id", row.package_id},
                                          {"code", code},
                                          {"retain_until", row.retain_until},
                                          {"now", std::string(now)}});
    return fail(code, message);
  };
  if (row.legal_hold) return refuse("EVIDENCE_LEGAL_HOLD", "the package is under legal hold; lift the hold first");
  if (std::string_view(row.retain_until) > now) {
    return refuse("EVIDENCE_RETENTION_ACTIVE", "the package must be kept until " + row.retain_until + " (REQ-42)");
  }
  // Row first: a file without a row is garbage, a row without its file would be a lost package.
  auto deleted =
      s.exec("DELETE FROM evidence_packages WHERE device_id = ?1 AND package_id = ?2", {device_id, package_id});
  if (!deleted) return deleted;
  std::int64_t still_used = 0;
  if (auto counted = s.run("SELECT COUNT(*) FROM evidence_packages WHERE archive_sha256 = ?1", {row.archive_sha256},
                           [&](sqlite3_stmt* stmt) { still_used = sqlite3_column_int64(stmt, 0); });
      !counted) {
    return counted;
  }
  if (const auto object = s.object_of(row); object && still_used == 0) {
    if (::unlink(object->c_str()) != 0 && errno != ENOENT) {
      log::error("evidence_object_unlink_failed", {{"archive_sha256", row.archive_sha256}});
    } else if (auto synced = fsync_dir(object->parent_path()); !synced) {
      return synced;
    }
  }
  log::info("evidence_deleted", {{"device_id", row.device_id},
                                 {"package_id", row.package_id},
                                 {"transaction_id", row.transaction_id},
                                 {"retain_until", row.retain_until},
                                 {"now", std::string(now)}});
  return {};
}

Result<std::optional<std::string>> EmbeddedEvidenceStore::checkpoint_hash_at(std::string_view device_id,
                                                                             std::int64_t count) {
  std::optional<std::string> hash;
  std::lock_guard lock(impl_->mutex);
  auto ran = impl_->run(
      "SELECT checkpoint_head_hash FROM evidence_packages WHERE device_id = ?1 AND checkpoint_count = ?2 "
      "ORDER BY received_at DESC LIMIT 1",
      {device_id, count}, [&](sqlite3_stmt* stmt) { hash = column_text(stmt, 0); });
  if (!ran) return std::unexpected(ran.error());
  return hash;
}

Result<std::vector<StoredPackage>> EmbeddedEvidenceStore::due_for_purge(std::string_view now, std::size_t limit) {
  if (!is_utc_millis_text(now)) return std::unexpected(store_error("`now` must be UTC text YYYY-MM-DDTHH:MM:SS.mmmZ"));
  std::vector<StoredPackage> rows;
  std::lock_guard lock(impl_->mutex);
  auto ran =
      impl_->run(std::string("SELECT ") + kColumns +
                     " FROM evidence_packages WHERE retain_until <= ?1 AND legal_hold = 0 "
                     "ORDER BY retain_until, device_id, package_id LIMIT ?2",
                 {now, static_cast<std::int64_t>(limit)}, [&](sqlite3_stmt* stmt) { rows.push_back(row_from(stmt)); });
  if (!ran) return std::unexpected(ran.error());
  return rows;
}

}  // namespace kiosk::gateway::evidence
