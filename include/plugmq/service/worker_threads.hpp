// An io_context and the named threads that run it: the pools of blocking work (ReadPool, the
// HashPool) post their work to context(). stop() lets the queued work finish, then joins.
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
  explicit WorkerThreads(unsigned threads)
      : count_(threads == 0 ? 1 : threads), ioc_(static_cast<int>(count_)) {}
  ~WorkerThreads() { stop(); }
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;

  // Starts the threads, named NAME-0, NAME-1...; thread i first runs `init(i)` when given.
  // Does nothing when they run.
  void start(const std::string& name, const std::function<void(unsigned)>& init = {});
  // Finishes the queued work, then joins the threads. Idempotent.
  void stop();

  unsigned size() const { return count_; }
  boost::asio::io_context& context() { return ioc_; }

 private:
  const unsigned count_;
  boost::asio::io_context ioc_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

}  // namespace plugmq::service
