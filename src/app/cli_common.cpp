#include "cli_common.hpp"

#include <iostream>

#include "data_dir.hpp"

namespace plugmq::app {

namespace {
// Records deleted per transaction: as the server's device deletion (http/common.cpp).
constexpr std::size_t kPurgeBatch = 2000;
}  // namespace

void expect_positional(const Args& a, std::size_t n, const char* what) {
  if (a.positional.size() < n) throw UsageError(std::string("missing ") + what);
  if (a.positional.size() > n) {
    throw UsageError("unexpected argument '" + a.positional[n] + "'");
  }
}

void refuse_flags(const Args& a, std::initializer_list<const char*> flags, const char* command) {
  for (const char* flag : flags) {
    if (a.has(flag)) throw UsageError(std::string(command) + " takes no --" + flag);
  }
}

store::Db open_db(const Args& args, const Config& config) {
  auto file = existing_database(data_dir_from(args, config));
  set_database_in_use(file);
  return store::Db::open(file);
}

store::Db open_db(const Args& args) { return open_db(args, config_from(args)); }

store::Db open_or_create_db(const Args& args, const Config& config) {
  const auto dir = data_dir_from(args, config);
  if (prepare_database(dir)) {
    std::cerr << "plugmq: created database "
              << std::filesystem::absolute(database_file(dir)).string() << "\n";
  }
  set_database_in_use(database_file(dir));
  return store::Db::open(database_file(dir));
}

store::Account account_or_fail(store::Identity& id, const std::string& email) {
  auto a = id.account_by_email(email);
  if (!a) throw store::Error(store::Error::Code::kNotFound, "no account with email " + email);
  return *a;
}

store::Template template_or_fail(store::Fleet& fleet, const std::string& model) {
  auto t = fleet.template_by_id(model);
  if (!t) throw store::Error(store::Error::Code::kNotFound, "no template " + model);
  return *t;
}

store::Device device_or_fail(store::Identity& id, const std::string& plug_id) {
  auto d = id.device(plug_id);
  if (!d) throw store::Error(store::Error::Code::kNotFound, "no device " + plug_id);
  return *d;
}

std::size_t purge_records(store::DataStore& data, const std::string& device) {
  std::size_t total = 0;
  for (;;) {
    const std::size_t n = data.delete_of(device, kPurgeBatch);
    total += n;
    if (n < kPurgeBatch) return total;
  }
}

}  // namespace plugmq::app
