#include "plugmq/platform/topic.hpp"

#include "plugmq/platform/ids.hpp"

namespace plugmq::platform {
namespace {

constexpr std::size_t kMaxChannel = 200;
constexpr std::size_t kMaxHwid = 128;

// Shared by channels and masks: size, UTF-8 and no U+0000. MQTT forbids U+0000 in topic names
// [MQTT-1.5.3-2] and a channel always ends up in one, so HTTP must not smuggle it in either.
bool channel_text_ok(std::string_view s) {
  if (s.empty() || s.size() > kMaxChannel) return false;
  if (s.find('\0') != std::string_view::npos) return false;
  return valid_utf8(s);
}

// Calls fn(level) for each '/'-separated level; stops at the first false.
template <class F>
bool each_level(std::string_view s, F&& fn) {
  std::size_t start = 0;
  while (true) {
    const auto pos = s.find('/', start);
    const auto level = s.substr(start, pos == std::string_view::npos ? pos : pos - start);
    const bool last = pos == std::string_view::npos;
    if (!fn(level, last)) return false;
    if (last) return true;
    start = pos + 1;
  }
}

}  // namespace

bool valid_channel(std::string_view channel) {
  if (!channel_text_ok(channel)) return false;
  // ^([^/+#]+/)*[^/+#]+$: no wildcard characters and no empty level.
  return each_level(channel, [](std::string_view level, bool) {
    return !level.empty() && level.find_first_of("+#") == std::string_view::npos;
  });
}

bool valid_channel_mask(std::string_view mask) {
  if (!channel_text_ok(mask)) return false;
  return each_level(mask, [](std::string_view level, bool last) {
    if (level.empty()) return false;
    if (level == "+") return true;
    if (level == "#") return last;
    return level.find_first_of("+#") == std::string_view::npos;
  });
}

bool valid_hwid(std::string_view hwid) {
  if (hwid.empty() || hwid.size() > kMaxHwid) return false;
  for (std::size_t i = 0; i < hwid.size(); ++i) {
    const auto c = static_cast<unsigned char>(hwid[i]);
    if (c < 0x20 || c == 0x7F || c == '/' || c == '+' || c == '#') return false;
    // C1 controls U+0080..U+009F are encoded C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < hwid.size()) {
      const auto d = static_cast<unsigned char>(hwid[i + 1]);
      if (d >= 0x80 && d <= 0x9F) return false;
    }
  }
  return valid_utf8(hwid);
}

ParsedTopic parse_topic(std::string_view topic) {
  ParsedTopic out;
  const auto slash = topic.find('/');
  if (slash == std::string_view::npos) return out;
  const std::string_view first = topic.substr(0, slash);
  const std::string_view rest = topic.substr(slash + 1);
  constexpr std::string_view kData = "data/";

  if (first.empty()) {
    // "/data/CH": the session's own device (what real clients publish to).
    if (rest.starts_with(kData) && valid_channel(rest.substr(kData.size()))) {
      out.kind = TopicKind::kData;
      out.channel = std::string(rest.substr(kData.size()));
    }
    return out;
  }

  auto id = normalize_plug_id(first, IdKind::kDevice);
  if (!id) return out;
  if (rest == "ag/prop/set") {
    out.kind = TopicKind::kPropSet;
  } else if (rest == "ag/prop/get") {
    out.kind = TopicKind::kPropGet;
  } else if (rest.starts_with(kData) && valid_channel(rest.substr(kData.size()))) {
    out.kind = TopicKind::kData;
    out.channel = std::string(rest.substr(kData.size()));
  } else {
    return out;
  }
  out.plug_id = std::move(*id);
  return out;
}

namespace {

// A topic shape, level by level: a level of a topic fits when `fits` says so.
struct Shape {
  bool (*fits[4])(std::string_view);
  std::size_t levels;
  bool open_tail;  // more levels may follow (a channel's)
};

bool plug_id_level(std::string_view l) { return normalize_plug_id(l, IdKind::kDevice).has_value(); }
bool data_level(std::string_view l) { return l == "data"; }
bool channel_level(std::string_view l) { return !l.empty(); }
bool ag_level(std::string_view l) { return l == "ag"; }
bool prop_level(std::string_view l) { return l == "prop"; }
bool op_level(std::string_view l) { return l == "set" || l == "get"; }

constexpr Shape kDataTopic{{plug_id_level, data_level, channel_level, nullptr}, 3, true};
constexpr Shape kPropTopic{{plug_id_level, ag_level, prop_level, op_level}, 4, false};

bool filter_fits(std::string_view filter, const Shape& shape) {
  std::size_t i = 0;
  bool ok = true;
  bool done = false;
  each_level(filter, [&](std::string_view level, bool) {
    if (level == "#") {
      done = true;  // the rest of any topic that fits so far
      return false;
    }
    if (i >= shape.levels) {
      ok = shape.open_tail && (level == "+" || !level.empty());
    } else if (level != "+" && !shape.fits[i](level)) {
      ok = false;
    }
    ++i;
    return ok;
  });
  return done || (ok && i >= shape.levels);
}

}  // namespace

bool filter_can_match(std::string_view filter) {
  return filter_fits(filter, kDataTopic) || filter_fits(filter, kPropTopic);
}

ClientId split_client_id(std::string_view client_id) {
  const auto pos = client_id.find('/');
  if (pos == std::string_view::npos) return {std::string(client_id), {}};
  return {std::string(client_id.substr(0, pos)), std::string(client_id.substr(pos + 1))};
}

std::optional<EnrollTopic> parse_enroll_topic(std::string_view topic) {
  if (topic.find_first_of("+#") != std::string_view::npos) return std::nullopt;
  auto first = topic.find('/');
  if (first == std::string_view::npos) return std::nullopt;
  EnrollTopic t;
  t.model = topic.substr(0, first);
  auto rest = topic.substr(first + 1);
  if (rest.rfind("thing/", 0) == 0) {
    t.pass = rest.substr(6);
  } else if (rest.rfind("ctrl/", 0) == 0) {
    t.controller = true;
    rest.remove_prefix(5);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    t.thing_hwid = rest.substr(0, slash);
    t.pass = rest.substr(slash + 1);
    if (t.thing_hwid.empty()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (t.model.empty() || t.pass.empty()) return std::nullopt;
  return t;
}

}  // namespace plugmq::platform
