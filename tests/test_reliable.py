#!/usr/bin/python3
"""Reliable reads (get q/open ... get q/close, /abort, /peek): at least once,
never twice, through a close, a restart and a kill -9; dead letters after
max_deliveries; the same flow through pymemcache."""

from pymemcache.client.base import Client as Pymemcache

import mqdtest
import queuetest
from mqdtest import get_reply, set_cmd, get_lines, lines_reply
from queuetest import poll_stat

ALREADY_OPEN = (b"CLIENT_ERROR a reliable read of %s is already open: "
                b"close or abort it first\r\n")


def item(i):
    return b"item %02d" % i


class Reliable(queuetest.OneDaemonCase):
    def fill(self, queue, n):
        self.c.expect(b"".join(set_cmd(queue, item(i)) for i in range(n)),
                      b"STORED\r\n" * n)

    def test_open_returns_item_and_second_open_refused(self):
        self.fill("q", 2)
        self.c.expect(b"get q/open\r\n", get_reply(("q/open", item(0))))
        self.c.expect(b"get q/open\r\n", ALREADY_OPEN % b"q")
        # The refusal changed nothing: the read is still open, item 1 waits.
        stats = self.c.stats()
        self.assertEqual((stats["queue_q_open_transactions"],
                          stats["queue_q_items"]), ("1", "1"))
        self.c.expect(b"get q/close\r\n", b"END\r\n")
        self.c.expect(b"get q/open\r\n", get_reply(("q/open", item(1))))

    def test_close_with_nothing_open_is_ignored(self):
        self.c.expect(b"get q/close\r\n", b"END\r\n")
        self.fill("q", 1)
        self.c.expect(b"get q/close\r\n", b"END\r\n")
        self.c.expect(b"get q/abort\r\n", b"END\r\n")
        # Nothing was taken.
        self.c.expect(b"get q\r\n", get_reply(("q", item(0))))

    def test_close_deletes_for_good(self):
        self.fill("q", 3)
        self.c.expect(b"get q/open\r\n", get_reply(("q/open", item(0))))
        self.assertEqual(queuetest.stat(self.c, "queue_q_open_transactions"),
                         "1")
        self.c.expect(b"get q/close\r\n", b"END\r\n")
        stats = self.c.stats()
        self.assertEqual((stats["queue_q_open_transactions"],
                          stats["queue_q_items"], stats["queue_q_dequeued"]),
                         ("0", "2", "1"))
        self.c.expect(b"stats queue\r\n", b"STAT q 3/1\r\nEND\r\n")
        self.c.close()
        self.d.restart()
        with self.d.client() as c:
            c.expect(b"stats queue\r\n", b"STAT q 3/1\r\nEND\r\n")
            self.assertEqual(queuetest.stat(c, "queue_q_items"), "2")
            c.expect(get_lines("q", 3), lines_reply(3, ("q", item(1)),
                                                    ("q", item(2))))
            c.expect(b"stats queue\r\n", b"STAT q 3/3\r\nEND\r\n")
        self.d.restart()
        with self.d.client() as c:
            c.expect(b"get q\r\n", b"END\r\n")
            c.expect(b"stats queue\r\n", b"STAT q 3/3\r\nEND\r\n")
            self.assertEqual(queuetest.stat(c, "queue_q_items"), "0")

    def test_close_and_open_in_one_call(self):
        self.fill("q", 3)
        self.c.expect(b"get q/open\r\n", get_reply(("q/open", item(0))))
        self.c.expect(b"get q/close/open\r\n",
                      get_reply(("q/close/open", item(1))))
        self.c.expect(b"get q/close/open\r\n",
                      get_reply(("q/close/open", item(2))))
        self.c.expect(b"get q/close/open\r\n", b"END\r\n")
        stats = self.c.stats()
        self.assertEqual((stats["queue_q_open_transactions"],
                          stats["queue_q_items"], stats["queue_q_dequeued"]),
                         ("0", "0", "3"))

    def test_abort_puts_back_at_head(self):
        self.fill("q", 3)
        self.c.expect(b"get q/open\r\n", get_reply(("q/open", item(0))))
        self.c.expect(b"get q/abort\r\n", b"END\r\n")
        self.assertEqual(queuetest.stat(self.c, "queue_q_open_transactions"),
                         "0")
        self.c.expect(get_lines("q", 4),
                      lines_reply(4, *(("q", item(i)) for i in range(3))))
        self.c.expect(b"stats queue\r\n", b"STAT q 3/3\r\nEND\r\n")

    def test_closed_connection_gives_item_back(self):
        self.fill("q", 3)
        reader = self.client()
        reader.expect(b"get q/open\r\n", get_reply(("q/open", item(0))))
        self.assertEqual(queuetest.stat(self.c, "queue_q_open_transactions"),
                         "1")
        reader.close()
        # The daemon answers nothing to a close: poll until it gave it back.
        poll_stat(self.c, "queue_q_open_transactions", "0")
        other = self.client()
        other.expect(b"get q/open\r\n", get_reply(("q/open", item(0))))
        other.expect(b"get q/close/open\r\n",
                     get_reply(("q/close/open", item(1))))

    def test_open_read_survives_kill9(self):
        self.fill("q", 3)
        self.c.expect(b"get q/open\r\n", get_reply(("q/open", item(0))))
        self.c.expect(b"get q\r\n", get_reply(("q", item(1))))
        self.c.close()
        self.d.kill9()
        self.d.start()
        with self.d.client() as c:
            stats = c.stats()
            self.assertEqual((stats["queue_q_items"], stats["queue_q_bytes"],
                              stats["queue_q_open_transactions"]),
                             ("2", str(2 * len(item(0))), "0"))
            # The open read first, then the rest; item 1 was a plain get.
            c.expect(b"get q/open\r\n", get_reply(("q/open", item(0))))
            c.expect(b"get q/close/open\r\n",
                     get_reply(("q/close/open", item(2))))
            c.expect(b"get q/close\r\n", b"END\r\n")
            c.expect(b"get q\r\n", b"END\r\n")
            c.expect(b"stats queue\r\n", b"STAT q 3/3\r\nEND\r\n")

    def test_open_read_given_back_on_stop(self):
        self.fill("q", 2)
        self.c.expect(b"get q/open\r\n", get_reply(("q/open", item(0))))
        self.d.restart()
        with self.d.client() as c:
            c.expect(get_lines("q", 3), lines_reply(3, ("q", item(0)),
                                                    ("q", item(1))))

    def test_alternating_readers_each_item_once(self):
        n, k = 50, 5
        self.fill("q", n)
        readers = [self.client() for _ in range(k)]
        for i in range(n):
            # Each reader closes its last item and opens the next: up to k
            # reads open at once, each item to exactly one of them.
            readers[i % k].expect(b"get q/close/open\r\n",
                                  get_reply(("q/close/open", item(i))))
            if i == k - 1:
                self.assertEqual(
                    queuetest.stat(self.c, "queue_q_open_transactions"),
                    str(k))
        for r in readers:
            r.expect(b"get q/close/open\r\n", b"END\r\n")
        self.c.expect(b"get q\r\n", b"END\r\n")
        stats = self.c.stats()
        self.assertEqual((stats["queue_q_open_transactions"],
                          stats["queue_q_items"], stats["queue_q_bytes"]),
                         ("0", "0", "0"))
        self.c.expect(b"stats queue\r\n", b"STAT q 50/50\r\nEND\r\n")

    def test_peek(self):
        self.c.expect(b"get q/peek\r\n", b"END\r\n")
        self.fill("q", 2)
        self.c.expect(b"get q/peek\r\n", get_reply(("q/peek", item(0))))
        self.c.expect(b"get q/peek\r\n", get_reply(("q/peek", item(0))))
        self.c.expect(b"stats queue\r\n", b"STAT q 2/0\r\nEND\r\n")
        self.c.expect(b"get q\r\n", get_reply(("q", item(0))))
        self.c.expect(b"get q/peek\r\n", get_reply(("q/peek", item(1))))
        # A peek does not see an item out on a reliable read.
        self.c.expect(b"get q/open\r\n", get_reply(("q/open", item(1))))
        self.c.expect(b"get q/peek\r\n", b"END\r\n")

    def test_open_transactions_stat(self):
        self.fill("q", 3)
        self.assertEqual(queuetest.stat(self.c, "queue_q_open_transactions"),
                         "0")
        readers = [self.client() for _ in range(3)]
        for i, r in enumerate(readers):
            r.expect(b"get q/open\r\n", get_reply(("q/open", item(i))))
            self.assertEqual(
                queuetest.stat(self.c, "queue_q_open_transactions"),
                str(i + 1))
        readers[1].expect(b"get q/close\r\n", b"END\r\n")
        readers[2].expect(b"get q/abort\r\n", b"END\r\n")
        stats = self.c.stats()
        self.assertEqual((stats["queue_q_open_transactions"],
                          stats["queue_q_items"]), ("1", "1"))

    def test_pymemcache_reliable_read(self):
        mq = Pymemcache(self.d.socket_path, default_noreply=False,
                        connect_timeout=mqdtest.TIMEOUT,
                        timeout=mqdtest.TIMEOUT)
        self.addCleanup(mq.close)
        self.assertIs(mq.set("jobs", b"first"), True)
        self.assertIs(mq.set("jobs", b"second"), True)
        self.assertEqual(mq.get("jobs/open"), b"first")
        self.assertEqual(
            queuetest.stat(self.c, "queue_jobs_open_transactions"), "1")
        self.assertIsNone(mq.get("jobs/close"))
        self.assertEqual(mq.get("jobs/open"), b"second")
        self.assertIsNone(mq.get("jobs/abort"))
        self.assertEqual(mq.get("jobs/peek"), b"second")
        self.assertEqual(mq.get("jobs/close/open"), b"second")
        self.assertIsNone(mq.get("jobs/close/open"))
        self.assertIsNone(mq.get("jobs/t=50"))
        self.c.expect(b"stats queue\r\n", b"STAT jobs 2/2\r\nEND\r\n")


