#include "plugmq/broker/policy.hpp"

namespace plugmq::broker {

const char* to_string(EndReason r) {
  switch (r) {
    case EndReason::kDisconnect:
      return "disconnect";
    case EndReason::kClosedByPeer:
      return "closed by peer";
    case EndReason::kKeepAliveExpired:
      return "keep alive expired";
    case EndReason::kProtocolViolation:
      return "protocol violation";
    case EndReason::kTakenOver:
      return "taken over";
    case EndReason::kServerShutdown:
      return "server shutdown";
    case EndReason::kSlowConsumer:
      return "slow consumer";
    case EndReason::kRefused:
      return "login refused";
    case EndReason::kRevoked:
      return "access revoked";
    case EndReason::kEnrollDone:
      return "enrollment session over";
    case EndReason::kStoreFailed:
      return "store failure";
  }
  return "unknown";
}

}  // namespace plugmq::broker
