#!/usr/bin/python3
"""libmemcached's command-line tools (Debian's libmemcached-tools),
unmodified, on mqd's socket: memccp enqueues files, memccat dequeues,
memcrm drops a queue, memcflush empties them all, memcstat, memcping and
memcdump look.  Each run's output and exit code are checked exactly, then
the daemon's state over the raw socket.  Every test runs twice: with the
text protocol, and with --binary for the tools that take it."""

import os
import subprocess

import clienttest
import mqdtest
from mqdtest import get_reply

BIN = bytes(range(256)) + b"\r\nEND\r\n\0"


class Tools(mqdtest.MqdTestCase):
    binary = False

    def options(self, name):
        if self.binary and name not in ("memcping", "memcdump"):
            return ["--binary"]
        return []

    def setUp(self):
        self.d = self.start_daemon()
        self.dir = mqdtest.scratch_dir()

    def tool(self, name, *args, ok=True):
        """Runs one tool; returns (exit code, stdout bytes)."""
        r = subprocess.run([name, "--servers=" + self.d.socket_path]
                           + self.options(name) + list(args), cwd=self.dir,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=mqdtest.TIMEOUT)
        if ok:
            self.assertEqual((r.returncode, r.stderr), (0, b""),
                             "%s %s: %s" % (name, args, r.stdout[-500:]))
        return r.returncode, r.stdout

    def file(self, path, data):
        path = os.path.join(self.dir, path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def expect(self, data, reply):
        with self.d.client() as c:
            c.expect(data, reply)

    def test_memccp_memccat_fifo(self):
        # A file's key is its name: 100 directories of the same three
        # names make three queues of 100 messages, in argument order.
        files = [self.file("%03d/jobs-%s" % (i, q), b"%s %03d" % (q.encode(),
                                                                  i))
                 for i in range(100) for q in "abc"]
        self.tool("memccp", *files)
        self.expect(b"stats queue\r\n", b"STAT jobs-a 100/0\r\n"
                    b"STAT jobs-b 100/0\r\nSTAT jobs-c 100/0\r\nEND\r\n")
        keys = ["jobs-%s" % q for q in "abc" for _ in range(100)]
        code, out = self.tool("memccat", *keys)
        self.assertEqual(out, b"".join(b"%s %03d\n" % (q.encode(), i)
                                       for q in "abc" for i in range(100)))
        # Empty: nothing printed, exit code 1.
        self.assertEqual(self.tool("memccat", "jobs-a", ok=False), (1, b""))
        self.expect(b"stats queue\r\n", b"STAT jobs-a 100/100\r\n"
                    b"STAT jobs-b 100/100\r\nSTAT jobs-c 100/100\r\nEND\r\n")

    def test_binary_and_empty_files(self):
        self.tool("memccp", self.file("a/payload", BIN),
                  self.file("b/payload", b""))
        self.tool("memccat", "--file=out", "payload")
        with open(os.path.join(self.dir, "out"), "rb") as f:
            self.assertEqual(f.read(), BIN)
        self.assertEqual(self.tool("memccat", "payload"), (0, b"\n"))
        self.expect(b"stats queue\r\n", b"STAT payload 2/2\r\nEND\r\n")

    def test_memcrm_memcflush(self):
        self.tool("memccp", self.file("1/gone", b"g"),
                  self.file("1/kept", b"k"), self.file("2/kept", b"k2"))
        self.tool("memcrm", "gone")
        self.assertEqual(self.tool("memcrm", "gone", ok=False)[0], 1)
        self.tool("memcflush")
        # flush_all empties the queues and keeps their counters.
        self.expect(b"stats queue\r\n", b"STAT kept 2/0\r\nEND\r\n")
        self.expect(b"get kept gone\r\n", b"END\r\n")

    def test_memcstat_memcping_memcdump(self):
        self.tool("memccp", self.file("x/q", b"1"))
        code, out = self.tool("memcstat")
        lines = out.decode().splitlines()
        self.assertEqual(lines[0], "Server: %s (0)" % self.d.socket_path)
        self.assertIn("\tversion: 1.0.0", lines)
        self.assertIn("\tcurr_items: 1", lines)
        self.assertIn("\tqueue_q_items: 1", lines)
        self.assertEqual(self.tool("memcping"), (0, b""))
        # memcdump lists a memcached's keys from stats items and stats
        # cachedump: a queue daemon has none to list.
        self.assertEqual(self.tool("memcdump"), (0, b""))

    def test_reliable_read(self):
        self.tool("memccp", self.file("x/work", b"job"))
        # Each run is a connection: an open read not closed in the same run
        # is given back when the tool exits.
        self.assertEqual(self.tool("memccat", "work/open"), (0, b"job\n"))
        self.expect(b"stats queue\r\n", b"STAT work 1/0\r\nEND\r\n")
        self.assertEqual(self.tool("memccat", "work/open", "work/close",
                                   ok=False), (1, b"job\n"))
        self.expect(b"stats queue\r\n", b"STAT work 1/1\r\nEND\r\n")

    def test_blocking_read(self):
        self.assertEqual(self.tool("memccat", "idle/t=200", ok=False),
                         (1, b""))
        reader = subprocess.Popen(["memccat", "--servers=" +
                                   self.d.socket_path]
                                  + self.options("memccat")
                                  + ["wake/t=3000"], cwd=self.dir,
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        try:
            clienttest.wake(self.d, "wake", b"wake up")
            out, err = reader.communicate(timeout=mqdtest.TIMEOUT)
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait()
        self.assertEqual((reader.returncode, out, err), (0, b"wake up\n", b""))
        self.expect(b"get wake\r\n", get_reply())


class BinaryTools(Tools):
    binary = True


if __name__ == "__main__":
    mqdtest.main()
