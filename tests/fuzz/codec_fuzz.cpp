// libFuzzer target for the codec.
//
// The input is treated as a TCP stream: packets are decoded one after another until the stream
// errors or runs dry, as the server's read loop does. Every packet that decodes must
//   - have been "need more" at every shorter prefix we try (the decoder must not accept or
//     reject a packet before it has seen all of it, except for header errors),
//   - encode, and decode back to an equal packet consuming exactly the encoding,
//   - encode to the very bytes it came from, apart from a non-minimal remaining length: the
//     decoder must not silently drop information.
// Decoding with the filters left in place (codec::Filters::kInPlace) must give the same result,
// and a FilterCursor the same filters.
// Any violation aborts, which libFuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "plugmq/codec/codec.hpp"

namespace {

using plugmq::codec::DecodeError;
using plugmq::codec::DecodeResult;
using plugmq::codec::DecodeStatus;

constexpr std::size_t kMaxPacketSize = 1 << 20;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "codec_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Length of the body of a well-formed encoding: skips the type byte and the length varint.
std::size_t body_size(const std::string& wire) {
  std::size_t len = 0;
  for (std::size_t i = 1; i < wire.size() && i <= 4; ++i) {
    const auto b = static_cast<std::uint8_t>(wire[i]);
    len |= std::size_t{b & 0x7Fu} << (7 * (i - 1));
    if ((b & 0x80) == 0) break;
  }
  return len;
}

void check_packet(std::span<const std::uint8_t> in, const DecodeResult& r) {
  check(r.error == DecodeError::kNone, "complete result carries an error");
  check(r.consumed >= 2 && r.consumed <= in.size(), "consumed out of range");

  // Strict prefixes of a packet that decodes are incomplete, not errors.
  for (std::size_t cut : {std::size_t{1}, r.consumed / 2, r.consumed - 1}) {
    const DecodeResult p = plugmq::codec::decode(in.first(cut), kMaxPacketSize);
    check(p.status == DecodeStatus::kNeedMore && p.error == DecodeError::kNone,
          "prefix of a valid packet is not kNeedMore");
  }

  std::string wire;
  check(plugmq::codec::encode(r.packet, wire), "decoded packet does not encode");
  check(plugmq::codec::encode(r.packet) == wire, "encode overloads disagree");
  std::string appended = "xy";
  check(plugmq::codec::encode(r.packet, appended) && appended.substr(2) == wire,
        "encode does not append");

  const DecodeResult again = plugmq::codec::decode(bytes(wire), kMaxPacketSize);
  check(again.status == DecodeStatus::kComplete, "re-encoded packet does not decode");
  check(again.consumed == wire.size(), "re-encoded packet not consumed exactly");
  check(again.packet == r.packet, "round trip changed the packet");

  // Same first byte and same body; only the length field may be shorter than the original.
  const std::size_t body = body_size(wire);
  check(wire.size() <= r.consumed, "encoding longer than the input");
  check(static_cast<std::uint8_t>(wire[0]) == in[0], "first byte differs");
  check(std::memcmp(wire.data() + (wire.size() - body), in.data() + (r.consumed - body), body) == 0,
        "body bytes differ");
}

// The result with the filters of a SUBSCRIBE or UNSUBSCRIBE left in place agrees with `r`.
void check_in_place(std::span<const std::uint8_t> in, const DecodeResult& r) {
  using plugmq::codec::FilterCursor;
  const DecodeResult p =
      plugmq::codec::decode(in, kMaxPacketSize, plugmq::codec::Filters::kInPlace);
  check(p.status == r.status && p.error == r.error && p.consumed == r.consumed,
        "filters in place change the result");
  if (r.status != DecodeStatus::kComplete) return;
  std::size_t n = 0;
  std::uint8_t qos = 0;
  if (const auto* s = std::get_if<plugmq::codec::Subscribe>(&r.packet)) {
    for (FilterCursor at(p.filters, true); !at.done(); ++n) {
      check(n < s->subscriptions.size() && at.next(qos) == s->subscriptions[n].filter &&
                qos == s->subscriptions[n].qos,
            "a filter in place differs");
    }
    check(n == s->subscriptions.size(), "filters in place missing");
  } else if (const auto* u = std::get_if<plugmq::codec::Unsubscribe>(&r.packet)) {
    for (FilterCursor at(p.filters, false); !at.done(); ++n) {
      check(n < u->filters.size() && at.next(qos) == u->filters[n], "a filter in place differs");
    }
    check(n == u->filters.size(), "filters in place missing");
  } else {
    check(p.packet == r.packet && p.filters.empty(), "filters in place change another packet");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  while (!in.empty()) {
    const DecodeResult r = plugmq::codec::decode(in, kMaxPacketSize);
    check_in_place(in, r);
    if (r.status == DecodeStatus::kError) {
      check(r.error != DecodeError::kNone, "error without a reason");
      check(plugmq::codec::to_string(r.error)[0] != '\0', "empty error name");
      break;
    }
    if (r.status == DecodeStatus::kNeedMore) {
      check(r.error == DecodeError::kNone, "need-more with an error");
      break;
    }
    check_packet(in, r);
    in = in.subspan(r.consumed);
  }
  return 0;
}
