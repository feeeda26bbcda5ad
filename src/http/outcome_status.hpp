// The one table from store and domain outcomes to HTTP statuses (module-private). MQTT replies
// have their own table (platform::reply_code); the numbers agree where both protocols carry the
// same outcome.
#pragma once

#include <optional>

#include "plugmq/platform/outcome.hpp"
#include "plugmq/store/errc.hpp"

namespace plugmq::http {

int status_of(platform::PropOutcome outcome);
int status_of(platform::EnrollOutcome outcome);
// The status that tells the client what it did wrong; nothing for a server failure (kBusy,
// kDb: a 500 that is logged, without the cause).
std::optional<int> client_status_of(store::Errc errc);

}  // namespace plugmq::http
