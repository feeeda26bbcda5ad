"""Session expiry (SPEC 11, `sessions.expiry_days`, default 30, 0 = never): a persistent session
not seen for that many days is deleted, and a resume of it finds none (CONNACK session present
0); one seen since is kept; with expiry_days 0 none goes. Each test has a server of its own.

No fake clock: the server is stopped, the sessions' `last_seen` (ms) in the `sessions` table of
its SQLite database is set back, and the server is started again. A starting server deletes the
expired sessions before it serves (the data writer sweeps them every minute from then on), so
what a test sees right after the start is what the expiry decided."""

import os
import sqlite3
import unittest

from harness import FreshServerTestCase, now_ms, unique, wait_for
from session_helpers import SessionTestCase

DAY_MS = 86_400_000


class SessionExpiryTest(FreshServerTestCase, SessionTestCase):
    server_args = ()

    def setUp(self):
        super().setUp()
        self.acct = self.server.make_account()
        self.pub_dev = self.server.make_prototype(self.acct["email"], "x-pub")
        self.sub_dev = self.server.make_prototype(self.acct["email"], "x-sub")

    def stored_sessions(self) -> dict:
        """`plugmq session list`: {client id: session} of the subscriber device."""
        return {s["client_id"]: s for s in self.server.cli("session", "list")
                if s["id"] == self.sub_dev["id"]}

    def session(self, name: str):
        """A persistent session (paho, clean session 0) with a subscription, left offline."""
        s = self.persistent(client_id=unique(name))
        self.assertFalse(s.connect())
        s.subscribe(self.topic(), 1)
        s.disconnect()
        return s

    def set_last_seen(self, client_id: str, days_ago: float):
        """With the server stopped: the session was last seen `days_ago` days ago."""
        db = sqlite3.connect(os.path.join(self.server.data_dir, "plugmq.db"))
        try:
            with db:
                cur = db.execute(
                    "UPDATE sessions SET last_seen = ? WHERE identity = ? AND client_id = ? "
                    "AND online = 0",
                    (now_ms() - int(days_ago * DAY_MS), self.sub_dev["id"], client_id))
                self.assertEqual(cur.rowcount, 1, f"no offline session {client_id} stored")
        finally:
            db.close()

    def away_for(self, days: dict, extra_args=()):
        """Stops the server once `days` ({session: days ago}) are stored offline, sets their
        last_seen, and starts it again with `extra_args`; returns the log offset of the start."""
        ids = {s.client_id for s in days}

        def saved_offline():
            listed = self.stored_sessions()
            return all(i in listed and not listed[i]["online"] for i in ids)

        wait_for(saved_offline, what="the sessions saved offline")
        self.assertEqual(self.server.stop(), 0)
        for s, d in days.items():
            self.set_last_seen(s.client_id, d)
        offset = self.server.log_size()
        self.server.start(extra_args)
        return offset

    def test_a_session_not_seen_for_expiry_days_is_deleted(self):
        old, recent = self.session("old"), self.session("recent")
        offset = self.away_for({old: 31, recent: 29})
        listed = self.stored_sessions()
        self.assertNotIn(old.client_id, listed, "expired at the start, before the server serves")
        self.assertIn(recent.client_id, listed)
        self.assertIn("deleted 1 persistent sessions not seen for 30 days (expiry_days)",
                      self.server.log_text(offset))
        self.assertFalse(old.connect(self.server.port), "expired: a new session")
        self.assertTrue(recent.connect(self.server.port), "seen 29 days ago: resumed")

    def test_expiry_days_0_keeps_sessions_forever(self):
        old = self.session("old")
        offset = self.away_for({old: 31}, ("--session-expiry-days", "0"))
        self.assertIn(old.client_id, self.stored_sessions())
        self.assertNotIn("persistent sessions not seen", self.server.log_text(offset))
        self.assertTrue(old.connect(self.server.port), "never expires: resumed")


if __name__ == "__main__":
    unittest.main()
