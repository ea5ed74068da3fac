#!/usr/bin/python3
"""The memcache text protocol as mqd answers it, byte for byte: MemcacheQ's
transcript, then every command of the protocol table."""

import os
import re

import mqdtest
from mqdtest import get_reply, set_cmd


class Transcript(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def test_memcacheq_transcript(self):
        # README's session, exactly as MemcacheQ's documentation shows it.
        c = self.c
        c.expect(b"set q4 0 0 5\r\nhello\r\n", b"STORED\r\n")
        c.expect(b"set q4 0 0 5\r\nworld\r\n", b"STORED\r\n")
        c.expect(b"stats queue\r\n", b"STAT q4 2/0\r\nEND\r\n")
        c.expect(b"get q4\r\n", b"VALUE q4 0 5\r\nhello\r\nEND\r\n")
        c.expect(b"stats queue\r\n", b"STAT q4 2/1\r\nEND\r\n")
        c.expect(b"get q4\r\n", b"VALUE q4 0 5\r\nworld\r\nEND\r\n")
        c.expect(b"stats queue\r\n", b"STAT q4 2/2\r\nEND\r\n")

    def test_flags_round_trip(self):
        for flags in (0, 1, 42, 65536, 4294967295):
            self.c.expect(set_cmd("f", b"x%d" % flags, flags=flags),
                          b"STORED\r\n")
        for flags in (0, 1, 42, 65536, 4294967295):
            self.c.expect(b"get f\r\n",
                          get_reply(("f", b"x%d" % flags, flags)))

    def test_get_empty_and_unknown_queue(self):
        self.c.expect(b"get nosuchqueue\r\n", b"END\r\n")
        self.c.expect(set_cmd("e", b"1"), b"STORED\r\n")
        self.c.expect(b"get e\r\n", get_reply(("e", b"1")))
        self.c.expect(b"get e\r\n", b"END\r\n")          # now empty
        # Misses do not count as dequeued.
        self.c.expect(b"stats queue\r\n", b"STAT e 1/1\r\nEND\r\n")

    def test_multi_queue_get(self):
        c = self.c
        for q, data in (("a", b"a1"), ("a", b"a2"), ("c", b"c1"),
                        ("d", b"d1")):
            c.expect(set_cmd(q, data), b"STORED\r\n")
        # One item from each non-empty queue, in the order named; b is
        # unknown and gives nothing.
        c.expect(b"get d b a c\r\n",
                 get_reply(("d", b"d1"), ("a", b"a1"), ("c", b"c1")))
        c.expect(b"get c d a\r\n", get_reply(("a", b"a2")))
        c.expect(b"get a b c d\r\n", b"END\r\n")
        # A queue gives at most one item per line, however often it is
        # named: clients return a dictionary, which would keep only one.
        c.expect(set_cmd("t", b"1") + set_cmd("t", b"2") + set_cmd("u", b"3"),
                 b"STORED\r\nSTORED\r\nSTORED\r\n")
        c.expect(b"get t u t/peek t t/open\r\n",
                 get_reply(("t", b"1"), ("u", b"3")))
        c.expect(b"gets t/peek t\r\n", b"VALUE t/peek 0 1 2\r\n2\r\nEND\r\n")
        c.expect(b"get t t\r\n", get_reply(("t", b"2")))
        self.assertEqual(c.stats()["get_misses"], "12")

    def test_gets_has_cas_field(self):
        c = self.c
        c.expect(set_cmd("g", b"hello", flags=7) + set_cmd("g", b"world"),
                 b"STORED\r\nSTORED\r\n")
        casts = []
        for data, flags in ((b"hello", 7), (b"world", 0)):
            reply = c.call(b"gets g\r\n", b"END\r\n")
            m = re.fullmatch(rb"VALUE g %d 5 (\d+)\r\n%s\r\nEND\r\n"
                             % (flags, data), reply)
            self.assertIsNotNone(m, reply)
            casts.append(int(m.group(1)))
        self.assertNotEqual(casts[0], casts[1])
        c.expect(b"gets g\r\n", b"END\r\n")

    def test_delete(self):
        c = self.c
        c.expect(set_cmd("dq", b"one") + set_cmd("dq", b"two")
                 + set_cmd("keep", b"k"), b"STORED\r\n" * 3)
        c.expect(b"delete dq\r\n", b"DELETED\r\n")
        c.expect(b"delete dq\r\n", b"NOT_FOUND\r\n")
        c.expect(b"delete neverwas\r\n", b"NOT_FOUND\r\n")
        # The messages went with the queue, and so did its counters.
        c.expect(b"get dq\r\n", b"END\r\n")
        c.expect(b"stats queue\r\n", b"STAT keep 1/0\r\nEND\r\n")
        # A new queue of the same name starts empty.
        c.expect(set_cmd("dq", b"three"), b"STORED\r\n")
        c.expect(b"get dq\r\n", get_reply(("dq", b"three")))
        c.expect(b"get dq\r\n", b"END\r\n")
        c.expect(b"get keep\r\n", get_reply(("keep", b"k")))
        c.expect(b"delete keep noreply\r\nversion\r\n",
                 mqdtest.VERSION_REPLY)
        c.expect(b"get keep\r\n", b"END\r\n")

    def test_flush_one_queue(self):
        c = self.c
        c.expect(set_cmd("f1", b"a") + set_cmd("f1", b"b")
                 + set_cmd("f2", b"c"), b"STORED\r\n" * 3)
        c.expect(b"flush f1\r\n", b"OK\r\n")
        c.expect(b"get f1\r\n", b"END\r\n")
        c.expect(b"get f2\r\n", get_reply(("f2", b"c")))
        stats = c.stats()
        self.assertEqual(stats["queue_f1_items"], "0")
        self.assertEqual(stats["queue_f1_bytes"], "0")
        self.assertEqual(stats["curr_items"], "0")
        # The flushed queue takes new messages.
        c.expect(set_cmd("f1", b"new"), b"STORED\r\n")
        c.expect(b"get f1\r\n", get_reply(("f1", b"new")))

    def test_flush_all(self):
        c = self.c
        for q in ("x", "y", "z"):
            c.expect(set_cmd(q, b"1") + set_cmd(q, b"2"), b"STORED\r\n" * 2)
        c.expect(b"flush_all\r\n", b"OK\r\n")
        c.expect(b"get x y z\r\n", b"END\r\n")
        stats = c.stats()
        self.assertEqual(stats["curr_items"], "0")
        self.assertEqual(stats["bytes"], "0")
        c.expect(set_cmd("y", b"after"), b"STORED\r\n")
        c.expect(b"get x y z\r\n", get_reply(("y", b"after")))

    def test_version_and_verbosity(self):
        self.c.expect(b"version\r\n", mqdtest.VERSION_REPLY)
        self.c.expect(b"verbosity 1\r\n", b"OK\r\n")
        self.c.expect(b"verbosity 0\r\n", b"OK\r\n")

    def test_stats_settings(self):
        self.c.expect(b"stats settings\r\n",
                      b"STAT item_size_max 1048576\r\nSTAT evictions off\r\n"
                      b"STAT cas_enabled no\r\n"
                      b"STAT binding_protocol auto-negotiate\r\n"
                      b"STAT fsync_per_write 1\r\nEND\r\n")

    def test_stats_values(self):
        c = self.c
        c.expect(set_cmd("s1", b"aaa") + set_cmd("s1", b"bbbb")
                 + set_cmd("s1", b"cc") + set_cmd("s2", b"z"),
                 b"STORED\r\n" * 4)
        c.expect(b"get s1\r\n", get_reply(("s1", b"aaa")))
        c.expect(b"get s2 nosuch\r\n", get_reply(("s2", b"z")))
        c.expect(b"get s2\r\n", b"END\r\n")
        raw = c.call(b"stats\r\n", b"END\r\n")
        self.assertTrue(raw.startswith(b"STAT pid "), raw)
        stats = mqdtest.parse_stats(raw)
        expected = {
            "pid": str(self.d.pid),
            "version": mqdtest.VERSION,
            "curr_connections": "1",
            "total_connections": "1",
            "cmd_set": "4",
            # get s1, get s2 nosuch (2 keys), get s2
            "cmd_get": "4",
            "get_hits": "2",
            "get_misses": "2",
            "curr_items": "2",
            "total_items": "4",
            "bytes": "6",              # bbbb + cc
            "curr_queues": "2",
            "segment_reads": "0",      # the messages never left memory
            "threads": "1",
            "max_message_size": "1048576",
            "fsync_per_write": "1",
            "queue_s1_items": "2",
            "queue_s1_bytes": "6",
            "queue_s1_total_items": "3",
            "queue_s1_dequeued": "1",
            "queue_s2_items": "0",
            "queue_s2_total_items": "1",
            "queue_s2_dequeued": "1",
        }
        self.assertEqual({k: stats.get(k) for k in expected}, expected)
        for key in ("uptime", "time", "rusage_user", "rusage_system"):
            self.assertRegex(stats[key], r"^\d+(\.\d+)?$", key)

    def test_stats_of_one_queue(self):
        """stats queue <name>: that queue's lines only, whatever other
        names share its prefix; none for a queue that does not exist."""
        c = self.c
        c.expect(set_cmd("a_b", b"xyz") + set_cmd("a_b", b"12345")
                 + set_cmd("a", b"1") + set_cmd("a_b_items", b"22"),
                 b"STORED\r\n" * 4)
        c.expect(b"get a_b\r\n", get_reply(("a_b", b"xyz")))
        raw = c.call(b"stats queue a_b\r\n", b"END\r\n")
        self.assertRegex(raw, rb"STAT queue_a_b_age \d+\r\n")
        self.assertEqual(
            re.sub(rb"(queue_a_b_age) \d+", rb"\1 AGE", raw),
            b"STAT queue_a_b_items 1\r\n"
            b"STAT queue_a_b_bytes 5\r\n"
            b"STAT queue_a_b_total_items 2\r\n"
            b"STAT queue_a_b_dequeued 1\r\n"
            b"STAT queue_a_b_open_transactions 0\r\n"
            b"STAT queue_a_b_waiters 0\r\n"
            b"STAT queue_a_b_expired_items 0\r\n"
            b"STAT queue_a_b_discarded 0\r\n"
            b"STAT queue_a_b_age AGE\r\n"
            b"STAT queue_a_b_delayed 0\r\n"
            b"END\r\n")
        c.expect(b"stats queue nosuch\r\n", b"END\r\n")
        for bad in (b"stats queue a b\r\n", b"stats queue a/b\r\n",
                    b"stats queue " + b"q" * 251 + b"\r\n"):
            c.expect(bad, b"CLIENT_ERROR bad command line format\r\n")
        # Still in step, and nothing was taken.
        c.expect(b"stats queue\r\n",
                 b"STAT a 1/0\r\nSTAT a_b 2/1\r\nSTAT a_b_items 1/0\r\n"
                 b"END\r\n")

    def test_quit_closes(self):
        self.c.expect(set_cmd("qq", b"x"), b"STORED\r\n")
        self.c.send(b"quit\r\n")
        self.c.closed()
        # Nothing after quit on the same send is run.
        with self.d.client() as c2:
            c2.send(b"quit\r\nset qq 0 0 1\r\ny\r\n")
            c2.closed()
        with self.d.client() as c3:
            c3.expect(b"stats queue\r\n", b"STAT qq 1/0\r\nEND\r\n")

    def test_noreply_set_stores_silently(self):
        c = self.c
        c.send(set_cmd("n", b"one", noreply=True)
               + set_cmd("n", b"two", flags=3, noreply=True))
        # The first bytes back answer the get: the sets said nothing.
        c.expect(b"get n\r\n", get_reply(("n", b"one")))
        c.expect(b"get n\r\n", get_reply(("n", b"two", 3)))

    def test_pipelined_commands_answered_in_order(self):
        self.c.expect(
            set_cmd("p", b"first") + b"version\r\n" + set_cmd("p", b"second")
            + b"get p\r\nstats queue\r\nbogus\r\nget p p\r\ndelete p\r\n"
            + b"get p\r\n",
            b"STORED\r\n" + mqdtest.VERSION_REPLY + b"STORED\r\n"
            + get_reply(("p", b"first")) + b"STAT p 2/1\r\nEND\r\n"
            + b"ERROR\r\n" + get_reply(("p", b"second")) + b"DELETED\r\n"
            + b"END\r\n")

    def test_pipelined_in_pieces(self):
        # A command split over several sends, one byte at a time.
        for byte in set_cmd("bits", b"in pieces") + b"get bits\r\n":
            self.c.send(bytes([byte]))
        self.c.expect_reply(b"STORED\r\n" + get_reply(("bits", b"in pieces")))

    def test_shutdown(self):
        self.c.expect(set_cmd("sd", b"kept"), b"STORED\r\n")
        self.c.expect(b"shutdown\r\n", b"OK\r\n")
        self.c.closed()
        self.d.wait_exit(0)
        self.assertFalse(os.path.lexists(self.d.socket_path))
        # What was acknowledged is still there.
        self.d.start()
        with self.d.client() as c:
            c.expect(b"get sd\r\n", get_reply(("sd", b"kept")))


if __name__ == "__main__":
    mqdtest.main()
