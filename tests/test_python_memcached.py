#!/usr/bin/python3
"""python-memcached (Debian's python3-memcache), unmodified, as a mqd
client: what a Python worker does with it, then the daemon's state over the
raw socket."""

import threading

import memcache

import clienttest
import mqdtest

BIN = bytes(range(256)) + b"\r\nEND\r\n\0"


class PythonMemcached(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.mq = self.client()

    def client(self):
        # Its socket timeout (3 s by default) bounds a blocking read's /t=.
        mq = memcache.Client(["unix:" + self.d.socket_path])
        self.addCleanup(mq.disconnect_all)
        return mq

    def raw(self, data, reply):
        with self.d.client() as c:
            c.expect(data, reply)

    def test_fifo_over_several_queues(self):
        mq = self.mq
        for i in range(300):
            self.assertIs(mq.set("q%d" % (i % 3), b"message %d" % i), True)
        got = [mq.get("q%d" % (i % 3)) for i in range(300)]
        self.assertEqual(got, [b"message %d" % i for i in range(300)])
        self.assertIsNone(mq.get("q0"))
        self.assertIsNone(mq.get("never-used"))
        self.raw(b"stats queue\r\n", b"STAT q0 100/100\r\nSTAT q1 100/100\r\n"
                 b"STAT q2 100/100\r\nEND\r\n")

    def test_binary_and_empty_messages(self):
        mq = self.mq
        self.assertIs(mq.set("bin", BIN), True)
        self.assertIs(mq.set("bin", b""), True)
        # Strings are stored as UTF-8 with python-memcached's text flag.
        self.assertIs(mq.set("bin", "caf\u00e9"), True)
        self.assertEqual(mq.get("bin"), BIN)
        self.assertEqual(mq.get("bin"), b"")
        self.assertEqual(mq.get("bin"), "caf\u00e9")
        self.assertIsNone(mq.get("bin"))

    def test_get_multi_one_message_per_queue(self):
        mq = self.mq
        for q, data in (("a", b"a1"), ("a", b"a2"), ("b", b"b1")):
            self.assertIs(mq.set(q, data), True)
        self.assertEqual(mq.get_multi(["a", "b", "a", "c"]),
                         {"a": b"a1", "b": b"b1"})
        self.assertEqual(mq.get("a"), b"a2")

    def test_delete_stats_version(self):
        mq = self.mq
        self.assertIs(mq.set("gone", b"1"), True)
        # python-memcached reports DELETED and NOT_FOUND alike.
        self.assertEqual(mq.delete("gone"), 1)
        self.assertEqual(mq.delete("gone"), 1)
        self.assertIsNone(mq.get("gone"))
        self.assertIs(mq.set("kept", b"k"), True)
        [(name, stats)] = mq.get_stats()
        self.assertEqual(name, "unix:%s (1)" % self.d.socket_path)
        self.assertEqual((stats["version"], stats["curr_items"],
                          stats["curr_queues"]), ("1.0.0", "1", "1"))
        self.assertEqual(mq.get_stats("items"), [(name, {})])
        self.assertEqual(mq.get_stats("queue"), [(name, {"kept": "1/0"})])

    def test_reliable_read(self):
        mq = self.mq
        self.assertIs(mq.set("work", b"job"), True)
        self.assertEqual(mq.get("work/open"), b"job")
        self.assertIsNone(mq.get("work/abort"))
        self.assertEqual(mq.get("work/open"), b"job")
        self.assertIsNone(mq.get("work/close"))
        self.assertIsNone(mq.get("work"))
        self.raw(b"stats queue\r\n", b"STAT work 1/1\r\nEND\r\n")

    def test_blocking_read(self):
        mq = self.mq
        self.assertIsNone(mq.get("idle/t=200"))
        got = []
        reader = threading.Thread(target=lambda: got.append(
            mq.get("wake/t=2500")))
        reader.start()
        clienttest.wake(self.d, "wake", b"wake up")
        reader.join(mqdtest.TIMEOUT)
        self.assertEqual(got, [b"wake up"])

    def test_unsupported_commands_stay_in_step(self):
        mq = memcache.Client(["unix:" + self.d.socket_path], cache_cas=True)
        self.addCleanup(mq.disconnect_all)
        for i in range(1, 6):
            self.assertIs(mq.set("u", b"u%d" % i), True)
        self.assertIs(mq.add("u", b"x"), False)
        self.assertEqual(mq.get("u"), b"u1")
        self.assertIs(mq.replace("u", b"x"), False)
        self.assertIs(mq.append("u", b"x"), False)
        self.assertIs(mq.prepend("u", b"x"), False)
        self.assertEqual(mq.get("u"), b"u2")
        # cas is sent once gets gave a cas id (gets takes the message).
        self.assertEqual(mq.gets("u"), b"u3")
        self.assertIs(mq.cas("u", b"x"), False)
        self.assertEqual(mq.touch("u", 60), 0)
        self.assertIsNone(mq.incr("u"))
        self.assertIsNone(mq.decr("u", 5))
        self.assertEqual(mq.get("u"), b"u4")
        self.assertIs(mq.set("u", b"u6"), True)
        # noreply: nothing comes back, and the next reply is the get's.
        self.assertIs(mq.add("u", b"x", noreply=True), True)
        mq.incr("u", noreply=True)
        self.assertEqual(mq.touch("u", 1, noreply=True), 1)
        self.assertEqual([mq.get("u") for _ in range(3)],
                         [b"u5", b"u6", None])
        self.raw(b"stats queue\r\n", b"STAT u 6/6\r\nEND\r\n")


if __name__ == "__main__":
    mqdtest.main()
