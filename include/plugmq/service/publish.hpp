// The one publish path: an MQTT PUBLISH (or Last Will) and an HTTP `PUT /iot/data` both come
// through here, so a record is checked, stored and delivered the same way whatever protocol
// brought it (SPEC 4 and 10).
//
//   find_target + platform::may_write   who may write device P (the same code for both)
//   publish_record                      record -> Router (MQTT subscribers) + DataWriter (store)
//   publish_topic                       the MQTT form: topic + payload, then the two above
//   publish_message                     an MQTT PUBLISH or Last Will: property request or data
//   may_receive                         the read check each subscriber makes at delivery
//
// Everything runs on the caller's io thread; the store is reached only through the
// StoreExecutor (an unknown device) and the DataWriter queue.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "plugmq/platform/payload.hpp"
#include "plugmq/platform/permissions.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/service/message.hpp"
#include "plugmq/service/properties.hpp"
#include "plugmq/store/data_writer.hpp"

namespace plugmq::service {

// The device `plug_id` (a Plug-ID as sent, in any case) as a permission target for `who`: from
// the directory snapshot; else `who`'s own device when it is that device (a session's own
// device may be newer than the snapshot); else from the store (a device created since the last
// refresh). Nothing for a malformed Plug-ID or an unknown device. MQTT and HTTP both look a
// target up here.
// REQUIRES: `dir` and `who` outlive the await.
boost::asio::awaitable<std::optional<platform::Target>> find_target(Context& ctx,
                                                                    const Directory& dir,
                                                                    const std::string& plug_id,
                                                                    const platform::Principal& who);

// The PUBLISH that delivers a stored record (`r.of`/data/`r.channel`, delivery_json), encoded
// at QoS 0: what a persistent session gets after commit or in a replay.
std::shared_ptr<const std::string> encode_delivery(const platform::Record& r);

// A record published over HTTP counts as QoS 1 (SPEC 11): stored before it is answered.
inline constexpr std::uint8_t kHttpQos = 1;

// A record for device `target` on `channel`, built from `envelope` (the account's retention
// from `dir` sets its expiry; envelope.retain makes it its topic's retained message, SPEC 11;
// envelope.id, when set, makes it the update of that record: record_update.hpp; envelope.of is
// not read: `target` is the device it names),
// published at `qos`, routed to every matching subscriber (who each check their read
// permission, and receive it at min(`qos`, their granted QoS), with RETAIN 0) and queued for
// the store; `done`
// (taken, may be empty) runs once it is committed: at once, or, with `commit_soon` false, with
// what the caller queues behind it (DataWriter::push). No permission check here: the caller did
// it (find_target + platform::may_write). Returns the record's OID (an update's: its own).
// REQUIRES: platform::valid_channel(channel); target.device_id is a lowercase Plug-ID; qos <= 2;
// envelope.id, when set, is what record_to_update() returned for target and channel.
std::string publish_record(Context& ctx, const Directory& dir, const platform::Target& target,
                           std::string channel, platform::Envelope envelope, std::uint8_t qos,
                           store::DataWriter::Done& done, bool commit_soon = true);

enum class PublishStatus {
  kStored,        // routed and queued for the store
  kInvalidTopic,  // not a data topic, or "/data/CH" without a device login
  kDenied,        // unknown device, or no write permission
  kBinary,        // payload is not UTF-8
  kBadEnvelope,   // an envelope with a malformed at/ttl/expire_at
  kNoRecord,      // an envelope whose "id" names no record of the device and channel to update
};

// An MQTT data publish (SPEC 4) at `qos`, with its RETAIN flag `retain`: `parsed` is
// platform::parse_topic(topic) of kind kData (any other kind is kInvalidTopic); its empty
// Plug-ID ("/data/CH") means `who`'s own device. Checks permission, decodes `payload` (empty:
// data "", which with `retain` removes the topic's retained message), resolves an envelope's
// "of" (published as that device, which `who` must be allowed to write too: the record's
// device and delivered topic are its) and "id" (the update of that record of the device on the
// topic's channel: record_update.hpp), then publish_record(). Refusals are counted and logged:
// no device or permission (Metrics::kDroppedDenied), an "id" that names no such record
// (Metrics::kDroppedUnknownId).
// `done` is
// taken on every path: with the record (`commit_soon`: publish_record), or (when nothing was
// stored) queued behind the records before it, so acknowledgements stay in order. `log_peer` and
// `log_client` name the publisher in logs. REQUIRES: the referenced arguments outlive the await.
boost::asio::awaitable<PublishStatus> publish_topic(
    Context& ctx, const platform::Principal& who, platform::ParsedTopic& parsed,
    const std::string& topic, const std::string& payload, std::uint8_t qos, bool retain,
    store::DataWriter::Done& done, const std::string& log_peer, std::string_view log_client,
    bool commit_soon = true);

// Makes the callback that answers the publisher alone; asked only for a publish that gets an
// answer (a property request), so that a data publish builds none.
using MakeReply = std::function<Reply()>;

// What an MQTT session publishes (a PUBLISH at its QoS and RETAIN flag, or its Last Will at the
// will's) from
// `who`: a property request (service/properties.hpp, answered through make_reply()) or data
// (publish_topic). `done` (a
// QoS 1/2 acknowledgement, may be empty) is taken on every path: it runs once the record is
// committed, or in order with the others when nothing was stored. `commit_soon` false: a
// stored record's `done` does not hurry its commit (publish_record).
// REQUIRES: the referenced arguments outlive the await.
boost::asio::awaitable<void> publish_message(Context& ctx, const platform::Principal& who,
                                             const std::string& topic, const std::string& payload,
                                             std::uint8_t qos, bool retain,
                                             const MakeReply& make_reply,
                                             store::DataWriter::Done& done,
                                             const std::string& log_peer,
                                             std::string_view log_client, bool commit_soon = true);

// The read check at delivery: whether `subscriber` may receive `m`, a record of device
// m.origin (SPEC 6: permissions apply per message, so a subscription grants nothing by
// itself). Every subscriber checks here before queueing the message. Pure; any thread.
inline bool may_receive(const platform::Principal& subscriber, const Message& m) {
  return platform::may_read(subscriber, m.origin);
}

}  // namespace plugmq::service
