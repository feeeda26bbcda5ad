#include "plugmq/os/paced_vfs.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <thread>

namespace plugmq::os {

namespace {

constexpr const char* kName = "plugmq-paced";

thread_local WritePacer t_pacer = nullptr;
thread_local void* t_pacer_arg = nullptr;

// A wrapped file: SQLite allocates szOsFile bytes, this header and the wrapped VFS's file
// right after it. `methods` are the wrapped file's own: same version, and the same optional
// methods missing (SQLite checks xShmMap, not only iVersion, before it uses WAL).
struct PacedFile {
  sqlite3_file base;
  sqlite3_file* real;
  sqlite3_io_methods methods;
};

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<PacedFile*>(f)->real; }

int x_close(sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); }
int x_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return real(f)->pMethods->xRead(real(f), buf, n, off);
}
int x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (t_pacer) t_pacer(t_pacer_arg);
  return real(f)->pMethods->xWrite(real(f), buf, n, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return real(f)->pMethods->xTruncate(real(f), size);
}
int x_sync(sqlite3_file* f, int flags) { return real(f)->pMethods->xSync(real(f), flags); }
int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real(f)->pMethods->xFileSize(real(f), size);
}
int x_lock(sqlite3_file* f, int lock) { return real(f)->pMethods->xLock(real(f), lock); }
int x_unlock(sqlite3_file* f, int lock) { return real(f)->pMethods->xUnlock(real(f), lock); }
int x_check_reserved_lock(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  const int rc = real(f)->pMethods->xFileControl(real(f), op, arg);
  // Shims name themselves before the VFS they wrap: "plugmq-paced/unix".
  if (op == SQLITE_FCNTL_VFSNAME && rc == SQLITE_OK) {
    auto** name = static_cast<char**>(arg);
    *name = sqlite3_mprintf("%s/%z", kName, *name);
  }
  return rc;
}
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) {
  return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), region, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int delete_flag) {
  return real(f)->pMethods->xShmUnmap(real(f), delete_flag);
}
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return real(f)->pMethods->xFetch(real(f), off, n, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), off, p);
}

// The methods of a file that wraps one with methods `rm`: a method of ours where the wrapped
// file has one, none where it has none.
sqlite3_io_methods methods_for(const sqlite3_io_methods& rm) {
  const auto ours = [](auto mine, auto theirs) { return theirs ? mine : nullptr; };
  sqlite3_io_methods m{};
  m.iVersion = rm.iVersion;
  m.xClose = x_close;
  m.xRead = x_read;
  m.xWrite = x_write;
  m.xTruncate = x_truncate;
  m.xSync = x_sync;
  m.xFileSize = x_file_size;
  m.xLock = x_lock;
  m.xUnlock = x_unlock;
  m.xCheckReservedLock = x_check_reserved_lock;
  m.xFileControl = x_file_control;
  m.xSectorSize = ours(x_sector_size, rm.xSectorSize);
  m.xDeviceCharacteristics = ours(x_device_characteristics, rm.xDeviceCharacteristics);
  if (rm.iVersion >= 2) {
    m.xShmMap = ours(x_shm_map, rm.xShmMap);
    m.xShmLock = ours(x_shm_lock, rm.xShmLock);
    m.xShmBarrier = ours(x_shm_barrier, rm.xShmBarrier);
    m.xShmUnmap = ours(x_shm_unmap, rm.xShmUnmap);
  }
  if (rm.iVersion >= 3) {
    m.xFetch = ours(x_fetch, rm.xFetch);
    m.xUnfetch = ours(x_unfetch, rm.xUnfetch);
  }
  // A later version's methods are not known here: offer version 3's.
  if (m.iVersion > 3) m.iVersion = 3;
  return m;
}

sqlite3_vfs* root(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

constexpr std::size_t kHeader = (sizeof(PacedFile) + 7) & ~std::size_t{7};

int x_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* p = reinterpret_cast<PacedFile*>(f);
  p->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kHeader);
  p->real->pMethods = nullptr;
  const int rc = root(vfs)->xOpen(root(vfs), name, p->real, flags, out_flags);
  // SQLite calls xClose whenever pMethods is set, even after a failed open: pass that on.
  const sqlite3_io_methods* rm = p->real->pMethods;
  if (rm == nullptr) {
    p->base.pMethods = nullptr;
  } else {
    p->methods = methods_for(*rm);
    p->base.pMethods = &p->methods;
  }
  return rc;
}

