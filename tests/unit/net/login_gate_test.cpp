#include "plugmq/net/login_gate.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

namespace plugmq::net {
namespace {

TEST(LoginGate, LetsThroughAtMostItsPlacesThenTheWaitingInArrivalOrder) {
  boost::asio::io_context ioc;
  LoginGate& gate = LoginGate::of(ioc);
  constexpr std::size_t kN = LoginGate::kPlaces + 3;
  std::vector<std::size_t> ran;
  std::vector<bool> waited;
  for (std::size_t i = 0; i < kN; ++i) {
    gate.enter([&ran, &waited, i](bool w) {
      ran.push_back(i);
      waited.push_back(w);
    });
  }
  // The first kPlaces ran at once; the others wait.
  ASSERT_EQ(ran.size(), LoginGate::kPlaces);
  EXPECT_EQ(gate.taken(), LoginGate::kPlaces);
  EXPECT_EQ(gate.waiting(), 3u);

  // A place given back goes to the first waiting, which runs from the io_context.
  gate.leave();
  EXPECT_EQ(gate.taken(), LoginGate::kPlaces);
  EXPECT_EQ(gate.waiting(), 2u);
  EXPECT_EQ(ran.size(), LoginGate::kPlaces);
  ioc.poll();
  ASSERT_EQ(ran.size(), LoginGate::kPlaces + 1);
  EXPECT_EQ(ran.back(), LoginGate::kPlaces);

  gate.leave();
  gate.leave();
  ioc.restart();  // poll() stopped it when it ran out of work
  ioc.poll();
  ASSERT_EQ(ran.size(), kN);
  for (std::size_t i = 0; i < kN; ++i) EXPECT_EQ(ran[i], i);
  // Those let in at once did not wait; the others are told they did.
  for (std::size_t i = 0; i < kN; ++i) EXPECT_EQ(waited[i], i >= LoginGate::kPlaces) << i;
  EXPECT_EQ(gate.waiting(), 0u);

  // Everyone leaves: all places free again, and the next one runs at once.
  for (std::size_t i = 0; i < LoginGate::kPlaces; ++i) gate.leave();
  EXPECT_EQ(gate.taken(), 0u);
  gate.enter([&ran, &waited](bool w) {
    ran.push_back(99);
    waited.push_back(w);
  });
  EXPECT_EQ(ran.back(), 99u);
  EXPECT_FALSE(waited.back());
  EXPECT_EQ(gate.taken(), 1u);
}

TEST(LoginGate, WhatWaitsIsReleasedWhenTheIoContextGoes) {
  auto held = std::make_shared<int>(1);
  {
    boost::asio::io_context ioc;
    LoginGate& gate = LoginGate::of(ioc);
    for (std::size_t i = 0; i < LoginGate::kPlaces; ++i) gate.enter([](bool) {});
    gate.enter([held](bool) {});
    EXPECT_EQ(held.use_count(), 2);
  }
  EXPECT_EQ(held.use_count(), 1);
}

}  // namespace
}  // namespace plugmq::net
