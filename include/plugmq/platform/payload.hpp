// Data payloads and records (SPEC 4, "Payload decoding").
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace plugmq::platform {

// What a publish carries once decoded.
struct Envelope {
  std::string data_json;               // compact JSON text of the data value
  std::int64_t at = 0;                 // ms since epoch
  std::optional<std::int64_t> ttl_s;   // seconds, when given
  std::optional<std::int64_t> expire_at;  // ms, when given (wins over ttl)
  // The record becomes its topic's retained message (Record::retain): an MQTT PUBLISH's RETAIN
  // flag, a will's, or an HTTP record's "retain" (SPEC 11). Never read from an MQTT payload.
  bool retain = false;
  // "of": publish as that device (SPEC 4, the official iOS client's "publish on behalf of"), as
  // sent; a value that is not a string is kept as "", which names no device. null: absent.
  std::optional<std::string> of;
  // "id": the OID of the record this one replaces (SPEC 4, "the OID of the published data to
  // update" in the official client libraries), as sent; a value that is not a string is kept
  // as "", which names no record. null: absent.
  std::optional<std::string> id;
};

enum class PayloadError {
  kNone,
  kBinary,       // not valid UTF-8: dropped
  kBadEnvelope,  // an envelope whose at/ttl/expire_at has the wrong type or value
};

struct DecodedPayload {
  PayloadError error = PayloadError::kNone;
  Envelope envelope;
};

// When a record expires (SPEC 7): its expire_at, else at + ttl, else at + the account's
// retention (0 days = never: nothing). Saturates instead of overflowing.
std::optional<std::int64_t> expiry_of(const Envelope& e, int retention_days);

// Decodes a PUBLISH payload, in order: a JSON object with a "data" member (the envelope:
// optional "at" as ms number, numeric string or ISO-8601 string, "ttl" seconds, "expire_at"
// ms, "of" and "id" as Envelope says; unknown members ignored); any other JSON value (the data
// itself); valid UTF-8 text (a JSON string); anything else is kBinary. `now_ms` is the default
// "at".
DecodedPayload decode_payload(std::string_view payload, std::int64_t now_ms);

// Step 1 alone, for an envelope that is already parsed JSON (an HTTP publish entry): `entry`
// must be an object with a "data" member (else kBadEnvelope); "at", "ttl", "expire_at", "of"
// and "id" as in decode_payload(), other members ignored. The JSON must be valid UTF-8 and at
// most 128 levels deep (nlohmann dumps recursively).
DecodedPayload decode_envelope(const nlohmann::ordered_json& entry, std::int64_t now_ms);

// Parses a timestamp given as ms number text, numeric string, or ISO-8601
// ("2024-01-02T03:04:05Z", optional fraction and offset). Nothing when malformed.
std::optional<std::int64_t> parse_time_ms(std::string_view text);

// A stored and delivered data record.
struct Record {
  std::string id;         // OID
  std::string of;         // publisher Plug-ID
  std::string channel;
  std::string data_json;  // compact JSON
  std::int64_t at = 0;
  std::optional<std::int64_t> expire_at;
  // The QoS it was published with (0, 1 or 2; an HTTP publish counts as 1): persistent
  // sessions keep the records of QoS 1 and 2 for replay (SPEC 11).
  int qos = 0;
  // Published with RETAIN 1: storing it makes it its topic's retained message, or, with data
  // `""` (an empty payload), removes that topic's retained message (SPEC 11).
  bool retain = false;
  // An update (SPEC 4, a published record with "id"): it replaces the stored record with the
  // same id, publisher and channel, which the store deletes in the same transaction before it
  // stores this one with a new position (none such: it is stored all the same). When the
  // replaced record was its topic's retained message, this one is (docs/decisions/019).
  bool update = false;
  // Its position in the store (store::DataStore, docs/storage.md "Positions"): set on records
  // read back by replay and retained reads; 0 before it is stored, and for records stored
  // before positions existed. Ignored by inserts, which assign it.
  std::int64_t seq = 0;
};

// The delivered PUBLISH payload: {"id":OID,"data":DATA,"at":MS}, compact.
std::string delivery_json(const Record& r);

}  // namespace plugmq::platform
