// Replays a fuzz corpus through LLVMFuzzerTestOneInput without libFuzzer, so ctest exercises the
// fuzz target's invariants with any compiler.
//
// Usage: codec_fuzz_replay DIR (http_fuzz_replay alike). Exit status 0 when at least one file was
// replayed, 1 when DIR cannot be read or holds no files. A violated invariant aborts inside the
// target.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path dir = argv[1];
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec);
  if (ec) {
    std::fprintf(stderr, "cannot read %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  std::size_t replayed = 0;
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    std::ifstream file(it->path(), std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "cannot open %s\n", it->path().c_str());
      return 1;
    }
    const std::vector<char> bytes{std::istreambuf_iterator<char>(file),
                                  std::istreambuf_iterator<char>()};
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++replayed;
  }
  if (ec) {
    std::fprintf(stderr, "cannot read %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  std::printf("replayed %zu file(s) from %s\n", replayed, dir.c_str());
  return replayed == 0 ? 1 : 0;
}
