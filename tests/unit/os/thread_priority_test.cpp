#include "plugmq/os/thread_priority.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>

namespace plugmq::os {
namespace {

int nice_of_this_thread() { return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); }

// Each case runs on a thread of its own: the priority is the thread's.
template <class F>
void on_new_thread(F f) {
  std::thread t(f);
  t.join();
}

TEST(ThreadPriority, NiceWithinLimit) {
  // The default limit, 0: no nice value can be taken back.
  EXPECT_FALSE(nice_within_limit(19, 0));
  EXPECT_FALSE(nice_within_limit(0, 0));
  // systemd's LimitNICE=+0 and docker's --ulimit nice=20: down to 0.
  EXPECT_TRUE(nice_within_limit(0, 20));
  EXPECT_TRUE(nice_within_limit(10, 20));
  EXPECT_FALSE(nice_within_limit(-1, 20));
  EXPECT_TRUE(nice_within_limit(-20, 40));
  EXPECT_TRUE(nice_within_limit(5, 15));
  EXPECT_FALSE(nice_within_limit(4, 15));
  EXPECT_FALSE(nice_within_limit(20, 40));  // out of range
}

TEST(ThreadPriority, BackgroundIsNicerAndForegroundRestoresIt) {
  on_new_thread([] {
    const int base = nice_of_this_thread();
    ThreadPriority p;
    EXPECT_FALSE(p.background());
    if (!p.usable()) {
      // It must not lower what it could not raise back.
      EXPECT_FALSE(p.set_background(true));
      EXPECT_FALSE(p.background());
      EXPECT_EQ(nice_of_this_thread(), base);
      GTEST_SKIP() << "this process may not raise a thread's priority back (nice " << base
                   << ", no CAP_SYS_NICE)";
    }
    EXPECT_TRUE(p.set_background(true));
    EXPECT_TRUE(p.background());
    EXPECT_EQ(nice_of_this_thread(), std::min(base + 10, 19));
    EXPECT_TRUE(p.set_background(true));  // no change
    EXPECT_EQ(nice_of_this_thread(), std::min(base + 10, 19));
    EXPECT_TRUE(p.set_background(false));
    EXPECT_FALSE(p.background());
    EXPECT_EQ(nice_of_this_thread(), base);
  });
}

TEST(ThreadPriority, OnlyTheBoundThreadChanges) {
  const int here = nice_of_this_thread();
  on_new_thread([] {
    ThreadPriority p;
    p.set_background(true);
  });
  EXPECT_EQ(nice_of_this_thread(), here);
}

TEST(ThreadPriority, NotUsableAtTheLowestPriority) {
  on_new_thread([] {
    const int base = nice_of_this_thread();
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19) != 0) {
      GTEST_SKIP() << "cannot set nice 19 from " << base;
    }
    ThreadPriority p;
    EXPECT_FALSE(p.usable());
    EXPECT_FALSE(p.set_background(true));
    EXPECT_EQ(nice_of_this_thread(), 19);
  });
}

}  // namespace
}  // namespace plugmq::os
