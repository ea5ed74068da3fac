#!/usr/bin/python3
"""Leases on reliable reads (get q/open/lease=ms, the lease rule): a reader
that does not close in time loses the message to another reader, its late
close is refused, its late abort changes nothing; /touch renews the lease;
a message whose leases keep running out goes to the dead-letter queue."""

import time

import mqdtest
import queuetest
from queuetest import ms_since
from mqdtest import get_reply, set_cmd

EXPIRED = (b"CLIENT_ERROR the lease of the reliable read of q ran out: its "
           b"message went back to the queue\r\n")


class Leases(mqdtest.MqdTestCase):
    CONFIG = ("[ruled]\nlease = 200ms\n"
              "[work]\nmax_deliveries = 2\ndead_letter = dlq\n")

    def setUp(self):
        self.d, _ = queuetest.start_with_config(self.CONFIG)
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def reader(self):
        c = self.d.client()
        self.addCleanup(c.close)
        return c

    def test_expired_read_goes_to_another_reader(self):
        hung, other = self.reader(), self.reader()
        self.c.expect(set_cmd("q", b"job"), b"STORED\r\n")
        opened = time.monotonic()
        hung.expect(b"get q/open/lease=200\r\n",
                    get_reply(("q/open/lease=200", b"job")))
        other.expect(b"get q/open/t=5000\r\n",
                     get_reply(("q/open/t=5000", b"job")))
        self.assertGreaterEqual(ms_since(opened), 200)
        # The hung reader's close would acknowledge a message it no longer
        # holds: refused, and it holds nothing any more.
        hung.expect(b"get q/close\r\n", EXPIRED)
        hung.expect(b"get q/close\r\n", b"END\r\n")
        other.expect(b"get q/close\r\n", b"END\r\n")
        stats = self.c.stats()
        self.assertEqual((stats["queue_q_items"],
                          stats["queue_q_open_transactions"],
                          stats["queue_q_dequeued"]), ("0", "0", "1"))

    def test_late_abort_and_touch(self):
        self.c.expect(set_cmd("q", b"a") + set_cmd("q", b"b"),
                      b"STORED\r\n" * 2)
        r = self.reader()
        r.expect(b"get q/open/lease=100\r\n",
                 get_reply(("q/open/lease=100", b"a")))
        queuetest.idle_ms(r, 300)
        r.expect(b"get q/touch\r\n", EXPIRED)
        # The expired read is gone once told; a new one can be opened.
        r.expect(b"get q/touch\r\n",
                 b"CLIENT_ERROR no reliable read of q is open on this "
                 b"connection\r\n")
        r.expect(b"get q/open/lease=100\r\n",
                 get_reply(("q/open/lease=100", b"a")))
        queuetest.idle_ms(r, 300)
        # An abort after the lease ran out has nothing left to give back.
        r.expect(b"get q/abort\r\n", b"END\r\n")
        r.expect(b"get q/open\r\n", get_reply(("q/open", b"a")))
        r.expect(b"get q/close\r\n", b"END\r\n")
        stats = self.c.stats()
        self.assertEqual((stats["queue_q_items"],
                          stats["queue_q_dequeued"]), ("1", "1"))

    def test_close_and_open_after_expiry(self):
        self.c.expect(set_cmd("q", b"a"), b"STORED\r\n")
        r = self.reader()
        r.expect(b"get q/open/lease=100\r\n",
                 get_reply(("q/open/lease=100", b"a")))
        queuetest.idle_ms(r, 300)
        r.expect(b"get q/close/open\r\n", EXPIRED)
        r.expect(b"get q/close/open\r\n", get_reply(("q/close/open", b"a")))

    def test_touch_keeps_the_read(self):
        self.c.expect(set_cmd("q", b"long job"), b"STORED\r\n")
        r, other = self.reader(), self.reader()
        r.expect(b"get q/open/lease=300\r\n",
                 get_reply(("q/open/lease=300", b"long job")))
        opened = time.monotonic()
        while ms_since(opened) < 1200:
            queuetest.idle_ms(r, 100)
            r.expect(b"get q/touch\r\n", b"END\r\n")
        other.expect(b"get q/t=10\r\n", b"END\r\n")
        # A longer lease from now on.
        r.expect(b"get q/touch/lease=60000\r\n", b"END\r\n")
        queuetest.idle_ms(r, 500)
        other.expect(b"get q\r\n", b"END\r\n")
        r.expect(b"get q/close\r\n", b"END\r\n")
        self.assertEqual(queuetest.stat(self.c, "queue_q_dequeued"), "1")

    def test_lease_rule(self):
        self.c.expect(set_cmd("ruled", b"job"), b"STORED\r\n")
        r, other = self.reader(), self.reader()
        opened = time.monotonic()
        r.expect(b"get ruled/open\r\n", get_reply(("ruled/open", b"job")))
        other.expect(b"get ruled/t=5000\r\n",
                     get_reply(("ruled/t=5000", b"job")))
        self.assertGreaterEqual(ms_since(opened), 200)

    def test_timeouts_lead_to_dead_letter(self):
        self.c.expect(set_cmd("work", b"hangs"), b"STORED\r\n")
        r = self.reader()
        for _ in range(2):
            r.expect(b"get work/open/lease=50/t=5000\r\n",
                     get_reply(("work/open/lease=50/t=5000", b"hangs")))
            queuetest.idle_ms(r, 150)
        r.expect(b"get dlq/t=5000\r\n", get_reply(("dlq/t=5000", b"hangs")))
        stats = self.c.stats()
        self.assertEqual((stats["queue_work_items"],
                          stats["queue_work_discarded"]), ("0", "1"))

    def test_lease_survives_nothing_across_kill(self):
        """A read open at a kill comes back at the start, lease or not."""
        self.c.expect(set_cmd("q", b"job"), b"STORED\r\n")
        r = self.reader()
        r.expect(b"get q/open/lease=60000\r\n",
                 get_reply(("q/open/lease=60000", b"job")))
        self.d.kill9()
        self.d.start()
        with self.d.client() as c:
            c.expect(b"get q\r\n", get_reply(("q", b"job")))


if __name__ == "__main__":
    mqdtest.main()
