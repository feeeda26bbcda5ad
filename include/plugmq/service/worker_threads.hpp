// An io_context and the named threads that run it: the threads of blocking work (the
// StoreExecutor's, the HashPool's) post their work to context(). stop() lets the queued work
// finish, then joins.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace plugmq::service {

class WorkerThreads {
 public:
  // How start() names the threads: NAME-0, NAME-1..., or (kPlain) one thread named NAME, for
  // a role that is one thread.
  enum class Naming { kNumbered, kPlain };

  explicit WorkerThreads(unsigned threads, Naming naming = Naming::kNumbered)
      : count_(threads == 0 || naming == Naming::kPlain ? 1 : threads),
        naming_(naming),
        ioc_(static_cast<int>(count_)) {}
  ~WorkerThreads() { stop(); }
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;

  // Starts the threads, named as Naming says; thread i first runs `init(i)` when given.
  // Does nothing when they run.
  void start(const std::string& name, const std::function<void(unsigned)>& init = {});
  // Finishes the queued work, then joins the threads. Idempotent.
  void stop();

  unsigned size() const { return count_; }
  boost::asio::io_context& context() { return ioc_; }

 private:
  const unsigned count_;
  const Naming naming_;
  boost::asio::io_context ioc_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

}  // namespace plugmq::service
