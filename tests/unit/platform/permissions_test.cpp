#include "plugmq/platform/permissions.hpp"

#include <gtest/gtest.h>

namespace plugmq::platform {
namespace {

const std::string kAcc = "com-000000000000000000000001";
const std::string kOther = "com-000000000000000000000002";
const std::string kD = "dev-00000000000000000000000d";  // the acting device
const std::string kX = "dev-00000000000000000000000a";  // a target
const std::string kY = "dev-00000000000000000000000b";  // another target

using List = std::optional<std::vector<std::string>>;
const List kAll = std::nullopt;
const List kNone = std::vector<std::string>{};

Principal device(List r, List w, std::vector<std::string> controls = {}) {
  return Principal{kAcc, kD, PermFilter{std::move(r), std::move(w), "rw"}, std::move(controls)};
}

Target target(const std::string& id, std::string ctrl = "rw", const std::string& acc = kAcc) {
  return Target{acc, id, std::move(ctrl)};
}

TEST(Perm, KindNames) {
  for (DeviceKind k : {DeviceKind::kPrototype, DeviceKind::kThing, DeviceKind::kController}) {
    EXPECT_EQ(device_kind_from_string(to_string(k)), k);
  }
  EXPECT_EQ(to_string(DeviceKind::kPrototype), "prototype");
  EXPECT_EQ(to_string(DeviceKind::kThing), "thing");
  EXPECT_EQ(to_string(DeviceKind::kController), "controller");
  EXPECT_EQ(device_kind_from_string("Thing"), std::nullopt);
  EXPECT_EQ(device_kind_from_string(""), std::nullopt);
}

TEST(Perm, Defaults) {
  EXPECT_EQ(default_perm(DeviceKind::kPrototype), (PermFilter{kAll, kAll, "rw"}));
  EXPECT_EQ(default_perm(DeviceKind::kThing), (PermFilter{kNone, kNone, "rw"}));
  const auto c = default_perm(DeviceKind::kController);
  EXPECT_EQ(c.read, kNone);
  EXPECT_EQ(c.write, kNone);
}

TEST(Perm, ToJson) {
  EXPECT_EQ(to_json(default_perm(DeviceKind::kPrototype)),
            R"({"of":{"r":null,"w":null},"ctrl":"rw"})");
  EXPECT_EQ(to_json(default_perm(DeviceKind::kThing)), R"({"of":{"r":[],"w":[]},"ctrl":"rw"})");
  EXPECT_EQ(to_json(PermFilter{std::vector<std::string>{kX, kY}, kNone, "r"}),
            R"({"of":{"r":[")" + kX + R"(",")" + kY + R"("],"w":[]},"ctrl":"r"})");
  EXPECT_EQ(to_json(PermFilter{kNone, kAll, ""}), R"({"of":{"r":[],"w":null},"ctrl":""})");
}

TEST(Perm, JsonRoundTrip) {
  for (const PermFilter& p :
       {default_perm(DeviceKind::kPrototype), default_perm(DeviceKind::kThing),
        PermFilter{std::vector<std::string>{kX}, kAll, "r"},
        PermFilter{kNone, std::vector<std::string>{kX, kY}, ""}}) {
    EXPECT_EQ(perm_from_json(to_json(p), PermFilter{}), p) << to_json(p);
  }
}

TEST(Perm, FromJsonPartialKeepsBase) {
  const PermFilter base{std::vector<std::string>{kX}, kNone, "r"};
  EXPECT_EQ(perm_from_json("{}", base), base);
  EXPECT_EQ(perm_from_json(R"({"ctrl":""})", base),
            (PermFilter{std::vector<std::string>{kX}, kNone, ""}));
  EXPECT_EQ(perm_from_json(R"({"of":{"w":null}})", base),
            (PermFilter{std::vector<std::string>{kX}, kAll, "r"}));
  EXPECT_EQ(perm_from_json(R"({"of":{}})", base), base);
}

TEST(Perm, FromJsonNormalizesPlugIds) {
  const auto p = perm_from_json(R"({"of":{"r":["DEV-00000000000000000000000A",")" + kX +
                                    R"("],"w":["Dev-00000000000000000000000B"]}})",
                                PermFilter{});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->read, (std::vector<std::string>{kX}));  // duplicates dropped
  EXPECT_EQ(p->write, (std::vector<std::string>{kY}));
}

