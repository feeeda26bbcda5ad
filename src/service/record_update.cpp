#include "plugmq/service/record_update.hpp"

#include <utility>

#include "plugmq/platform/ids.hpp"
#include "plugmq/service/retained.hpp"

namespace plugmq::service {

namespace asio = boost::asio;

asio::awaitable<std::optional<std::string>> record_to_update(Context& ctx,
                                                             const std::string& device_id,
                                                             const std::string& channel,
                                                             const std::string& id) {
  auto oid = platform::normalize_oid(id);
  if (!oid) co_return std::nullopt;  // names no record: no need to ask the store
  auto stored = stored_so_far(ctx);
  co_await std::move(stored);
  auto lookup = ctx.store.read([oid = *oid, device_id, channel](StoreExecutor::ReadRepos& r) {
    return r.data.find(oid, device_id, channel).has_value();
  });
  const bool found = co_await std::move(lookup);
  if (!found) co_return std::nullopt;
  co_return std::move(*oid);
}

}  // namespace plugmq::service
