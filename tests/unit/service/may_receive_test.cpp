// The read check every subscriber makes at delivery (service::may_receive).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "plugmq/service/publish.hpp"

namespace plugmq::service {
namespace {

const std::string kAccount = "acc-00000000000000000000000001";
const std::string kOther = "acc-00000000000000000000000002";
const std::string kDevice = "dev-00000000000000000000000001";
const std::string kThing = "dev-00000000000000000000000002";
const std::string kStranger = "dev-00000000000000000000000003";

bool receives(const platform::Principal& who, const platform::Target& origin) {
  auto packet = std::make_shared<const std::string>("encoded");
  const std::string topic = origin.device_id + "/data/t";
  return may_receive(who, broker::Message{topic, origin, packet});
}

TEST(MayReceive, AnAccountLoginReceivesItsOwnAccountOnly) {
  const platform::Principal account{kAccount, "", {}, {}};
  EXPECT_TRUE(receives(account, {kAccount, kDevice, "rw"}));
  EXPECT_FALSE(receives(account, {kOther, kStranger, "rw"}));
}

TEST(MayReceive, AThingReceivesItselfAndNothingElseByDefault) {
  const platform::Principal thing{
      kAccount, kThing, platform::default_perm(platform::DeviceKind::kThing), {}};
  EXPECT_TRUE(receives(thing, {kAccount, kThing, "rw"}));
  EXPECT_FALSE(receives(thing, {kAccount, kDevice, "rw"}));
}

TEST(MayReceive, AReadListAndControlledThingsAreReceived) {
  platform::Principal ctrl{
      kAccount, kDevice, platform::default_perm(platform::DeviceKind::kController), {kThing}};
  EXPECT_TRUE(receives(ctrl, {kAccount, kThing, "r"}));
  EXPECT_FALSE(receives(ctrl, {kAccount, kThing, ""}));  // the thing allows its controllers nothing
  ctrl.perm.read = std::vector<std::string>{kStranger};
  EXPECT_TRUE(receives(ctrl, {kAccount, kStranger, "rw"}));
  // Never across accounts, whatever the list says.
  EXPECT_FALSE(receives(ctrl, {kOther, kStranger, "rw"}));
}

}  // namespace
}  // namespace plugmq::service
