// Test support: while a NoFreeFds lives, this process can open no file descriptor (its soft
// RLIMIT_NOFILE sits at the lowest free one, so every lower one is taken); what is closed in the
// meantime can be opened again. The limit comes back when it goes.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace plugmq::testing {

class NoFreeFds {
 public:
  NoFreeFds() {
    if (getrlimit(RLIMIT_NOFILE, &saved_) != 0) return;
    const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (probe < 0) return;
    ::close(probe);
    rlimit lim = saved_;
    lim.rlim_cur = static_cast<rlim_t>(probe);
    ok_ = setrlimit(RLIMIT_NOFILE, &lim) == 0;
  }
  ~NoFreeFds() {
    if (ok_) setrlimit(RLIMIT_NOFILE, &saved_);
  }
  NoFreeFds(const NoFreeFds&) = delete;
  NoFreeFds& operator=(const NoFreeFds&) = delete;

  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

}  // namespace plugmq::testing