int x_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return root(vfs)->xDelete(root(vfs), name, sync_dir);
}
int x_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return root(vfs)->xAccess(root(vfs), name, flags, out);
}
int x_full_pathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return root(vfs)->xFullPathname(root(vfs), name, n, out);
}
void* x_dl_open(sqlite3_vfs* vfs, const char* name) { return root(vfs)->xDlOpen(root(vfs), name); }
void x_dl_error(sqlite3_vfs* vfs, int n, char* msg) { root(vfs)->xDlError(root(vfs), n, msg); }
void (*x_dl_sym(sqlite3_vfs* vfs, void* h, const char* sym))(void) {
  return root(vfs)->xDlSym(root(vfs), h, sym);
}
void x_dl_close(sqlite3_vfs* vfs, void* h) { root(vfs)->xDlClose(root(vfs), h); }
int x_randomness(sqlite3_vfs* vfs, int n, char* out) {
  return root(vfs)->xRandomness(root(vfs), n, out);
}
int x_sleep(sqlite3_vfs* vfs, int us) { return root(vfs)->xSleep(root(vfs), us); }
int x_current_time(sqlite3_vfs* vfs, double* out) {
  return root(vfs)->xCurrentTime(root(vfs), out);
}
int x_get_last_error(sqlite3_vfs* vfs, int n, char* out) {
  return root(vfs)->xGetLastError(root(vfs), n, out);
}
int x_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return root(vfs)->xCurrentTimeInt64(root(vfs), out);
}
int x_set_system_call(sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr fn) {
  return root(vfs)->xSetSystemCall(root(vfs), name, fn);
}
sqlite3_syscall_ptr x_get_system_call(sqlite3_vfs* vfs, const char* name) {
  return root(vfs)->xGetSystemCall(root(vfs), name);
}
const char* x_next_system_call(sqlite3_vfs* vfs, const char* name) {
  return root(vfs)->xNextSystemCall(root(vfs), name);
}

const char* register_vfs() {
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  if (base == nullptr) return nullptr;
  static sqlite3_vfs vfs{};
  // Only the methods of the version the wrapped VFS has (xCurrentTimeInt64 from 2, the system
  // call ones from 3).
  vfs.iVersion = base->iVersion < 3 ? base->iVersion : 3;
  vfs.szOsFile = static_cast<int>(kHeader) + base->szOsFile;
  vfs.mxPathname = base->mxPathname;
  vfs.zName = kName;
  vfs.pAppData = base;
  vfs.xOpen = x_open;
  vfs.xDelete = x_delete;
  vfs.xAccess = x_access;
  vfs.xFullPathname = x_full_pathname;
  vfs.xDlOpen = base->xDlOpen ? x_dl_open : nullptr;
  vfs.xDlError = base->xDlError ? x_dl_error : nullptr;
  vfs.xDlSym = base->xDlSym ? x_dl_sym : nullptr;
  vfs.xDlClose = base->xDlClose ? x_dl_close : nullptr;
  vfs.xRandomness = x_randomness;
  vfs.xSleep = x_sleep;
  vfs.xCurrentTime = x_current_time;
  vfs.xGetLastError = x_get_last_error;
  if (vfs.iVersion >= 2) {
    vfs.xCurrentTimeInt64 = base->xCurrentTimeInt64 ? x_current_time_int64 : nullptr;
  }
  if (vfs.iVersion >= 3) {
    vfs.xSetSystemCall = base->xSetSystemCall ? x_set_system_call : nullptr;
    vfs.xGetSystemCall = base->xGetSystemCall ? x_get_system_call : nullptr;
    vfs.xNextSystemCall = base->xNextSystemCall ? x_next_system_call : nullptr;
  }
  if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) return nullptr;
  return kName;
}

}  // namespace

void set_write_pacer(WritePacer fn, void* arg) {
  t_pacer = fn;
  t_pacer_arg = arg;
}

ScopedWritePacer::ScopedWritePacer(WritePacer fn, void* arg)
    : prev_fn_(t_pacer), prev_arg_(t_pacer_arg) {
  set_write_pacer(fn, arg);
}

ScopedWritePacer::~ScopedWritePacer() { set_write_pacer(prev_fn_, prev_arg_); }

void Pacer::pace(bool may_yield) noexcept {
  if (std::chrono::steady_clock::now() < next_) return;
  if (may_yield) std::this_thread::yield();
  restart();
}

const char* paced_vfs_name() {
  static const char* const name = register_vfs();
  return name;
}

}  // namespace plugmq::os
