#include "plugmq/service/worker_threads.hpp"

#include "plugmq/os/thread_name.hpp"

namespace plugmq::service {

void WorkerThreads::start(const std::string& name, const std::function<void(unsigned)>& init) {
  if (!threads_.empty()) return;
  work_ =
      std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          ioc_.get_executor());
  for (unsigned i = 0; i < count_; ++i) {
    threads_.emplace_back([this, name, init, i] {
      os::name_this_thread(naming_ == Naming::kPlain ? name : name + "-" + std::to_string(i));
      if (init) init(i);
      ioc_.run();
    });
  }
}

void WorkerThreads::stop() {
  work_.reset();  // run() returns once the queued work is done
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace plugmq::service
