// The one table at the HTTP edge from store and domain outcomes to HTTP statuses
// (module-private): handlers answer a store::Result's Failure through failure_response
// (handlers.hpp), which asks client_status_of, and an enrollment's or a property request's
// outcome through status_of. MQTT replies have their own one table (service/reply.hpp); the
// numbers agree where both protocols carry the same outcome.
#pragma once

#include <optional>

#include "plugmq/platform/outcome.hpp"
#include "plugmq/service/login.hpp"
#include "plugmq/store/errc.hpp"

namespace plugmq::http {

int status_of(platform::PropOutcome outcome);
int status_of(platform::EnrollOutcome outcome);
// A refused login (never kOk): 401, 403, 429 or 503.
int status_of(service::LoginOutcome outcome);
// The status that tells the client what it did wrong; nothing for a server failure (kBusy,
// kDb: a 500 that is logged, without the cause).
std::optional<int> client_status_of(store::Errc errc);

}  // namespace plugmq::http
