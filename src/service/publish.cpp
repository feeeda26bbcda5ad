#include "plugmq/service/publish.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "plugmq/codec/codec.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/service/ack_in_order.hpp"
#include "plugmq/service/record_update.hpp"
#include "plugmq/store/data.hpp"

namespace plugmq::service {

namespace asio = boost::asio;

namespace {

// MQTT cannot tell a publisher that its message went nowhere, so the log does: once per
// client and topic per throttle interval (saying how many were held back), at info level.
void log_dropped(const std::string& peer, std::string_view client, const std::string& topic,
                 const std::string& why) {
  std::string key;
  key.reserve(peer.size() + client.size() + topic.size() + 2);
  key.append(peer).append(" ").append(client).append(" ").append(topic);
  if (auto t = platform::throttle_log("publish dropped", key)) {
    spdlog::info("{} {}: publish to '{}' dropped: {}{}", peer, client, topic, why, t->suffix());
  }
}

// Who published what, for the log of a publish dropped.
struct Dropped {
  const std::string& peer;
  std::string_view client;
  const std::string& topic;
  void operator()(const std::string& why) const { log_dropped(peer, client, topic, why); }
};

}  // namespace

asio::awaitable<std::optional<platform::Target>> find_target(Context& ctx, const Directory& dir,
                                                             const std::string& plug_id,
                                                             const platform::Principal& who) {
  // The directory first, also for the caller's own device: its "ctrl" decides what its
  // controllers may do, and an operator may have changed it since the caller logged in. Its
  // keys are lowercase Plug-IDs, so an id found as sent needs no normalizing (the common case).
  if (const auto* d = dir.find(plug_id)) co_return d->target(plug_id);
  auto id = platform::normalize_plug_id(plug_id, platform::IdKind::kDevice);
  if (!id) co_return std::nullopt;
  if (const auto* d = dir.find(*id)) co_return d->target(*id);
  if (!who.device_id.empty() && *id == who.device_id) {
    co_return platform::Target{who.account_id, who.device_id, who.perm.ctrl};
  }
  // Not in the snapshot: possibly created by an admin command since the last refresh.
  auto lookup =
      ctx.store.run([id = *id](StoreExecutor::Repos& r) { return r.identity.device(id); });
  auto device = co_await std::move(lookup);
  if (!device) co_return std::nullopt;
  co_return platform::Target{device->account_id, device->id, device->perm.ctrl};
}

std::shared_ptr<const std::string> encode_delivery(const platform::Record& r) {
  codec::Publish out;
  out.topic.reserve(r.of.size() + 6 + r.channel.size());
  out.topic.append(r.of).append("/data/").append(r.channel);
  out.payload = platform::delivery_json(r);
  auto packet = std::make_shared<std::string>();
  codec::encode(out, *packet);
  return packet;
}

std::string publish_record(Context& ctx, const Directory& dir, const platform::Target& target,
                           std::string channel, platform::Envelope envelope, std::uint8_t qos,
                           store::DataWriter::Done& done, bool commit_soon) {
  platform::Record record;
  if (envelope.id) {
    // An update (SPEC 4): the record keeps its id; the store replaces the one stored.
    record.id = std::move(*envelope.id);
    record.update = true;
  } else {
    // The OID's second is the second of `at` when the server stamped it (the common case,
    // which the store finds by id without an index entry of its own), else the current one.
    const std::int64_t now = platform::now_ms();
    const std::int64_t stamp = envelope.at <= now && now - envelope.at < 1000 ? envelope.at : now;
    record.id = platform::new_oid(stamp / 1000);
  }
  record.of = target.device_id;
  record.channel = std::move(channel);
  record.at = envelope.at;
  record.expire_at = platform::expiry_of(envelope, dir.retention_days(target.account_id));
  record.data_json = std::move(envelope.data_json);
  record.qos = qos;  // persistent sessions replay QoS 1 and 2 records (SPEC 11)
  // The store makes it its topic's retained message (data "": removes that one); subscribers
  // get it live with RETAIN 0 [MQTT-3.3.1-9], as `out` is encoded.
  record.retain = envelope.retain;

  codec::Publish out;
  out.topic.reserve(record.of.size() + 6 + record.channel.size());
  out.topic.append(record.of).append("/data/").append(record.channel);
  out.payload = platform::delivery_json(record);
  auto packet = std::make_shared<std::string>();
  codec::encode(out, *packet);
  ctx.metrics.add(Metrics::kReceived);
  // Every sink in the router is a session (LiveSession): sessions are what subscribe. Each gets
  // the message at min(its QoS, the highest QoS granted to the session's matching filters).
  Message msg{out.topic, target, std::move(packet), qos};
  ctx.router.route(target.account_id, msg.topic, [&msg](broker::Sink& s, std::uint8_t granted) {
    msg.qos = std::min(msg.publish_qos, granted);
    static_cast<LiveSession&>(s).deliver(msg);
  });
  std::string id = record.id;
  ctx.writer.push(std::move(record), std::exchange(done, nullptr), commit_soon);
  return id;
}

namespace {

// Device `plug_id` as a target `who` may write (find_target + platform::may_write); a refusal
// is counted and logged, and nothing returned. REQUIRES: the arguments outlive the await.
asio::awaitable<std::optional<platform::Target>> writable_target(Context& ctx, const Directory& dir,
                                                                 const std::string& plug_id,
                                                                 const platform::Principal& who,
                                                                 const Dropped& dropped) {
  auto lookup = find_target(ctx, dir, plug_id, who);
  auto target = co_await std::move(lookup);
  if (!target || !platform::may_write(who, *target)) {
    // The seed: MQTT cannot report a denied publish, so it is dropped and counted.
    ctx.metrics.add(Metrics::kDroppedDenied);
    dropped(target ? "no write permission on " + plug_id : "no device " + plug_id);
    co_return std::nullopt;
  }
  co_return target;
}

// What an envelope's "of" and "id" ask (SPEC 4), resolved: `target` becomes the device "of"
// names (a write checked like the topic's), and envelope.id the OID of the record it replaces.
// The status that drops the publish otherwise (counted and logged); kStored when it goes on.
// REQUIRES: the arguments outlive the await.
asio::awaitable<PublishStatus> resolve_envelope(Context& ctx, const Directory& dir,
                                                const platform::Principal& who,
                                                const std::string& channel,
                                                platform::Envelope& envelope,
                                                platform::Target& target, const Dropped& dropped) {
  if (envelope.of && *envelope.of != target.device_id) {
    auto lookup = writable_target(ctx, dir, *envelope.of, who, dropped);
    auto as_of = co_await std::move(lookup);
    if (!as_of) co_return PublishStatus::kDenied;
    target = std::move(*as_of);
  }
  if (envelope.id) {
    auto lookup = record_to_update(ctx, target.device_id, channel, *envelope.id);
    auto found = co_await std::move(lookup);
    if (!found) {
      ctx.metrics.add(Metrics::kDroppedUnknownId);
      dropped("\"id\" \"" + *envelope.id + "\" names no record of " + target.device_id + " on '" +
              channel + "' to update");
      co_return PublishStatus::kNoRecord;
    }
    envelope.id = std::move(*found);
  }
  co_return PublishStatus::kStored;
}

}  // namespace

asio::awaitable<PublishStatus> publish_topic(Context& ctx, const platform::Principal& who,
                                             platform::ParsedTopic& parsed,
                                             const std::string& topic, const std::string& payload,
                                             std::uint8_t qos, bool retain,
                                             store::DataWriter::Done& done,
                                             const std::string& log_peer,
                                             std::string_view log_client, bool commit_soon) {
  AckInOrder ack_in_order{ctx.writer, done};
  const Dropped dropped{log_peer, log_client, topic};
  if (parsed.kind != platform::TopicKind::kData) {
    ctx.metrics.add(Metrics::kDroppedTopic);
    dropped("not a topic plugmq stores (PLUG_ID/data/CHANNEL or /data/CHANNEL)");
    co_return PublishStatus::kInvalidTopic;
  }
  const std::string plug_id = parsed.plug_id.empty() ? who.device_id : parsed.plug_id;
  if (plug_id.empty()) {
    ctx.metrics.add(Metrics::kDroppedTopic);
    dropped("/data/CHANNEL needs a device login");
    co_return PublishStatus::kInvalidTopic;
  }
  // One directory snapshot per publish serves the target and its account's retention.
  const auto dir = ctx.directory.get();
  auto lookup = writable_target(ctx, *dir, plug_id, who, dropped);
  auto target = co_await std::move(lookup);
  if (!target) co_return PublishStatus::kDenied;
  auto decoded = platform::decode_payload(payload, platform::now_ms());
  if (decoded.error == platform::PayloadError::kBinary) {
    ctx.metrics.add(Metrics::kDroppedBinary);
    dropped("the payload is not UTF-8 text (JSON or a string)");
    co_return PublishStatus::kBinary;
  }
  if (decoded.error != platform::PayloadError::kNone) {
    ctx.metrics.add(Metrics::kDroppedTopic);
    if (auto t = platform::throttle_log("publish: bad envelope", log_peer)) {
      spdlog::warn("{} {}: bad envelope on '{}' dropped (at/ttl/expire_at){}", log_peer, log_client,
                   topic, t->suffix());
    }
    co_return PublishStatus::kBadEnvelope;
  }
  auto resolve =
      resolve_envelope(ctx, *dir, who, parsed.channel, decoded.envelope, *target, dropped);
  const PublishStatus resolved = co_await std::move(resolve);
  if (resolved != PublishStatus::kStored) co_return resolved;
  // An empty payload decodes to data "" (step 3), which is what a retained one stores to
  // remove its topic's retained message [MQTT-3.3.1-10].
  decoded.envelope.retain = retain;
  publish_record(ctx, *dir, *target, std::move(parsed.channel), std::move(decoded.envelope), qos,
                 done, commit_soon);
  co_return PublishStatus::kStored;
}

asio::awaitable<void> publish_message(Context& ctx, const platform::Principal& who,
                                      const std::string& topic, const std::string& payload,
                                      std::uint8_t qos, bool retain, const MakeReply& make_reply,
                                      store::DataWriter::Done& done, const std::string& log_peer,
                                      std::string_view log_client, bool commit_soon) {
  AckInOrder ack_in_order{ctx.writer, done};
  auto parsed = platform::parse_topic(topic);
  if (parsed.kind == platform::TopicKind::kPropSet ||
      parsed.kind == platform::TopicKind::kPropGet) {
    auto op = property_request(ctx, who, parsed, topic, payload, make_reply(), done);
    co_await std::move(op);
    co_return;
  }
  auto op = publish_topic(ctx, who, parsed, topic, payload, qos, retain, done, log_peer, log_client,
                          commit_soon);
  co_await std::move(op);
}

}  // namespace plugmq::service
