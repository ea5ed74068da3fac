#!/usr/bin/python3
"""pymemcache, an unmodified memcache client, as a mqd client: the README's
Python example and the protocol through a real client library."""

from pymemcache.client.base import Client

import mqdtest


class FlagsSerde:
    """Passes bytes through with caller-chosen flags, and remembers the
    flags each get returned (pymemcache's serde hook)."""

    def __init__(self):
        self.next_flags = 0
        self.seen = []

    def serialize(self, key, value):
        return value, self.next_flags

    def deserialize(self, key, value, flags):
        self.seen.append((key, flags))
        return value


class Pymemcache(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.mq = self.client()

    def client(self, **kwargs):
        mq = Client(self.d.socket_path, default_noreply=False,
                    connect_timeout=mqdtest.TIMEOUT,
                    timeout=mqdtest.TIMEOUT, **kwargs)
        self.addCleanup(mq.close)
        return mq

    def raw_stats_queue(self):
        with self.d.client() as c:
            return c.stats_queue()

    def test_readme_example(self):
        mq = self.mq
        self.assertIs(mq.set("jobs", b"resize 42.jpg"), True)
        self.assertEqual(mq.get("jobs"), b"resize 42.jpg")
        self.assertIsNone(mq.get("jobs"))

    def test_fifo_order(self):
        mq = self.mq
        messages = [b"first", b"second", b"third", b"fourth", b"fifth"]
        for m in messages:
            self.assertIs(mq.set("fifo", m), True)
        self.assertEqual(self.raw_stats_queue(), b"STAT fifo 5/0\r\nEND\r\n")
        self.assertEqual([mq.get("fifo") for _ in messages], messages)
        self.assertIsNone(mq.get("fifo"))
        self.assertEqual(self.raw_stats_queue(), b"STAT fifo 5/5\r\nEND\r\n")

    def test_delay_and_lease_options_pass_the_key_check(self):
        """Issue 14's options travel in the key ('/', '=' and digits), which
        pymemcache's key check lets through and whose replies it matches.
        With delay=0 (no delay) the outcome does not depend on the delays'
        own tests."""
        mq = self.mq
        self.assertIs(mq.set("opts/delay=0", b"now"), True)
        self.assertEqual(mq.get("opts/open/lease=30000"), b"now")
        self.assertIsNone(mq.get("opts/abort/delay=0"))
        self.assertEqual(mq.get("opts"), b"now")
        self.assertEqual(self.raw_stats_queue(), b"STAT opts 1/1\r\nEND\r\n")

    def test_get_empty_and_unknown(self):
        self.assertIsNone(self.mq.get("never-used"))
        self.assertEqual(self.mq.get("never-used", default=b"d"), b"d")

    def test_binary_round_trip(self):
        mq = self.mq
        data = bytes(range(256)) + b"\r\nEND\r\n" + bytes(range(256))
        self.assertIs(mq.set("bin", data), True)
        self.assertIs(mq.set("bin", b""), True)
        self.assertEqual(mq.get("bin"), data)
        self.assertEqual(mq.get("bin"), b"")
        self.assertIsNone(mq.get("bin"))

    def test_flags_via_serde(self):
        serde = FlagsSerde()
        mq = self.client(serde=serde)
        for flags in (0, 7, 4294967295):
            serde.next_flags = flags
            self.assertIs(mq.set("fl", b"with %d" % flags), True)
        self.assertEqual([mq.get("fl") for _ in range(3)],
                         [b"with 0", b"with 7", b"with 4294967295"])
        self.assertEqual([f for _, f in serde.seen], [0, 7, 4294967295])

    def test_get_many(self):
        mq = self.mq
        for q, m in (("ma", b"a1"), ("ma", b"a2"), ("mb", b"b1"),
                     ("mc", b"c1")):
            self.assertIs(mq.set(q, m), True)
        # One message from each named queue that has one.
        self.assertEqual(mq.get_many(["ma", "mb", "empty", "mc"]),
                         {"ma": b"a1", "mb": b"b1", "mc": b"c1"})
        self.assertEqual(mq.get_multi(["ma", "mb", "mc"]), {"ma": b"a2"})
        self.assertEqual(mq.get_many(["ma", "mb", "mc"]), {})
        # A list that names a queue twice takes one message of it: the
        # dictionary could not hold two.
        self.assertIs(mq.set("ma", b"a3"), True)
        self.assertIs(mq.set("ma", b"a4"), True)
        self.assertEqual(mq.get_many(["ma", "ma"]), {"ma": b"a3"})
        self.assertEqual(mq.get("ma"), b"a4")
        self.assertEqual(self.raw_stats_queue(),
                         b"STAT ma 4/4\r\nSTAT mb 1/1\r\nSTAT mc 1/1\r\n"
                         b"END\r\n")

    def test_delete(self):
        mq = self.mq
        mq.set("del", b"x")
        mq.set("del", b"y")
        self.assertIs(mq.delete("del"), True)
        self.assertIs(mq.delete("del"), False)
        self.assertIsNone(mq.get("del"))
        self.assertEqual(self.raw_stats_queue(), b"END\r\n")

    def test_stats(self):
        mq = self.mq
        for m in (b"1", b"22", b"333"):
            mq.set("st", m)
        mq.set("other", b"4444")
        mq.get("st")
        stats = mq.stats()
        self.assertEqual(stats[b"curr_items"], 3)
        self.assertEqual(stats[b"total_items"], 4)
        self.assertEqual(stats[b"bytes"], 9)
        self.assertEqual(stats[b"cmd_set"], 4)
        self.assertEqual(stats[b"get_hits"], 1)
        self.assertEqual(stats[b"curr_queues"], 2)
        self.assertEqual(stats[b"pid"], self.d.pid)
        self.assertEqual(stats[b"queue_st_items"], 2)

    def test_version(self):
        self.assertEqual(self.mq.version(), mqdtest.VERSION.encode())

    def test_flush_all(self):
        mq = self.mq
        mq.set("fa", b"1")
        mq.set("fb", b"2")
        self.assertIs(mq.flush_all(), True)
        self.assertEqual(mq.get_many(["fa", "fb"]), {})


if __name__ == "__main__":
    mqdtest.main()
