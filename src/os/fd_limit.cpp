#include "plugmq/os/fd_limit.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

namespace plugmq::os {

namespace {

constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();

std::uint64_t from_rlim(rlim_t v) {
  return v == RLIM_INFINITY ? kUnlimited : static_cast<std::uint64_t>(v);
}

rlim_t to_rlim(std::uint64_t v) { return v == kUnlimited ? RLIM_INFINITY : static_cast<rlim_t>(v); }

}  // namespace

FdPlan plan_fd_limit(FdLimit current, std::uint64_t wanted, std::uint64_t reserve) {
  const std::uint64_t needed = wanted > kUnlimited - reserve ? kUnlimited : wanted + reserve;
  FdPlan plan;
  plan.soft = current.soft;
  if (plan.soft < needed) plan.soft = std::max(current.soft, std::min(current.hard, needed));
  const std::uint64_t fits = plan.soft > reserve ? plan.soft - reserve : 0;
  plan.max_connections = std::clamp<std::uint64_t>(fits, 1, std::max<std::uint64_t>(wanted, 1));
  return plan;
}

std::optional<FdLimit> read_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::nullopt;
  return FdLimit{from_rlim(lim.rlim_cur), from_rlim(lim.rlim_max)};
}

bool set_fd_soft_limit(std::uint64_t soft, std::uint64_t hard) {
  rlimit lim{to_rlim(soft), to_rlim(hard)};
  return setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

std::optional<FdFit> fit_fd_limit(std::uint64_t wanted, std::uint64_t reserve) {
  const auto before = read_fd_limit();
  if (!before) return std::nullopt;
  FdPlan plan = plan_fd_limit(*before, wanted, reserve);
  if (plan.soft != before->soft && !set_fd_soft_limit(plan.soft, before->hard)) {
    plan = plan_fd_limit({before->soft, before->soft}, wanted, reserve);
  }
  return FdFit{*before, plan.soft, plan.max_connections};
}

SpareFd::SpareFd() { restore(); }

SpareFd::~SpareFd() { release(); }

void SpareFd::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SpareFd::restore() {
  if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd_ >= 0;
}

}  // namespace plugmq::os
