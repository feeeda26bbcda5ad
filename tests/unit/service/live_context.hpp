// Test support: a service::Context over a database in a temporary directory, with its store and
// writer threads running, and a way to run coroutines to completion on the test's thread. No
// sockets: what the network layer would do with a connection is called directly.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "plugmq/broker/sink.hpp"
#include "plugmq/codec/codec.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/service/publish.hpp"
#include "plugmq/store/db.hpp"

namespace plugmq::service::testing {

class LiveContext {
 public:
  LiveContext() {
    dir_ = std::filesystem::temp_directory_path() /
           ("plugmq-service-" + std::to_string(getpid()) + "-" + platform::new_oid());
    std::filesystem::create_directories(dir_);
    options_.data_dir = dir_;
    store::Db::open(db_file());  // creates and migrates
  }
  ~LiveContext() {
    if (ctx_) {
      ctx_->writer.stop();
      ctx_->store.stop();
      ctx_->hashes.stop();
      ctx_.reset();
    }
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path db_file() const { return dir_ / "plugmq.db"; }
  ServerOptions& options() { return options_; }

  // Starts the context: identities created before this are in its first directory snapshot.
  Context& start() {
    ctx_ = std::make_unique<Context>(options_);
    ctx_->store.start();
    ctx_->writer.start();
    ctx_->hashes.start();
    return *ctx_;
  }
  Context& ctx() { return *ctx_; }

  // Runs `a` on this thread until it completes; rethrows what it threw.
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    std::optional<T> out;
    std::exception_ptr error;
    bool finished = false;
    auto work = boost::asio::make_work_guard(ioc_);
    boost::asio::co_spawn(ioc_, std::move(a), [&](std::exception_ptr e, T v) {
      error = e;
      if (!e) out.emplace(std::move(v));
      finished = true;
      work.reset();
    });
    ioc_.restart();
    ioc_.run();
    EXPECT_TRUE(finished);
    if (error) std::rethrow_exception(error);
    return std::move(*out);
  }

  // Waits until everything queued to the data writer so far is committed.
  void flush() {
    std::promise<void> done;
    ctx_->writer.push_done([&](bool) { done.set_value(); });
    ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  }

 private:
  std::filesystem::path dir_;
  ServerOptions options_;
  std::unique_ptr<Context> ctx_;
  boost::asio::io_context ioc_{1};
};

// A subscriber that keeps what it is offered (topic and payload of the PUBLISH, the QoS to
// deliver it at) when its principal may read the origin, as a session does.
class Recorder : public LiveSession {
 public:
  struct Got {
    std::string topic;
    std::string payload;
    int qos = 0;  // the QoS it was delivered at
    bool retain = false;
  };
  explicit Recorder(platform::Principal who) : who_(std::move(who)) {}

  void deliver(const service::Message& msg) override {
    if (!may_receive(who_, msg)) return;
    const auto* p = reinterpret_cast<const std::uint8_t*>(msg.packet->data());
    auto r = codec::decode(std::span(p, msg.packet->size()), 1 << 28);
    ASSERT_EQ(r.status, codec::DecodeStatus::kComplete);
    const auto& pub = std::get<codec::Publish>(r.packet);
    std::lock_guard lock(mu_);
    EXPECT_EQ(pub.qos, 0) << "the shared encoding is QoS 0";
    got_.push_back({pub.topic, pub.payload, msg.qos, pub.retain});
  }
  void close(broker::EndReason) override {}
  void directory_changed() override {}

  std::vector<Got> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  platform::Principal who_;
  std::mutex mu_;
  std::vector<Got> got_;
};

}  // namespace plugmq::service::testing
