#include "sync/gateway/uploads/upload_store.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "kiosk/core/hex_text.hpp"
#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/log.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/gateway/sqlite_run.hpp"

namespace kiosk::gateway::uploads {
namespace {

namespace fs = std::filesystem;

Error storage_error(std::string what) { return Error{"UPLOAD_STORAGE_FAILED", std::move(what)}; }

// Closes a file descriptor on every path out.
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
  if (!synced) return std::unexpected(storage_error(synced.error().message));
  return {};
}

Result<std::string> file_sha256_hex(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) return std::unexpected(storage_error("cannot read " + file.string() + ": " + std::strerror(errno)));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return std::unexpected(storage_error("cannot start SHA-256"));
  }
  std::vector<unsigned char> buffer(256 * 1024);
  while (true) {
    const ssize_t got = ::read(fd.fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      EVP_MD_CTX_free(ctx);
      return std::unexpected(storage_error("cannot read " + file.string() + ": " + std::strerror(errno)));
    }
    if (got == 0) break;
    EVP_DigestUpdate(ctx, buffer.data(), static_cast<std::size_t>(got));
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &size);
  EVP_MD_CTX_free(ctx);
  return hex_encode(digest.data(), size);
}

// Cuts `file` to `size` bytes and fsyncs it.
Result<void> truncate_file(const fs::path& file, std::uint64_t size) {
  Fd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.fd < 0 || ::ftruncate(fd.fd, static_cast<off_t>(size)) != 0 || ::fsync(fd.fd) != 0) {
    return std::unexpected(storage_error("cannot truncate " + file.string() + ": " + std::strerror(errno)));
  }
  return {};
}

UploadState state_from(std::string_view text) {
  if (text == "complete") return UploadState::complete;
  if (text == "failed") return UploadState::failed;
  return UploadState::open;
}

}  // namespace

std::string_view to_string(UploadState state) {
  switch (state) {
    case UploadState::open: return "open";
    case UploadState::complete: return "complete";
    case UploadState::failed: return "failed";
  }
  return "open";
}

bool is_valid_upload_id(std::string_view id) { return is_lower_hex(id, 32); }
bool is_valid_archive_sha256(std::string_view hex) { return is_lower_hex(hex, 64); }
bool is_valid_package_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '-';
  });
}

Result<void> LoggingUploadSink::accept(const CompletedUpload& upload) {
  log::info("upload_handed_over", {{"upload_id", upload.id},
                                   {"device_id", upload.device_id},
                                   {"package_id", upload.package_id},
                                   {"transaction_id", upload.transaction_id},
                                   {"archive_sha256", upload.archive_sha256},
                                   {"bytes", std::to_string(upload.length)}});
  return {};
}

struct UploadStore::Impl {
  UploadLimits limits;
  CompletedUploadSink* sink = nullptr;
  fs::path partial_dir;
  fs::path complete_dir;
  sqlite3* db = nullptr;
  std::mutex mutex;            // guards db and busy
  std::set<std::string> busy;  // ids with a PATCH or DELETE in progress

  ~Impl() {
    if (db != nullptr) sqlite3_close(db);
  }

  // Runs one statement with text/int64 parameters; calls `row` for each result row.
  template <class RowFn>
  Result<void> run(const char* sql, std::initializer_list<SqlParam> params, RowFn&& row) {
    auto ran = run_sql(db, sql, std::span(params.begin(), params.size()), std::forward<RowFn>(row));
    if (!ran) return std::unexpected(storage_error("index " + ran.error()));
    return {};
  }
  Result<void> exec(const char* sql, std::initializer_list<SqlParam> params) {
    return run(sql, params, [](sqlite3_stmt*) {});
  }

  static std::string column_text(sqlite3_stmt* stmt, int column) {
    const auto* text = sqlite3_column_text(stmt, column);
    return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
  }

  static constexpr const char* kColumns =
      "id, device_id, package_id, transaction_id, archive_sha256, length, upload_offset, state, device_certificate";

