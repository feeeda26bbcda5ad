"""Additional properties over MQTT (SPEC section 4): PUBLISH to P/ag/prop/set with a JSON object
(static values, links {"channel":"CH"} to the last data P published on CH, null deletes) and to
P/ag/prop/get (empty payload: all; a JSON array: those names). The reply goes to the requesting
session alone on the request topic, whether or not it subscribed; it is never delivered to
anyone else and never stored as data. Permissions: write for set, read for get (SPEC 6).
Properties persist (`plugmq device show` shows them as stored) and survive restarts."""

import json
import unittest

from harness import (NEGATIVE_WINDOW, PUBLISH, FreshServerTestCase, ServerTestCase,
                     prop_topic, unique)


def set_topic(plug_id):
    return prop_topic(plug_id, "set")


def get_topic(plug_id):
    return prop_topic(plug_id, "get")


class PropsMixin:
    """Request helpers for tests with self.server (PahoClient.request does the waiting)."""

    def prop_set(self, client, plug_id, props, qos=0):
        """Sets `props` (a dict, or a raw str/bytes payload); returns the reply message."""
        payload = props if isinstance(props, (str, bytes)) else json.dumps(props)
        return client.request(set_topic(plug_id), payload, qos)

    def assert_set_ok(self, client, plug_id, props, qos=0):
        r = self.prop_set(client, plug_id, props, qos)
        self.assertEqual(r.payload, b"", f"set {props!r} on {plug_id}: a successful set replies "
                                         f"with an empty payload, got {r.payload[:300]!r}")

    def prop_get(self, client, plug_id, names=None, qos=0):
        """Gets all properties (names None) or those in `names` (a list, or a raw payload);
        returns the parsed reply."""
        if names is None:
            payload = b""
        elif isinstance(names, (str, bytes)):
            payload = names
        else:
            payload = json.dumps(names)
        r = client.request(get_topic(plug_id), payload, qos)
        try:
            return json.loads(r.payload)
        except ValueError:
            raise AssertionError(f"get on {plug_id}: reply is not JSON: {r.payload[:300]!r}")

    def assert_props(self, client, plug_id, expected, names=None):
        got = self.prop_get(client, plug_id, names)
        self.assertEqual(got, expected, f"properties of {plug_id} (names {names})")

    def assert_err(self, msg, err, what):
        try:
            reply = json.loads(msg.payload)
        except ValueError:
            raise AssertionError(f"{what}: error reply is not JSON: {msg.payload[:300]!r}")
        self.assertIsInstance(reply, dict, f"{what}: {reply!r}")
        self.assertEqual(reply.get("err"), err, f"{what}: {reply!r}")
        self.assertIsInstance(reply.get("msg"), str, f"{what}: {reply!r}")
        self.assertEqual(set(reply), {"err", "msg"}, f"{what}: {reply!r}")

    def shown_props(self, plug_id):
        d = self.server.cli("device", "show", plug_id)
        self.assertIn("props", d, f"device show {plug_id}: {d}")
        return d["props"]


