#!/usr/bin/python3
"""Defects found by reading the code against the documentation, each fixed
and pinned here with the transcript that showed it."""

import os

import mqdtest
import queuetest
from mqdtest import get_reply, set_cmd, get_lines, lines_reply
from queuetest import poll_stat, start_with_config, stat

ALREADY_OPEN = (b"CLIENT_ERROR a reliable read of q is already open: close "
                b"or abort it first\r\n")


class ReliableReads(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def test_two_opens_of_one_queue_on_one_line_refused(self):
        c = self.c
        c.expect(set_cmd("q", b"1") + set_cmd("q", b"2"), b"STORED\r\n" * 2)
        c.expect(b"get q/open q/open\r\n", ALREADY_OPEN)
        # Nothing was taken: both are still there, in order.
        c.expect(get_lines("q", 2), lines_reply(2, ("q", b"1"), ("q", b"2")))

    def test_peek_with_open_opens_nothing(self):
        c = self.c
        c.expect(set_cmd("q", b"1"), b"STORED\r\n")
        c.expect(b"get q/peek/open\r\n", get_reply(("q/peek/open", b"1")))
        self.assertEqual(stat(c, "queue_q_open_transactions"), "0")
        # So a real /open is not refused, and takes the same item.
        c.expect(b"get q/open\r\n", get_reply(("q/open", b"1")))
        c.expect(b"get q/close\r\n", b"END\r\n")
        c.expect(b"stats queue\r\n", b"STAT q 1/1\r\nEND\r\n")

    def test_clean_stop_does_not_count_as_a_failed_delivery(self):
        d, _ = start_with_config("[q]\nmax_deliveries = 1\n"
                                 "dead_letter = dlq\n")
        with d.client() as c:
            c.expect(set_cmd("q", b"job"), b"STORED\r\n")
            c.expect(b"get q/open\r\n", get_reply(("q/open", b"job")))
            d.stop()
        d.start()
        with d.client() as c:
            # Back first, still in q: a stop is not the reader failing.
            c.expect(b"get dlq q\r\n", get_reply(("q", b"job")))
        d.stop()


class Waiters(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def waiter(self, line, count):
        w = self.d.client()
        self.addCleanup(w.close)
        w.send(line)
        poll_stat(self.c, "queue_q_waiters", str(count))
        return w

    def test_peeking_waiter_leaves_the_message_for_the_next(self):
        peeker = self.waiter(b"get q/peek/t=5000\r\n", 1)
        taker = self.waiter(b"get q/t=5000\r\n", 2)
        self.c.expect(set_cmd("q", b"m"), b"STORED\r\n")
        peeker.expect_reply(get_reply(("q/peek/t=5000", b"m")))
        taker.expect_reply(get_reply(("q/t=5000", b"m")))
        self.c.expect(b"get q\r\n", b"END\r\n")

    def test_waiter_on_deleted_queue_wakes_for_the_new_one(self):
        c = self.c
        c.expect(set_cmd("q", b"old"), b"STORED\r\n")
        c.expect(b"get q\r\n", get_reply(("q", b"old")))
        w = self.waiter(b"get q/t=5000\r\n", 1)
        c.expect(b"delete q\r\n", b"DELETED\r\n")
        # It waits on, now on the queue the name makes next.
        poll_stat(c, "queue_q_waiters", "1")
        c.expect(set_cmd("q", b"new"), b"STORED\r\n")
        w.expect_reply(get_reply(("q/t=5000", b"new")))


class DeadLetters(mqdtest.MqdTestCase):
    def test_default_dead_letter_does_not_forbid_its_own_group(self):
        # [default] names dlq for every queue; dlq itself only stores.
        d, _ = start_with_config("[default]\nmax_deliveries = 1\n"
                                 "dead_letter = dlq\n\n[dlq]\nmax_items = 10\n")
        with d.client() as c:
            c.expect(set_cmd("q", b"poison"), b"STORED\r\n")
            c.expect(b"get q/open\r\n", get_reply(("q/open", b"poison")))
            c.expect(b"get q/abort\r\n", b"END\r\n")
            c.expect(b"get q dlq/open\r\n", get_reply(("dlq/open", b"poison")))
            # dlq inherits dead_letter = dlq: it is never its own dead
            # letter, so a give-back returns the item to its head.
            c.expect(b"get dlq/abort\r\n", b"END\r\n")
            c.expect(b"get dlq\r\n", get_reply(("dlq", b"poison")))
        d.stop()


class Fanout(mqdtest.MqdTestCase):
    def test_parent_deleted_and_named_again_feeds_its_children(self):
        d = self.start_daemon()
        with d.client() as c:
            c.expect(b"get p+kid\r\n", b"END\r\n")
            c.expect(b"delete p\r\n", b"DELETED\r\n")
            c.expect(set_cmd("p", b"again"), b"STORED\r\n")
            c.expect(b"get p+kid\r\n", get_reply(("p+kid", b"again")))

    def test_copy_over_a_childs_size_limit_is_counted(self):
        d, _ = start_with_config("[p+small]\nmax_message_size = 4\n")
        with d.client() as c:
            c.expect(b"get p+small\r\n", b"END\r\n")
            c.expect(set_cmd("p", b"too long"), b"STORED\r\n")
            c.expect(b"get p+small\r\n", b"END\r\n")
            self.assertEqual(stat(c, "queue_p+small_discarded"), "1")
            c.expect(b"get p\r\n", get_reply(("p", b"too long")))
        d.stop()


class Verbosity(mqdtest.MqdTestCase):
    def test_verbosity_command_changes_logging(self):
        d = self.start_daemon()
        with d.client() as c:
            c.expect(b"stats queue\r\n", b"END\r\n")
            c.expect(b"verbosity 2\r\n", b"OK\r\n")
            c.expect(b"stats queue\r\n", b"END\r\n")
            c.expect(b"verbosity 0\r\n", b"OK\r\n")
            c.expect(b"version\r\n", b"VERSION %s\r\n"
                     % mqdtest.VERSION.encode())
        d.stop()
        log = d.log_text()
        # Logged from verbosity 2 on, up to verbosity 0 itself.
        self.assertEqual(log.count("stats queue"), 1, log)
        self.assertIn("verbosity 0", log)
        self.assertNotIn(" version", log.split("verbosity 0")[-1])


class ConfigOption(mqdtest.MqdTestCase):
    def test_config_in_grouped_short_options(self):
        path = queuetest.write_config("[default]\nmax_message = 4\n")
        d = self.start_daemon(["-vf", path])
        with d.client() as c:
            c.expect(set_cmd("q", b"12345"),
                     b"SERVER_ERROR object too large for cache\r\n")

    def test_last_config_option_wins_at_start_as_on_reload(self):
        first = queuetest.write_config("[default]\nmax_message = 4\n",
                                       name="a.conf")
        second = queuetest.write_config("[default]\nmax_message = 8\n",
                                        name="b.conf")
        d = self.start_daemon(["-f", first, "-f", second])
        with d.client() as c:
            c.expect(set_cmd("q", b"12345678"), b"STORED\r\n")

    def test_command_line_wins_over_file(self):
        path = queuetest.write_config("[default]\nmax_message = 4\n"
                                      "verbose = 2\n")
        d = self.start_daemon(["-f", path, "-B", "8", "-v"])
        with d.client() as c:
            c.expect(set_cmd("q", b"12345678"), b"STORED\r\n")
            # verbose = 2 would log every command; -v logs errors only.
            c.expect(b"version\r\n", b"VERSION %s\r\n"
                     % mqdtest.VERSION.encode())
        d.stop()
        self.assertNotIn("version", d.log_text().split("===")[-1])


if __name__ == "__main__":
    mqdtest.main()