  static UploadRecord record_from(sqlite3_stmt* stmt) {
    UploadRecord record;
    record.id = column_text(stmt, 0);
    record.device_id = column_text(stmt, 1);
    record.package_id = column_text(stmt, 2);
    record.transaction_id = column_text(stmt, 3);
    record.archive_sha256 = column_text(stmt, 4);
    record.length = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 5));
    record.offset = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 6));
    record.state = state_from(column_text(stmt, 7));
    record.device_certificate_pem = column_text(stmt, 8);
    return record;
  }

  Result<std::optional<UploadRecord>> select_one(
      const std::string& where, std::initializer_list<std::variant<std::string_view, std::int64_t>> params) {
    std::optional<UploadRecord> found;
    const std::string sql = std::string("SELECT ") + kColumns + " FROM uploads WHERE " + where;
    if (auto ok = run(sql.c_str(), params, [&](sqlite3_stmt* stmt) { found = record_from(stmt); }); !ok) {
      return std::unexpected(ok.error());
    }
    return found;
  }

  Result<UploadRecord> find_locked(std::string_view device_id, std::string_view id) {
    if (!is_valid_upload_id(id)) return fail("UPLOAD_NOT_FOUND", "no such upload");
    auto found = select_one("id = ?1", {id});
    if (!found) return std::unexpected(found.error());
    // Another device's upload is answered exactly like a missing one.
    if (!*found || (*found)->device_id != device_id) return fail("UPLOAD_NOT_FOUND", "no such upload");
    return **found;
  }

  fs::path partial(std::string_view id) const { return partial_dir / std::string(id); }
  fs::path complete(std::string_view id) const { return complete_dir / std::string(id); }

  Result<void> hand_over(const UploadRecord& record) {
    CompletedUpload upload{record.id,
                           record.device_id,
                           record.package_id,
                           record.transaction_id,
                           record.archive_sha256,
                           record.length,
                           complete(record.id),
                           record.device_certificate_pem};
    if (auto accepted = sink->accept(upload); !accepted) {
      log::error("upload_handover_failed", {{"upload_id", record.id}, {"code", accepted.error().code}});
      return fail("UPLOAD_HANDOVER_FAILED",
                  "the upload is complete and stored, but could not be handed on yet; it is retried at the next start");
    }
    std::lock_guard lock(mutex);
    return exec("UPDATE uploads SET handed_over = 1 WHERE id = ?1", {record.id});
  }

  // The offset has reached the length: check the whole file, then move it to complete/ (file
  // first, then the row, so a crash in between is finished by recover()).
  Result<UploadRecord> finish(UploadRecord record) {
    auto digest = file_sha256_hex(partial(record.id));
    if (!digest) return std::unexpected(digest.error());
    if (*digest != record.archive_sha256) {
      {
        std::lock_guard lock(mutex);
        if (auto marked = exec("UPDATE uploads SET state = 'failed', error_code = 'UPLOAD_HASH_MISMATCH' WHERE id = ?1",
                               {record.id});
            !marked) {
          return std::unexpected(marked.error());
        }
      }
      std::error_code ignored;
      fs::remove(partial(record.id), ignored);
      log::warn("upload_hash_mismatch", {{"upload_id", record.id}, {"device_id", record.device_id}});
      return fail("UPLOAD_HASH_MISMATCH",
                  "the uploaded file does not have the SHA-256 given as archive_sha256 at creation; the upload "
                  "failed, create a new one");
    }
    if (::rename(partial(record.id).c_str(), complete(record.id).c_str()) != 0) {
      return std::unexpected(
          storage_error("cannot move the upload to " + complete_dir.string() + ": " + std::strerror(errno)));
    }
    if (auto synced = fsync_dir(complete_dir); !synced) return std::unexpected(synced.error());
    if (auto synced = fsync_dir(partial_dir); !synced) return std::unexpected(synced.error());
    {
      std::lock_guard lock(mutex);
      if (auto marked = exec("UPDATE uploads SET state = 'complete', completed_at = ?2 WHERE id = ?1",
                             {record.id, static_cast<std::int64_t>(std::time(nullptr))});
          !marked) {
        return std::unexpected(marked.error());
      }
    }
    record.state = UploadState::complete;
    // Logged here, whatever the sink: the upload is durable and verified from this point.
    log::info("upload_complete", {{"upload_id", record.id},
                                  {"device_id", record.device_id},
                                  {"package_id", record.package_id},
                                  {"transaction_id", record.transaction_id},
                                  {"archive_sha256", record.archive_sha256},
                                  {"bytes", std::to_string(record.length)}});
    if (auto handed = hand_over(record); !handed) return std::unexpected(handed.error());
    return record;
  }

  Result<void> recover() {
    std::vector<UploadRecord> open_rows;
    std::vector<UploadRecord> not_handed_over;
    std::set<std::string> known_ids;
    auto listed =
        run((std::string("SELECT ") + kColumns + ", handed_over FROM uploads").c_str(), {}, [&](sqlite3_stmt* stmt) {
          UploadRecord record = record_from(stmt);
          known_ids.insert(record.id);
          if (record.state == UploadState::open) open_rows.push_back(record);
          if (record.state == UploadState::complete && sqlite3_column_int64(stmt, 9) == 0) {
            not_handed_over.push_back(record);
          }
        });
    if (!listed) return listed;
    // Created file, then crashed before the row: nobody was told its id, so it goes.
    std::error_code dir_error;
    for (const auto& entry : fs::directory_iterator(partial_dir, dir_error)) {
      const std::string name = entry.path().filename().string();
      if (!known_ids.contains(name)) {
        std::error_code ignored;
        fs::remove(entry.path(), ignored);
        log::warn("upload_orphan_removed", {{"upload_id", name}});
      }
    }
    if (dir_error) return std::unexpected(storage_error("cannot list " + partial_dir.string()));
    for (auto& record : open_rows) {
      const fs::path file = partial(record.id);
      std::error_code size_error;
      if (!fs::exists(file) && fs::exists(complete(record.id))) {
        // Crashed after the verified file was moved, before the row said so.
        if (auto marked = exec("UPDATE uploads SET state = 'complete', completed_at = ?2 WHERE id = ?1",
                               {record.id, static_cast<std::int64_t>(std::time(nullptr))});
            !marked) {
          return marked;
        }
        record.state = UploadState::complete;
        not_handed_over.push_back(record);
        continue;
      }
      if (!fs::exists(file)) {
        // Should not happen (the file is made before the row); start the upload again from 0.
        Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        if (fd.fd < 0) return std::unexpected(storage_error("cannot create " + file.string()));
        if (auto reset = exec("UPDATE uploads SET upload_offset = 0 WHERE id = ?1", {record.id}); !reset) return reset;
        log::warn("upload_partial_missing", {{"upload_id", record.id}});
        continue;
      }
      const std::uint64_t size = fs::file_size(file, size_error);
      if (size_error) return std::unexpected(storage_error("cannot stat " + file.string()));
      if (size > record.offset) {
        // Bytes written (maybe not even fsync'd) whose offset was never recorded nor acknowledged.
        if (auto cut = truncate_file(file, record.offset); !cut) return cut;
        log::info("upload_partial_truncated",
                  {{"upload_id", record.id}, {"from", std::to_string(size)}, {"to", std::to_string(record.offset)}});
      } else if (size < record.offset) {
        // The file is fsync'd before the row, so this means the disk lost data: resume from what is there.
        if (auto reset = exec("UPDATE uploads SET upload_offset = ?2 WHERE id = ?1",
                              {record.id, static_cast<std::int64_t>(size)});
            !reset) {
          return reset;
        }
        log::warn("upload_partial_short", {{"upload_id", record.id}});
        record.offset = size;
      }
      if (record.offset == record.length) {
        auto finished = finish(record);
        if (!finished && finished.error().code != "UPLOAD_HASH_MISMATCH" &&
            finished.error().code != "UPLOAD_HANDOVER_FAILED") {
          return std::unexpected(finished.error());
        }
      }
    }
    for (const auto& record : not_handed_over) {
      (void)hand_over(record);  // logged inside; retried at the next start
    }
    return {};
  }
};

