"""Enrollment over MQTT (SPEC 5) with production templates and serial numbers registered by the
command line: every success and failure code, the connection closed by the server after a
failure, the enrollment time limit, re-enrollment after `reactivate`, controllers (and their
repeated enrollment), NAME from the client id, CSV serial registration, the rate limit.

All tests connect from 127.0.0.1, so the rate limit (failed attempts per address per minute)
is shared by every test of a server: the servers here that are not about the rate limit run with
a limit far above what their tests use, and each rate-limit test has a server of its own."""

import json
import time
import unittest

from harness import (AUTH_RE, DEV_ID_RE, NEGATIVE_WINDOW, PahoClient, ServerTestCase,
                     check_record, ctrl_topic, encode_publish, encode_subscribe, paho_connect_rc,
                     thing_topic, unique)

MOD_ID_RE = r"^mod-[0-9a-f]{24}$"
HIGH_LIMIT = ("--enroll-attempts", "1000")
DEFAULT_THING_PERM = {"of": {"r": [], "w": []}, "ctrl": "rw"}


class EnrollmentTest(ServerTestCase):
    server_args = HIGH_LIMIT  # the default enrollment timeout (30 s)

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.model = cls.server.make_template(cls.acct["email"], "sensor")["id"]

    def login_rc(self, dev: dict) -> int:
        return paho_connect_rc(self.port, dev["id"], dev["auth"])

    def show(self, plug_id: str) -> dict:
        return self.server.cli("device", "show", plug_id)

    # -- command line ----------------------------------------------------------------------------
    def test_template_add_and_list(self):
        t = self.server.make_template(self.acct["email"], "listed")
        self.assertRegex(t["id"], MOD_ID_RE)
        listed = self.server.cli("template", "list", "--account", self.acct["email"])
        self.assertIsInstance(listed, list)
        ids = [x["id"] for x in listed]
        self.assertIn(t["id"], ids)
        self.assertIn(self.model, ids)
        other = self.server.make_account()
        self.assertEqual(self.server.cli("template", "list", "--account", other["email"]), [])
        self.assertIn(t["id"], [x["id"] for x in self.server.cli("template", "list")])

    def test_template_add_unknown_account_fails(self):
        p = self.server.cli_run("template", "add", "--account", "nobody@example.com")
        self.assertNotEqual(p.returncode, 0, p.stdout)

    def test_serial_add_and_list(self):
        s1 = self.new_serial(self.model, control=True)
        s2 = self.new_serial(self.model, control=False)
        listed = {x["hwid"]: x for x in self.server.cli("serial", "list", self.model)}
        self.assertEqual(listed[s1["hwid"]], {"hwid": s1["hwid"], "control": True, "thing": None})
        self.assertEqual(listed[s2["hwid"]], {"hwid": s2["hwid"], "control": False, "thing": None})

    def test_serial_add_duplicate_or_unknown_model_fails(self):
        s = self.new_serial(self.model)
        p = self.server.cli_run("serial", "add", self.model, "--hwid", s["hwid"],
                                "--enroll-pass", "another-pass")
        self.assertNotEqual(p.returncode, 0, "a HWID registered twice in one model")
        p = self.server.cli_run("serial", "add", "mod-" + "0" * 24, "--hwid", unique("hw"),
                                "--enroll-pass", "pass-1234")
        self.assertNotEqual(p.returncode, 0, "a serial in an unknown model")

    # -- thing: success ----------------------------------------------------------------------------
    def test_thing_enrolls_with_paho_then_logs_in_and_publishes(self):
        s = self.new_serial(self.model)
        topic = thing_topic(self.model, s["pass"])
        c = PahoClient(self.port, None, None, client_id=s["hwid"])
        self.addCleanup(c.close)
        self.assertEqual(c.connect(), 0, "CONNACK of an enrollment session")
        self.assertEqual(c.subscribe(topic), (0,))
        reply = c.messages.wait_topic(topic).json()
        self.assertEqual(set(reply), {"id", "auth"}, reply)
        self.assertRegex(reply["id"], DEV_ID_RE)
        self.assertRegex(reply["auth"], AUTH_RE)
        c.close()
        # The serial now names its thing; the thing has the template's default permissions.
        listed = {x["hwid"]: x for x in self.server.cli("serial", "list", self.model)}
        self.assertEqual(listed[s["hwid"]]["thing"], reply["id"])
        d = self.show(reply["id"])
        self.assertEqual(d["kind"], "thing")
        self.assertEqual(d["hwid"], s["hwid"])
        self.assertEqual(d["model"], self.model)
        self.assertEqual(d["perm"], DEFAULT_THING_PERM)
        self.assertEqual(d["status"], "ok")
        # Device login with the new credentials; its data flows.
        sub = self.subscriber(self.acct["email"], self.acct["password"], "+/data/#")
        dev = self.paho(reply["id"], reply["auth"])
        dev.publish(f"{reply['id']}/data/temp", "21.5", qos=1)
        check_record(self, sub.messages.wait_topic(f"{reply['id']}/data/temp"), data=21.5)
        # The /data/CH form works for the thing itself.
        dev.publish("/data/hum", "40", qos=1)
        check_record(self, sub.messages.wait_topic(f"{reply['id']}/data/hum"), data=40)

    def test_enrollment_session_stays_open_after_success(self):
        s = self.new_serial(self.model)
        c, r = self.enroll(s["hwid"], thing_topic(self.model, s["pass"]))
        self.assertEqual(set(r.reply), {"id", "auth"}, r.reply)
        # Success does not close the session (the enrollment timeout here is 30 s).
        c.assert_open_for(NEGATIVE_WINDOW)
        c.disconnect()
        c.wait_closed()

    def test_empty_username_and_password_is_an_enrollment_session(self):
        s = self.new_serial(self.model)
        dev = self.assert_enroll_ok(s["hwid"], thing_topic(self.model, s["pass"]),
                                    username="", password="")
        self.assertEqual(self.login_rc(dev), 0)

    def test_name_from_client_id(self):
        s = self.new_serial(self.model)
        dev = self.assert_enroll_ok(f"{s['hwid']}/Kitchen sensor",
                                    thing_topic(self.model, s["pass"]))
        d = self.show(dev["id"])
        self.assertEqual(d["name"], "Kitchen sensor")
        self.assertEqual(d["hwid"], s["hwid"], "the HWID is the client id before the '/'")
        self.assertEqual(self.login_rc(dev), 0)

    def test_model_id_is_case_insensitive(self):
        s = self.new_serial(self.model)
        upper = "mod-" + self.model[4:].upper()
        dev = self.assert_enroll_ok(s["hwid"], thing_topic(upper, s["pass"]))
        self.assertEqual(self.show(dev["id"])["model"], self.model)

    def test_template_ctrl_and_perm_defaults(self):
        t_r = self.server.make_template(self.acct["email"], ctrl="r")["id"]
        dev = self.make_thing(t_r)
        self.assertEqual(self.show(dev["id"])["perm"], {"of": {"r": [], "w": []}, "ctrl": "r"})
        perm = {"of": {"r": None, "w": []}, "ctrl": "rw"}
        t_p = self.server.make_template(self.acct["email"], perm=perm)["id"]
        dev = self.make_thing(t_p)
        self.assertEqual(self.show(dev["id"])["perm"], perm)

    # -- thing: failures -------------------------------------------------------------------------
    def test_400_malformed_topic(self):
        s = self.new_serial(self.model)
        for topic in ("not-a-model/thing/" + s["pass"],
                      "mod-xyz/thing/" + s["pass"],
                      "mod-" + "a" * 23 + "/thing/" + s["pass"],
                      "dev-" + self.model[4:] + "/thing/" + s["pass"],
                      f"{self.model}/thing",
                      f"{self.model}/device/{s['pass']}",
                      f"{self.model}/ctrl/{s['pass']}",
                      f"{self.model}/data/{s['pass']}",
                      "just-one-level"):
            with self.subTest(topic=topic):
                self.assert_enroll_fails(s["hwid"], topic, 400)
        # None of that enrolled it.
        self.assert_enroll_ok(s["hwid"], thing_topic(self.model, s["pass"]))

    def test_400_malformed_hwid(self):
        s = self.new_serial(self.model)
        topic = thing_topic(self.model, s["pass"])
        for cid in ("hw+plus", "hw#hash", "/name-without-hwid", "h" * 129):
            with self.subTest(client_id=cid):
                self.assert_enroll_fails(cid, topic, 400)

    def test_401_wrong_enroll_password(self):
        s = self.new_serial(self.model)
        self.assert_enroll_fails(s["hwid"], thing_topic(self.model, "wrong-password"), 401)
        # The control password is not an enroll password.
        self.assert_enroll_fails(s["hwid"], thing_topic(self.model, s["cpass"]), 401)
        # Still enrollable with the right one.
        self.assert_enroll_ok(s["hwid"], thing_topic(self.model, s["pass"]))

    def test_403_already_enrolled(self):
        dev = self.make_thing(self.model)
        self.assert_enroll_fails(dev["hwid"], thing_topic(self.model, dev["pass"]), 403)
        # The first enrollment's credentials still work.
        self.assertEqual(self.login_rc(dev), 0)

    def test_403_account_disabled(self):
        acct = self.server.make_account()
        model = self.server.make_template(acct["email"])["id"]
        s = self.new_serial(model)
        self.server.cli("account", "set", acct["email"], "--disabled", "true")
        self.assert_enroll_fails(s["hwid"], thing_topic(model, s["pass"]), 403)
        self.server.cli("account", "set", acct["email"], "--disabled", "false")
        self.assert_enroll_ok(s["hwid"], thing_topic(model, s["pass"]))

    def test_404_unknown_model(self):
        s = self.new_serial(self.model)
        self.assert_enroll_fails(s["hwid"], thing_topic("mod-" + "0" * 24, s["pass"]), 404)

    def test_404_serial_not_registered(self):
        self.assert_enroll_fails(unique("hw-unregistered"), thing_topic(self.model, "pass-1234"),
                                 404)
        # Registered in another model of the same account: not in this one.
        other = self.server.make_template(self.acct["email"])["id"]
        s = self.new_serial(other)
        self.assert_enroll_fails(s["hwid"], thing_topic(self.model, s["pass"]), 404)

    # -- what an enrollment session may not do ----------------------------------------------------
    def test_publish_in_enrollment_session_closes(self):
        c = self.raw()
        self.assertEqual(c.connect(unique("hw")), 0)
        c.send(encode_publish(f"{self.model}/thing/pass-1234", "hello"))
        c.wait_closed(5.0)

    def test_publish_data_in_enrollment_session_closes(self):
        c = self.raw()
        self.assertEqual(c.connect(unique("hw")), 0)
        c.send(encode_publish("dev-" + "1" * 24 + "/data/x", "1"))
        c.wait_closed(5.0)

    def test_subscribe_with_several_topics_closes(self):
        s = self.new_serial(self.model)
        c = self.raw()
        self.assertEqual(c.connect(s["hwid"]), 0)
        c.send(encode_subscribe(1, [(thing_topic(self.model, s["pass"]), 0), ("other/x", 0)]))
        c.wait_closed(5.0)
        # That attempt enrolled nothing.
        listed = {x["hwid"]: x for x in self.server.cli("serial", "list", self.model)}
        self.assertIsNone(listed[s["hwid"]]["thing"])

    def test_data_subscription_in_enrollment_session_is_400(self):
        # A single well-formed MQTT filter that is not an enrollment topic.
        c, r = self.enroll(unique("hw"), "+/data/#")
        self.assertEqual(r.reply.get("err"), 400, r.reply)
        c.wait_closed(5.0)

    # -- re-enrollment ------------------------------------------------------------------------------
    def test_reactivate_gives_same_id_new_auth(self):
        dev = self.make_thing(self.model)
        self.assertEqual(self.login_rc(dev), 0)
        self.server.cli("device", "set", dev["id"], "--status", "reactivate")
        self.assertEqual(self.show(dev["id"])["status"], "reactivate")
        # A wrong password is still refused, and does not use up the reactivation.
        self.assert_enroll_fails(dev["hwid"], thing_topic(self.model, "wrong-pass"), 401)
        again = self.assert_enroll_ok(dev["hwid"], thing_topic(self.model, dev["pass"]))
        self.assertEqual(again["id"], dev["id"], "re-enrollment keeps the Plug-ID")
        self.assertNotEqual(again["auth"], dev["auth"], "re-enrollment issues a new auth code")
        self.assertEqual(self.show(dev["id"])["status"], "ok")
        self.assertEqual(paho_connect_rc(self.port, dev["id"], dev["auth"]), 4,
                         "the old auth code after re-enrollment")
        self.assertEqual(paho_connect_rc(self.port, again["id"], again["auth"]), 0)
        # One reactivation, one re-enrollment.
        self.assert_enroll_fails(dev["hwid"], thing_topic(self.model, dev["pass"]), 403)

    def test_status_ok_does_not_allow_reenrollment(self):
        dev = self.make_thing(self.model)
        self.server.cli("device", "set", dev["id"], "--status", "disabled")
        self.assert_enroll_fails(dev["hwid"], thing_topic(self.model, dev["pass"]), 403)
        self.server.cli("device", "set", dev["id"], "--status", "ok")
        self.assert_enroll_fails(dev["hwid"], thing_topic(self.model, dev["pass"]), 403)
        self.assertEqual(self.login_rc(dev), 0)

    # -- controllers --------------------------------------------------------------------------------
    def test_controller_enrolls_and_logs_in(self):
        thing = self.make_thing(self.model)
        hwid = unique("ctl")
        topic = ctrl_topic(self.model, thing["hwid"], thing["cpass"])
        c = PahoClient(self.port, None, None, client_id=f"{hwid}/Remote")
        self.addCleanup(c.close)
        self.assertEqual(c.connect(), 0)
        self.assertEqual(c.subscribe(topic), (0,))
        reply = c.messages.wait_topic(topic).json()
        c.close()
        self.assertEqual(set(reply), {"id", "auth"}, reply)
        self.assertRegex(reply["id"], DEV_ID_RE)
        self.assertNotEqual(reply["id"], thing["id"])
        d = self.show(reply["id"])
        self.assertEqual(d["kind"], "controller")
        self.assertEqual(d["hwid"], hwid)
        self.assertEqual(d["name"], "Remote")
        self.assertEqual(d["controls"], [thing["id"]])
        self.assertEqual(d["perm"]["of"], {"r": [], "w": []})
        self.assertEqual(self.login_rc(reply), 0)

    def test_controller_repeat_for_another_thing(self):
        t1 = self.make_thing(self.model)
        other_model = self.server.make_template(self.acct["email"])["id"]
        t2 = self.make_thing(other_model)
        ctl = self.make_controller(t1)
        again = self.make_controller(t2, hwid=ctl["hwid"])
        self.assertEqual(again["id"], ctl["id"], "same controller HWID, same account: same id")
        self.assertNotEqual(again["auth"], ctl["auth"])
        self.assertEqual(sorted(self.show(ctl["id"])["controls"]), sorted([t1["id"], t2["id"]]))
        self.assertEqual(paho_connect_rc(self.port, ctl["id"], ctl["auth"]), 0,
                         "the controller's previous auth code stays valid (SPEC 5)")
        self.assertEqual(self.login_rc(again), 0)
        # It reads both things' data.
        sub = self.subscriber(again["id"], again["auth"], "+/data/#")
        p1 = self.paho_dev(t1)
        p2 = self.paho_dev(t2)
        p1.publish(f"{t1['id']}/data/a", "1", qos=1)
        p2.publish(f"{t2['id']}/data/b", "2", qos=1)
        check_record(self, sub.messages.wait_topic(f"{t1['id']}/data/a"), data=1)
        check_record(self, sub.messages.wait_topic(f"{t2['id']}/data/b"), data=2)

    def test_controller_repeat_for_same_thing(self):
        thing = self.make_thing(self.model)
        ctl = self.make_controller(thing)
        again = self.make_controller(thing, hwid=ctl["hwid"])
        self.assertEqual(again["id"], ctl["id"])
        self.assertEqual(self.show(ctl["id"])["controls"], [thing["id"]])
        self.assertEqual(self.login_rc(again), 0)

    def test_controller_hwid_in_another_account_is_another_device(self):
        thing = self.make_thing(self.model)
        ctl = self.make_controller(thing)
        acct2 = self.server.make_account()
        model2 = self.server.make_template(acct2["email"])["id"]
        thing2 = self.make_thing(model2)
        ctl2 = self.make_controller(thing2, hwid=ctl["hwid"])
        self.assertNotEqual(ctl2["id"], ctl["id"])
        self.assertEqual(self.show(ctl2["id"])["controls"], [thing2["id"]])
        self.assertEqual(self.show(ctl["id"])["controls"], [thing["id"]])
        self.assertEqual(self.login_rc(ctl), 0)
        self.assertEqual(self.login_rc(ctl2), 0)

    def test_controller_400_malformed(self):
        thing = self.make_thing(self.model)
        for topic in (f"{self.model}/ctrl/{thing['hwid']}",
                      f"not-a-model/ctrl/{thing['hwid']}/{thing['cpass']}",
                      f"{self.model}/ctrl"):
            with self.subTest(topic=topic):
                self.assert_enroll_fails(unique("ctl"), topic, 400)
        with self.subTest(client_id="bad controller HWID"):
            self.assert_enroll_fails("ctl+bad", ctrl_topic(self.model, thing["hwid"],
                                                           thing["cpass"]), 400)

    def test_controller_401_wrong_control_password(self):
        thing = self.make_thing(self.model)
        self.assert_enroll_fails(unique("ctl"), ctrl_topic(self.model, thing["hwid"], "nope-nope"),
                                 401)
        # The enroll password is not the control password.
        self.assert_enroll_fails(unique("ctl"),
                                 ctrl_topic(self.model, thing["hwid"], thing["pass"]), 401)

    def test_controller_403_control_disabled(self):
        thing = self.make_thing(self.model, control=False)
        self.assert_enroll_fails(unique("ctl"), ctrl_topic(self.model, thing["hwid"], "any-pass"),
                                 403)

    def test_controller_403_thing_ctrl_empty(self):
        thing = self.make_thing(self.model)
        self.server.cli("device", "set", thing["id"], "--perm", json.dumps({"ctrl": ""}))
        self.assert_enroll_fails(unique("ctl"),
                                 ctrl_topic(self.model, thing["hwid"], thing["cpass"]), 403)
        self.server.cli("device", "set", thing["id"], "--perm", json.dumps({"ctrl": "r"}))
        self.make_controller(thing)

    def test_controller_403_template_ctrl_empty(self):
        model = self.server.make_template(self.acct["email"], ctrl="")["id"]
        thing = self.make_thing(model)
        self.assertEqual(self.show(thing["id"])["perm"]["ctrl"], "")
        self.assert_enroll_fails(unique("ctl"), ctrl_topic(model, thing["hwid"], thing["cpass"]),
                                 403)

    def test_controller_403_thing_disabled(self):
        thing = self.make_thing(self.model)
        self.server.cli("device", "set", thing["id"], "--status", "disabled")
        self.assert_enroll_fails(unique("ctl"),
                                 ctrl_topic(self.model, thing["hwid"], thing["cpass"]), 403)

    def test_controller_403_controller_disabled(self):
        t1 = self.make_thing(self.model)
        t2 = self.make_thing(self.model)
        ctl = self.make_controller(t1)
        self.server.cli("device", "set", ctl["id"], "--status", "disabled")
        self.assert_enroll_fails(ctl["hwid"], ctrl_topic(self.model, t2["hwid"], t2["cpass"]), 403)
        self.assertEqual(self.show(ctl["id"])["controls"], [t1["id"]])

    def test_controller_403_account_disabled(self):
        acct = self.server.make_account()
        model = self.server.make_template(acct["email"])["id"]
        thing = self.make_thing(model)
        self.server.cli("account", "set", acct["email"], "--disabled", "true")
        self.assert_enroll_fails(unique("ctl"), ctrl_topic(model, thing["hwid"], thing["cpass"]),
                                 403)

    def test_controller_404_thing_not_enrolled(self):
        s = self.new_serial(self.model)
        self.assert_enroll_fails(unique("ctl"), ctrl_topic(self.model, s["hwid"], s["cpass"]), 404)

    def test_controller_404_thing_not_registered(self):
        self.assert_enroll_fails(unique("ctl"),
                                 ctrl_topic(self.model, unique("hw-none"), "pass-1234"), 404)

    def test_controller_404_unknown_model(self):
        thing = self.make_thing(self.model)
        self.assert_enroll_fails(unique("ctl"),
                                 ctrl_topic("mod-" + "0" * 24, thing["hwid"], thing["cpass"]), 404)

    # -- CSV registration ---------------------------------------------------------------------------
    def test_serials_from_csv_then_enroll_one(self):
        model = self.server.make_template(self.acct["email"], "csv")["id"]
        rows = [(unique("csv"), unique("ep"), unique("cp")),
                (unique("csv"), unique("ep"), None),
                (unique("csv"), unique("ep"), unique("cp"))]
        text = "".join(f"{h},{p}" + (f",{c}" if c else "") + "\n" for h, p, c in rows)
        path = self.server.write_file(unique("serials") + ".csv", text)
        self.assertEqual(self.server.cli("serial", "add", model, "--csv", path),
                         {"model": model, "added": 3})
        listed = self.server.cli("serial", "list", model)
        self.assertEqual(sorted((x["hwid"], x["control"], x["thing"]) for x in listed),
                         sorted((h, c is not None, None) for h, _, c in rows))
        # Enroll the second (no control password) and a controller for the third.
        hwid, pw, _ = rows[1]
        dev = self.assert_enroll_ok(hwid, thing_topic(model, pw))
        self.assertEqual(paho_connect_rc(self.port, dev["id"], dev["auth"]), 0)
        self.assert_enroll_fails(unique("ctl"), ctrl_topic(model, hwid, "whatever"), 403)
        h3, p3, c3 = rows[2]
        t3 = self.assert_enroll_ok(h3, thing_topic(model, p3))
        ctl = self.assert_enroll_ok(unique("ctl"), ctrl_topic(model, h3, c3))
        self.assertEqual(self.show(ctl["id"])["controls"], [t3["id"]])
        listed = {x["hwid"]: x["thing"] for x in self.server.cli("serial", "list", model)}
        self.assertEqual(listed, {rows[0][0]: None, hwid: dev["id"], h3: t3["id"]})

    def test_csv_with_a_bad_row_adds_nothing(self):
        model = self.server.make_template(self.acct["email"], "csv-bad")["id"]
        good = unique("csv")
        text = f"{good},pass-good\nbad+hwid,pass-good\n"
        path = self.server.write_file(unique("serials") + ".csv", text)
        p = self.server.cli_run("serial", "add", model, "--csv", path)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertEqual(self.server.cli("serial", "list", model), [])
        self.assert_enroll_fails(good, thing_topic(model, "pass-good"), 404)


