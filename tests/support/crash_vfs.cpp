#include "tests/support/crash_vfs.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <vector>

namespace kiosk::testing {
namespace {

// One write or truncation not yet covered by an xSync of its file.
struct UnsyncedChange {
  bool is_truncate = false;
  sqlite3_int64 offset = 0;            // write offset, or the new size of a truncation
  std::vector<std::uint8_t> data;      // what was written (empty for a truncation)
  std::vector<std::uint8_t> replaced;  // the bytes that were there before, within the old size
  sqlite3_int64 size_before = 0;
};

struct State {
  std::mutex mutex;
  std::map<std::string, std::vector<UnsyncedChange>> unsynced;  // by file path
  bool cut = false;
  std::uint64_t discarded = 0;
  std::uint64_t operations = 0;
  std::optional<std::uint64_t> cut_after;
  double armed_keep_probability = 0.0;
  std::uint64_t armed_seed = 1;
};

State& state() {
  static State instance;
  return instance;
}

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs{};

struct CrashFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::string* path;  // null for files SQLite opens without a name
};

CrashFile* crash(sqlite3_file* file) { return reinterpret_cast<CrashFile*>(file); }

// Puts every file back to its state at its last xSync, then replays the kept subset in order.
void cut_locked(State& s, double keep_probability, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  s.cut = true;
  s.discarded = 0;
  for (auto& [path, changes] : s.unsynced) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
      if (::ftruncate(fd, it->size_before) != 0) continue;
      // A write's old bytes start at its offset; a truncation's lost tail starts at its new size.
      if (!it->replaced.empty()) {
        (void)::pwrite(fd, it->replaced.data(), it->replaced.size(), static_cast<off_t>(it->offset));
      }
    }
    for (const auto& change : changes) {
      if (keep_probability <= 0.0 || coin(random) >= keep_probability) {
        ++s.discarded;
        continue;
      }
      if (change.is_truncate) {
        (void)::ftruncate(fd, change.offset);
      } else {
        (void)::pwrite(fd, change.data.data(), change.data.size(), static_cast<off_t>(change.offset));
      }
    }
    ::fsync(fd);
    ::close(fd);
    changes.clear();
  }
}

// Counts a write, sync or truncation; returns false when the power is (or just went) off.
bool count_operation() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.cut) return false;
  ++s.operations;
  if (s.cut_after && --*s.cut_after == 0) {
    s.cut_after.reset();
    cut_locked(s, s.armed_keep_probability, s.armed_seed);
    return false;
  }
  return true;
}

std::vector<std::uint8_t> read_existing(sqlite3_file* real, sqlite3_int64 offset, sqlite3_int64 length,
                                        sqlite3_int64 size) {
  const sqlite3_int64 available = offset < size ? std::min(length, size - offset) : 0;
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(available));
  if (available > 0) real->pMethods->xRead(real, bytes.data(), static_cast<int>(available), offset);
  return bytes;
}

int x_close(sqlite3_file* file) {
  CrashFile* f = crash(file);
  const int rc = f->real->pMethods->xClose(f->real);
  delete f->path;
  f->path = nullptr;
  return rc;
}

int x_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  return crash(file)->real->pMethods->xRead(crash(file)->real, buffer, amount, offset);
}

