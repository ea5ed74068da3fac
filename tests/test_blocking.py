#!/usr/bin/python3
"""Blocking gets (get q/t=<ms>): woken by a set, timed out on time, served
in arrival order one per message, forgotten when their client leaves, and
free while they wait."""

import time

import mqdtest
import queuetest
from mqdtest import get_reply, set_cmd
from queuetest import poll_stat

VERSION = mqdtest.VERSION_REPLY


class Blocking(queuetest.OneDaemonCase):
    def waiters(self, queue, n):
        """Waits until the daemon counts n waiters on queue."""
        poll_stat(self.c, "queue_%s_waiters" % queue, str(n))

    def test_set_releases_blocked_get(self):
        w = self.client()
        w.send(b"get q/t=5000\r\n")
        self.waiters("q", 1)
        self.c.expect(set_cmd("q", b"hello", flags=7), b"STORED\r\n")
        w.expect_reply(get_reply(("q/t=5000", b"hello", 7)))
        self.c.expect(b"get q\r\n", b"END\r\n")   # it was taken, once
        self.assertEqual(queuetest.stat(self.c, "queue_q_waiters"), "0")

    def test_item_already_there_is_returned_at_once(self):
        self.c.expect(set_cmd("q", b"ready"), b"STORED\r\n")
        start = time.monotonic()
        self.c.expect(b"get q/t=5000\r\n", get_reply(("q/t=5000", b"ready")))
        self.assertLess(time.monotonic() - start, 1.0)

    def test_timeout_honoured(self):
        start = time.monotonic()
        self.c.expect(b"get q/t=300\r\n", b"END\r\n")
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.300)
        self.assertLess(elapsed, 0.300 + 0.05)
        # And the connection goes on.
        self.c.expect(b"version\r\n", VERSION)

    def test_fifo_among_100_waiters(self):
        n = 100
        waiters = [self.client() for _ in range(n)]
        for i, w in enumerate(waiters):
            w.send(b"get q/t=10000\r\n")
            # Registered before the next one is sent: arrival order known.
            self.waiters("q", i + 1)
        payloads = [b"payload %03d" % i for i in range(n)]
        self.c.expect(b"".join(set_cmd("q", p) for p in payloads),
                      b"STORED\r\n" * n)
        for w, p in zip(waiters, payloads):
            w.expect_reply(get_reply(("q/t=10000", p)))
        self.assertEqual(queuetest.stat(self.c, "queue_q_waiters"), "0")
        self.c.expect(b"get q\r\n", b"END\r\n")

    def test_one_set_wakes_one_waiter(self):
        first, second = self.client(), self.client()
        first.send(b"get q/t=5000\r\n")
        self.waiters("q", 1)
        start = time.monotonic()
        second.send(b"get q/t=600\r\n")
        self.waiters("q", 2)
        self.c.expect(set_cmd("q", b"only one"), b"STORED\r\n")
        first.expect_reply(get_reply(("q/t=5000", b"only one")))
        # The other one is still waiting...
        self.assertEqual(queuetest.stat(self.c, "queue_q_waiters"), "1")
        # ...until its own time is up, with nothing.
        second.expect_reply(b"END\r\n")
        self.assertGreaterEqual(time.monotonic() - start, 0.600)
        self.assertEqual(queuetest.stat(self.c, "queue_q_waiters"), "0")

    def test_closed_waiter_is_forgotten(self):
        w = self.client()
        w.send(b"get q/t=10000\r\n")
        self.waiters("q", 1)
        w.close()
        self.waiters("q", 0)
        # The set is not handed to the connection that left.
        self.c.expect(set_cmd("q", b"not lost"), b"STORED\r\n")
        self.c.expect(b"get q\r\n", get_reply(("q", b"not lost")))
        self.assertEqual(queuetest.stat(self.c, "curr_connections"), "1")

    def _multi_queue_get(self, line, set_queue, key):
        """Sends a get naming several queues, sets an item in set_queue from
        another connection: the get answers it, as key, at once."""
        w = self.client()
        start = time.monotonic()
        w.send(line)
        # Registered: the waiting get created the queues it waits on.
        poll_stat(self.c, "queue_b_waiters", "1")
        self.c.expect(set_cmd(set_queue, b"to " + set_queue.encode()),
                      b"STORED\r\n")
        w.expect_reply(get_reply((key, b"to " + set_queue.encode())))
        # Answered on the set, well before the 500 ms are up.
        self.assertLess(time.monotonic() - start, 0.400)

    def test_multi_queue_get_any_queue_first_named(self):
        # get a b/t=500: the get waits on its queues, and an item in any of
        # them ends it; here a, the one named without /t.
        self._multi_queue_get(b"get a b/t=500\r\n", "a", "a")

    def test_multi_queue_get_any_queue_with_timeout(self):
        self._multi_queue_get(b"get a b/t=500\r\n", "b", "b/t=500")

    def test_multi_queue_get_each_with_timeout(self):
        self._multi_queue_get(b"get a/t=500 b/t=500\r\n", "a", "a/t=500")

    def test_multi_queue_get_times_out(self):
        start = time.monotonic()
        self.c.expect(b"get a/t=200 b/t=300\r\n", b"END\r\n")
        # The longest /t.
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.300)
        self.assertLess(elapsed, 0.300 + 0.05)

    def test_pipelined_after_blocked_get_wait_their_turn(self):
        w = self.client()
        w.send(b"get q/t=5000\r\nversion\r\n" + set_cmd("other", b"x")
               + b"get other\r\nget q\r\n")
        self.waiters("q", 1)
        # The set behind the waiting get has not run.
        self.c.expect(b"stats queue\r\n", b"STAT q 0/0\r\nEND\r\n")
        self.c.expect(set_cmd("q", b"wake"), b"STORED\r\n")
        w.expect_reply(get_reply(("q/t=5000", b"wake")) + VERSION
                       + b"STORED\r\n" + get_reply(("other", b"x"))
                       + b"END\r\n")

    def test_pipelined_after_timed_out_get(self):
        self.c.expect(b"get q/t=100\r\nversion\r\n" + set_cmd("q", b"after")
                      + b"get q\r\n",
                      b"END\r\n" + VERSION + b"STORED\r\n"
                      + get_reply(("q", b"after")))

    def test_thousand_idle_waiters_cost_no_cpu(self):
        n = 1000
        waiters = [self.client() for _ in range(n)]
        for w in waiters:
            w.send(b"get idle/t=30000\r\n")
        self.waiters("idle", n)
        before = queuetest.cpu_seconds(self.d.pid)
        # About a second passes, by a blocking get's own timeout.
        start = time.monotonic()
        queuetest.idle_ms(self.c, 1000)
        self.assertGreaterEqual(time.monotonic() - start, 1.0)
        used = queuetest.cpu_seconds(self.d.pid) - before
        self.assertLess(used, 0.050, "%.3f s of CPU in 1 s with %d idle "
                        "waiters" % (used, n))
        # They are all still there, and the first one is served first.
        self.assertEqual(queuetest.stat(self.c, "queue_idle_waiters"),
                         str(n))
        self.c.expect(set_cmd("idle", b"one"), b"STORED\r\n")
        waiters[0].expect_reply(get_reply(("idle/t=30000", b"one")))


if __name__ == "__main__":
    mqdtest.main()
