#!/usr/bin/python3
"""Expiry: memcache's exptime on a set (relative seconds, absolute Unix
time, negative), per-queue max_age, across a restart, and the sweep that
clears idle queues."""

import math
import time

import mqdtest
import queuetest
from mqdtest import get_reply, set_cmd, get_lines, lines_reply
from queuetest import idle_ms, poll_stat


class Expiry(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def test_relative_exptime(self):
        c = self.c
        c.expect(set_cmd("q", b"dies1", exptime=1) + set_cmd("q", b"lives")
                 + set_cmd("q", b"dies2", exptime=1)
                 + set_cmd("q", b"dies3", exptime=1),
                 b"STORED\r\n" * 4)
        # Not yet: it is there for the second it was given.
        c.expect(b"get q/peek\r\n", get_reply(("q/peek", b"dies1")))
        idle_ms(c, 1050)
        # Not by a get, a peek or a reliable read: only the live one.
        c.expect(b"get q/peek\r\n", get_reply(("q/peek", b"lives")))
        c.expect(b"get q/open\r\n", get_reply(("q/open", b"lives")))
        c.expect(b"get q/close\r\n", b"END\r\n")
        c.expect(b"get q/peek\r\n", b"END\r\n")
        c.expect(b"get q/open\r\n", b"END\r\n")
        c.expect(b"get q\r\n", b"END\r\n")
        stats = c.stats()
        self.assertEqual((stats["queue_q_expired_items"],
                          stats["queue_q_items"], stats["queue_q_bytes"],
                          stats["queue_q_dequeued"]), ("3", "0", "0", "1"))
        # (clock is idle_ms's queue.)
        c.expect(b"stats queue\r\n",
                 b"STAT clock 0/0\r\nSTAT q 4/1\r\nEND\r\n")

    def test_absolute_exptime(self):
        c = self.c
        # Past memcache's 30 days an exptime is a Unix time.  "now + 1",
        # rounded up so that it is at least a second away.
        expires = math.ceil(time.time()) + 1
        later = expires + 3600
        c.expect(set_cmd("q", b"soon", exptime=expires)
                 + set_cmd("q", b"later", exptime=later)
                 + set_cmd("past", b"past", exptime=int(time.time()) - 60),
                 b"STORED\r\n" * 3)
        c.expect(b"get q/peek\r\n", get_reply(("q/peek", b"soon")))
        c.expect(b"get past\r\n", b"END\r\n")
        # Until the wall clock passes it, by the daemon's clock.
        idle_ms(c, int((expires - time.time()) * 1000) + 50)
        self.assertGreater(time.time(), expires)
        c.expect(b"get q\r\n", get_reply(("q", b"later")))
        c.expect(b"get q\r\n", b"END\r\n")
        stats = c.stats()
        self.assertEqual((stats["queue_q_expired_items"],
                          stats["queue_past_expired_items"]), ("1", "1"))

    def test_negative_exptime_never_returned(self):
        c = self.c
        c.expect(set_cmd("q", b"gone", exptime=-1)
                 + set_cmd("q", b"kept")
                 + set_cmd("q", b"gone too", exptime=-86400),
                 b"STORED\r\n" * 3)
        c.expect(b"get q/peek\r\n", get_reply(("q/peek", b"kept")))
        c.expect(get_lines("q", 3), lines_reply(3, ("q", b"kept")))
        c.expect(b"get q/open\r\n", b"END\r\n")
        self.assertEqual(queuetest.stat(c, "queue_q_expired_items"), "2")

    def test_expired_not_returned_after_restart(self):
        c = self.c
        set_at = time.time()
        c.expect(set_cmd("q", b"dies", exptime=1) + set_cmd("q", b"lives"),
                 b"STORED\r\n" * 2)
        c.close()
        self.d.stop()
        # It expires while the daemon is down.
        queuetest.wall_clock_past(set_at + 1.05)
        self.d.start()
        with self.d.client() as c:
            c.expect(b"get q\r\n", get_reply(("q", b"lives")))
            c.expect(b"get q\r\n", b"END\r\n")
            stats = c.stats()
            self.assertEqual((stats["queue_q_expired_items"],
                              stats["queue_q_items"]), ("1", "0"))
            c.expect(b"stats queue\r\n", b"STAT q 2/1\r\nEND\r\n")
        # And it stays gone, with its counter, after another restart.
        self.d.restart()
        with self.d.client() as c:
            c.expect(b"get q\r\n", b"END\r\n")
            self.assertEqual(queuetest.stat(c, "queue_q_expired_items"), "1")

    def test_expiry_survives_restart(self):
        # The expiry is stored with the item: a restart before it passes
        # neither drops it early nor makes it immortal.
        c = self.c
        c.expect(set_cmd("q", b"dies", exptime=2) + set_cmd("q", b"lives"),
                 b"STORED\r\n" * 2)
        c.close()
        self.d.restart()
        with self.d.client() as c:
            c.expect(b"get q/peek\r\n", get_reply(("q/peek", b"dies")))
            idle_ms(c, 2050)
            c.expect(b"get q\r\n", get_reply(("q", b"lives")))
            self.assertEqual(queuetest.stat(c, "queue_q_expired_items"), "1")

    def test_exptime_far_ahead_never_expires(self):
        # Issue 10, item 2: an exptime over 9223372036854775 (G_MAXINT64 /
        # 1000) overflowed when turned into milliseconds, and the message
        # expired at once.  Every Unix time ahead, however far, is in the
        # future; 2^63 - 1 is the largest a set accepts.
        far = [32503680000,                 # the year 3000
               9223372036854775 - 10 ** 6,  # the last of the milliseconds
               9223372036854775, 9223372036854776, 10 ** 17,
               2 ** 63 - 1]
        c = self.c
        c.expect(b"".join(set_cmd("far", b"%d" % t, exptime=t) for t in far),
                 b"STORED\r\n" * len(far))
        c.expect(set_cmd("far", b"x", exptime=2 ** 63),
                 b"CLIENT_ERROR bad command line format\r\n")
        # Past the sweep that would drop an expired head.
        poll_stat(c, "queue_far_items", str(len(far)))
        idle_ms(c, 1100)
        c.close()
        self.d.restart()
        with self.d.client() as c:
            stats = c.stats()
            self.assertEqual((stats["queue_far_items"],
                              stats["queue_far_expired_items"]),
                             (str(len(far)), "0"))
            c.expect(b"get far\r\n" * len(far),
                     b"".join(get_reply(("far", b"%d" % t)) for t in far))

    def test_sweep_clears_idle_queue(self):
        c = self.c
        c.expect(set_cmd("sw", b"a", exptime=1) + set_cmd("sw", b"bb",
                                                          exptime=1),
                 b"STORED\r\n" * 2)
        stats = c.stats()
        self.assertEqual((stats["queue_sw_items"], stats["queue_sw_bytes"]),
                         ("2", "3"))
        # Nobody gets from sw: only the daemon's sweep timer (every second)
        # can drop them.  Bounded poll of stats (which reads no item), paced
        # by a blocking get on another queue.
        poll_stat(c, "queue_sw_items", "0", pace=lambda: idle_ms(c, 50))
        stats = c.stats()
        self.assertEqual((stats["queue_sw_expired_items"],
                          stats["queue_sw_bytes"], stats["queue_sw_dequeued"],
                          stats["curr_items"]), ("2", "0", "0", "0"))

    def test_sweep_reads_heads_in_turn(self):
        # After a start, every queue's head is on disk and may expire: a
        # sweep reads at most 64 of them, and the next ones go on after the
        # last it read, so that the 200 idle queues behind 100 whose heads
        # live are all cleared.
        c = self.c
        lives = ["a%03d" % i for i in range(100)]
        names = ["q%03d" % i for i in range(200)]
        set_at = time.time()
        c.expect(b"".join(set_cmd(n, b"lives") for n in lives)
                 + b"".join(set_cmd(n, b"dies", exptime=2) for n in names),
                 b"STORED\r\n" * 300)
        c.close()
        self.d.restart()
        with self.d.client() as c:
            self.assertEqual(queuetest.stat(c, "curr_items"), "300")
            queuetest.wall_clock_past(set_at + 2.05)
            poll_stat(c, "curr_items", "100", pace=lambda: idle_ms(c, 50))
            stats = c.stats()
            self.assertEqual(
                [stats["queue_%s_expired_items" % n] for n in names],
                ["1"] * len(names))
            c.expect(b"".join(b"get %s\r\n" % n.encode() for n in names),
                     b"END\r\n" * len(names))
            c.expect(b"".join(b"get %s\r\n" % n.encode() for n in lives),
                     b"".join(get_reply((n, b"lives")) for n in lives))


class MaxAge(mqdtest.MqdTestCase):
    def test_max_age_from_config(self):
        d, _ = queuetest.start_with_config("[aged]\nmax_age = 1\n")
        with d.client() as c:
            c.expect(set_cmd("aged", b"old") + set_cmd("fresh", b"never old"),
                     b"STORED\r\n" * 2)
            c.expect(b"get aged/peek\r\n", get_reply(("aged/peek", b"old")))
            idle_ms(c, 1050)
            c.expect(set_cmd("aged", b"new"), b"STORED\r\n")
            c.expect(b"get aged\r\n", get_reply(("aged", b"new")))
            c.expect(b"get aged fresh\r\n",
                     get_reply(("fresh", b"never old")))
            stats = c.stats()
            self.assertEqual((stats["queue_aged_expired_items"],
                              stats["queue_fresh_expired_items"]), ("1", "0"))


if __name__ == "__main__":
    mqdtest.main()
