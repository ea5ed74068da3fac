#!/usr/bin/python3
"""What one client may hold of the daemon, and for how long (issue 10,
items 10 to 12; mqd(8), LIMITS):

  - time: a connection idle for --idle-timeout is closed, unless it waits
    in a get or holds a reliable read; a request (a command line, a set's
    data) not all come --request-timeout seconds after its first byte, plus
    a second per 64 KiB received, closes its connection: clients that
    trickle a byte a second no longer keep everyone else out;
  - output: a get takes no more messages once the connection's unsent
    replies pass 4 MiB (one always goes); `stats` of many queues is made
    as the client reads it, never whole;
  - memory: the data of sets still arriving is kept within
    --incoming-memory over all connections; a set past it is refused
    (SERVER_ERROR out of memory storing object) and its data skipped.

Waits are on the daemon: a reply, a close (select on the socket), bounded
by mqdtest.TIMEOUT.  Times measured are printed as TAP comments.
"""

import select
import socket
import struct
import time

import mqdtest
from mqdtest import get_reply, set_cmd

VERSION = mqdtest.VERSION_REPLY
TOO_MANY = b"SERVER_ERROR too many open connections\r\n"
NO_MEMORY = b"SERVER_ERROR out of memory storing object\r\n"
MIB = 1024 * 1024
OUT_HIGH = 4 * MIB


def note(text):
    print("# " + text, flush=True)


def raw_socket(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket_path)
    return s


def closed_by_daemon(s, seconds):
    """Waits up to seconds for the daemon to close s; True when it did.
    Bytes before the close fail the test's assertion in the caller."""
    ready, _, _ = select.select([s], [], [], seconds)
    if not ready:
        return False
    try:
        return s.recv(65536) == b""
    except ConnectionResetError:
        return True


class Timeouts(mqdtest.MqdTestCase):
    def test_tricklers_no_longer_keep_everyone_out(self):
        # Issue 10, item 10: -c clients that send one byte a second took
        # every place for as long as they liked.
        d = self.start_daemon(["-c", "4", "--request-timeout", "2"])
        line = b"set trickled 0 0 5\r\n"
        tricklers = [raw_socket(d) for _ in range(4)]
        for s in tricklers:
            self.addCleanup(s.close)
        started = time.monotonic()
        with d.client() as extra:
            extra.expect_reply(TOO_MANY)
        closed = {}
        sent = 0
        until = mqdtest.deadline()
        while len(closed) < len(tricklers) and not until.expired():
            for s in tricklers:
                if s in closed:
                    continue
                try:
                    s.send(line[sent % len(line):][:1])
                except (BrokenPipeError, ConnectionResetError):
                    # Closed by the daemon since the last select.
                    closed[s] = time.monotonic() - started
            sent += 1
            # A byte a second, or sooner if the daemon closes one.
            ready, _, _ = select.select(
                [s for s in tricklers if s not in closed], [], [], 1.0)
            for s in ready:
                if s in closed:
                    continue
                try:
                    got = s.recv(100)
                except ConnectionResetError:
                    got = b""     # closed with our last byte unread
                self.assertEqual(got, b"", "a trickler got a reply")
                closed[s] = time.monotonic() - started
        self.assertEqual(len(closed), len(tricklers),
                         "tricklers still open after %.0f s" % mqdtest.TIMEOUT)
        note("4 tricklers closed after %s s, having sent %d bytes each" % (
            ", ".join("%.1f" % t for t in sorted(closed.values())), sent))
        # Never before their time, never long after.
        self.assertGreaterEqual(min(closed.values()), 2.0)
        self.assertLess(max(closed.values()), 5.0)
        with d.client() as c:
            c.expect(b"version\r\n", VERSION)
            c.expect(b"get trickled\r\n", b"END\r\n")

    def test_data_block_late(self):
        d = self.start_daemon(["--request-timeout", "1"])
        s = raw_socket(d)
        self.addCleanup(s.close)
        s.sendall(b"set q 0 0 10\r\nabc")
        started = time.monotonic()
        self.assertTrue(closed_by_daemon(s, mqdtest.TIMEOUT))
        took = time.monotonic() - started
        note("a set's data stalled 3 bytes in: closed after %.1f s" % took)
        self.assertGreaterEqual(took, 1.0)
        with d.client() as c:
            c.expect(b"get q\r\n", b"END\r\n")

    def test_data_that_keeps_coming_is_not_cut_off(self):
        # A megabyte in 64 KiB pieces a tenth of a second apart: 1.6 s,
        # past the 1 s timeout, but each piece buys a second more.
        d = self.start_daemon(["--request-timeout", "1"])
        s = raw_socket(d)
        self.addCleanup(s.close)
        data = bytes(range(256)) * 4096
        s.sendall(b"set kept 0 0 %d\r\n" % len(data))
        started = time.monotonic()
        for i in range(0, len(data), 64 * 1024):
            s.sendall(data[i:i + 64 * 1024])
            self.assertFalse(closed_by_daemon(s, 0.1))
        s.sendall(b"\r\n")
        self.assertEqual(s.recv(100), b"STORED\r\n")
        note("1 MiB sent over %.1f s under a 1 s request timeout"
             % (time.monotonic() - started))
        with d.client() as c:
            c.expect(b"get kept\r\n", get_reply(("kept", data)))

    def test_idle_closed_unless_waiting_or_reading(self):
        d = self.start_daemon(["--idle-timeout", "2"])
        idle, waiting, reading = (d.client() for _ in range(3))
        for c in (idle, waiting, reading):
            self.addCleanup(c.close)
        reading.expect(set_cmd("work", b"job") + b"get work/open\r\n",
                       b"STORED\r\n" + get_reply(("work/open", b"job")))
        waiting.send(b"get empty/t=60000\r\n")
        idle.expect(b"version\r\n", VERSION)
        started = time.monotonic()
        self.assertTrue(closed_by_daemon(idle.sock, mqdtest.TIMEOUT))
        took = time.monotonic() - started
        note("an idle connection closed after %.1f s" % took)
        self.assertGreaterEqual(took, 2.0)
        # The other two, as idle as it, are still there.
        with d.client() as c:
            c.expect(set_cmd("empty", b"woken"), b"STORED\r\n")
        waiting.expect_reply(get_reply(("empty/t=60000", b"woken")))
        reading.expect(b"get work/close\r\n", b"END\r\n")
        reading.expect(b"stats queue\r\n",
                       b"STAT empty 1/1\r\nSTAT work 1/1\r\nEND\r\n")

    def test_settings_from_the_file_and_refused_values(self):
        path = mqdtest.scratch_dir() + "/mqd.conf"
        with open(path, "w") as f:
            f.write("[default]\nidle_timeout = 1\nrequest_timeout = 0\n"
                    "incoming_memory = 2M\n")
        d = self.start_daemon(["-f", path])
        with d.client() as c:
            c.expect(b"version\r\n", VERSION)
            self.assertTrue(closed_by_daemon(c.sock, mqdtest.TIMEOUT))
        for option, value, error in (
                ("--idle-timeout", "x", "'x' is not a number from 0 to "
                 "86400"),
                ("--request-timeout", "86401", "'86401' is not a number "
                 "from 0 to 86400"),
                ("--incoming-memory", "1T", "'1T' is not a size")):
            r = mqdtest.run_mqd([option, value])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("mqd: %s: %s" % (option, error), r.stderr)


