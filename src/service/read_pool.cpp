#include "plugmq/service/read_pool.hpp"

#include <cassert>
#include <string>

namespace plugmq::service {

namespace {
thread_local ReadPool::Repos* tls_repos = nullptr;
}

ReadPool::ReadPool(const std::filesystem::path& db_file, unsigned threads) : workers_(threads) {
  for (unsigned i = 0; i < workers_.size(); ++i) {
    repos_.push_back(std::make_unique<Repos>(store::Db::open(db_file)));
  }
}

ReadPool::~ReadPool() { stop(); }

void ReadPool::start() {
  workers_.start("pq-read", [this](unsigned i) { tls_repos = repos_[i].get(); });
}

void ReadPool::stop() { workers_.stop(); }

ReadPool::Repos& ReadPool::current() {
  assert(tls_repos != nullptr && "ReadPool::run() work runs on reader threads only");
  return *tls_repos;
}

}  // namespace plugmq::service
