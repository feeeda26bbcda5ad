// The retained messages of new subscriptions, in turns (service/retained.hpp).
#include "plugmq/service/retained.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <utility>

#include "plugmq/base/topic_filter.hpp"
#include "plugmq/codec/codec.hpp"
#include "plugmq/service/publish.hpp"

namespace plugmq::service {

namespace asio = boost::asio;

bool may_match_data_topic(std::string_view filter) {
  // A data topic is P/data/CHANNEL: a first level, "data", then at least one level.
  const auto first = filter.find('/');
  if (first == std::string_view::npos) return filter == "#";
  if (filter.substr(0, first) == "#") return true;
  const std::string_view rest = filter.substr(first + 1);
  const auto second = rest.find('/');
  const std::string_view level = rest.substr(0, second);
  if (level == "#") return true;
  return (level == "data" || level == "+") && second != std::string_view::npos;
}

asio::awaitable<void> stored_so_far(Context& ctx) {
  auto committed = asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&ctx](auto handler) {
        using H = decltype(handler);
        auto home = asio::prefer(asio::get_associated_executor(handler),
                                 asio::execution::outstanding_work.tracked);
        auto h = std::make_shared<H>(std::move(handler));
        // Runs on the writer thread once what was queued before it is committed (or, when the
        // writer has stopped, at once): the coroutine goes on on its own executor.
        ctx.writer.push_done([h, home](bool) {
          asio::post(home, [h] {
            H resume = std::move(*h);
            resume();
          });
        });
      },
      asio::use_awaitable);
  co_await std::move(committed);
}

void RetainedSender::add(std::string_view filter, std::uint8_t qos) {
  if (!may_match_data_topic(filter)) return;
  // A SUBSCRIBE may name a filter many times: its retained messages are read once.
  auto [it, added] = index_.try_emplace(std::string(filter), asks_.size());
  if (added) {
    asks_.push_back({it->first, qos});
  } else {
    asks_[it->second].qos = qos;
  }
}

std::uint8_t RetainedSender::granted(std::string_view topic) const {
  std::uint8_t qos = 0;
  for (std::size_t i = read_from_; i < next_; ++i) {
    if (asks_[i].qos > qos && base::filter_matches(asks_[i].filter, topic)) qos = asks_[i].qos;
  }
  return qos;
}

asio::awaitable<bool> RetainedSender::send_some(Context& ctx, const platform::Principal& who,
                                                LiveSession& to) {
  if (!std::exchange(waited_, true)) {
    auto stored = stored_so_far(ctx);
    co_await std::move(stored);
  }
  if (next_record_ == records_.size() && next_ < asks_.size()) {
    read_from_ = next_;
    next_ = std::min(asks_.size(), next_ + kFiltersPerRead);
    std::vector<std::string> filters;
    for (std::size_t i = read_from_; i < next_; ++i) filters.push_back(asks_[i].filter);
    // On a reader thread: SQLite never runs on an io thread.
    auto read = ctx.store.read(
        [account = who.account_id, filters = std::move(filters)](StoreExecutor::ReadRepos& r) {
          return r.data.retained(account, filters);
        });
    try {
      records_ = co_await std::move(read);
    } catch (const std::exception& e) {
      // The subscription stands; only these filters' retained messages are lost.
      spdlog::warn("retained messages not read for {} filters of {}: {}", next_ - read_from_,
                   who.device_id.empty() ? who.account_id : who.device_id, e.what());
      records_.clear();
    }
    next_record_ = 0;
  }
  auto deliver = deliver_some(ctx, who, to);
  co_await std::move(deliver);
  co_return empty();
}

asio::awaitable<void> RetainedSender::deliver_some(Context& ctx, const platform::Principal& who,
                                                   LiveSession& to) {
  const auto dir = ctx.directory.get();
  const std::size_t end = std::min(records_.size(), next_record_ + kMessagesPerTurn);
  for (; next_record_ < end; ++next_record_) {
    platform::Record& r = records_[next_record_];
    auto lookup = find_target(ctx, *dir, r.of, who);
    const auto target = co_await std::move(lookup);
    if (!target) continue;  // its device is gone
    codec::Publish out;
    out.topic.append(r.of).append("/data/").append(r.channel);
    out.payload = platform::delivery_json(r);
    out.retain = true;  // [MQTT-3.3.1-8]
    auto packet = std::make_shared<std::string>();
    codec::encode(out, *packet);
    const auto publish_qos = static_cast<std::uint8_t>(r.qos);
    Message msg{out.topic, *target, std::move(packet), publish_qos,
                std::min(publish_qos, granted(out.topic))};
    to.deliver(msg);  // the read check, the queue limits, the window: as any delivery
  }
  if (next_record_ == records_.size()) {
    records_.clear();
    next_record_ = 0;
  }
}

}  // namespace plugmq::service
