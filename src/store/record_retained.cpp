// DataStore's retained messages (SPEC 11): the `retained` table names each topic's record, set
// by the writer in the record's transaction (record_writer.cpp); reads show the records still
// stored (docs/storage.md, "Retained messages").
#include <algorithm>
#include <string>
#include <utility>

#include "plugmq/store/data.hpp"
#include "replay_series.hpp"

namespace plugmq::store {

std::vector<platform::Record> DataStore::retained(std::string_view account_id,
                                                  const std::vector<std::string>& filters) {
  detail::throw_unless_valid(filters);
  std::vector<platform::Record> out;
  if (filters.empty()) return out;
  flush();  // this transaction's own records
  auto txn = db_.read_transaction();
  detail::ReplayStatements& st = st_->replay;
  // Read into a list first: record_at() steps another statement. Columns: sid, cid, of,
  // channel, the record's at and id.
  std::vector<std::pair<detail::SeriesInfo, detail::Found>> entries;
  std::string topic;
  detail::for_account_series(
      st.retained_of_account, st.retained_of_device, account_id, filters, [&](Stmt& s) {
        if (!detail::selected(filters, s.text_view(2), s.text_view(3), topic)) return;
        const std::string_view id = s.blob_view(5);
        if (id.size() != detail::kOidBytes) return;
        detail::Found entry{0, s.int64(0), s.int64(4), {}};
        std::copy(id.begin(), id.end(), entry.id.begin());
        entries.emplace_back(detail::SeriesInfo{s.int64(1), std::string(s.text_view(2)),
                                                std::string(s.text_view(3)), 0, 0},
                             entry);
      });
  for (const auto& [series, entry] : entries) {
    // An entry whose record is gone (expired, deleted) is never shown; it stays until its
    // topic's next retained publish replaces it, or its device goes.
    auto r = detail::record_at(st, series, entry.at, entry.id);
    if (!r) continue;
    r->retain = true;
    out.push_back(std::move(*r));
  }
  std::sort(out.begin(), out.end(),
            [](const platform::Record& a, const platform::Record& b) { return a.seq < b.seq; });
  return out;
}

std::int64_t DataStore::retained_count() {
  flush();
  Stmt& s = st_->replay.retained_count;
  auto use = s.use();
  s.step();
  return s.int64(0);
}

}  // namespace plugmq::store