class EnrollmentTimeoutTest(ServerTestCase):
    """--enroll-timeout 2: enrollment sessions are closed after 2 s whatever happens."""

    TIMEOUT = 2.0
    server_args = ("--enroll-timeout", "2", *HIGH_LIMIT)

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.model = cls.server.make_template(cls.acct["email"])["id"]

    def test_idle_enrollment_session_closed_after_timeout(self):
        c = self.raw()
        start = time.monotonic()
        self.assertEqual(c.connect(unique("hw"), keepalive=0), 0)
        # Open for most of the limit (the 2 s count from the TCP accept, before our CONNECT).
        c.assert_open_for(self.TIMEOUT - 0.6)
        c.wait_closed(4.0)
        self.assertGreaterEqual(time.monotonic() - start, self.TIMEOUT - 0.6)

    def test_successful_enrollment_session_closed_after_timeout(self):
        s = self.new_serial(self.model)
        start = time.monotonic()
        c, r = self.enroll(s["hwid"], thing_topic(self.model, s["pass"]), keepalive=0)
        self.assertEqual(set(r.reply), {"id", "auth"}, r.reply)
        left = self.TIMEOUT - 0.6 - (time.monotonic() - start)
        if left > 0:
            c.assert_open_for(left)
        c.wait_closed(4.0)
        # The credentials stay valid after the session was closed.
        self.assertEqual(paho_connect_rc(self.port, r.reply["id"], r.reply["auth"]), 0)

    def test_pinging_does_not_extend_the_enrollment_session(self):
        c = self.raw()
        start = time.monotonic()
        self.assertEqual(c.connect(unique("hw"), keepalive=1), 0)
        # Keep alive 1 s, honoured with a PINGREQ every ~0.3 s.
        closed = False
        while time.monotonic() - start < self.TIMEOUT + 4.0:
            try:
                c.ping(1.0)
                c.assert_open_for(0.3)
            except AssertionError:
                closed = True  # closed (or no PINGRESP): confirmed below
                break
        self.assertTrue(closed, "enrollment session still answering PINGREQs after the limit")
        c.wait_closed(2.0)
        self.assertGreaterEqual(time.monotonic() - start, self.TIMEOUT - 0.6,
                                "closed long before the enrollment limit")

    def test_device_login_is_not_subject_to_the_enrollment_timeout(self):
        thing = self.make_thing(self.model)
        c = self.raw_connected(thing["id"], thing["auth"], keepalive=0)
        # Well past the 2 s enrollment limit.
        c.assert_open_for(self.TIMEOUT + 1.5)
        c.ping()