class PropertiesTest(PropsMixin, ServerTestCase):
    server_args = ("--enroll-attempts", "1000")

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.other_acct = cls.server.make_account()
        cls.model = cls.server.make_template(cls.acct["email"], "props-model")["id"]

    def proto(self, acct=None):
        return self.server.make_prototype((acct or self.acct)["email"], unique("props"))

    def acct_login(self, acct=None):
        acct = acct or self.acct
        return self.paho(acct["email"], acct["password"])

    # -- set and get -----------------------------------------------------------------------------
    def test_set_static_values_and_get_all(self):
        p = self.proto()
        c = self.paho_dev(p)
        self.assertEqual(self.prop_get(c, p["id"]), {}, "a new device has no properties")
        props = {"color": "red", "n": 5, "ratio": 0.25, "flag": True, "list": [1, "two", None],
                 "obj": {"a": [1, 2], "b": {"c": "d"}}, "empty": ""}
        self.assert_set_ok(c, p["id"], props)
        self.assert_props(c, p["id"], props)
        # A second set merges: new members added, existing ones replaced, others kept.
        self.assert_set_ok(c, p["id"], {"color": "blue", "extra": 1})
        self.assert_props(c, p["id"], dict(props, color="blue", extra=1))
        self.assertEqual(self.shown_props(p["id"]), dict(props, color="blue", extra=1))

    def test_get_some(self):
        p = self.proto()
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"a": 1, "b": "two", "c": [3]})
        self.assert_props(c, p["id"], {"a": 1, "c": [3]}, ["a", "c"])
        self.assert_props(c, p["id"], {"b": "two"}, ["b", "missing"])
        self.assert_props(c, p["id"], {}, ["missing", "also-missing"])
        self.assert_props(c, p["id"], {}, [])

    def test_linked_property_resolves_to_the_latest_value(self):
        p, q = self.proto(), self.proto()
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"temp": {"channel": "sensors/temp"}, "unit": "C"})
        got = self.prop_get(c, p["id"])
        self.assertEqual(got, {"temp": None, "unit": "C"},
                         "a link to a channel with no data yet resolves to null")
        # QoS 1: each value is committed before the next request.
        c.publish(f"{p['id']}/data/sensors/temp", "21.5", qos=1)
        self.assert_props(c, p["id"], {"temp": 21.5, "unit": "C"})
        c.publish(f"{p['id']}/data/sensors/temp", "22", qos=1)
        self.assert_props(c, p["id"], {"temp": 22}, ["temp"])
        c.publish("/data/sensors/temp", json.dumps({"data": {"v": 23, "ok": True}}), qos=1)
        self.assert_props(c, p["id"], {"temp": {"v": 23, "ok": True}}, ["temp"])
        # Data of another device, or on another channel of p, is not p's sensors/temp.
        cq = self.paho_dev(q)
        cq.publish(f"{q['id']}/data/sensors/temp", "99", qos=1)
        c.publish(f"{p['id']}/data/sensors/temp/raw", "98", qos=1)
        c.publish(f"{p['id']}/data/sensors", "97", qos=1)
        self.assert_props(c, p["id"], {"temp": {"v": 23, "ok": True}, "unit": "C"})
        # Another reader with permission (a prototype reads its account) sees the same.
        self.assert_props(cq, p["id"], {"temp": {"v": 23, "ok": True}, "unit": "C"})
        # Stored as a link, not as its value.
        self.assertEqual(self.shown_props(p["id"]),
                         {"temp": {"channel": "sensors/temp"}, "unit": "C"})

    def test_link_follows_qos0_publishes_of_the_same_session(self):
        # One connection is one ordered stream: a get after a publish sees that publish.
        p = self.proto()
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"v": {"channel": "seq"}})
        for i in range(20):
            c.publish(f"{p['id']}/data/seq", str(i))  # QoS 0
            self.assert_props(c, p["id"], {"v": i}, ["v"])

    def test_link_set_after_data_resolves_at_once(self):
        p = self.proto()
        c = self.paho_dev(p)
        c.publish(f"{p['id']}/data/level", "41", qos=1)
        c.publish(f"{p['id']}/data/level", "42", qos=1)
        self.assert_set_ok(c, p["id"], {"lvl": {"channel": "level"}})
        self.assert_props(c, p["id"], {"lvl": 42})
        # A link replaced by a static value is static from then on.
        self.assert_set_ok(c, p["id"], {"lvl": "static"})
        c.publish(f"{p['id']}/data/level", "43", qos=1)
        self.assert_props(c, p["id"], {"lvl": "static"})
        self.assertEqual(self.shown_props(p["id"]), {"lvl": "static"})

    def test_null_deletes(self):
        p = self.proto()
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"a": 1, "b": 2, "link": {"channel": "x"}})
        self.assert_set_ok(c, p["id"], {"a": None, "link": None, "c": 3})
        self.assert_props(c, p["id"], {"b": 2, "c": 3})
        self.assert_props(c, p["id"], {"b": 2}, ["a", "b", "link"])
        self.assertEqual(self.shown_props(p["id"]), {"b": 2, "c": 3})
        self.assert_set_ok(c, p["id"], {"b": None, "c": None})
        self.assert_props(c, p["id"], {})
        self.assertEqual(self.shown_props(p["id"]), {})

    def test_request_with_qos1(self):
        p = self.proto()
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"q": 1}, qos=1)  # PUBACK (waited for) and the reply
        self.assertEqual(self.prop_get(c, p["id"], qos=1), {"q": 1})

    # -- the reply -------------------------------------------------------------------------------
    def test_reply_without_subscribing_raw(self):
        p = self.proto()
        c = self.raw_connected(p["id"], p["auth"])
        # Never subscribed to anything.
        c.publish(set_topic(p["id"]), json.dumps({"raw": "yes"}))
        pkt = c.read_packet()
        self.assertEqual(pkt.type, PUBLISH, f"expected the reply PUBLISH, got {pkt.raw[:40]!r}")
        self.assertEqual((pkt.flags >> 1) & 3, 0, "the reply is QoS 0")
        self.assertEqual(pkt.publish_topic_payload(), (set_topic(p["id"]), b""))
        c.publish(get_topic(p["id"]), b"")
        pkt = c.read_packet()
        self.assertEqual(pkt.type, PUBLISH, f"expected the reply PUBLISH, got {pkt.raw[:40]!r}")
        topic, payload = pkt.publish_topic_payload()
        self.assertEqual(topic, get_topic(p["id"]))
        self.assertEqual(json.loads(payload), {"raw": "yes"})
        c.ping()  # and the session goes on

    def test_reply_without_subscribing_paho(self):
        p = self.proto()
        c = self.paho_dev(p)  # no SUBSCRIBE at all: paho hands unsolicited messages to on_message
        self.assert_set_ok(c, p["id"], {"k": "v"})
        self.assertEqual(self.prop_get(c, p["id"]), {"k": "v"})

    def test_replies_go_to_the_requester_alone(self):
        p, q = self.proto(), self.proto()
        acct_all = self.acct_login()
        self.assertEqual(acct_all.subscribe("#"), (0,))
        acct_props = self.acct_login()
        self.assertEqual(acct_props.subscribe("+/ag/prop/#"), (0,))
        q_sub = self.paho_dev(q)
        self.assertEqual(q_sub.subscribe(f"{p['id']}/ag/prop/#"), (0,))
        # Another session of p itself.
        p_other = self.paho_dev(p)
        self.assertEqual(p_other.subscribe(f"{p['id']}/ag/prop/+"), (0,))
        observers = [acct_all, acct_props, q_sub, p_other]
        # The requester is subscribed to everything, too: it still gets each reply once.
        req = self.paho_dev(p)
        self.assertEqual(req.subscribe("#"), (0,))
        self.assert_set_ok(req, p["id"], {"secret": 1})
        self.assertEqual(self.prop_get(req, p["id"]), {"secret": 1})
        self.assert_err(req.request(get_topic(p["id"]), "not json"), 400, "bad get")
        # q asks for p's properties: only q gets that reply.
        self.assertEqual(self.prop_get(self.paho_dev(q), p["id"], ["secret"]), {"secret": 1})
        # Data still flows to the `#` subscriber (it is live), but nothing of /ag/prop/.
        req.publish(f"{p['id']}/data/alive", "1", qos=1)
        acct_all.messages.wait_topic(f"{p['id']}/data/alive")
        for o in observers:
            o.messages.assert_nothing(lambda m: "/ag/prop/" in m.topic, NEGATIVE_WINDOW / 2,
                                      "a property request or reply at another session")
        counts = {t: len(req.messages.matching(lambda m, t=t: m.topic == t))
                  for t in (set_topic(p["id"]), get_topic(p["id"]))}
        self.assertEqual(counts, {set_topic(p["id"]): 1, get_topic(p["id"]): 2},
                         "one reply per request, even for a requester subscribed to #")

    def test_requests_are_not_stored_as_data(self):
        p = self.proto()
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"a": 1, "l": {"channel": "c"}})
        self.prop_get(c, p["id"])
        self.prop_get(c, p["id"], ["a"])
        self.assert_err(self.prop_set(c, p["id"], "[1]"), 400, "set with an array")
        c.publish(f"{p['id']}/data/sentinel", "0", qos=1)
        recs = self.server.data_get("#", of=p["id"])
        self.assertEqual([(r["channel"], r["data"]) for r in recs], [("sentinel", 0)],
                         "only the data publish is stored")

    # -- errors ----------------------------------------------------------------------------------
    def test_set_payload_not_a_json_object_is_400(self):
        p = self.proto()
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"kept": True})
        for payload in (b"not json", b"[1,2]", b'"text"', b"42", b"null", b"", b"{bad json}",
                        b"\xff\xfe"):
            with self.subTest(payload=payload):
                self.assert_err(self.prop_set(c, p["id"], payload), 400, f"set {payload!r}")
        self.assert_props(c, p["id"], {"kept": True})
        self.assertTrue(c.is_connected(), "an error reply does not close the session")

    def test_get_payload_not_empty_or_array_is_400(self):
        p = self.proto()
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"a": 1})
        for payload in (b"nope", b'{"a":1}', b'"a"', b"42", b"{bad"):
            with self.subTest(payload=payload):
                self.assert_err(c.request(get_topic(p["id"]), payload), 400, f"get {payload!r}")
        self.assert_props(c, p["id"], {"a": 1})

    def test_unknown_device_is_404(self):
        p = self.proto()
        c = self.paho_dev(p)
        ghost = "dev-" + "0" * 24
        self.assert_err(self.prop_set(c, ghost, {"a": 1}), 404, "set on an unknown device")
        self.assert_err(c.request(get_topic(ghost), b""), 404, "get on an unknown device")
        login = self.acct_login()
        self.assert_err(self.prop_set(login, ghost, {"a": 1}), 404, "account login, set")

    def test_other_account_is_403(self):
        p = self.proto()
        x = self.proto(self.other_acct)
        cx = self.paho_dev(x)
        self.assert_set_ok(cx, x["id"], {"mine": 1})
        for who, client in (("a device of another account", self.paho_dev(p)),
                            ("another account's login", self.acct_login())):
            with self.subTest(who=who):
                self.assert_err(self.prop_set(client, x["id"], {"mine": 2, "evil": 1}), 403,
                                f"set by {who}")
                self.assert_err(client.request(get_topic(x["id"]), b""), 403, f"get by {who}")
                self.assert_err(client.request(get_topic(x["id"]), '["mine"]'), 403,
                                f"get some by {who}")
        self.assert_props(cx, x["id"], {"mine": 1})
        self.assertEqual(self.shown_props(x["id"]), {"mine": 1})

    def test_thing_without_permission_is_403(self):
        t1 = self.make_thing(self.model)
        t2 = self.make_thing(self.model)  # default perm: of.r = of.w = []
        c1, c2 = self.paho_dev(t1), self.paho_dev(t2)
        self.assert_set_ok(c2, t2["id"], {"owner": "t2"})
        self.assert_err(self.prop_set(c1, t2["id"], {"owner": "t1"}), 403, "t1 sets t2's")
        self.assert_err(c1.request(get_topic(t2["id"]), b""), 403, "t1 gets t2's")
        self.assert_err(c1.request(get_topic(t2["id"]), '["owner"]'), 403, "t1 gets some")
        self.assert_props(c2, t2["id"], {"owner": "t2"})
        # Its own properties, through the Plug-ID form of the topic.
        self.assert_set_ok(c1, t1["id"], {"mine": [1, 2]})
        self.assert_props(c1, t1["id"], {"mine": [1, 2]})

    def test_read_permission_allows_get_not_set(self):
        t1 = self.make_thing(self.model)
        t2 = self.make_thing(self.model)
        self.server.cli("device", "set", t1["id"], "--perm", json.dumps({"of": {"r": [t2["id"]]}}))
        c2 = self.paho_dev(t2)
        self.assert_set_ok(c2, t2["id"], {"v": 1})
        c1 = self.paho_dev(t1)  # a new login: the change applies at once
        self.assertEqual(self.prop_get(c1, t2["id"]), {"v": 1})
        self.assert_err(self.prop_set(c1, t2["id"], {"v": 2}), 403, "set with read permission")
        self.assert_props(c2, t2["id"], {"v": 1})

    def test_write_permission_allows_set_not_get(self):
        t1 = self.make_thing(self.model)
        t2 = self.make_thing(self.model)
        self.server.cli("device", "set", t1["id"], "--perm", json.dumps({"of": {"w": [t2["id"]]}}))
        c1 = self.paho_dev(t1)
        self.assert_set_ok(c1, t2["id"], {"cmd": "on"})
        self.assert_err(c1.request(get_topic(t2["id"]), b""), 403, "get with write permission")
        self.assert_props(self.paho_dev(t2), t2["id"], {"cmd": "on"})

    def test_controller_reads_and_writes_its_thing(self):
        t = self.make_thing(self.model)  # ctrl "rw" by default
        ctl = self.make_controller(t)
        cc = self.paho_dev(ctl)
        self.assert_set_ok(cc, t["id"], {"mode": "auto", "reading": {"channel": "r"}})
        self.paho_dev(t).publish(f"{t['id']}/data/r", "5", qos=1)
        self.assert_props(cc, t["id"], {"mode": "auto", "reading": 5})

    def test_account_login_reads_and_writes_every_device(self):
        p = self.proto()
        t = self.make_thing(self.model)
        login = self.acct_login()
        for dev in (p, t):
            with self.subTest(kind=dev.get("model") and "thing" or "prototype"):
                self.assert_set_ok(login, dev["id"], {"by": "account", "l": {"channel": "c/d"}})
                dc = self.paho_dev(dev)
                dc.publish(f"{dev['id']}/data/c/d", '"linked"', qos=1)
                self.assert_props(login, dev["id"], {"by": "account", "l": "linked"})
                self.assert_props(dc, dev["id"], {"by": "account", "l": "linked"})
                self.assert_set_ok(dc, dev["id"], {"by": None})
                self.assert_props(login, dev["id"], {"l": "linked"})

    def test_plug_id_in_topic_is_case_insensitive(self):
        p = self.proto()
        c = self.paho_dev(p)
        upper = p["id"].upper()
        r = self.prop_set(c, upper, {"case": "upper"})
        self.assertEqual(r.topic, set_topic(upper), "the reply comes on the request topic")
        self.assertEqual(r.payload, b"")
        self.assert_props(c, p["id"], {"case": "upper"})

    # -- device show ------------------------------------------------------------------------------
    def test_device_show_props_as_stored(self):
        p = self.proto()
        self.assertEqual(self.shown_props(p["id"]), {})
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"s": {"x": [1]}, "l": {"channel": "a/b"}})
        c.publish(f"{p['id']}/data/a/b", "1", qos=1)
        self.assertEqual(self.shown_props(p["id"]), {"s": {"x": [1]}, "l": {"channel": "a/b"}})
        listed = {d["id"]: d for d in self.server.cli("device", "list", "--account",
                                                      self.acct["email"])}
        if "props" in listed[p["id"]]:
            self.assertEqual(listed[p["id"]]["props"], {"s": {"x": [1]}, "l": {"channel": "a/b"}})


class PropertiesRestartTest(PropsMixin, FreshServerTestCase):
    def test_properties_survive_a_restart(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"], "persistent")
        c = self.paho_dev(p)
        self.assert_set_ok(c, p["id"], {"static": {"k": [1, 2]}, "link": {"channel": "t"},
                                        "gone": 1})
        self.assert_set_ok(c, p["id"], {"gone": None})
        c.publish(f"{p['id']}/data/t", "7", qos=1)
        expected = {"static": {"k": [1, 2]}, "link": 7}
        self.assert_props(c, p["id"], expected)
        c.close()
        self.assertEqual(self.server.restart(), 0, "exit status on SIGTERM")
        c = self.paho_dev(p)
        self.assert_props(c, p["id"], expected)
        self.assertEqual(self.shown_props(p["id"]), {"static": {"k": [1, 2]},
                                                     "link": {"channel": "t"}})
        # The link still follows new data after the restart.
        c.publish(f"{p['id']}/data/t", "8", qos=1)
        self.assert_props(c, p["id"], {"link": 8}, ["link"])


if __name__ == "__main__":
    unittest.main()
