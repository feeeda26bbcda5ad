// MQTT filter matching cases shared by the base filter_matches tests and the broker's
// topic trie tests (the trie must agree with filter_matches on each).
#pragma once

namespace plugmq::base::testing {

struct FilterCase {
  const char* filter;
  const char* topic;
  bool match;
};

// The examples of MQTT 3.1.1 section 4.7 and the CloudPlugs topic shapes.
inline const FilterCase kFilterCases[] = {
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/#", "sport", true},  // [MQTT-4.7.1-2]
    {"#", "sport/tennis", true},
    {"#", "/", true},
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},
    {"+", "sport", true},
    {"+", "/finance", false},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+/tennis/#", "sport/tennis", true},
    {"a/b", "a/b", true},
    {"a/b", "a/b/c", false},
    {"a/b", "a", false},
    {"a//b", "a//b", true},
    {"a/+/b", "a//b", true},
    {"#", "$SYS/x", false},  // [MQTT-4.7.2-1]
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"$SYS/#", "$SYS/x", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    {"+/data/#", "dev-0123456789abcdef01234567/data/temp", true},
    {"+/data/My/Sensor", "dev-0123456789abcdef01234567/data/My/Sensor", true},
    {"+/data/My/Sensor", "dev-0123456789abcdef01234567/data/My/Sensor/x", false},
    {"dev-0123456789abcdef01234567/data/#", "dev-0123456789abcdef01234567/data/a/b", true},
    {"dev-0123456789abcdef01234567/data/#", "dev-ffffffffffffffffffffffff/data/a", false},
};

}  // namespace plugmq::base::testing