UploadStore::UploadStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UploadStore::~UploadStore() = default;

const UploadLimits& UploadStore::limits() const { return impl_->limits; }
fs::path UploadStore::partial_file(std::string_view id) const { return impl_->partial(id); }
fs::path UploadStore::complete_file(std::string_view id) const { return impl_->complete(id); }

Result<std::unique_ptr<UploadStore>> UploadStore::open(const fs::path& data_dir, UploadLimits limits,
                                                       CompletedUploadSink& sink) {
  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  impl->sink = &sink;
  impl->partial_dir = data_dir / "uploads" / "partial";
  impl->complete_dir = data_dir / "uploads" / "complete";
  std::error_code dir_error;
  for (const auto& dir : {impl->partial_dir, impl->complete_dir}) {
    fs::create_directories(dir, dir_error);
    if (dir_error) return std::unexpected(storage_error("cannot create " + dir.string() + ": " + dir_error.message()));
    ::chmod(dir.c_str(), 0700);
  }
  const fs::path index = data_dir / "index.sqlite";
  const char* schema =
      "CREATE TABLE IF NOT EXISTS uploads ("
      "  id TEXT PRIMARY KEY NOT NULL,"
      "  device_id TEXT NOT NULL,"
      "  package_id TEXT NOT NULL,"
      "  transaction_id TEXT NOT NULL,"
      "  archive_sha256 TEXT NOT NULL,"
      "  length INTEGER NOT NULL,"
      "  upload_offset INTEGER NOT NULL,"
      "  state TEXT NOT NULL CHECK (state IN ('open','complete','failed')),"
      "  error_code TEXT NOT NULL DEFAULT '',"
      "  handed_over INTEGER NOT NULL DEFAULT 0,"
      "  created_at INTEGER NOT NULL,"
      "  completed_at INTEGER NOT NULL DEFAULT 0,"
      "  device_certificate TEXT NOT NULL DEFAULT '',"
      "  UNIQUE (device_id, package_id));";
  auto opened = open_index_database(index, schema);
  if (!opened) return std::unexpected(storage_error(opened.error()));
  impl->db = *opened;
  // Tables made before the device certificate was recorded get the column (empty for old rows).
  bool has_certificate_column = false;
  if (auto listed = impl->run("SELECT name FROM pragma_table_info('uploads')", {},
                              [&](sqlite3_stmt* stmt) {
                                if (Impl::column_text(stmt, 0) == "device_certificate") has_certificate_column = true;
                              });
      !listed) {
    return std::unexpected(listed.error());
  }
  if (!has_certificate_column) {
    if (auto added = impl->exec("ALTER TABLE uploads ADD COLUMN device_certificate TEXT NOT NULL DEFAULT ''", {});
        !added) {
      return std::unexpected(added.error());
    }
  }
  if (auto recovered = impl->recover(); !recovered) return std::unexpected(recovered.error());
  return std::unique_ptr<UploadStore>(new UploadStore(std::move(impl)));
}

