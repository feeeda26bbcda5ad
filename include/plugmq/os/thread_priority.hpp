// Lets a thread whose work is throughput rather than latency (the data writer) step aside for
// the network threads while it keeps up, and take its full share of the CPU back when it falls
// behind.
//
// In the background the thread is 10 steps nicer than it started: a network thread that wakes
// up while it runs gets the core at once instead of at the end of its time slice, and the
// thread still gets every idle cycle. In the foreground it has its own priority again. Raising a
// priority back needs CAP_SYS_NICE or an RLIMIT_NICE that allows the starting nice value
// (systemd: LimitNICE=+0; docker run: --ulimit nice=20); where neither holds, the thread never
// goes to the background, so that it cannot get stuck there.
#pragma once

#include <sys/types.h>

namespace plugmq::os {

// Whether a soft RLIMIT_NICE of `rlimit_nice` lets a thread without CAP_SYS_NICE set its nice
// value to `nice` (-20 to 19).
bool nice_within_limit(int nice, unsigned long long rlimit_nice);

class ThreadPriority {
 public:
  // Binds to the calling thread and its nice value now.
  ThreadPriority();

  // Whether set_background() can go both ways here.
  bool usable() const { return usable_; }
  bool background() const { return background_; }

  // Only a change costs a system call. Returns false when nothing changed because the thread
  // cannot come back (not usable()) or the system refused.
  bool set_background(bool background);

 private:
  pid_t tid_;
  int base_ = 0;  // the nice value at construction
  bool usable_ = false;
  bool background_ = false;
};

}  // namespace plugmq::os
