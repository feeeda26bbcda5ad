// Acknowledges a publish on every way out of a scope. A publish's `done` (its PUBACK, PUBREC or
// HTTP answer) is taken by the record it stored; when none did (refused, a property request, an
// exception), this queues it on the data writer behind the records before it, so that
// acknowledgements keep their order: an answer never overtakes an earlier publish's.
// Holds references: `writer` and `done` outlive it.
#pragma once

#include <utility>

#include "plugmq/store/data_writer.hpp"

namespace plugmq::service {

class AckInOrder {
 public:
  AckInOrder(store::DataWriter& writer, store::DataWriter::Done& done)
      : writer_(writer), done_(done) {}
  ~AckInOrder() {
    if (done_) writer_.push_done(std::exchange(done_, nullptr));
  }
  AckInOrder(const AckInOrder&) = delete;
  AckInOrder& operator=(const AckInOrder&) = delete;

 private:
  store::DataWriter& writer_;
  store::DataWriter::Done& done_;
};

}  // namespace plugmq::service
