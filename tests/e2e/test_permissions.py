"""Permissions between enrolled things, controllers, prototypes and account logins (SPEC 6):
default thing filters, of.r / of.w lists, controllers and the things' ctrl setting, account
logins; operator changes applied to live sessions within 5 s; disabled devices and accounts.

Devices are enrolled over MQTT (production template + serial numbers), so this also exercises
the whole enrollment path. Every test makes its own devices: tests change permissions."""

import json
import time
import unittest

from harness import (NEGATIVE_WINDOW, ServerTestCase, check_record, paho_connect_rc,
                     probe_until_started, probe_until_stopped, sync_subscription, unique)

LIVE_LIMIT = 6.0  # SPEC 6: live sessions follow operator changes within 5 s (+1 s of slack)


class PermissionTest(ServerTestCase):
    server_args = ("--enroll-attempts", "1000")

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.model = cls.server.make_template(cls.acct["email"], "perm-model")["id"]
        cls.model2 = cls.server.make_template(cls.acct["email"], "perm-model-2")["id"]
        cls.other_acct = cls.server.make_account()
        cls.other_model = cls.server.make_template(cls.other_acct["email"])["id"]

    # -- helpers ----------------------------------------------------------------------------------
    def acct_sub(self, acct=None):
        acct = acct or self.acct
        return self.subscriber(acct["email"], acct["password"], "+/data/#")

    def set_perm(self, dev: dict, perm: dict) -> dict:
        return self.server.cli("device", "set", dev["id"], "--perm", json.dumps(perm))["perm"]

    def none_of(self, sub, plug_id: str, what: str, duration: float = NEGATIVE_WINDOW):
        sub.messages.assert_nothing(lambda m: m.topic.startswith(plug_id + "/"), duration, what)

    # -- things ---------------------------------------------------------------------------------
    def test_things_of_one_template_do_not_see_each_other(self):
        a = self.make_thing(self.model)
        b = self.make_thing(self.model)
        sub_a = self.subscriber(a["id"], a["auth"], "+/data/#")
        sub_b = self.subscriber(b["id"], b["auth"], "+/data/#")
        sub_a_explicit = self.subscriber(a["id"], a["auth"], f"{b['id']}/data/#")
        sub_a_all = self.subscriber(a["id"], a["auth"], "#")
        acct = self.acct_sub()
        pa, pb = self.paho_dev(a), self.paho_dev(b)
        pa.publish(f"{a['id']}/data/t", '"from-a"', qos=1)
        pb.publish(f"{b['id']}/data/t", '"from-b"', qos=1)
        # Each thing reads itself; the account login reads both.
        check_record(self, sub_a.messages.wait_topic(f"{a['id']}/data/t"), data="from-a")
        check_record(self, sub_b.messages.wait_topic(f"{b['id']}/data/t"), data="from-b")
        check_record(self, sub_a_all.messages.wait_topic(f"{a['id']}/data/t"), data="from-a")
        acct.messages.wait_topic(f"{a['id']}/data/t")
        acct.messages.wait_topic(f"{b['id']}/data/t")
        self.none_of(sub_a, b["id"], "b's data at a (+/data/#)")
        self.none_of(sub_a_explicit, b["id"], "b's data at a (explicit filter)", 0.05)
        self.none_of(sub_a_all, b["id"], "b's data at a (#)", 0.05)
        self.none_of(sub_b, a["id"], "a's data at b", 0.05)

    def test_thing_cannot_write_other_thing(self):
        a = self.make_thing(self.model)
        b = self.make_thing(self.model)
        acct = self.acct_sub()
        sub_b = self.subscriber(b["id"], b["auth"], "+/data/#")
        pa = self.paho_dev(a)
        pa.publish(f"{b['id']}/data/intrusion", '"x"')
        pa.publish(f"{a['id']}/data/after", '"own"', qos=1)
        check_record(self, acct.messages.wait_topic(f"{a['id']}/data/after"), data="own")
        acct.messages.assert_nothing(lambda m: m.topic == f"{b['id']}/data/intrusion",
                                     NEGATIVE_WINDOW, "a's write to b")
        self.none_of(sub_b, b["id"], "a's write to b at b", 0.05)
        self.assertTrue(pa.is_connected(), "a dropped publish must not close the connection")

    def test_read_filter_grants_read_not_write(self):
        a = self.make_thing(self.model)
        b = self.make_thing(self.model)
        perm = self.set_perm(a, {"of": {"r": [b["id"]]}})
        self.assertEqual(perm, {"of": {"r": [b["id"]], "w": []}, "ctrl": "rw"})
        acct = self.acct_sub()
        sub_a = self.subscriber(a["id"], a["auth"], "+/data/#")
        sub_b = self.subscriber(b["id"], b["auth"], "+/data/#")
        pa, pb = self.paho_dev(a), self.paho_dev(b)
        pb.publish(f"{b['id']}/data/visible", "1", qos=1)
        check_record(self, sub_a.messages.wait_topic(f"{b['id']}/data/visible"), data=1)
        # Not write: a's publish to b is dropped.
        pa.publish(f"{b['id']}/data/denied", "2")
        pa.publish(f"{a['id']}/data/own", "3", qos=1)
        acct.messages.wait_topic(f"{a['id']}/data/own")
        acct.messages.assert_nothing(lambda m: m.topic == f"{b['id']}/data/denied",
                                     NEGATIVE_WINDOW, "write with read-only permission")
        # Not symmetric: b does not read a.
        self.none_of(sub_b, a["id"], "a's data at b", 0.05)

    def test_write_filter_grants_write_not_read(self):
        a = self.make_thing(self.model)
        b = self.make_thing(self.model)
        self.set_perm(a, {"of": {"w": [b["id"]]}})
        acct = self.acct_sub()
        sub_a = self.subscriber(a["id"], a["auth"], "+/data/#")
        sub_b = self.subscriber(b["id"], b["auth"], "+/data/#")
        pa = self.paho_dev(a)
        pa.publish(f"{b['id']}/data/cmd", '"on"', qos=1)
        check_record(self, acct.messages.wait_topic(f"{b['id']}/data/cmd"), data="on")
        check_record(self, sub_b.messages.wait_topic(f"{b['id']}/data/cmd"), data="on")
        self.none_of(sub_a, b["id"], "b's data at a, which may only write b")

    def test_read_null_reads_every_device_of_the_account(self):
        a = self.make_thing(self.model)
        b = self.make_thing(self.model2)
        proto = self.server.make_prototype(self.acct["email"])
        stranger = self.make_thing(self.other_model)
        self.set_perm(a, {"of": {"r": None}})
        sub_a = self.subscriber(a["id"], a["auth"], "+/data/#")
        self.paho_dev(b).publish(f"{b['id']}/data/x", "1", qos=1)
        self.paho_dev(proto).publish(f"{proto['id']}/data/x", "2", qos=1)
        self.paho_dev(stranger).publish(f"{stranger['id']}/data/x", "3", qos=1)
        check_record(self, sub_a.messages.wait_topic(f"{b['id']}/data/x"), data=1)
        check_record(self, sub_a.messages.wait_topic(f"{proto['id']}/data/x"), data=2)
        self.none_of(sub_a, stranger["id"], "another account's data with of.r = null")

    # -- controllers ------------------------------------------------------------------------------
    def test_controller_reads_and_writes_rw_things(self):
        t1 = self.make_thing(self.model)
        t2 = self.make_thing(self.model2)
        t3 = self.make_thing(self.model)  # not controlled
        ctl = self.make_controller(t1)
        ctl = self.make_controller(t2, hwid=ctl["hwid"])
        acct = self.acct_sub()
        sub_ctl = self.subscriber(ctl["id"], ctl["auth"], "+/data/#")
        sub_t1 = self.subscriber(t1["id"], t1["auth"], "+/data/#")
        p1, p2, p3 = self.paho_dev(t1), self.paho_dev(t2), self.paho_dev(t3)
        pc = self.paho_dev(ctl)
        p3.publish(f"{t3['id']}/data/x", "3", qos=1)
        p1.publish(f"{t1['id']}/data/x", "1", qos=1)
        p2.publish(f"{t2['id']}/data/x", "2", qos=1)
        check_record(self, sub_ctl.messages.wait_topic(f"{t1['id']}/data/x"), data=1)
        check_record(self, sub_ctl.messages.wait_topic(f"{t2['id']}/data/x"), data=2)
        acct.messages.wait_topic(f"{t3['id']}/data/x")
        # Writes: to a controlled thing delivered (the thing reads it), to another dropped.
        pc.publish(f"{t3['id']}/data/cmd", '"denied"')
        pc.publish(f"{t1['id']}/data/cmd", '"on"', qos=1)
        pc.publish(f"{ctl['id']}/data/status", '"ctl-own"', qos=1)
        check_record(self, sub_t1.messages.wait_topic(f"{t1['id']}/data/cmd"), data="on")
        check_record(self, acct.messages.wait_topic(f"{ctl['id']}/data/status"), data="ctl-own")
        acct.messages.assert_nothing(lambda m: m.topic == f"{t3['id']}/data/cmd",
                                     NEGATIVE_WINDOW, "controller's write to a thing it does "
                                     "not control")
        self.none_of(sub_ctl, t3["id"], "data of a thing the controller does not control", 0.05)
        # The thing does not read its controller.
        self.none_of(sub_t1, ctl["id"], "the controller's own data at the thing", 0.05)

    def test_controller_with_ctrl_r_reads_but_does_not_write(self):
        # The template gives its things ctrl "r" from enrollment on (no operator change to wait
        # for).
        model_r = self.server.make_template(self.acct["email"], ctrl="r")["id"]
        t1 = self.make_thing(model_r)
        self.assertEqual(self.server.cli("device", "show", t1["id"])["perm"],
                         {"of": {"r": [], "w": []}, "ctrl": "r"})
        ctl = self.make_controller(t1)
        acct = self.acct_sub()
        sub_ctl = self.subscriber(ctl["id"], ctl["auth"], "+/data/#")
        sub_t1 = self.subscriber(t1["id"], t1["auth"], "+/data/#")
        pc, p1 = self.paho_dev(ctl), self.paho_dev(t1)
        p1.publish(f"{t1['id']}/data/x", "1", qos=1)
        check_record(self, sub_ctl.messages.wait_topic(f"{t1['id']}/data/x"), data=1)
        pc.publish(f"{t1['id']}/data/cmd", '"denied"')
        pc.publish(f"{ctl['id']}/data/own", "2", qos=1)
        acct.messages.wait_topic(f"{ctl['id']}/data/own")
        acct.messages.assert_nothing(lambda m: m.topic == f"{t1['id']}/data/cmd",
                                     NEGATIVE_WINDOW, "controller's write with ctrl 'r'")
        sub_t1.messages.assert_nothing(lambda m: m.topic == f"{t1['id']}/data/cmd", 0.05,
                                       "controller's write with ctrl 'r' at the thing")

    def test_controller_with_ctrl_empty_reads_and_writes_nothing(self):
        # ctrl "" cannot come from enrollment (no controller may enroll then): the operator sets
        # it on an enrolled thing, and this test allows the live-change delay for it (the
        # "at once" rule for new logins has its own test below).
        t1 = self.make_thing(self.model)
        t2 = self.make_thing(self.model)
        ctl = self.make_controller(t1)
        ctl = self.make_controller(t2, hwid=ctl["hwid"])  # the latest auth code counts
        self.set_perm(t1, {"ctrl": ""})
        acct = self.acct_sub()
        sub_ctl = self.subscriber(ctl["id"], ctl["auth"], "+/data/#")
        pc, p1, p2 = self.paho_dev(ctl), self.paho_dev(t1), self.paho_dev(t2)
        # t2 (ctrl rw) is read: the subscription works.
        p2.publish(f"{t2['id']}/data/x", "2", qos=1)
        check_record(self, sub_ctl.messages.wait_topic(f"{t2['id']}/data/x"), data=2)
        # t1: no reading, no writing (once the change has reached the server: <= 6 s).
        probe_until_stopped(sub_ctl.messages, p1.publish, f"{t1['id']}/data/x", LIVE_LIMIT,
                            control=acct.messages)
        probe_until_stopped(acct.messages, pc.publish, f"{t1['id']}/data/cmd", LIVE_LIMIT)
        # And t2 is still written.
        pc.publish(f"{t2['id']}/data/cmd", '"on"', qos=1)
        acct.messages.wait_topic(f"{t2['id']}/data/cmd")

    def test_thing_ctrl_change_applies_to_new_controller_login_at_once(self):
        # SPEC 6: "Changes made by an operator apply to new logins at once". The controller logs
        # in after the operator set its thing's ctrl to "": that login may neither read nor
        # write the thing, from its first publish on. Three rounds, fresh devices each.
        acct = self.acct_sub()
        for round_ in range(3):
            with self.subTest(round=round_):
                t1 = self.make_thing(self.model)
                ctl = self.make_controller(t1)
                p1 = self.paho_dev(t1)
                self.set_perm(t1, {"ctrl": ""})
                sub_ctl = self.subscriber(ctl["id"], ctl["auth"], "+/data/#")
                pc = self.paho_dev(ctl)
                pc.publish(f"{t1['id']}/data/cmd", '"denied"')
                p1.publish(f"{t1['id']}/data/x", '"hidden"', qos=1)
                pc.publish(f"{ctl['id']}/data/own", "1", qos=1)
                acct.messages.wait_topic(f"{t1['id']}/data/x")
                sub_ctl.messages.wait_topic(f"{ctl['id']}/data/own")
                self.none_of(sub_ctl, t1["id"], "the thing's data at a controller that logged "
                             "in after ctrl was set to ''", 0.5)
                acct.messages.assert_nothing(lambda m: m.topic == f"{t1['id']}/data/cmd", 0.05,
                                             "write by a controller that logged in after ctrl "
                                             "was set to ''")

    # -- account logins -----------------------------------------------------------------------------
    def test_account_login_reads_and_writes_every_device(self):
        t1 = self.make_thing(self.model)
        ctl = self.make_controller(t1)
        proto = self.server.make_prototype(self.acct["email"])
        stranger = self.make_thing(self.other_model)
        acct = self.acct_sub()
        other_acct = self.acct_sub(self.other_acct)
        for dev in (t1, ctl, proto):
            self.paho_dev(dev).publish(f"{dev['id']}/data/hello", json.dumps(dev["id"]), qos=1)
        for dev in (t1, ctl, proto):
            check_record(self, acct.messages.wait_topic(f"{dev['id']}/data/hello"),
                         data=dev["id"])
        # Writes to a thing of its account; not to another account's thing.
        sub_t1 = self.subscriber(t1["id"], t1["auth"], "+/data/#")
        pacct = self.paho(self.acct["email"], self.acct["password"])
        pacct.publish(f"{stranger['id']}/data/cmd", '"denied"')
        pacct.publish(f"{t1['id']}/data/cmd", '"from-account"', qos=1)
        check_record(self, sub_t1.messages.wait_topic(f"{t1['id']}/data/cmd"),
                     data="from-account")
        other_acct.messages.assert_nothing(lambda m: True, NEGATIVE_WINDOW,
                                           "anything at the other account's login")

    # -- live changes -------------------------------------------------------------------------------
    def test_live_read_revocation(self):
        a = self.make_thing(self.model)
        b = self.make_thing(self.model)
        self.set_perm(a, {"of": {"r": [b["id"]]}})
        acct = self.acct_sub()
        sub_a = self.subscriber(a["id"], a["auth"], "+/data/#")
        pb = self.paho_dev(b)
        topic = f"{b['id']}/data/probe"
        sync_subscription(sub_a.messages, pb.publish, topic)
        self.set_perm(a, {"of": {"r": []}})
        took = probe_until_stopped(sub_a.messages, pb.publish, topic, LIVE_LIMIT,
                                   control=acct.messages)
        self.assertLessEqual(took, LIVE_LIMIT)
        # The session itself stays up and still reads its own data.
        pa = self.paho_dev(a)
        pa.publish(f"{a['id']}/data/own", "1", qos=1)
        sub_a.messages.wait_topic(f"{a['id']}/data/own")

    def test_live_read_grant(self):
        a = self.make_thing(self.model)
        b = self.make_thing(self.model)
        acct = self.acct_sub()
        sub_a = self.subscriber(a["id"], a["auth"], "+/data/#")
        pb = self.paho_dev(b)
        topic = f"{b['id']}/data/probe"
        pb.publish(topic, '"before"', qos=1)
        acct.messages.wait(lambda m: m.topic == topic and b"before" in m.payload)
        self.none_of(sub_a, b["id"], "b's data before the grant", 0.5)
        self.set_perm(a, {"of": {"r": [b["id"]]}})
        took = probe_until_started(sub_a.messages, pb.publish, topic, LIVE_LIMIT)
        self.assertLessEqual(took, LIVE_LIMIT)

    def test_live_write_revocation(self):
        a = self.make_thing(self.model)
        b = self.make_thing(self.model)
        self.set_perm(a, {"of": {"w": [b["id"]]}})
        acct = self.acct_sub()
        pa = self.paho_dev(a)
        topic = f"{b['id']}/data/written-by-a"
        sync_subscription(acct.messages, pa.publish, topic)
        self.set_perm(a, {"of": {"w": []}})
        probe_until_stopped(acct.messages, pa.publish, topic, LIVE_LIMIT)
        pa.publish(f"{a['id']}/data/own", "1", qos=1)
        acct.messages.wait_topic(f"{a['id']}/data/own")

    def test_live_controller_ctrl_revocation(self):
        t1 = self.make_thing(self.model)
        ctl = self.make_controller(t1)
        acct = self.acct_sub()
        sub_ctl = self.subscriber(ctl["id"], ctl["auth"], "+/data/#")
        p1 = self.paho_dev(t1)
        topic = f"{t1['id']}/data/probe"
        sync_subscription(sub_ctl.messages, p1.publish, topic)
        self.set_perm(t1, {"ctrl": ""})
        probe_until_stopped(sub_ctl.messages, p1.publish, topic, LIVE_LIMIT,
                            control=acct.messages)

    def test_live_controller_write_downgrade(self):
        t1 = self.make_thing(self.model)
        ctl = self.make_controller(t1)
        acct = self.acct_sub()
        sub_ctl = self.subscriber(ctl["id"], ctl["auth"], "+/data/#")
        pc = self.paho_dev(ctl)
        topic = f"{t1['id']}/data/cmd"
        sync_subscription(acct.messages, pc.publish, topic)
        self.set_perm(t1, {"ctrl": "r"})
        probe_until_stopped(acct.messages, pc.publish, topic, LIVE_LIMIT)
        # Reading is still allowed.
        self.paho_dev(t1).publish(f"{t1['id']}/data/still-read", "1", qos=1)
        sub_ctl.messages.wait_topic(f"{t1['id']}/data/still-read")

    # -- disabled devices and accounts ---------------------------------------------------------------
    def closed_within(self, clients, start: float, limit: float, what: str) -> None:
        for i, c in enumerate(clients):
            left = max(0.1, start + limit - time.monotonic())
            try:
                c.wait_closed(left)
            except AssertionError:
                self.fail(f"{what} #{i + 1}: still open {limit} s after the change")

    def test_disabled_device_connections_closed(self):
        x = self.make_thing(self.model)
        y = self.make_thing(self.model)
        conns = [self.raw_connected(x["id"], x["auth"], client_id=unique("x")) for _ in range(2)]
        other = self.raw_connected(y["id"], y["auth"])
        start = time.monotonic()
        self.server.cli("device", "set", x["id"], "--status", "disabled")
        self.closed_within(conns, start, LIVE_LIMIT, "connection of the disabled device")
        self.assertEqual(paho_connect_rc(self.port, x["id"], x["auth"]), 5)
        # Other devices are not affected.
        other.ping()
        self.server.cli("device", "set", x["id"], "--status", "ok")
        self.assertEqual(paho_connect_rc(self.port, x["id"], x["auth"]), 0)

    def test_disabled_controller_connection_closed(self):
        t1 = self.make_thing(self.model)
        ctl = self.make_controller(t1)
        c = self.raw_connected(ctl["id"], ctl["auth"])
        thing_conn = self.raw_connected(t1["id"], t1["auth"])
        start = time.monotonic()
        self.server.cli("device", "set", ctl["id"], "--status", "disabled")
        self.closed_within([c], start, LIVE_LIMIT, "connection of the disabled controller")
        self.assertEqual(paho_connect_rc(self.port, ctl["id"], ctl["auth"]), 5)
        thing_conn.ping()

    def test_disabled_account_closes_its_connections(self):
        acct = self.server.make_account()
        model = self.server.make_template(acct["email"])["id"]
        t1 = self.make_thing(model)
        ctl = self.make_controller(t1)
        proto = self.server.make_prototype(acct["email"])
        devs = (t1, ctl, proto)
        conns = [self.raw_connected(d["id"], d["auth"]) for d in devs]
        acct_conn = self.raw_connected(acct["email"], acct["password"])
        outsider = self.make_thing(self.model)
        outsider_conn = self.raw_connected(outsider["id"], outsider["auth"])
        start = time.monotonic()
        self.server.cli("account", "set", acct["email"], "--disabled", "true")
        self.closed_within(conns, start, LIVE_LIMIT, "device connection of the disabled account")
        self.closed_within([acct_conn], start, LIVE_LIMIT, "login of the disabled account")
        for d in devs:
            self.assertEqual(paho_connect_rc(self.port, d["id"], d["auth"]), 5, d["id"])
        self.assertEqual(paho_connect_rc(self.port, acct["email"], acct["password"]), 5)
        outsider_conn.ping()
        self.server.cli("account", "set", acct["email"], "--disabled", "false")
        for d in devs:
            self.assertEqual(paho_connect_rc(self.port, d["id"], d["auth"]), 0, d["id"])


if __name__ == "__main__":
    unittest.main()
