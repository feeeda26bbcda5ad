// Property requests over MQTT (SPEC 4): a device publishes to P/ag/prop/set or P/ag/prop/get and
// gets the answer on the same topic, to itself alone, never stored as data.
//
// The permission check runs on the caller's thread (the directory snapshot, the store for a
// device it lacks); the store's part runs on the data writer thread after the records queued
// before it, so that a link resolves to every value the requester published earlier.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>

#include "plugmq/platform/permissions.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/store/data_writer.hpp"

namespace plugmq::service {

// Answers the requester alone: a PUBLISH of `payload` on `topic`. Holds what it needs to reach
// the requester (it may be called after the request's coroutine ended); callable once from any
// thread, and must not block.
using Reply = std::function<void(std::string topic, std::string payload)>;

// The request `parsed` (of kind kPropSet or kPropGet, from platform::parse_topic(topic)) from
// `who`: {"err":404,...} for an unknown device, {"err":403,...} without permission (write for a
// set, read for a get), else the store's answer (its error object, or the properties; nothing
// for a successful set), each through `reply`. Counted in counters.prop_requests. `done` is
// taken, queued behind the records before it (a property request stores no record).
// REQUIRES: the referenced arguments outlive the await.
boost::asio::awaitable<void> property_request(Context& ctx, const platform::Principal& who,
                                              const platform::ParsedTopic& parsed,
                                              const std::string& topic, const std::string& payload,
                                              Reply reply, store::DataWriter::Done& done);

}  // namespace plugmq::service
