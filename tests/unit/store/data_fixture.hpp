// The fixture and helpers of the DataStore tests (record_*_test.cpp, property_store_test.cpp):
// records with chosen OIDs, a database with two devices.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "plugmq/platform/payload.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::store::testing {

using platform::Record;
using V = std::vector<std::string>;

// The OID with creation second `second` and counter `n`: ids sort by (second, n).
inline std::string oid(std::uint32_t second, std::uint32_t n) {
  char buf[25];
  std::snprintf(buf, sizeof buf, "%08x0000000000%06x", second, n);
  return buf;
}

inline Record rec(std::string id, std::string of, std::string channel, std::int64_t at,
                  std::string data = "1", std::optional<std::int64_t> expire_at = std::nullopt) {
  return Record{std::move(id), std::move(of), std::move(channel), std::move(data), at, expire_at};
}

// A record published with `qos` (persistent sessions replay QoS 1 and 2).
inline Record qrec(std::string id, std::string of, std::string channel, std::int64_t at, int qos,
                   std::string data = "1") {
  Record r = rec(std::move(id), std::move(of), std::move(channel), at, std::move(data));
  r.qos = qos;
  return r;
}

inline std::vector<std::int64_t> seqs_of(const std::vector<Record>& rs) {
  std::vector<std::int64_t> out;
  for (const auto& r : rs) out.push_back(r.seq);
  return out;
}

inline std::vector<std::string> ids_of(const std::vector<Record>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.id);
  return out;
}

inline std::vector<std::string> channels_of(const std::vector<Record>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.channel);
  return out;
}

inline DataQuery mask(std::string m) {
  DataQuery q;
  q.mask = std::move(m);
  return q;
}

// `n` distinct Plug-IDs from `first`.
inline std::vector<std::string> plug_ids(int n, int first) {
  std::vector<std::string> devs;
  for (int i = 0; i < n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "dev-%024x", first + i);
    devs.push_back(buf);
  }
  return devs;
}

// The one integer a query `sql` returns.
inline std::int64_t count_rows(Db& db, const std::string& sql) {
  auto s = db.prepare(sql);
  EXPECT_TRUE(s.step());
  return s.int64(0);
}

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto account = ids_.add_account("a@b.c", "secret1").value();
    account_ = account.id;
    dev1_ = ids_.add_prototype(account.id, "one").value().device.id;
    dev2_ = ids_.add_prototype(account.id, "two").value().device.id;
  }

  void insert_all(const std::vector<Record>& rs) {
    db_.transaction([&] {
      for (const auto& r : rs) data_.insert(r);
    });
  }

  Db db_ = Db::open_memory();
  Identity ids_{db_};
  DataStore data_{db_};
  std::string account_;  // dev1_'s and dev2_'s
  std::string dev1_, dev2_;
};

}  // namespace plugmq::store::testing
