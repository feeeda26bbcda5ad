#include "plugmq/store/errc.hpp"

#include <string>

#include "plugmq/store/db.hpp"
namespace plugmq::store {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "plugmq.store"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kNotFound:
        return "not found";
      case Errc::kExists:
        return "already exists";
      case Errc::kInvalid:
        return "invalid argument";
      case Errc::kBusy:
        return "database busy";
      case Errc::kDb:
        return "database error";
    }
    return "unknown store error";
  }
};

}  // namespace

void throw_exception_from_error(const Failure& f, const boost::source_location&) {
  throw Error(f.code, f.message);
}

const boost::system::error_category& store_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace plugmq::store
