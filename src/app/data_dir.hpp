// The data directory and its database file, as the commands find them (app-private): which
// commands may create the database, with which file modes, and the lock that keeps a second
// server off a data directory that one already serves.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace plugmq::app {

// Thrown by existing_database(): the command needs a database that is not there.
class NoDatabase : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The database file of a data directory.
std::filesystem::path database_file(const std::filesystem::path& dir);

// The database of `dir`, which must exist: every command but `serve` and `account add`.
// Throws NoDatabase: "no database at PATH (use --data-dir or --config)".
std::filesystem::path existing_database(const std::filesystem::path& dir);

// Creates the data directory (0700, or 0750 under systemd) and an empty database file (0600,
// or 0640 under systemd, so that the service's group can read backups; SQLite gives its WAL
// and shared-memory files the database's mode) when they are missing. Returns true when it
// created the database file. Throws std::runtime_error naming the path.
bool prepare_database(const std::filesystem::path& dir);

// An exclusive lock on DIR/plugmq.lock, held by a server for as long as it runs, with the
// server's pid in the file. Throws std::runtime_error when another process holds it ("another
// plugmq (pid N) is serving DIR").
class DataDirLock {
 public:
  explicit DataDirLock(const std::filesystem::path& dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  int fd_ = -1;
};

// The database a command opened (empty when none yet), named in its error messages.
const std::string& database_in_use();
void set_database_in_use(const std::filesystem::path& file);

}  // namespace plugmq::app
