#include "plugmq/net/read_pool.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <cassert>
#include <string>

#include "plugmq/platform/thread_name.hpp"

namespace plugmq::net {

namespace {
thread_local ReadPool::Repos* tls_repos = nullptr;
}

ReadPool::ReadPool(const std::filesystem::path& db_file, unsigned threads)
    : ioc_(static_cast<int>(threads == 0 ? 1 : threads)) {
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) {
    repos_.push_back(std::make_unique<Repos>(store::Db::open(db_file)));
  }
}

ReadPool::~ReadPool() { stop(); }

void ReadPool::start() {
  if (!threads_.empty()) return;
  work_ = std::make_unique<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
      ioc_.get_executor());
  for (auto& r : repos_) {
    threads_.emplace_back([this, repos = r.get(), n = threads_.size()] {
      platform::name_this_thread("pq-read-" + std::to_string(n));
      tls_repos = repos;
      ioc_.run();
    });
  }
}

void ReadPool::stop() {
  work_.reset();  // run() returns once the queued work is done
  for (auto& t : threads_) t.join();
  threads_.clear();
}

ReadPool::Repos& ReadPool::current() {
  assert(tls_repos != nullptr && "ReadPool::run() work runs on reader threads only");
  return *tls_repos;
}

}  // namespace plugmq::net
