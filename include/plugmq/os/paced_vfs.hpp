// A SQLite VFS that lets a thread pace the writes SQLite makes on its behalf.
//
// SQLite writes a commit's pages to the WAL, and a checkpoint's pages to the database, in one
// call that no caller can interrupt: at 20,000 msgs/s a commit of the data writer holds its
// core for about half a millisecond (docs/decisions/014-paced-vfs.md). This VFS
// wraps the platform's default one and, before each write to a file, calls the calling
// thread's pacer if it has set one; the pacer may yield the core. Everything else goes to the
// wrapped VFS unchanged, so files, locks and shared memory are those of the default VFS and
// other processes (admin commands) see no difference.
#pragma once

#include <chrono>

namespace plugmq::os {

// Called before each write SQLite makes from the thread that set it. It runs inside SQLite's
// C code, so it must not throw.
using WritePacer = void (*)(void* arg) noexcept;

// Sets the calling thread's pacer (fn nullptr: none). Each thread has its own.
void set_write_pacer(WritePacer fn, void* arg);

// Sets a pacer for the calling thread while it lives; puts the previous one back.
class ScopedWritePacer {
 public:
  ScopedWritePacer(WritePacer fn, void* arg);
  ~ScopedWritePacer();
  ScopedWritePacer(const ScopedWritePacer&) = delete;
  ScopedWritePacer& operator=(const ScopedWritePacer&) = delete;

 private:
  WritePacer prev_fn_;
  void* prev_arg_;
};

// Offers the thread's core to other runnable threads (sched_yield) at most once per `every`:
// a long stretch of work is cut into pieces that a thread waking up meanwhile need not wait
// out. A yield with nothing else runnable returns at once.
class Pacer {
 public:
  // The data writer's and the checkpoint's stretch: offering the core every 10, 20 or 50 us
  // gave the same fixed-rate p99; not offering it, 4-5x that (docs/decisions/009-writer-yield.md).
  static constexpr std::chrono::microseconds kEvery{50};

  explicit Pacer(std::chrono::microseconds every = kEvery) : every_(every) { restart(); }
  // The next offer is `every` from now.
  void restart() noexcept { next_ = std::chrono::steady_clock::now() + every_; }
  // Once `every` has passed: offers the core if `may_yield`, and starts the next stretch.
  void pace(bool may_yield = true) noexcept;
  // A WritePacer that calls pace() on the Pacer passed as its argument.
  static void pace_writes(void* pacer) noexcept { static_cast<Pacer*>(pacer)->pace(); }

 private:
  const std::chrono::microseconds every_;
  std::chrono::steady_clock::time_point next_;
};

// The name of the VFS to open database files with; registers it on first use (not as the
// default). nullptr when it could not be registered: then the default VFS is used.
const char* paced_vfs_name();

}  // namespace plugmq::os
