#!/usr/bin/python3
"""Message bodies: binary-safe, exact length, size limits (-B), many queues
at once, and exact bytes across a restart."""

import mqdtest
from mqdtest import get_reply, set_cmd

TOO_LARGE = b"SERVER_ERROR object too large for cache\r\n"
VERSION = mqdtest.VERSION_REPLY

# Every byte value, and the protocol's own delimiters inside the data.
BINARY = (bytes(range(256)) + b"\r\nEND\r\n" + b"VALUE q 0 5\r\n"
          + b"\r\n\r\n" + bytes(range(255, -1, -1)) + b"\n\r\x00")


class Payloads(mqdtest.MqdTestCase):
    def test_binary_payloads_exact(self):
        d = self.start_daemon()
        with d.client() as c:
            bodies = [BINARY, b"\r\n", b"END\r\n", b"\x00", b"\r", b"\n",
                      b" leading and trailing spaces ", b"\xff" * 3000]
            for body in bodies:
                c.expect(set_cmd("bin", body), b"STORED\r\n")
            for body in bodies:
                c.expect(b"get bin\r\n", get_reply(("bin", body)))
            c.expect(b"get bin\r\n", b"END\r\n")

    def test_empty_message(self):
        d = self.start_daemon()
        with d.client() as c:
            c.expect(b"set e 0 0 0\r\n\r\n", b"STORED\r\n")
            c.expect(b"set e 5 0 0\r\n\r\n", b"STORED\r\n")
            c.expect(b"stats queue\r\n", b"STAT e 2/0\r\nEND\r\n")
            c.expect(b"get e\r\n", b"VALUE e 0 0\r\n\r\nEND\r\n")
            c.expect(b"get e\r\n", b"VALUE e 5 0\r\n\r\nEND\r\n")
            c.expect(b"get e\r\n", b"END\r\n")

    def test_max_message_option(self):
        d = self.start_daemon(["-B", "1000"])
        with d.client() as c:
            exact = bytes(i % 251 for i in range(1000))
            c.expect(set_cmd("m", exact), b"STORED\r\n")
            # One byte over: refused, and its data (which looks like
            # commands) is skipped, so the next command is in step.
            over = (b"get m\r\nshutdown\r\n" * 100)[:1001]
            c.expect(set_cmd("m", over) + b"version\r\n", TOO_LARGE + VERSION)
            # With noreply it is silent (as memcached), still in step.
            c.expect(set_cmd("m", over, noreply=True) + b"version\r\n",
                     VERSION)
            c.expect(b"stats queue\r\n", b"STAT m 1/0\r\nEND\r\n")
            c.expect(b"get m\r\n", get_reply(("m", exact)))
            c.expect(b"get m\r\n", b"END\r\n")
            self.assertEqual(c.stats()["max_message_size"], "1000")

    def test_default_max_message_is_1mib(self):
        d = self.start_daemon()
        limit = mqdtest.DEFAULT_MAX_MESSAGE
        self.assertEqual(limit, 1048576)
        with d.client() as c:
            big = bytes(i * 7 % 256 for i in range(limit))
            c.expect(set_cmd("big", big), b"STORED\r\n")
            c.expect(set_cmd("big", big + b"!") + b"version\r\n",
                     TOO_LARGE + VERSION)
            c.expect(b"stats queue\r\n", b"STAT big 1/0\r\nEND\r\n")
            c.expect(b"get big\r\n", get_reply(("big", big)))
            c.expect(b"get big\r\n", b"END\r\n")

    def test_many_queues_interleaved(self):
        d = self.start_daemon()
        queues = ["queue%03d" % i for i in range(100)]
        with d.client() as c:
            # Round robin: message j of every queue, then message j + 1.
            sets = b"".join(set_cmd(q, b"%s:%02d" % (q.encode(), j))
                            for j in range(20) for q in queues)
            c.expect(sets, b"STORED\r\n" * 2000)
            raw = c.stats_queue()
            self.assertEqual(raw, b"".join(b"STAT %s 20/0\r\n" % q.encode()
                                           for q in queues) + b"END\r\n")
            self.assertEqual(c.stats()["curr_items"], "2000")
            for q in queues:
                c.expect(b"get %s\r\n" % q.encode() * 21,
                         b"".join(get_reply((q, b"%s:%02d" % (q.encode(), j)))
                                  for j in range(20)) + b"END\r\n")
            self.assertEqual(c.stats()["curr_items"], "0")

    def test_exact_bytes_across_restart(self):
        d = self.start_daemon()
        with d.client() as c:
            c.expect(set_cmd("keep", BINARY, flags=1234567) +
                     set_cmd("keep", b"") + set_cmd("keep", b"last\r\n"),
                     b"STORED\r\n" * 3)
        d.restart()
        with d.client() as c:
            c.expect(b"get keep\r\n", get_reply(("keep", BINARY, 1234567)))
            c.expect(b"get keep\r\n", get_reply(("keep", b"")))
            c.expect(b"get keep\r\n", get_reply(("keep", b"last\r\n")))
            c.expect(b"get keep\r\n", b"END\r\n")


if __name__ == "__main__":
    mqdtest.main()
