#include "plugmq/service/properties.hpp"

#include <utility>

#include "plugmq/platform/outcome.hpp"
#include "plugmq/service/ack_in_order.hpp"
#include "plugmq/service/publish.hpp"
#include "plugmq/service/reply.hpp"
#include "plugmq/store/data.hpp"

namespace plugmq::service {

namespace asio = boost::asio;

asio::awaitable<void> property_request(Context& ctx, const platform::Principal& who,
                                       const platform::ParsedTopic& parsed,
                                       const std::string& topic, const std::string& payload,
                                       Reply reply, store::DataWriter::Done& done) {
  AckInOrder ack_in_order{ctx.writer, done};
  ctx.counters.prop_requests++;
  const bool set = parsed.kind == platform::TopicKind::kPropSet;
  const auto dir = ctx.directory.get();
  auto lookup = find_target(ctx, *dir, parsed.plug_id, who);
  auto target = co_await std::move(lookup);
  auto refuse = [&](platform::PropOutcome outcome, const char* msg) {
    reply(topic, error_reply(outcome, msg));
  };
  if (!target) co_return refuse(platform::PropOutcome::kUnknownDevice, "unknown device");
  if (set ? !platform::may_write(who, *target) : !platform::may_read(who, *target)) {
    co_return refuse(platform::PropOutcome::kNotAllowed,
                     set ? "no permission to write this device's properties"
                         : "no permission to read this device's properties");
  }
  // On the writer thread, after the records queued before it: a link then resolves to every
  // value the requester published earlier.
  ctx.writer.push_task([reply = std::move(reply), set, topic, payload,
                        device = parsed.plug_id](store::DataStore& data) {
    auto r = set ? data.properties().set(device, payload) : data.properties().get(device, payload);
    if (!r.ok()) {
      reply(topic, error_reply(r.outcome, r.msg));
    } else {
      reply(topic, std::move(r.json));  // empty for a successful set
    }
  });
}

}  // namespace plugmq::service
