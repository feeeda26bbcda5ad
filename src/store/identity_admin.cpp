// The operator's side of Identity (identity.hpp): what an account holds, its deletion, and a
// device's auth codes renewed or revoked. The rest of Identity is in identity.cpp.
#include "auth_codes.hpp"
#include "device_rows.hpp"
#include "expected.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::store {

namespace {

std::int64_t count_of(Db& db, const char* sql, std::string_view account_id) {
  auto s = db.prepare(sql);
  s.bind(1, account_id);
  return s.step() ? s.int64(0) : 0;
}

}  // namespace

AccountCounts Identity::account_counts(std::string_view account_id) {
  // Each an index range: devices_account, templates_account, the serials' primary key per
  // template, sessions_account (a device's sessions carry its account too).
  AccountCounts c;
  c.devices = count_of(db_, "SELECT count(*) FROM devices WHERE account_id = ?1", account_id);
  c.templates = count_of(db_, "SELECT count(*) FROM templates WHERE account_id = ?1", account_id);
  c.serials = count_of(db_,
                       "SELECT count(*) FROM serials WHERE model IN "
                       "(SELECT id FROM templates WHERE account_id = ?1)",
                       account_id);
  c.sessions = count_of(db_, "SELECT count(*) FROM sessions WHERE account_id = ?1", account_id);
  return c;
}

Result<DeletedAccount> Identity::delete_account(std::string_view email) {
  return detail::as_result([&] {
    DeletedAccount out;
    // One transaction: a device enrolled meanwhile is either listed here or refused.
    db_.savepoint([&] {
      auto a = account_by_email(email);
      if (!a) {
        throw Error(Error::Code::kNotFound,
                    "no account with email " + platform::lower_ascii(email));
      }
      out.account = *a;
      out.counts = account_counts(a->id);
      auto list = db_.prepare("SELECT id FROM devices WHERE account_id = ?1 ORDER BY id");
      list.bind(1, a->id);
      while (list.step()) out.devices.push_back(list.text(0));
      list.reset();
      // The schema's foreign keys and triggers do the rest: devices (and with each its
      // properties, controls, retained messages and sessions), templates and their serials,
      // the account's sessions.
      auto del = db_.prepare("DELETE FROM accounts WHERE id = ?1");
      del.bind(1, a->id);
      del.step();
    });
    return out;
  });
}

Result<NewDevice> Identity::new_auth(std::string_view plug_id) {
  return detail::as_result([&] {
    auto id = platform::normalize_plug_id(plug_id, platform::IdKind::kDevice);
    if (!id) throw Error(Error::Code::kNotFound, "no device " + std::string(plug_id));
    NewDevice out;
    db_.savepoint([&] {
      out.auth = detail::renew_auth(db_, *id);  // kNotFound for no such device
      auto d = device(*id);
      if (!d) throw Error(Error::Code::kNotFound, "no device " + *id);
      out.device = std::move(*d);
    });
    return out;
  });
}

Result<Device> Identity::revoke_auth(std::string_view plug_id) {
  return detail::as_result([&] {
    auto id = platform::normalize_plug_id(plug_id, platform::IdKind::kDevice);
    if (!id) throw Error(Error::Code::kNotFound, "no device " + std::string(plug_id));
    Device out;
    db_.savepoint([&] {
      if (!detail::revoke_auth(db_, *id)) throw Error(Error::Code::kNotFound, "no device " + *id);
      auto d = device(*id);
      if (!d) throw Error(Error::Code::kNotFound, "no device " + *id);
      out = std::move(*d);
    });
    return out;
  });
}

}  // namespace plugmq::store
