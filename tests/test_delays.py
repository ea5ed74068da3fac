#!/usr/bin/python3
"""Delayed messages (set q/delay=ms) and retries with backoff
(get q/abort/delay=ms, the retry_delay rule): out of sight until due, never
early, in due order, across kill -9 and a restart, from pymemcache and PHP's
memcache extension as from the raw socket."""

import os
import random
import signal
import subprocess
import time

from pymemcache.client.base import Client as Pymemcache

import clienttest
import mqdtest
import queuetest
from queuetest import ms_since
from mqdtest import get_reply, set_cmd


class Delays(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def test_out_of_sight_until_due(self):
        c = self.c
        sent = time.monotonic()
        c.expect(set_cmd("q/delay=300", b"later") + set_cmd("q", b"now"),
                 b"STORED\r\n" * 2)
        stats = c.stats()
        self.assertEqual((stats["queue_q_items"], stats["queue_q_delayed"],
                          stats["queue_q_total_items"]), ("1", "1", "2"))
        c.expect(b"get q/peek\r\n", get_reply(("q/peek", b"now")))
        c.expect(b"get q\r\n", get_reply(("q", b"now")))
        c.expect(b"get q\r\nget q/peek\r\n", b"END\r\nEND\r\n")
        # A waiting get takes it when it is due, not before.
        c.expect(b"get q/t=5000\r\n", get_reply(("q/t=5000", b"later")))
        self.assertGreaterEqual(ms_since(sent), 300)
        stats = c.stats()
        self.assertEqual((stats["queue_q_items"], stats["queue_q_delayed"],
                          stats["queue_q_dequeued"]), ("0", "0", "2"))
        c.expect(b"stats queue\r\n", b"STAT q 2/2\r\nEND\r\n")

    def test_delay_zero_and_errors(self):
        c = self.c
        c.expect(set_cmd("q/delay=0", b"at once"), b"STORED\r\n")
        c.expect(b"get q\r\n", get_reply(("q", b"at once")))
        # Refused with the data block read: the connection stays in step.
        c.expect(b"set q/delay=-1 0 0 1\r\nx\r\n",
                 b"CLIENT_ERROR bad delay: 0 to 315360000000 ms\r\n")
        c.expect(b"set q/delay=315360000001 0 0 1\r\nx\r\n",
                 b"CLIENT_ERROR bad delay: 0 to 315360000000 ms\r\n")
        c.expect(b"get q/delay=5\r\n",
                 b"CLIENT_ERROR delay= on a get needs /abort\r\n")
        c.expect(b"stats queue\r\n", b"STAT q 1/1\r\nEND\r\n")

    def test_ten_thousand_random_delays(self):
        """10,000 messages with delays up to 2 s: each is delivered once, none
        before its time, and they come in due order."""
        rnd = random.Random(14)
        n, batch = 10000, 500
        due = {}            # i -> (earliest, latest) possible due, ms
        c = self.c
        for start in range(0, n, batch):
            delays = [rnd.randrange(0, 2000) for _ in range(batch)]
            before = time.monotonic() * 1000
            c.expect(b"".join(set_cmd("q/delay=%d" % d, b"%d" % (start + k))
                              for k, d in enumerate(delays)),
                     b"STORED\r\n" * batch)
            after = time.monotonic() * 1000
            for k, d in enumerate(delays):
                due[start + k] = (before + d, after + d)
        got = []
        while len(got) < n:
            c.send(b"get q/t=3000\r\n")
            line = c.recv_line()
            now = time.monotonic() * 1000
            self.assertTrue(line.startswith(b"VALUE q/t=3000 0 "), line)
            i = int(c.recv_exact(int(line.split()[3]) + 2)[:-2])
            self.assertEqual(c.recv_line(), b"END\r\n")
            self.assertGreaterEqual(now, due[i][0],
                                    "message %d %.1f ms early"
                                    % (i, due[i][0] - now))
            got.append(i)
        self.assertEqual(sorted(got), list(range(n)))
        # Due times are whole milliseconds: within one, any order.
        for a, b in zip(got, got[1:]):
            self.assertLessEqual(due[a][0], due[b][1] + 1,
                                 "%d (due %r) came before %d (due %r)"
                                 % (a, due[a], b, due[b]))
        c.expect(b"get q\r\n", b"END\r\n")
        stats = c.stats()
        self.assertEqual((stats["queue_q_delayed"], stats["queue_q_items"],
                          stats["queue_q_total_items"],
                          stats["queue_q_dequeued"]),
                         ("0", "0", str(n), str(n)))

    def test_set_due_now_waits_behind_due_delayed(self):
        """Delayed messages move into their queue at the pass end, 4,096
        a pass; a set without a delay that comes while some that were due
        before it still wait to move waits behind them."""
        c = self.c
        self.set_now_past_due("q")
        # A fanout child's copy waits behind the child's own.
        self.set_now_past_due("q+f")
        stats = c.stats()
        self.assertEqual((stats["queue_q_delayed"], stats["queue_q_items"],
                          stats["queue_q_total_items"],
                          stats["queue_q+f_delayed"]), ("0", "1", "5002", "0"))

    def set_now_past_due(self, queue):
        """Sets 5,000 messages queue/delay=300, more than a pass end moves
        (4,096), stops the daemon past their time, sends a set of q without
        a delay, and resumes it: the set comes while some wait to move, and
        queue gets it (or its copy) last."""
        c, n = self.c, 5000
        sent = time.monotonic()
        c.expect(b"".join(set_cmd(queue + "/delay=300", b"d%d" % i)
                          for i in range(n)),
                 b"STORED\r\n" * n)
        os.kill(self.d.pid, signal.SIGSTOP)
        try:
            self.assertLess(ms_since(sent), 300, "stopped after it was due")
            time.sleep(0.4)
            c.send(set_cmd("q", b"now"))
        finally:
            os.kill(self.d.pid, signal.SIGCONT)
        c.expect_reply(b"STORED\r\n")
        key = queue + "/t=5000"
        c.expect(b"get %s\r\n" % key.encode() * (n + 1),
                 b"".join(get_reply((key, b"d%d" % i)) for i in range(n))
                 + get_reply((key, b"now")))

    def test_flush_and_delete_take_delayed(self):
        c = self.c
        c.expect(set_cmd("a/delay=60000", b"x") + set_cmd("b/delay=60000", b"y")
                 + b"flush_all\r\ndelete b\r\n",
                 b"STORED\r\n" * 2 + b"OK\r\nDELETED\r\n")
        self.assertEqual(queuetest.stat(c, "queue_a_delayed"), "0")
        self.d.restart()
        with self.d.client() as c:
            c.expect(b"stats queue\r\n", b"STAT a 1/0\r\nEND\r\n")
            self.assertEqual(queuetest.stat(c, "queue_a_delayed"), "0")


class DelaysAcrossRestarts(mqdtest.MqdTestCase):
    def test_kill9_keeps_delayed_and_due_come_first(self):
        d = self.start_daemon()
        with d.client() as c:
            c.expect(b"".join(set_cmd("q/delay=%d" % (200 + i), b"soon%d" % i)
                              for i in range(200))
                     + b"".join(set_cmd("q/delay=3600000", b"late%d" % i)
                                for i in range(300)),
                     b"STORED\r\n" * 500)
            self.assertEqual(queuetest.stat(c, "queue_q_delayed"), "500")
        sent = time.monotonic()
        d.kill9()
        # The time passing while the daemon is down is what is tested.
        time.sleep(max(0.0, 0.5 - (time.monotonic() - sent)))
        d.start()
        with d.client() as c:
            c.expect(set_cmd("q", b"after the start"), b"STORED\r\n")
            for i in range(200):
                c.expect(b"get q\r\n", get_reply(("q", b"soon%d" % i)))
            c.expect(b"get q\r\n", get_reply(("q", b"after the start")))
            c.expect(b"get q\r\n", b"END\r\n")
            stats = c.stats()
            self.assertEqual((stats["queue_q_delayed"],
                              stats["queue_q_total_items"]), ("300", "501"))
        d.restart()
        with d.client() as c:
            self.assertEqual(queuetest.stat(c, "queue_q_delayed"), "300")


class DelaysAtDepth(mqdtest.MqdTestCase):
    N = 100000

    def fill(self, c, first, n, rnd):
        for start in range(first, first + n, 1000):
            batch = range(start, min(start + 1000, first + n))
            c.expect(b"".join(set_cmd("q/delay=%d" % rnd.randrange(1000, 4000),
                                      (b"%07d " % i).ljust(100, b"d"))
                              for i in batch),
                     b"STORED\r\n" * len(batch))

    def test_memory_flat_and_all_delivered_after_kill9(self):
        """100,000 delayed messages: resident memory after 10,000 and after
        100,000 differs by what the buckets' young tails may hold, not by
        the count; after a kill -9 every one is delivered once."""
        mqdtest.small_asan_quarantine(self)
        rnd = random.Random(9)
        d = self.start_daemon(["-N", "--checkpoint-size", "1M"])
        with d.client() as c:
            self.fill(c, 0, self.N // 10, rnd)
            shallow = d.rss_kb()
            self.fill(c, self.N // 10, self.N - self.N // 10, rnd)
            deep = d.rss_kb()
            print("# VmRSS %d kB with %d delayed, %d kB with %d"
                  % (shallow, self.N // 10, deep, self.N), flush=True)
            self.assertLess(deep - shallow, 8 * 1024 * d.memory_slack())
        d.kill9()
        d.start()
        seen = set()
        with d.client() as c:
            while len(seen) < self.N:
                c.send(b"get q/t=5000\r\n")
                line = c.recv_line()
                self.assertTrue(line.startswith(b"VALUE q/t=5000 0 100"), line)
                seen.add(int(c.recv_exact(102)[:7]))
                self.assertEqual(c.recv_line(), b"END\r\n")
            c.expect(b"get q\r\n", b"END\r\n")
            self.assertEqual(len(seen), self.N)
            stats = c.stats()
            self.assertEqual((stats["queue_q_delayed"], stats["queue_q_items"]),
                             ("0", "0"))
            print("# VmRSS %d kB after the drain" % d.rss_kb(), flush=True)


class Retry(mqdtest.MqdTestCase):
    CONFIG = ("[backoff]\nretry_delay = 100ms..400ms\n"
              "[work]\nmax_deliveries = 2\ndead_letter = dlq\n"
              "retry_delay = 50ms\n")

    def setUp(self):
        self.d, _ = queuetest.start_with_config(self.CONFIG)
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def test_abort_with_delay(self):
        c = self.c
        c.expect(set_cmd("q", b"job") + set_cmd("q", b"next"),
                 b"STORED\r\n" * 2)
        c.expect(b"get q/open\r\n", get_reply(("q/open", b"job")))
        aborted = time.monotonic()
        c.expect(b"get q/abort/delay=300\r\n", b"END\r\n")
        stats = c.stats()
        self.assertEqual((stats["queue_q_delayed"], stats["queue_q_items"],
                          stats["queue_q_open_transactions"]), ("1", "1", "0"))
        c.expect(b"get q\r\n", get_reply(("q", b"next")))
        c.expect(b"get q/t=5000\r\n", get_reply(("q/t=5000", b"job")))
        self.assertGreaterEqual(ms_since(aborted), 300)
        # Counted once as set, once as taken.
        c.expect(b"stats queue\r\n", b"STAT q 2/2\r\nEND\r\n")

    def test_rule_doubles_per_delivery(self):
        c = self.c
        c.expect(set_cmd("backoff", b"flaky"), b"STORED\r\n")
        gaps = []
        for _ in range(4):
            c.expect(b"get backoff/open/t=5000\r\n",
                     get_reply(("backoff/open/t=5000", b"flaky")))
            if gaps:
                gaps[-1] = ms_since(gaps[-1])
            # From before the abort is sent: its delay starts when the
            # daemon takes it, before its END is sent and read (a CI run
            # under ASan measured 392.5 ms from the END).
            gaps.append(time.monotonic())
            c.expect(b"get backoff/abort\r\n", b"END\r\n")
        for gap, want in zip(gaps[:3], (100, 200, 400)):
            self.assertGreaterEqual(gap, want)
            self.assertLess(gap, want + 1000)

    def test_retries_then_dead_letter(self):
        c = self.c
        c.expect(set_cmd("work", b"poison"), b"STORED\r\n")
        c.expect(b"get work/open\r\n", get_reply(("work/open", b"poison")))
        c.expect(b"get work/abort\r\n", b"END\r\n")
        self.assertEqual(queuetest.stat(c, "queue_work_delayed"), "1")
        c.expect(b"get work/open/t=5000\r\n",
                 get_reply(("work/open/t=5000", b"poison")))
        # The second give-back reaches max_deliveries: no delay, dlq.
        c.expect(b"get work/abort\r\n", b"END\r\n")
        c.expect(b"get dlq\r\n", get_reply(("dlq", b"poison")))
        stats = c.stats()
        self.assertEqual((stats["queue_work_delayed"],
                          stats["queue_work_items"]), ("0", "0"))


class RealClients(mqdtest.MqdTestCase):
    """The key options through clients that check keys themselves."""

    def test_pymemcache(self):
        d = self.start_daemon()
        mq = Pymemcache(d.socket_path, default_noreply=False,
                        connect_timeout=mqdtest.TIMEOUT,
                        timeout=mqdtest.TIMEOUT)
        self.addCleanup(mq.close)
        # Delays of a second: a loaded machine took over 200 ms to answer
        # a set and the get after it.
        sent = time.monotonic()
        self.assertIs(mq.set("jobs/delay=1000", b"later"), True)
        self.assertIsNone(mq.get("jobs"))
        self.assertEqual(mq.get("jobs/t=5000"), b"later")
        self.assertGreaterEqual(ms_since(sent), 1000)
        self.assertIs(mq.set("jobs", b"leased"), True)
        self.assertEqual(mq.get("jobs/open/lease=60000"), b"leased")
        self.assertIsNone(mq.get("jobs/touch/lease=60000"))
        self.assertIsNone(mq.get("jobs/abort/delay=1000"))
        self.assertIsNone(mq.get("jobs"))
        self.assertEqual(mq.get("jobs/t=5000"), b"leased")

    def test_php_memcache(self):
        d = self.start_daemon()
        script = r"""
$m = new Memcache();
$m->connect('unix://' . $argv[1], 0);
$t = microtime(true);
var_dump($m->set('jobs/delay=200', 'later'));
var_dump($m->get('jobs'));
var_dump($m->get('jobs/t=5000'));
var_dump(microtime(true) - $t >= 0.2);
var_dump($m->set('jobs', 'leased'));
var_dump($m->get('jobs/open/lease=60000'));
var_dump($m->get('jobs/touch'));
var_dump($m->get('jobs/abort/delay=100'));
var_dump($m->get('jobs/t=5000'));
"""
        r = subprocess.run([clienttest.php(), "-r", script, "--",
                            d.socket_path], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True,
                           timeout=mqdtest.TIMEOUT)
        self.assertEqual((r.returncode, r.stderr), (0, ""), r.stdout)
        self.assertEqual(r.stdout.split("\n"), [
            "bool(true)", "bool(false)", 'string(5) "later"', "bool(true)",
            "bool(true)", 'string(6) "leased"', "bool(false)", "bool(false)",
            'string(6) "leased"', ""])


if __name__ == "__main__":
    mqdtest.main()
