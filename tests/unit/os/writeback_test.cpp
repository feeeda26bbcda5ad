#include "plugmq/os/writeback.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "temp_dir.hpp"

namespace plugmq::os {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using plugmq::testing::TempDir;

void write_file(const fs::path& p, std::size_t bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  const std::string chunk(64 * 1024, 'x');
  for (std::size_t n = 0; n < bytes; n += chunk.size()) out.write(chunk.data(), chunk.size());
}

// Dirty pages of a file, from cachestat(2) (Linux 6.5); nullopt where the kernel lacks it.
std::optional<std::uint64_t> dirty_pages(const fs::path& p) {
#ifdef __x86_64__
  struct Range {
    std::uint64_t off, len;
  } range{0, 0};
  struct Stat {
    std::uint64_t cache, dirty, writeback, evicted, recently_evicted;
  } st{};
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const long rc = ::syscall(451 /* cachestat */, fd, &range, &st, 0);
  ::close(fd);
  if (rc != 0) return std::nullopt;
  return st.dirty;
#else
  (void)p;
  return std::nullopt;
#endif
}

TEST(Writeback, AMissingFileIsANoOp) {
  TempDir dir;
  Writeback wb(dir.path() / "db-wal", 0ms);
  EXPECT_FALSE(wb.kick());
}

TEST(Writeback, KicksCloserThanTheIntervalAreSkipped) {
  TempDir dir;
  write_file(dir.path() / "db-wal", 64 * 1024);
  Writeback wb(dir.path() / "db-wal", std::chrono::hours(1));
  EXPECT_TRUE(wb.kick());
  EXPECT_FALSE(wb.kick());
}

TEST(Writeback, FollowsTheFileWhenItIsDeletedAndCreatedAgain) {
  TempDir dir;
  const fs::path wal = dir.path() / "db-wal";
  write_file(wal, 64 * 1024);
  Writeback wb(wal, 0ms);
  EXPECT_TRUE(wb.kick());
  fs::remove(wal);
  EXPECT_FALSE(wb.kick());  // not the deleted file it had open
  write_file(wal, 64 * 1024);
  EXPECT_TRUE(wb.kick());
}

TEST(Writeback, StartsTheWriteOutOfDirtyPages) {
  TempDir dir;
  const fs::path wal = dir.path() / "db-wal";
  write_file(wal, 4 << 20);
  const auto before = dirty_pages(wal);
  if (!before || *before == 0) {
    GTEST_SKIP() << "no cachestat(2), or the temp directory keeps no dirty pages (tmpfs)";
  }
  // Left alone, the kernel writes dirty pages out after about 30 s (vm.dirty_expire_centisecs).
  Writeback wb(wal, 0ms);
  ASSERT_TRUE(wb.kick());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  auto dirty = dirty_pages(wal);
  while (dirty && *dirty > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    dirty = dirty_pages(wal);
  }
  ASSERT_TRUE(dirty.has_value());
  EXPECT_EQ(*dirty, 0u) << "of " << *before << " dirty pages before the kick";
}

}  // namespace
}  // namespace plugmq::os