int x_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  CrashFile* f = crash(file);
  if (!count_operation()) return SQLITE_IOERR_WRITE;
  if (f->path != nullptr) {
    sqlite3_int64 size = 0;
    f->real->pMethods->xFileSize(f->real, &size);
    UnsyncedChange change;
    change.offset = offset;
    change.size_before = size;
    const auto* bytes = static_cast<const std::uint8_t*>(buffer);
    change.data.assign(bytes, bytes + amount);
    change.replaced = read_existing(f->real, offset, amount, size);
    std::lock_guard lock(state().mutex);
    state().unsynced[*f->path].push_back(std::move(change));
  }
  return f->real->pMethods->xWrite(f->real, buffer, amount, offset);
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  CrashFile* f = crash(file);
  if (!count_operation()) return SQLITE_IOERR_TRUNCATE;
  if (f->path != nullptr) {
    sqlite3_int64 old_size = 0;
    f->real->pMethods->xFileSize(f->real, &old_size);
    UnsyncedChange change;
    change.is_truncate = true;
    change.offset = size;
    change.size_before = old_size;
    change.replaced = read_existing(f->real, size, old_size - size, old_size);
    std::lock_guard lock(state().mutex);
    state().unsynced[*f->path].push_back(std::move(change));
  }
  return f->real->pMethods->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* file, int flags) {
  CrashFile* f = crash(file);
  if (!count_operation()) return SQLITE_IOERR_FSYNC;
  const int rc = f->real->pMethods->xSync(f->real, flags);
  if (rc == SQLITE_OK && f->path != nullptr) {
    std::lock_guard lock(state().mutex);
    state().unsynced[*f->path].clear();  // now durable
  }
  return rc;
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  return crash(file)->real->pMethods->xFileSize(crash(file)->real, size);
}
int x_lock(sqlite3_file* file, int level) { return crash(file)->real->pMethods->xLock(crash(file)->real, level); }
int x_unlock(sqlite3_file* file, int level) { return crash(file)->real->pMethods->xUnlock(crash(file)->real, level); }
int x_check_reserved_lock(sqlite3_file* file, int* out) {
  return crash(file)->real->pMethods->xCheckReservedLock(crash(file)->real, out);
}
int x_file_control(sqlite3_file* file, int op, void* arg) {
  return crash(file)->real->pMethods->xFileControl(crash(file)->real, op, arg);
}
int x_sector_size(sqlite3_file* file) { return crash(file)->real->pMethods->xSectorSize(crash(file)->real); }
int x_device_characteristics(sqlite3_file* file) {
  return crash(file)->real->pMethods->xDeviceCharacteristics(crash(file)->real);
}
// The wal-index (-shm) is shared memory, not durable state: SQLite rebuilds it from the WAL when
// the first connection opens after a crash, so it passes straight through.
int x_shm_map(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
  return crash(file)->real->pMethods->xShmMap(crash(file)->real, page, page_size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return crash(file)->real->pMethods->xShmLock(crash(file)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { crash(file)->real->pMethods->xShmBarrier(crash(file)->real); }
int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  return crash(file)->real->pMethods->xShmUnmap(crash(file)->real, delete_flag);
}
// No memory-mapped reads: every read goes through xRead, so nothing bypasses the model.
int x_fetch(sqlite3_file*, sqlite3_int64, int, void** out) {
  *out = nullptr;
  return SQLITE_OK;
}
int x_unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

const sqlite3_io_methods kMethods{3,
                                  x_close,
                                  x_read,
                                  x_write,
                                  x_truncate,
                                  x_sync,
                                  x_file_size,
                                  x_lock,
                                  x_unlock,
                                  x_check_reserved_lock,
                                  x_file_control,
                                  x_sector_size,
                                  x_device_characteristics,
                                  x_shm_map,
                                  x_shm_lock,
                                  x_shm_barrier,
                                  x_shm_unmap,
                                  x_fetch,
                                  x_unfetch};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  CrashFile* f = crash(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + sizeof(CrashFile));
  f->path = nullptr;
  const int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  if (name != nullptr) f->path = new (std::nothrow) std::string(name);
  f->base.pMethods = &kMethods;
  return SQLITE_OK;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  {
    std::lock_guard lock(state().mutex);
    if (state().cut) return SQLITE_IOERR_DELETE;
    state().unsynced.erase(name);
  }
  return g_real->xDelete(g_real, name, sync_dir);
}
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_real->xAccess(g_real, name, flags, out); }
int x_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return g_real->xFullPathname(g_real, name, size, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void x_dl_error(sqlite3_vfs*, int size, char* out) { g_real->xDlError(g_real, size, out); }
void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_real->xDlSym(g_real, handle, symbol);
}
void x_dl_close(sqlite3_vfs*, void* handle) { g_real->xDlClose(g_real, handle); }
int x_randomness(sqlite3_vfs*, int size, char* out) { return g_real->xRandomness(g_real, size, out); }
int x_sleep(sqlite3_vfs*, int micros) { return g_real->xSleep(g_real, micros); }
int x_current_time(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int x_get_last_error(sqlite3_vfs*, int size, char* out) { return g_real->xGetLastError(g_real, size, out); }
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) { return g_real->xCurrentTimeInt64(g_real, out); }

}  // namespace

bool CrashVfs::install() {
  static const bool installed = [] {
    g_real = sqlite3_vfs_find(nullptr);
    if (g_real == nullptr || g_real->iVersion < 2) return false;
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(CrashFile)) + g_real->szOsFile;
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = kName;
    g_vfs.xOpen = x_open;
    g_vfs.xDelete = x_delete;
    g_vfs.xAccess = x_access;
    g_vfs.xFullPathname = x_full_pathname;
    g_vfs.xDlOpen = x_dl_open;
    g_vfs.xDlError = x_dl_error;
    g_vfs.xDlSym = x_dl_sym;
    g_vfs.xDlClose = x_dl_close;
    g_vfs.xRandomness = x_randomness;
    g_vfs.xSleep = x_sleep;
    g_vfs.xCurrentTime = x_current_time;
    g_vfs.xGetLastError = x_get_last_error;
    g_vfs.xCurrentTimeInt64 = x_current_time_int64;
    return sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK;
  }();
  return installed;
}

void CrashVfs::reset() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.unsynced.clear();
  s.cut = false;
  s.discarded = 0;
  s.operations = 0;
  s.cut_after.reset();
}

void CrashVfs::arm_cut_after_operations(std::uint64_t n, double keep_probability, std::uint64_t seed) {
  std::lock_guard lock(state().mutex);
  state().cut_after = n;
  state().armed_keep_probability = keep_probability;
  state().armed_seed = seed;
}

void CrashVfs::power_cut(double keep_probability, std::uint64_t seed) {
  std::lock_guard lock(state().mutex);
  cut_locked(state(), keep_probability, seed);
}

bool CrashVfs::power_is_cut() {
  std::lock_guard lock(state().mutex);
  return state().cut;
}

std::uint64_t CrashVfs::discarded_at_last_cut() {
  std::lock_guard lock(state().mutex);
  return state().discarded;
}

std::uint64_t CrashVfs::operations() {
  std::lock_guard lock(state().mutex);
  return state().operations;
}

}  // namespace kiosk::testing