Result<UploadStore::Created> UploadStore::create(std::string_view device_id, std::string_view package_id,
                                                 std::string_view transaction_id, std::string_view archive_sha256,
                                                 std::uint64_t length, std::string_view device_certificate_pem) {
  Impl& s = *impl_;
  if (length == 0 || length > s.limits.max_bytes) {
    return fail("UPLOAD_TOO_LARGE", "Upload-Length must be 1.." + std::to_string(s.limits.max_bytes) + " bytes");
  }
  std::lock_guard lock(s.mutex);
  auto existing = s.select_one("device_id = ?1 AND package_id = ?2", {device_id, package_id});
  if (!existing) return std::unexpected(existing.error());
  if (*existing) {
    const UploadRecord& earlier = **existing;
    if (earlier.state != UploadState::failed) {
      if (earlier.archive_sha256 != archive_sha256 || earlier.length != length) {
        return fail("UPLOAD_CONFLICT", "this package already has an upload with another archive_sha256 or length");
      }
      return Created{earlier, true};  // a lost 201 must not make a second upload
    }
    if (s.busy.contains(earlier.id)) return fail("UPLOAD_BUSY", "the earlier upload of this package is still in use");
    if (auto removed = s.exec("DELETE FROM uploads WHERE id = ?1", {earlier.id}); !removed) {
      return std::unexpected(removed.error());
    }
    std::error_code ignored;
    fs::remove(s.partial(earlier.id), ignored);
  }
  std::int64_t open_count = 0;
  if (auto counted = s.run("SELECT COUNT(*) FROM uploads WHERE device_id = ?1 AND state = 'open'", {device_id},
                           [&](sqlite3_stmt* stmt) { open_count = sqlite3_column_int64(stmt, 0); });
      !counted) {
    return std::unexpected(counted.error());
  }
  if (static_cast<std::size_t>(open_count) >= s.limits.max_open_per_device) {
    return fail("UPLOAD_LIMIT", "this device already has " + std::to_string(open_count) +
                                    " unfinished uploads; finish or delete one first");
  }
  auto id = random_hex(16);
  if (!id) return std::unexpected(storage_error("cannot make an upload id"));
  // The empty file first, then the row: an orphan file is cleaned at start, a row without a file is not.
  {
    Fd fd(::open(s.partial(*id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.fd < 0 || ::fsync(fd.fd) != 0) {
      return std::unexpected(
          storage_error("cannot create a partial file in " + s.partial_dir.string() + ": " + std::strerror(errno)));
    }
  }
  if (auto synced = fsync_dir(s.partial_dir); !synced) return std::unexpected(synced.error());
  if (auto inserted = s.exec(
          "INSERT INTO uploads (id, device_id, package_id, transaction_id, archive_sha256, length, upload_offset, "
          "state, created_at, device_certificate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 'open', ?7, ?8)",
          {*id, device_id, package_id, transaction_id, archive_sha256, static_cast<std::int64_t>(length),
           static_cast<std::int64_t>(std::time(nullptr)), device_certificate_pem});
      !inserted) {
    std::error_code ignored;
    fs::remove(s.partial(*id), ignored);
    return std::unexpected(inserted.error());
  }
  UploadRecord record{*id,
                      std::string(device_id),
                      std::string(package_id),
                      std::string(transaction_id),
                      std::string(archive_sha256),
                      length,
                      0,
                      UploadState::open,
                      std::string(device_certificate_pem)};
  log::info("upload_created", {{"upload_id", record.id},
                               {"device_id", record.device_id},
                               {"package_id", record.package_id},
                               {"bytes", std::to_string(length)}});
  return Created{std::move(record), false};
}

Result<UploadRecord> UploadStore::find(std::string_view device_id, std::string_view id) {
  std::lock_guard lock(impl_->mutex);
  return impl_->find_locked(device_id, id);
}

Result<UploadRecord> UploadStore::append(std::string_view device_id, std::string_view id, std::uint64_t offset,
                                         std::string_view bytes) {
  Impl& s = *impl_;
  UploadRecord record;
  {
    std::lock_guard lock(s.mutex);
    auto found = s.find_locked(device_id, id);
    if (!found) return std::unexpected(found.error());
    record = std::move(*found);
    if (record.state == UploadState::failed) {
      return fail("UPLOAD_FAILED", "this upload failed its final hash check; create a new one");
    }
    if (record.state == UploadState::complete) return fail("UPLOAD_COMPLETE", "this upload is already complete");
    if (s.busy.contains(record.id)) return fail("UPLOAD_BUSY", "another request for this upload is still running");
    if (offset != record.offset) {
      return fail("UPLOAD_OFFSET_MISMATCH", "Upload-Offset does not match the stored offset; ask HEAD and resume");
    }
    if (bytes.size() > record.length - record.offset) {
      return fail("UPLOAD_PAST_LENGTH", "the body goes past Upload-Length");
    }
    s.busy.insert(record.id);
  }
  struct BusyRelease {
    Impl& store;
    std::string id;
    ~BusyRelease() {
      std::lock_guard lock(store.mutex);
      store.busy.erase(id);
    }
  } release{s, record.id};

  const fs::path file = s.partial(record.id);
  if (!bytes.empty()) {
    Fd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    // Cut anything an earlier failed write left past the offset, then write and fsync.
    bool ok = fd.fd >= 0 && ::ftruncate(fd.fd, static_cast<off_t>(record.offset)) == 0;
    std::size_t written = 0;
    while (ok && written < bytes.size()) {
      const ssize_t n =
          ::pwrite(fd.fd, bytes.data() + written, bytes.size() - written, static_cast<off_t>(record.offset + written));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = false;
        break;
      }
      written += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd.fd) == 0;
    if (!ok) {
      const std::string reason = std::strerror(errno);
      if (fd.fd >= 0) (void)::ftruncate(fd.fd, static_cast<off_t>(record.offset));
      log::error("upload_write_failed", {{"upload_id", record.id}, {"reason", reason}});
      return std::unexpected(storage_error("cannot store the bytes: " + reason + "; try again later"));
    }
    const std::uint64_t new_offset = record.offset + bytes.size();
    {
      std::lock_guard lock(s.mutex);
      if (auto recorded = s.exec("UPDATE uploads SET upload_offset = ?2 WHERE id = ?1",
                                 {record.id, static_cast<std::int64_t>(new_offset)});
          !recorded) {
        // Not recorded, not acknowledged: the next start truncates the file back.
        return std::unexpected(recorded.error());
      }
    }
    record.offset = new_offset;
  }
  if (record.offset == record.length) return s.finish(std::move(record));
  return record;
}

Result<void> UploadStore::remove(std::string_view device_id, std::string_view id) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mutex);
  auto found = s.find_locked(device_id, id);
  if (!found) return std::unexpected(found.error());
  if (found->state == UploadState::complete) {
    return fail("UPLOAD_COMPLETE", "a complete upload cannot be deleted; it is evidence now");
  }
  if (s.busy.contains(found->id)) return fail("UPLOAD_BUSY", "another request for this upload is still running");
  // Row first: a leftover file without a row is removed at the next start.
  if (auto removed = s.exec("DELETE FROM uploads WHERE id = ?1", {found->id}); !removed) return removed;
  std::error_code ignored;
  fs::remove(s.partial(found->id), ignored);
  log::info("upload_deleted", {{"upload_id", found->id}, {"device_id", found->device_id}});
  return {};
}

}  // namespace kiosk::gateway::uploads
