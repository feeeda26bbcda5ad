#pragma once
// Names the calling thread (at most 15 characters, the rest is cut), so that `top -H`, `ps -L`,
// perf and gdb show which of the server's threads is which: pq-io-N (network), pq-writer (data
// writer), pq-store (store thread), pq-read-N (reader threads).

#include <pthread.h>

#include <string>

namespace plugmq::os {

inline void name_this_thread(std::string name) {
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace plugmq::os
