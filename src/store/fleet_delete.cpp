// Deleting templates and serials (fleet.hpp). The rest of Fleet is in fleet.cpp.
//
// The devices table names a thing's template in `model` without a foreign key, so the things
// enrolled from a template outlive it: see DeletedTemplate.
#include "device_rows.hpp"
#include "expected.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/store/fleet.hpp"

namespace plugmq::store {

Result<DeletedTemplate> Fleet::delete_template(std::string_view model) {
  return detail::as_result([&] {
    DeletedTemplate out;
    db_.savepoint([&] {
      auto t = template_by_id(model);
      if (!t) throw Error(Error::Code::kNotFound, "no template " + std::string(model));
      out.tmpl = *t;
      auto count = db_.prepare("SELECT count(*), count(thing_id) FROM serials WHERE model = ?1");
      count.bind(1, t->id);
      if (count.step()) {
        out.serials = static_cast<std::size_t>(count.int64(0));
        out.things = static_cast<std::size_t>(count.int64(1));
      }
      count.reset();
      // Its serials go by the foreign key (ON DELETE CASCADE).
      auto del = db_.prepare("DELETE FROM templates WHERE id = ?1");
      del.bind(1, t->id);
      del.step();
    });
    return out;
  });
}

Result<Serial> Fleet::delete_serial(std::string_view model, std::string_view hwid) {
  return detail::as_result([&] {
    auto id = platform::normalize_plug_id(model, platform::IdKind::kModel);
    if (!id || !template_by_id(*id)) {
      throw Error(Error::Code::kNotFound, "no template " + std::string(model));
    }
    Serial out;
    db_.savepoint([&] {
      auto s = db_.prepare(
          "SELECT control_hash IS NOT NULL, thing_id, created_at FROM serials "
          "WHERE model = ?1 AND hwid = ?2");
      s.bind(1, *id).bind(2, hwid);
      if (!s.step()) {
        throw Error(Error::Code::kNotFound,
                    "no serial with hwid " + detail::quote_for_message(hwid) + " in " + *id);
      }
      out.model = *id;
      out.hwid = std::string(hwid);
      out.control_enabled = s.int64(0) != 0;
      if (!s.is_null(1)) out.thing_id = s.text(1);
      out.created_at = s.int64(2);
      s.reset();
      auto del = db_.prepare("DELETE FROM serials WHERE model = ?1 AND hwid = ?2");
      del.bind(1, *id).bind(2, hwid);
      del.step();
    });
    return out;
  });
}

}  // namespace plugmq::store
