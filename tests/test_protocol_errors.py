#!/usr/bin/python3
"""What mqd answers to wrong, hostile or broken clients, and that the
connection (or at least the daemon) stays usable afterwards."""

import socket

import mqdtest
from mqdtest import get_reply, set_cmd

FORMAT = b"CLIENT_ERROR bad command line format\r\n"
VERSION = mqdtest.VERSION_REPLY
TOO_LARGE = b"SERVER_ERROR object too large for cache\r\n"


class ProtocolErrors(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def assertNothingStored(self):
        with self.d.client() as c:
            c.expect(b"stats queue\r\n", b"END\r\n")

    def test_unknown_command(self):
        c = self.c
        c.expect(b"frobnicate q\r\n", b"ERROR\r\n")
        c.expect(b"GET q\r\n", b"ERROR\r\n")          # commands are lower case
        c.expect(b"\r\n", b"ERROR\r\n")               # an empty line
        c.expect(b"get\r\n", b"ERROR\r\n")            # get needs a queue
        c.expect(b"version\r\n", VERSION)            # still in step
        c.expect(set_cmd("u", b"ok") + b"get u\r\n",
                 b"STORED\r\n" + get_reply(("u", b"ok")))

    def test_bad_numbers_in_set(self):
        c = self.c
        # The length is readable, so the data is skipped and the next
        # command is in step.
        for line in (b"set q abc 0 5", b"set q 0 abc 5", b"set q -1 0 5",
                     b"set q 4294967296 0 5", b"set q 0 1.5 5",
                     b"set q 0 0 5 sometimes"):
            with self.subTest(line=line):
                c.expect(line + b"\r\nhello\r\nversion\r\n", FORMAT + VERSION)
        # No readable length: nothing to skip.
        for line in (b"set q 0 0 abc", b"set q 0 0 -1", b"set q 0 0",
                     b"set q 0 0 99999999999999999999999", b"set q 0 0 5 6 7"):
            with self.subTest(line=line):
                c.expect(line + b"\r\nversion\r\n", FORMAT + VERSION)
        self.assertNothingStored()

    def test_bad_numbers_elsewhere(self):
        c = self.c
        c.expect(b"verbosity x\r\n", FORMAT)
        c.expect(b"verbosity\r\n", FORMAT)
        c.expect(b"flush_all soon\r\n", FORMAT)
        c.expect(b"version now\r\n", FORMAT)
        c.expect(b"delete a b c d\r\n", b"CLIENT_ERROR bad command line "
                 b"format.  Usage: delete <key> [noreply]\r\n")
        c.expect(b"get q/t=abc\r\n", b"CLIENT_ERROR bad get option\r\n")
        c.expect(b"stats no such group\r\n", FORMAT)
        c.expect(b"version\r\n", VERSION)

    def test_queue_name_limits(self):
        c = self.c
        name250, name251 = b"n" * 250, b"n" * 251
        long_err = b"CLIENT_ERROR queue name too long\r\n"
        c.expect(set_cmd(name251, b"data") + b"version\r\n",
                 long_err + VERSION)
        c.expect(b"get " + name251 + b"\r\n", long_err)
        c.expect(b"delete " + name251 + b"\r\n", long_err)
        c.expect(set_cmd(name250, b"data"), b"STORED\r\n")
        c.expect(b"get " + name250 + b"\r\n", get_reply((name250, b"data")))

    def test_invalid_queue_names(self):
        c = self.c
        bad = b"CLIENT_ERROR invalid queue name\r\n"
        for name in (b"a\x01b", b"a\x7fb", b"\x1b", b"q\x00"):
            with self.subTest(name=name):
                c.expect(set_cmd(name, b"xyz") + b"version\r\n", bad + VERSION)
        for name in (b"a\x01b", b"a\x7fb"):
            with self.subTest(get=name):
                c.expect(b"get ok " + name + b"\r\n", bad)
        self.assertNothingStored()

    def test_bad_set_options_skip_the_data(self):
        """A set's key takes /delay=<ms> and nothing else; whatever is wrong
        with it, the data block (here a command line) is skipped."""
        c = self.c
        option = b"CLIENT_ERROR bad set option: a set takes only /delay=<ms>"
        delay = b"CLIENT_ERROR bad delay: 0 to 315360000000 ms"
        for key, reply in ((b"a/b", option), (b"q/open", option),
                           (b"q/", option), (b"q/delay=x", delay),
                           (b"q/delay=315360000001", delay),
                           (b"q/delay=-5", delay),
                           (b"q/delay=1/delay=1",
                            b"CLIENT_ERROR duplicate option"),
                           (b"/delay=1", b"CLIENT_ERROR invalid queue name")):
            with self.subTest(key=key):
                c.expect(b"set " + key + b" 0 0 9 noreply\r\nversion\r\n"
                         b"\r\nversion\r\n", reply + b"\r\n" + VERSION)
        self.assertNothingStored()
        # delay=0 is no delay: stored, and there at once.
        c.expect(set_cmd("q/delay=0", b"now") + b"get q\r\n",
                 b"STORED\r\n" + get_reply(("q", b"now")))

    def test_line_too_long_closes(self):
        # 10,000 bytes and no end of line: over the 8192-byte limit.
        self.c.send(b"get " + b"x" * 9996)
        self.c.expect_reply(b"CLIENT_ERROR line too long\r\n")
        self.c.closed()
        with self.d.client() as c:
            c.expect(b"version\r\n", VERSION)

    def test_line_of_8192_bytes_is_accepted(self):
        # The limit includes "\r\n": exactly 8192 bytes is a valid line.
        line = b"get q" + b" " * (8192 - 7) + b"\r\n"
        self.assertEqual(len(line), 8192)
        self.c.expect(line, b"END\r\n")

    def test_bad_data_chunk(self):
        c = self.c
        # Five bytes announced, then "XY" where "\r\n" belongs.
        c.expect(b"set q 0 0 5\r\nhelloXYversion\r\n",
                 b"CLIENT_ERROR bad data chunk\r\n" + VERSION)
        # More data than announced: the surplus is not a command.
        c.expect(b"set q 0 0 3\r\nhello\r\n",
                 b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")
        c.expect(b"version\r\n", VERSION)
        self.assertNothingStored()

    def test_disconnect_during_set_data(self):
        c = self.c
        c.expect(set_cmd("dq", b"one") + set_cmd("dq", b"two"),
                 b"STORED\r\n" * 2)
        # A whole set then half of another in one send, then end of file.
        # Waiting for the daemon's EOF in return proves it has seen it all.
        with self.d.client() as half:
            half.send(set_cmd("dq", b"three") + b"set dq 0 0 10\r\nhello")
            half.expect_reply(b"STORED\r\n")
            half.sock.shutdown(socket.SHUT_WR)
            half.closed()
        # And a client that sends a set header only.
        with self.d.client() as half:
            half.send(b"set dq 0 0 10\r\n")
            half.sock.shutdown(socket.SHUT_WR)
            half.closed()
        with self.d.client() as c2:
            c2.expect(b"stats queue\r\n", b"STAT dq 3/0\r\nEND\r\n")
            for data in (b"one", b"two", b"three"):
                c2.expect(b"get dq\r\n", get_reply(("dq", data)))
            c2.expect(b"get dq\r\n", b"END\r\n")
            c2.expect(b"stats queue\r\n", b"STAT dq 3/3\r\nEND\r\n")

    def test_huge_set_refused_at_once_memory_bounded(self):
        other = self.d.client()
        self.addCleanup(other.close)
        other.expect(set_cmd("small", b"s"), b"STORED\r\n")
        base_kb = self.d.rss_kb()
        # A 1 GB set with the default -B: refused before any data is sent.
        c = self.c
        c.expect(b"set big 0 0 1073741824\r\n", TOO_LARGE)
        chunk = b"\xa5" * (1 << 20)
        for mb in range(20):
            c.send(chunk)
            # Other clients are served while the body streams in.
            if mb % 5 == 4:
                other.expect(b"version\r\n", VERSION)
        rss_kb = self.d.rss_kb()
        self.assertLess(rss_kb, 64 * 1024,
                        "VmRSS %d kB after 20 MB of a refused set (%d kB "
                        "before)" % (rss_kb, base_kb))
        self.assertLess(rss_kb - base_kb, 16 * 1024,
                        "VmRSS grew from %d to %d kB" % (base_kb, rss_kb))
        c.close()
        other.expect(b"stats queue\r\n", b"STAT small 1/0\r\nEND\r\n")
        other.expect(b"get big small\r\n", get_reply(("small", b"s")))



class ConnectionLimit(mqdtest.MqdTestCase):
    def test_connection_limit(self):
        d = self.start_daemon(["-c", "3"])
        clients = [d.client() for _ in range(3)]
        for c in clients:
            self.addCleanup(c.close)
            c.expect(b"version\r\n", VERSION)      # accepted and counted
        with d.client() as fourth:
            fourth.expect_reply(b"SERVER_ERROR too many open connections\r\n")
            fourth.closed()
        for c in clients:
            c.expect(b"version\r\n", VERSION)
        self.assertEqual(clients[2].stats()["curr_connections"], "3")
        # quit: the daemon has closed it once we see EOF, so the next
        # connection is deterministically accepted.
        clients[0].send(b"quit\r\n")
        clients[0].closed()
        clients[0] = d.client()
        clients[0].expect(b"version\r\n", VERSION)
        with d.client() as fifth:
            fifth.expect_reply(b"SERVER_ERROR too many open connections\r\n")
            fifth.closed()
        # A plain close: the daemon gives no signal when it has noticed,
        # so poll its connection count (bounded) before connecting again.
        clients[1].close()
        until = mqdtest.deadline()
        while clients[2].stats()["curr_connections"] != "2":
            self.assertFalse(until.expired(), "close not noticed")
        clients[1] = d.client()
        clients[1].expect(b"version\r\n", VERSION)
        for c in clients:
            c.expect(b"version\r\n", VERSION)


if __name__ == "__main__":
    mqdtest.main()