class Output(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def big(self, i):
        return (b"big %d " % i).ljust(MIB, b"b")

    def store_big(self, n):
        for i in range(n):
            self.c.expect(set_cmd("big%d" % i, self.big(i)), b"STORED\r\n")

    def test_get_stops_taking_at_the_output_limit(self):
        # Issue 10, item 11: a get line of many keys copied every message
        # it named into the output.  Four values of 1 MiB pass 4 MiB: the
        # keys after them give nothing, and their messages stay.
        self.store_big(8)
        keys = b" ".join(b"big%d/peek" % i for i in range(8))
        self.c.expect(b"get %s\r\n" % keys, b"".join(
            mqdtest.value("big%d/peek" % i, self.big(i)) for i in range(4))
            + b"END\r\n")
        keys = b" ".join(b"big%d" % i for i in range(7, -1, -1))
        self.c.expect(b"get %s\r\n" % keys, b"".join(
            mqdtest.value("big%d" % i, self.big(i)) for i in (7, 6, 5, 4))
            + b"END\r\n")
        stats = self.c.stats()
        self.assertEqual([stats["queue_big%d_items" % i] for i in range(8)],
                         ["1"] * 4 + ["0"] * 4)
        self.assertEqual((stats["get_hits"], stats["get_misses"]),
                         ("8", "8"))
        # A message larger than the limit still goes, alone.
        self.c.expect(b"get big0 big1\r\n",
                      get_reply(("big0", self.big(0)), ("big1", self.big(1))))

    def test_clients_that_never_read(self):
        # Eight clients ask for 32 MiB each, many times over, and read
        # nothing: each holds about 4 MiB of replies.
        self.store_big(32)
        mqdtest.small_asan_quarantine(self)
        base = self.d.rss_kb()
        line = b"get %s\r\n" % b" ".join(b"big%d/peek" % i for i in range(32))
        hostile = []
        for _ in range(8):
            s = raw_socket(self.d)
            self.addCleanup(s.close)
            s.setblocking(False)
            try:
                for _ in range(64):
                    s.send(line)
            except BlockingIOError:
                pass
            hostile.append(s)
        # Round trips let the daemon take in all it will.
        for _ in range(3):
            self.c.expect(b"version\r\n", VERSION)
        grown = (self.d.rss_kb() - base) // 1024
        note("8 clients that never read: VmRSS grew by %d MiB" % grown)
        self.assertLess(grown, 8 * 10 * self.d.memory_slack())
        self.c.expect(b"get big31/peek\r\n",
                      get_reply(("big31/peek", self.big(31))))


def make_queues(c, n, name):
    """n queues, each given a message that was then taken: empty, so
    their lines do not change with time."""
    for first in range(0, n, 1000):
        batch = range(first, min(first + 1000, n))
        c.expect(b"".join(set_cmd(name(i), b"x") for i in batch),
                 b"STORED\r\n" * len(batch))
        c.expect(b"".join(b"get %s\r\n" % name(i) for i in batch),
                 b"".join(get_reply((name(i), b"x")) for i in batch))


def kestrel_lines(name):
    return b"".join(b"STAT queue_%s_%s %s\r\n" % (name, what, value)
                    for what, value in (
                        (b"items", b"0"), (b"bytes", b"0"),
                        (b"total_items", b"1"), (b"dequeued", b"1"),
                        (b"open_transactions", b"0"), (b"waiters", b"0"),
                        (b"expired_items", b"0"), (b"discarded", b"0"),
                        (b"age", b"0"), (b"delayed", b"0")))


class Stats(mqdtest.MqdTestCase):
    QUEUES = 100000

    @staticmethod
    def name(i):
        return b"s%06d" % i

    def with_queues(self, n):
        """A daemon with n empty queues; (it, a client, another client)."""
        d = self.start_daemon()
        c, other = d.client(), d.client()
        self.addCleanup(c.close)
        self.addCleanup(other.close)
        make_queues(c, n, self.name)
        return d, c, other

    def test_stats_of_100000_queues_made_as_read(self):
        # Issue 10, item 11: a `stats` of 100,000 queues was a 30 MB reply
        # built at once.
        mqdtest.small_asan_quarantine(self)
        d, c, reader = self.with_queues(self.QUEUES)
        base = d.rss_kb()
        reader.send(b"stats\r\n")
        raw = reader.read_until(b"STAT max_message_size 1048576\r\n")
        # Its first 4 MiB are made; others are served meanwhile, and the
        # daemon holds little more.
        c.expect(b"get s000005\r\nversion\r\n", b"END\r\n" + VERSION)
        grown = d.rss_kb() - base
        self.assertTrue(raw.startswith(b"STAT pid %d\r\n" % d.pid), raw[:100])
        self.assertIn(b"STAT curr_queues %d\r\n" % self.QUEUES, raw)
        expected = b"".join(kestrel_lines(self.name(i))
                            for i in range(self.QUEUES)) + b"END\r\n"
        got = reader.recv_exact(len(expected))
        note("stats of %d queues: %d bytes; VmRSS grew by %d kB while its "
             "client read none" % (self.QUEUES, len(raw) + len(got), grown))
        self.assertEqual(got[:2000], expected[:2000])
        self.assertEqual(got, expected)
        self.assertLess(grown, 12 * 1024 * d.memory_slack())
        reader.expect(b"stats queue\r\n", b"".join(
            b"STAT %s 1/1\r\n" % self.name(i) for i in range(self.QUEUES))
            + b"END\r\n")

    def test_queues_deleted_while_their_stats_are_made(self):
        n = 50000
        _, c, reader = self.with_queues(n)
        # The command behind it runs once the stats is all made.
        reader.send(b"stats\r\nversion\r\n")
        # The first lines are out; 4 MiB of them are made (about 11,000
        # queues' worth), the rest not yet: the last queue goes, and has
        # no lines.
        reader.read_until(kestrel_lines(self.name(0)))
        c.expect(b"delete %s\r\n" % self.name(n - 1), b"DELETED\r\n")
        rest = reader.read_until(b"END\r\n")
        self.assertEqual(rest, b"".join(kestrel_lines(self.name(i))
                                        for i in range(1, n - 1))
                         + b"END\r\n")
        reader.expect_reply(VERSION)

    def test_binary_stats_of_many_queues(self):
        # Made in batches, each batch's packets framed whole.
        n = 1000
        # The other connection: a connection speaks one protocol.
        _, _, c = self.with_queues(n)
        opaque = 0x01020304
        c.send(struct.pack(">BBHBBHIIQ", 0x80, 0x10, 0, 0, 0, 0, 0, opaque,
                           0))
        keys = []
        while True:
            header = c.recv_exact(24)
            magic, op, key_len, extra, _, status, body, got_opaque, _ = \
                struct.unpack(">BBHBBHIIQ", header)
            self.assertEqual((magic, op, status, got_opaque, extra),
                             (0x81, 0x10, 0, opaque, 0))
            payload = c.recv_exact(body)
            if key_len == 0:
                self.assertEqual(body, 0)
                break
            keys.append(payload[:key_len])
        queue_keys = [k for k in keys if k.startswith(b"queue_")]
        self.assertEqual(queue_keys, [
            b"queue_%s_%s" % (self.name(i), what) for i in range(n)
            for what in (b"items", b"bytes", b"total_items", b"dequeued",
                         b"open_transactions", b"waiters", b"expired_items",
                         b"discarded", b"age", b"delayed")])
        # In step: a NOOP is answered next.
        c.expect(struct.pack(">BBHBBHIIQ", 0x80, 0x0a, 0, 0, 0, 0, 0, 7, 0),
                 struct.pack(">BBHBBHIIQ", 0x81, 0x0a, 0, 0, 0, 0, 0, 7, 0))


class IncomingMemory(mqdtest.MqdTestCase):
    def partial_set(self, d, name):
        """A set of 1 MiB, all but its last 10 bytes sent."""
        s = raw_socket(d)
        self.addCleanup(s.close)
        s.sendall(b"set %s 0 0 %d\r\n" % (name, MIB) + b"p" * (MIB - 10))
        return s

    def rest_of_set(self, s):
        s.sendall(b"p" * 10 + b"\r\nversion\r\n")

    def test_sets_past_the_incoming_memory_refused(self):
        # Issue 10, item 12: partial set bodies were bounded only by -c
        # times -B (1 GiB by default).  Under 8 MiB, seven sets of 1 MiB
        # can be on their way at once; the 43 others are refused at once.
        d = self.start_daemon(["--incoming-memory", "8M"])
        base = d.rss_kb()
        conns = [self.partial_set(d, b"in%02d" % i) for i in range(50)]
        refused, until = set(), mqdtest.deadline()
        while len(refused) < 43 and not until.expired():
            ready, _, _ = select.select(
                [s for s in conns if s not in refused], [], [], until.left())
            for s in ready:
                self.assertEqual(s.recv(len(NO_MEMORY)), NO_MEMORY)
                refused.add(s)
        self.assertEqual(len(refused), 43)
        grown = d.rss_kb() - base
        note("50 sets of 1 MiB on their way under 8 MiB: 7 kept, 43 "
             "refused; VmRSS grew by %d kB" % grown)
        self.assertLess(grown, 16 * 1024 * d.memory_slack())
        for s in conns:
            self.rest_of_set(s)
        stored = []
        for i, s in enumerate(conns):
            with mqdtest.Client.__new__(mqdtest.Client) as c:
                c.sock, c.buf = s, bytearray()
                if s in refused:
                    c.expect_reply(VERSION)
                else:
                    c.expect_reply(b"STORED\r\n" + VERSION)
                    stored.append(i)
        with d.client() as c:
            for i in range(50):
                c.expect(b"get in%02d\r\n" % i, get_reply(
                    ("in%02d" % i, b"p" * MIB)) if i in stored
                    else b"END\r\n")

    def test_freed_when_the_client_leaves(self):
        d = self.start_daemon(["--incoming-memory", "3M"])
        first = self.partial_set(d, b"first")
        second = self.partial_set(d, b"second")
        third = self.partial_set(d, b"third")
        self.assertEqual(third.recv(len(NO_MEMORY)), NO_MEMORY)
        first.close()
        # Once the daemon has seen it go, a set finds room again.
        until = mqdtest.deadline()
        while True:
            fourth = self.partial_set(d, b"fourth")
            if not select.select([fourth], [], [], 0.2)[0]:
                break
            self.assertEqual(fourth.recv(len(NO_MEMORY)), NO_MEMORY)
            self.assertFalse(until.expired())
        for s in (second, fourth):
            self.rest_of_set(s)
            reply = b"STORED\r\n" + VERSION
            self.assertEqual(s.recv(len(reply), socket.MSG_WAITALL), reply)
        with d.client() as c:
            c.expect(b"stats queue\r\n", b"STAT fourth 1/0\r\n"
                     b"STAT second 1/0\r\nEND\r\n")


if __name__ == "__main__":
    mqdtest.main()