class EnrollmentRateLimitTest(ServerTestCase):
    """--enroll-attempts 3: the 4th failed attempt within a minute from one address gets 429,
    whatever it asks for. This server serves this test alone."""

    server_args = ("--enroll-attempts", "3")

    def test_429_after_too_many_failures(self):
        acct = self.server.make_account()
        model = self.server.make_template(acct["email"])["id"]
        s = self.new_serial(model)
        for i in range(3):
            with self.subTest(attempt=i + 1):
                self.assert_enroll_fails(s["hwid"], thing_topic(model, f"wrong-{i}"), 401)
        self.assert_enroll_fails(s["hwid"], thing_topic(model, "wrong-again"), 429)
        # The right password does not get through either while the address is limited.
        self.assert_enroll_fails(s["hwid"], thing_topic(model, s["pass"]), 429)
        listed = {x["hwid"]: x for x in self.server.cli("serial", "list", model)}
        self.assertIsNone(listed[s["hwid"]]["thing"], "enrolled while rate-limited")
        # Logins are not affected by the enrollment limit.
        proto = self.server.make_prototype(acct["email"])
        self.assertEqual(paho_connect_rc(self.port, proto["id"], proto["auth"]), 0)


class EnrollmentRateLimitSuccessTest(ServerTestCase):
    """--enroll-attempts 3: successful enrollments are not failed attempts."""

    server_args = ("--enroll-attempts", "3")

    def test_successes_do_not_count(self):
        acct = self.server.make_account()
        model = self.server.make_template(acct["email"])["id"]
        serials = [self.new_serial(model) for _ in range(5)]
        # 2 failures, 4 successes, 1 failure: 3 failures, all allowed.
        self.assert_enroll_fails(serials[0]["hwid"], thing_topic(model, "wrong-1"), 401)
        self.assert_enroll_fails(serials[0]["hwid"], thing_topic(model, "wrong-2"), 401)
        for s in serials[:4]:
            self.assert_enroll_ok(s["hwid"], thing_topic(model, s["pass"]))
        self.assert_enroll_fails(serials[4]["hwid"], thing_topic(model, "wrong-3"), 401)
        # The 4th failure is over the limit.
        self.assert_enroll_fails(serials[4]["hwid"], thing_topic(model, "wrong-4"), 429)


if __name__ == "__main__":
    unittest.main()
