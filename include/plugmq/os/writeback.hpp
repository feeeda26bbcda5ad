// Starts the kernel's write-out of a file's dirty pages as they accumulate, instead of all at
// once at the next fsync.
//
// The data writer appends every commit to the WAL without syncing it (synchronous=NORMAL);
// the pages then sit in the page cache until a checkpoint syncs the WAL, once a second, and
// several MB reach the disk in one burst. On a virtual machine such a burst can pause the
// virtual CPUs for tens of ms (docs/decisions/010-wal-writeback.md). kick()
// after each commit asks the kernel to start writing what that commit added
// (sync_file_range(SYNC_FILE_RANGE_WRITE): no wait, no flush of the disk's cache), so the
// checkpoint's fsync finds little left to do. Durability is unchanged: that still comes from
// the fsyncs SQLite makes.
//
// The file is opened read-only on first use, and again whenever the path names another file
// (SQLite may delete and recreate the WAL). A missing file, or a system without
// sync_file_range, makes kick() a no-op. Not thread-safe: one owner.
#pragma once

#include <chrono>
#include <filesystem>

namespace plugmq::os {

class Writeback {
 public:
  // Starts write-out of `file` at most once per `min_interval` (commits closer together are
  // covered by the next kick).
  explicit Writeback(std::filesystem::path file,
                     std::chrono::milliseconds min_interval = std::chrono::milliseconds(10));
  ~Writeback();
  Writeback(const Writeback&) = delete;
  Writeback& operator=(const Writeback&) = delete;

  // True when write-out was started now; false when skipped (too soon after the last one)
  // or not possible (no such file, not supported).
  bool kick();

 private:
  bool open_current();
  const std::filesystem::path file_;
  const std::chrono::milliseconds min_interval_;
  int fd_ = -1;
  unsigned long long dev_ = 0, ino_ = 0;  // of the file fd_ has open
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace plugmq::os
