// Records read back for replay and retained messages (docs/storage.md, "Positions"): one by
// key, or a chunk of them in each channel's order.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "plugmq/platform/ids.hpp"
#include "replay_series.hpp"

namespace plugmq::store::detail {

namespace {

// The record in the current row of `s` (columns c.. data, expire_at, qos, seq) at (at, id) of
// `series`.
platform::Record row_record(const Stmt& s, int c, const SeriesInfo& series, std::int64_t at,
                            const OidBytes& id) {
  platform::Record r;
  r.id = platform::oid_hex(oid_view(id));
  r.of = series.of;
  r.channel = series.channel;
  r.data_json = s.text_view(c);
  r.at = at;
  r.expire_at = s.optional_int64(c + 1);
  r.qos = static_cast<int>(s.int64(c + 2));
  r.seq = s.optional_int64(c + 3).value_or(0);
  return r;
}

}  // namespace

std::optional<platform::Record> record_at(ReplayStatements& st, const SeriesInfo& series,
                                          std::int64_t at, const OidBytes& id) {
  Stmt& get = st.record_by_key;  // data, expire_at, qos, seq
  auto use = get.use();
  get.bind(1, series.cid);
  get.bind(2, at);
  get.bind_blob_static(3, id.data(), id.size());
  if (!get.step()) return std::nullopt;
  return row_record(get, 0, series, at, id);
}

std::vector<platform::Record> fetch_records(ReplayStatements& st, const SeriesMap& series,
                                         const std::vector<Found>& take) {
  struct Want {
    std::int64_t cid;
    const Found* found;
    const SeriesInfo* series;
    std::size_t slot;  // in `take`
  };
  std::vector<Want> want;
  want.reserve(take.size());
  for (std::size_t i = 0; i < take.size(); ++i) {
    const auto it = series.find(take[i].sid);  // gone: its device was deleted
    if (it != series.end()) want.push_back({it->second.cid, &take[i], &it->second, i});
  }
  // A wanted record's place in the table, (cid, at, id), against a row's.
  const auto key = [](const Want& w) { return std::tuple(w.cid, w.found->at, oid_view(w.found->id)); };
  std::sort(want.begin(), want.end(), [&](const Want& a, const Want& b) { return key(a) < key(b); });
  std::vector<std::optional<platform::Record>> slots(take.size());
  Stmt& scan = st.records_from;  // at, id, data, expire_at, qos, seq
  std::size_t i = 0;
  while (i < want.size()) {
    // A seek to the next wanted record, then a walk on while the rows passed over between two
    // wanted ones stay few.
    const std::int64_t cid = want[i].cid;
    auto use = scan.use();
    scan.bind(1, cid);
    scan.bind(2, want[i].found->at);
    scan.bind_blob_static(3, want[i].found->id.data(), kOidBytes);
    const auto in_channel = [&] { return i < want.size() && want[i].cid == cid; };
    for (int passed = 0; in_channel() && passed <= kMaxPassed;) {
      if (!scan.step()) {  // the channel ends: the rest wanted in it are gone
        while (in_channel()) ++i;
        break;
      }
      const auto row = std::tuple(cid, scan.int64(0), scan.blob_view(1));
      while (in_channel() && key(want[i]) < row) ++i;  // gone
      if (!in_channel()) break;
      if (key(want[i]) == row) {
        const std::int64_t at = std::get<1>(row);
        slots[want[i].slot] = row_record(scan, 2, *want[i].series, at, want[i].found->id);
        ++i;
        passed = 0;
      } else {
        ++passed;  // a row of another series, or not wanted
      }
    }
  }
  std::vector<platform::Record> out;
  out.reserve(take.size());
  for (auto& r : slots) {
    if (r) out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace plugmq::store::detail
