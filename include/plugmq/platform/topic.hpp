// CloudPlugs topic scheme on top of MQTT topics (SPEC 4).
//
//   PLUG_ID/data/CHANNEL       data channel CHANNEL of device PLUG_ID
//   /data/CHANNEL              the same for the logged-in device itself
//   PLUG_ID/ag/prop/set|get    additional properties of PLUG_ID
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "plugmq/base/utf8.hpp"

namespace plugmq::platform {

enum class TopicKind {
  kData,     // plug_id (may be empty for the /data/ form) and channel are set
  kPropSet,  // plug_id is set
  kPropGet,  // plug_id is set
  kInvalid,  // anything else: not a topic a device may publish to
};

struct ParsedTopic {
  TopicKind kind = TopicKind::kInvalid;
  std::string plug_id;  // lowercase; empty for "/data/CH" (the session's own device)
  std::string channel;  // for kData
};

// Classifies a PUBLISH topic. A first level that is not a device Plug-ID ("dev-…") makes the
// topic kInvalid, except the empty first level of "/data/CH". The channel must satisfy
// valid_channel().
ParsedTopic parse_topic(std::string_view topic);

// Whether a valid MQTT topic filter can match a topic plugmq delivers: a data topic
// (PLUG_ID/data/CHANNEL) or a property reply (PLUG_ID/ag/prop/set|get). "sensors/#" or
// "dev-1/status" cannot: a subscription to it receives nothing, ever.
bool filter_can_match(std::string_view filter);

// A channel: UTF-8, 1..200 bytes, no '+' or '#', no empty level (SPEC 1).
bool valid_channel(std::string_view channel);

// A channel mask: like a channel, but a level may be '+' and the last level may be '#'.
bool valid_channel_mask(std::string_view mask);

// A HWID: 1..128 bytes of UTF-8, no '/', '+', '#', no control characters (SPEC 1).
bool valid_hwid(std::string_view hwid);

// Well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points above U+10FFFF),
// the same rule nlohmann::json applies, so a string that passes never makes dump() throw.
inline bool valid_utf8(std::string_view s) noexcept {
  return base::valid_utf8(s, base::Nul::kAllowed);
}

// The parts of an enrollment topic (SPEC 5): MODEL/thing/PASS or MODEL/ctrl/THING_HWID/PASS.
// PASS is everything after the fixed levels, so it may itself contain '/'. Nothing when the
// topic has neither shape, an empty part, or a wildcard. MODEL and THING_HWID are returned as
// sent: the enrollment checks them (400 malformed, 404 unknown).
struct EnrollTopic {
  bool controller = false;
  std::string model;
  std::string thing_hwid;  // controllers only
  std::string pass;
};
std::optional<EnrollTopic> parse_enroll_topic(std::string_view topic);

// Splits a client id "HWID[/NAME]" at the first '/'. NAME is empty when absent.
struct ClientId {
  std::string hwid;
  std::string name;
};
ClientId split_client_id(std::string_view client_id);

}  // namespace plugmq::platform
