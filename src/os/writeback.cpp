#include "plugmq/os/writeback.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace plugmq::os {

Writeback::Writeback(std::filesystem::path file, std::chrono::milliseconds min_interval)
    : file_(std::move(file)), min_interval_(min_interval) {}

Writeback::~Writeback() {
  if (fd_ >= 0) ::close(fd_);
}

bool Writeback::open_current() {
  struct stat st{};
  if (::stat(file_.c_str(), &st) != 0) {
    // Gone (not created yet, or deleted): nothing to write out.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return false;
  }
  if (fd_ >= 0 && static_cast<unsigned long long>(st.st_dev) == dev_ &&
      static_cast<unsigned long long>(st.st_ino) == ino_) {
    return true;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return false;
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  dev_ = static_cast<unsigned long long>(st.st_dev);
  ino_ = static_cast<unsigned long long>(st.st_ino);
  return true;
}

bool Writeback::kick() {
#ifdef SYNC_FILE_RANGE_WRITE
  const auto now = std::chrono::steady_clock::now();
  if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < min_interval_) {
    return false;
  }
  last_ = now;
  if (!open_current()) return false;
  // Offset 0 and length 0: every dirty page of the file not already being written.
  return ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE) == 0;
#else
  return false;
#endif
}

}  // namespace plugmq::os
