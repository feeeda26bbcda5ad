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
  for (std::size_t i = 0; i < kN; ++i) {
    gate.enter([&ran, i] {
      ran.push_back(i);
      return true;
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
  EXPECT_EQ(gate.waiting(), 0u);

  // Everyone leaves: all places free again, and the next one runs at once.
  for (std::size_t i = 0; i < LoginGate::kPlaces; ++i) gate.leave();
  EXPECT_EQ(gate.taken(), 0u);
  gate.enter([&ran] {
    ran.push_back(99);
    return true;
  });
  EXPECT_EQ(ran.back(), 99u);
  EXPECT_EQ(gate.taken(), 1u);
}

TEST(LoginGate, AWaitWhoseSessionIsGonePassesItsTurnOn) {
  boost::asio::io_context ioc;
  LoginGate& gate = LoginGate::of(ioc);
  for (std::size_t i = 0; i < LoginGate::kPlaces; ++i) gate.enter([] { return true; });
  // Two waits for sessions that end before their turn (they hold them weakly), then a live one.
  auto gone1 = std::make_shared<int>(1);
  auto gone2 = std::make_shared<int>(2);
  int ran = 0;
  for (const auto& who : {gone1, gone2}) {
    gate.enter([weak = std::weak_ptr<int>(who), &ran] {
      if (weak.expired()) return false;
      ++ran;
      return true;
    });
  }
  gate.enter([&ran] {
    ran += 100;
    return true;
  });
  gone1.reset();
  gone2.reset();
  EXPECT_EQ(gate.waiting(), 3u);

  // One place given back reaches the live one through the two that are gone.
  gate.leave();
  ioc.poll();
  EXPECT_EQ(ran, 100);
  EXPECT_EQ(gate.waiting(), 0u);
  EXPECT_EQ(gate.taken(), LoginGate::kPlaces);

  // One that is gone when a place is free at once gives it back at once.
  gate.leave();
  EXPECT_EQ(gate.taken(), LoginGate::kPlaces - 1);
  gate.enter([] { return false; });
  EXPECT_EQ(gate.taken(), LoginGate::kPlaces - 1);
}

TEST(LoginGate, WhatWaitsIsReleasedWhenTheIoContextGoes) {
  auto held = std::make_shared<int>(1);
  {
    boost::asio::io_context ioc;
    LoginGate& gate = LoginGate::of(ioc);
    for (std::size_t i = 0; i < LoginGate::kPlaces; ++i) gate.enter([] { return true; });
    gate.enter([held] { return true; });
    EXPECT_EQ(held.use_count(), 2);
  }
  EXPECT_EQ(held.use_count(), 1);
}

}  // namespace
}  // namespace plugmq::net
