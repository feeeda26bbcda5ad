// Updates by id (SPEC 4): a published record with "id" replaces that record of the same device
// and channel, MQTT and HTTP alike. This finds the record an id names; the publish path
// (service/publish.hpp) then stores the update (platform::Record::update) and delivers it like
// a new publish. docs/decisions/019-record-updates.md.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "plugmq/service/context.hpp"

namespace plugmq::service {

// The OID (normalized) of the record `id` names, when it is a record of device `device_id` (a
// lowercase Plug-ID) on `channel`, stored or accepted before this call (the data writer's queue
// is committed first, so that a record delivered a moment ago can be updated at once). Nothing
// for a malformed id, a record gone, or another device's or channel's: what the caller refuses
// (HTTP 404; MQTT drops it). The caller checked that its publisher may write the device.
// Throws what the store throws (store::Error).
boost::asio::awaitable<std::optional<std::string>> record_to_update(Context& ctx,
                                                                    const std::string& device_id,
                                                                    const std::string& channel,
                                                                    const std::string& id);

}  // namespace plugmq::service