class DeadLetter(mqdtest.MqdTestCase):
    CONFIG = "[work]\nmax_deliveries = 2\ndead_letter = dlq\n"

    def setUp(self):
        self.d, _ = queuetest.start_with_config(self.CONFIG)
        self.c = self.d.client()
        self.addCleanup(self.c.close)
        self.c.expect(set_cmd("work", b"poison") + set_cmd("work", b"fine"),
                      b"STORED\r\n" * 2)

    def test_aborted_twice_goes_to_dead_letter(self):
        c = self.c
        c.expect(b"get work/open\r\n", get_reply(("work/open", b"poison")))
        c.expect(b"get work/abort\r\n", b"END\r\n")
        # Below the limit: back at the head.
        self.assertEqual(queuetest.stat(c, "queue_work_items"), "2")
        c.expect(b"get work/open\r\n", get_reply(("work/open", b"poison")))
        c.expect(b"get work/abort\r\n", b"END\r\n")
        # The second give-back moved it.
        stats = c.stats()
        self.assertEqual((stats["queue_work_items"], stats["queue_dlq_items"],
                          stats["queue_work_open_transactions"]),
                         ("1", "1", "0"))
        c.expect(get_lines("work", 2), lines_reply(2, ("work", b"fine")))
        c.expect(b"get dlq\r\n", get_reply(("dlq", b"poison")))

    def test_disconnects_count_as_aborts(self):
        for _ in range(2):
            with self.d.client() as reader:
                reader.expect(b"get work/open\r\n",
                              get_reply(("work/open", b"poison")))
            # The daemon answers nothing to a close: poll until it gave the
            # read back.
            poll_stat(self.c, "queue_work_open_transactions", "0")
        self.c.expect(b"get dlq\r\n", get_reply(("dlq", b"poison")))
        self.c.expect(get_lines("work", 2), lines_reply(2, ("work", b"fine")))

    def test_delivery_count_survives_restart(self):
        self.c.expect(b"get work/open\r\nget work/abort\r\n",
                      get_reply(("work/open", b"poison")) + b"END\r\n")
        self.c.close()
        self.d.restart()
        with self.d.client() as c:
            c.expect(b"get work/open\r\nget work/abort\r\n",
                     get_reply(("work/open", b"poison")) + b"END\r\n")
            c.expect(b"get dlq\r\n", get_reply(("dlq", b"poison")))
            c.expect(b"get work\r\n", get_reply(("work", b"fine")))

    def test_closed_read_never_dead_lettered(self):
        c = self.c
        c.expect(b"get work/open\r\nget work/abort\r\n",
                 get_reply(("work/open", b"poison")) + b"END\r\n")
        c.expect(b"get work/open\r\nget work/close\r\n",
                 get_reply(("work/open", b"poison")) + b"END\r\n")
        c.expect(b"get dlq\r\n", b"END\r\n")
        c.expect(b"get work\r\n", get_reply(("work", b"fine")))


class FullDeadLetter(mqdtest.MqdTestCase):
    def test_full_dead_letter_queue_loses_nothing(self):
        # Reliable reads are at least once: an item the dead-letter queue
        # has no room for must stay somewhere, in its queue or in dlq.
        d, _ = queuetest.start_with_config(
            "[work]\nmax_deliveries = 1\ndead_letter = dlq\n"
            "[dlq]\nmax_items = 1\n")
        with d.client() as c:
            c.expect(set_cmd("dlq", b"old") + set_cmd("work", b"precious"),
                     b"STORED\r\n" * 2)
            c.expect(b"get work/open\r\nget work/abort\r\n",
                     get_reply(("work/open", b"precious")) + b"END\r\n")
            stats = c.stats()
            self.assertEqual(int(stats["queue_work_items"])
                             + int(stats["queue_dlq_items"]), 2, stats)
            left = []
            for q in ("work", "dlq"):
                while True:
                    reply = c.call(b"get %s\r\n" % q.encode(), b"END\r\n")
                    if reply == b"END\r\n":
                        break
                    left.append(reply.split(b"\r\n")[1])
            self.assertEqual(sorted(left), [b"old", b"precious"])


if __name__ == "__main__":
    mqdtest.main()