TEST(Perm, FromJsonMalformed) {
  for (const std::string& bad : {
           std::string(""),
           std::string("not json"),
           std::string("[]"),
           std::string("null"),
           std::string(R"({"of":null})"),
           std::string(R"({"of":[]})"),
           std::string(R"({"of":{"r":"dev-00000000000000000000000a"}})"),
           std::string(R"({"of":{"r":[1]}})"),
           std::string(R"({"of":{"r":["dev-123"]}})"),
           std::string(R"({"of":{"w":["mod-00000000000000000000000a"]}})"),
           std::string(R"({"of":{"x":[]}})"),
           std::string(R"({"ctrl":"w"})"),
           std::string(R"({"ctrl":"wr"})"),
           std::string(R"({"ctrl":null})"),
           std::string(R"({"ctrl":1})"),
           std::string(R"({"off":{}})"),
       }) {
    std::string error;
    EXPECT_EQ(perm_from_json(bad, PermFilter{}, &error), std::nullopt) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_EQ(perm_from_json("nope", PermFilter{}), std::nullopt);  // error pointer optional
}

// ---- decisions (SPEC 6) ----

struct Decision {
  const char* name;
  Principal who;
  Target what;
  bool read;
  bool write;
};

TEST(Perm, DecisionTable) {
  const Principal account{kAcc, "", PermFilter{kNone, kNone, "rw"}, {}};
  const std::vector<Decision> table = {
      // Never across accounts, whatever the filters say.
      {"other account, of=null", device(kAll, kAll), target(kX, "rw", kOther), false, false},
      {"other account, listed", device(std::vector<std::string>{kX}, std::vector<std::string>{kX}),
       target(kX, "rw", kOther), false, false},
      {"other account, self id", device(kNone, kNone), target(kD, "rw", kOther), false, false},
      {"account login, other account", account, target(kX, "rw", kOther), false, false},
      {"controller, other account", device(kNone, kNone, {kX}), target(kX, "rw", kOther), false,
       false},
      // An account login may do everything in its account.
      {"account login", account, target(kX), true, true},
      {"account login, ctrl empty", account, target(kX, ""), true, true},
      // A device may always read/write itself.
      {"self, of=[]", device(kNone, kNone), target(kD), true, true},
      {"self, ctrl empty", device(kNone, kNone), target(kD, ""), true, true},
      // of.r / of.w: null = all, [] = none, list = those.
      {"of=null", device(kAll, kAll), target(kX), true, true},
      {"of=[]", device(kNone, kNone), target(kX), false, false},
      {"r=null w=[]", device(kAll, kNone), target(kX), true, false},
      {"r=[] w=null", device(kNone, kAll), target(kX), false, true},
      {"listed in r and w", device(std::vector<std::string>{kY, kX}, std::vector<std::string>{kX}),
       target(kX), true, true},
      {"listed in r only", device(std::vector<std::string>{kX}, std::vector<std::string>{kY}),
       target(kX), true, false},
      {"listed in w only", device(std::vector<std::string>{kY}, std::vector<std::string>{kX}),
       target(kX), false, true},
      {"not listed", device(std::vector<std::string>{kY}, std::vector<std::string>{kY}), target(kX),
       false, false},
      {"listed, target ctrl empty", device(std::vector<std::string>{kX}, kAll), target(kX, ""),
       true, true},
      // Controllers: the target's ctrl decides.
      {"controller, ctrl rw", device(kNone, kNone, {kX}), target(kX, "rw"), true, true},
      {"controller, ctrl r", device(kNone, kNone, {kX}), target(kX, "r"), true, false},
      {"controller, ctrl empty", device(kNone, kNone, {kX}), target(kX, ""), false, false},
      {"controller of another thing", device(kNone, kNone, {kY}), target(kX, "rw"), false, false},
      {"controller, ctrl r, but listed in w", device(kNone, std::vector<std::string>{kX}, {kX}),
       target(kX, "r"), true, true},
      {"controller, ctrl empty, of=null", device(kAll, kAll, {kX}), target(kX, ""), true, true},
  };
  for (const auto& c : table) {
    EXPECT_EQ(may_read(c.who, c.what), c.read) << c.name;
    EXPECT_EQ(may_write(c.who, c.what), c.write) << c.name;
  }
}

TEST(Perm, EmptyAccountNeverMatches) {
  const Principal nobody{"", "", PermFilter{}, {}};
  EXPECT_FALSE(may_read(nobody, Target{"", kX, "rw"}));
  EXPECT_FALSE(may_write(nobody, Target{"", kX, "rw"}));
}

}  // namespace
}  // namespace plugmq::platform
