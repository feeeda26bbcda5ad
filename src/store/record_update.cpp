// DataStore's updates by id (SPEC 4: a published record with "id" replaces that record of the
// same publisher and channel): finding the record an id names, and deleting it as the record
// that replaces it is inserted. docs/decisions/019-record-updates.md says why an update is a
// delete and an insert with a new position rather than a change in place.
#include <optional>

#include "plugmq/platform/ids.hpp"
#include "plugmq/store/data.hpp"
#include "record_planner.hpp"
#include "record_statements.hpp"

namespace plugmq::store {

using detail::Located;
using detail::OidBytes;

namespace {

// Where the record `id` of `of` on `channel` is stored, read into `out`; nothing when it is
// not, or is another publisher's (an id names one record: it is on one channel).
std::optional<Located> locate_own(detail::RecordStatements& st, const OidBytes& id,
                                  std::string_view of, std::string_view channel,
                                  platform::Record& out) {
  std::int64_t cid = 0;
  {
    Stmt& get = st.write.channel_get;
    auto use = get.use();
    get.bind_static(1, channel);
    if (!get.step()) return std::nullopt;  // no record was ever stored on the channel
    cid = get.int64(0);
  }
  auto found = detail::locate(st.read, id, {cid}, false);
  if (!found || found->cid != cid) return std::nullopt;
  Stmt& by_key = st.read.by_key;
  auto use = by_key.use();
  by_key.bind(1, found->at);
  by_key.bind_blob_static(2, id.data(), id.size());
  by_key.bind(3, cid);
  if (!by_key.step()) return std::nullopt;
  out = detail::record_from(by_key);
  if (out.of != of) return std::nullopt;
  return found;
}

}  // namespace

std::optional<platform::Record> DataStore::find(std::string_view id, std::string_view of,
                                                std::string_view channel) {
  const auto key = platform::oid_bytes(id);
  if (!key) return std::nullopt;
  flush();  // the transaction's own records, when there is one
  platform::Record r;
  if (!locate_own(*st_, *key, of, channel, r)) return std::nullopt;
  return r;
}

bool DataStore::drop_replaced(const platform::Record& r, const OidBytes& id) {
  // The runs of this transaction first: one that holds only the replaced record then goes with
  // it (the data_deleted trigger), as a run of one record always has its record.
  flush();
  platform::Record old;
  const auto found = locate_own(*st_, id, r.of, r.channel, old);
  if (!found) return false;  // gone meanwhile (expired, deleted): r is stored all the same
  bool retained = false;
  {
    auto s = db_.prepare(
        "SELECT 1 FROM retained t JOIN series s ON s.sid = t.sid "
        "WHERE s.of = ?1 AND s.channel = ?2 AND t.id = ?3");
    s.bind(1, r.of).bind(2, r.channel);
    s.bind_blob_static(3, id.data(), id.size());
    retained = s.step();
  }
  Stmt& del = st_->sweep.delete_key;
  auto use = del.use();
  del.bind(1, found->at);
  del.bind_blob_static(2, id.data(), id.size());
  del.bind(3, found->cid);
  del.step();
  return retained;
}

}  // namespace plugmq::store
