#include "data_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace plugmq::app {

namespace {

std::string database_path;

// systemd sets INVOCATION_ID for every unit it runs: the service's group (Group= in
// config/plugmq.service) may then read the files, nobody else may.
bool under_systemd() {
  const char* id = std::getenv("INVOCATION_ID");
  return id != nullptr && *id != '\0';
}

std::string errno_text() { return std::strerror(errno); }

void make_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return;
  const mode_t mode = under_systemd() ? 0750 : 0700;
  if (dir.has_parent_path() && !dir.parent_path().empty()) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec) {
      throw std::runtime_error("cannot create data directory " + dir.string() + ": " +
                               ec.message());
    }
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create data directory " + dir.string() + ": " + errno_text());
  }
}

}  // namespace

std::filesystem::path database_file(const std::filesystem::path& dir) { return dir / "plugmq.db"; }

std::filesystem::path existing_database(const std::filesystem::path& dir) {
  auto file = database_file(dir);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw NoDatabase("no database at " + std::filesystem::absolute(file).string() +
                     " (use --data-dir or --config)");
  }
  return file;
}

bool prepare_database(const std::filesystem::path& dir) {
  make_dir(dir);
  const auto file = database_file(dir);
  const mode_t mode = under_systemd() ? 0640 : 0600;
  // O_EXCL: an existing database keeps its mode; the umask may only take bits away.
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw std::runtime_error("cannot create database " + file.string() + ": " + errno_text());
  }
  ::close(fd);
  return true;
}

DataDirLock::DataDirLock(const std::filesystem::path& dir) {
  const auto file = dir / "plugmq.lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, under_systemd() ? 0640 : 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open " + file.string() + ": " + errno_text());
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK) {
      throw std::runtime_error("cannot lock " + file.string() + ": " + std::strerror(err));
    }
    std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    throw std::runtime_error("another plugmq" + (holder.empty() ? "" : " (pid " + holder + ")") +
                             " is serving " + std::filesystem::absolute(dir).string() +
                             "; stop it, or give this one another --data-dir");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  // Without the pid the lock still holds: only a second server's message goes without it.
  const bool written = ::ftruncate(fd_, 0) == 0 &&
                       ::pwrite(fd_, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size());
  (void)written;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock; the file stays (removing it would race)
}

const std::string& database_in_use() { return database_path; }

void set_database_in_use(const std::filesystem::path& file) {
  database_path = std::filesystem::absolute(file).string();
}

}  // namespace plugmq::app
