#!/usr/bin/python3
"""What survives a stop, a restart and a kill -9, and how mqd guards its
data directory and socket against a second daemon."""

import os
import signal
import stat

import mqdtest
from mqdtest import get_reply, set_cmd, get_lines, lines_reply

VERSION = mqdtest.VERSION_REPLY
# A refused start exits 1 (2 is for usage errors); anything else, such as
# AddressSanitizer's 23 for a leak on the way out, is a defect.


def msg(i):
    return b"message %04d" % i


class Persistence(mqdtest.MqdTestCase):
    def test_restart_keeps_messages_and_counters(self):
        d = self.start_daemon()
        with d.client() as c:
            for i in range(10):
                c.expect(set_cmd("a", msg(i), flags=i), b"STORED\r\n")
            for i in range(3):
                c.expect(set_cmd("b", msg(i)), b"STORED\r\n")
            for i in range(4):
                c.expect(b"get a\r\n", get_reply(("a", msg(i), i)))
            c.expect(get_lines("b", 3), lines_reply(3, *(("b", msg(i))
                                                    for i in range(3))))
            before = c.stats_queue()
            self.assertEqual(before, b"STAT a 10/4\r\nSTAT b 3/3\r\nEND\r\n")
        d.restart()
        with d.client() as c:
            c.expect(b"stats queue\r\n", before)
            stats = c.stats()
            self.assertEqual(stats["curr_items"], "6")
            self.assertEqual(stats["queue_a_bytes"], str(6 * len(msg(0))))
            for i in range(4, 10):
                c.expect(b"get a\r\n", get_reply(("a", msg(i), i)))
            c.expect(b"get a b\r\n", b"END\r\n")
            c.expect(b"stats queue\r\n",
                     b"STAT a 10/10\r\nSTAT b 3/3\r\nEND\r\n")
            # New messages continue after the old ones.
            c.expect(set_cmd("a", b"after"), b"STORED\r\n")
        d.restart()
        with d.client() as c:
            c.expect(b"get a\r\n", get_reply(("a", b"after")))
            c.expect(b"stats queue\r\n",
                     b"STAT a 11/11\r\nSTAT b 3/3\r\nEND\r\n")

    def _kill9_keeps_acknowledged(self, args):
        n = 500
        d = self.start_daemon(args)
        with d.client() as c:
            for i in range(n):
                c.expect(set_cmd("k", msg(i)), b"STORED\r\n")  # acknowledged
        d.kill9()
        self.assertEqual(d.exit_codes[-1], -signal.SIGKILL)
        d.start()
        with d.client() as c:
            c.expect(b"stats queue\r\n", b"STAT k %d/0\r\nEND\r\n" % n)
            # All of them, in order, in one pipelined burst.
            c.expect(b"get k\r\n" * (n + 1),
                     b"".join(get_reply(("k", msg(i))) for i in range(n))
                     + b"END\r\n")

    def test_kill9_keeps_acknowledged_sets(self):
        self._kill9_keeps_acknowledged([])

    def test_kill9_keeps_acknowledged_sets_no_sync(self):
        # -N: no fsync per write, but GDBM's writes are in the file before
        # the reply, so a killed process loses nothing acknowledged.
        self._kill9_keeps_acknowledged(["-N"])

    def test_consumed_not_redelivered_after_kill9(self):
        for args in ([], ["-N"]):
            with self.subTest(args=args):
                d = self.start_daemon(args)
                with d.client() as c:
                    for i in range(10):
                        c.expect(set_cmd("r", msg(i)), b"STORED\r\n")
                    for i in range(4):
                        c.expect(b"get r\r\n", get_reply(("r", msg(i))))
                d.kill9()
                d.start()
                with d.client() as c:
                    # Plain get is at most once: 0..3 never come back.
                    c.expect(b"get r\r\n" * 7,
                             b"".join(get_reply(("r", msg(i)))
                                      for i in range(4, 10)) + b"END\r\n")
                    c.expect(b"stats queue\r\n", b"STAT r 10/10\r\nEND\r\n")
                d.stop()

    def test_stale_socket_replaced(self):
        d = self.start_daemon(["-a", "0750"])
        with d.client() as c:
            c.expect(set_cmd("s", b"x"), b"STORED\r\n")
        d.kill9()
        # kill -9 leaves the socket file behind, with nothing listening.
        self.assertTrue(stat.S_ISSOCK(os.lstat(d.socket_path).st_mode))
        d.start()
        self.assertIn("stale socket", d.log_text())
        self.assertEqual(d.socket_mode(), 0o750)
        with d.client() as c:
            c.expect(b"get s\r\n", get_reply(("s", b"x")))

    def test_second_daemon_same_data_dir_refused(self):
        first = self.start_daemon()
        with first.client() as c:
            c.expect(set_cmd("one", b"1"), b"STORED\r\n")
        other_socket = os.path.join(first.tmp, "other.sock")
        second = mqdtest.Daemon(["-s", other_socket, "-H", first.data_dir],
                                tmp=first.tmp)
        code, log = second.start_expect_failure()
        self.assertEqual(code, 1, log)  # see the note at the top
        self.assertIn("%s is in use" % first.data_dir, log)
        self.assertFalse(os.path.lexists(other_socket))
        # The first one did not notice.
        with first.client() as c:
            c.expect(set_cmd("one", b"2") + get_lines("one", 2),
                     b"STORED\r\n" + lines_reply(2, ("one", b"1"),
                                                  ("one", b"2")))

    def test_second_daemon_same_socket_refused(self):
        first = self.start_daemon()
        with first.client() as c:
            c.expect(set_cmd("one", b"1"), b"STORED\r\n")
        data2 = os.path.join(first.tmp, "data2")
        second = mqdtest.Daemon(["-s", first.socket_path, "-H", data2],
                                tmp=first.tmp)
        code, log = second.start_expect_failure()
        self.assertEqual(code, 1, log)  # see the note at the top
        self.assertIn("another mqd is already listening on %s"
                      % first.socket_path, log)
        # Refused before it made anything (issue 10, item 13).
        self.assertFalse(os.path.lexists(data2))
        # The live socket is still the first daemon's.
        self.assertTrue(stat.S_ISSOCK(os.lstat(first.socket_path).st_mode))
        with first.client() as c:
            c.expect(b"get one\r\n", get_reply(("one", b"1")))

    def test_regular_file_at_socket_path_refused(self):
        d = mqdtest.Daemon()
        content = b"not a socket: precious data\n"
        with open(d.socket_path, "wb") as f:
            f.write(content)
        os.chmod(d.socket_path, 0o640)
        before = os.lstat(d.socket_path)
        code, log = d.start_expect_failure()
        self.assertEqual(code, 1, log)  # see the note at the top
        self.assertIn("%s exists and is not a socket" % d.socket_path, log)
        self.assertFalse(os.path.lexists(d.data_dir))
        after = os.lstat(d.socket_path)
        self.assertTrue(stat.S_ISREG(after.st_mode))
        self.assertEqual((after.st_ino, after.st_mode, after.st_mtime_ns),
                         (before.st_ino, before.st_mode, before.st_mtime_ns))
        with open(d.socket_path, "rb") as f:
            self.assertEqual(f.read(), content)

    def test_sigterm_removes_socket(self):
        d = self.start_daemon()
        with d.client() as c:
            c.expect(set_cmd("t", b"kept"), b"STORED\r\n")
        self.assertTrue(os.path.lexists(d.socket_path))
        d.stop(signal.SIGTERM)                  # asserts exit code 0
        self.assertFalse(os.path.lexists(d.socket_path))
        self.assertIn("stopping on SIGTERM", d.log_text())
        d.start()
        with d.client() as c:
            c.expect(b"get t\r\n", get_reply(("t", b"kept")))

    def test_sigterm_answers_every_set_it_stored(self):
        # Sets pipelined on 20 connections, then SIGTERM at once: the stop
        # ends the sets under way, and each one the daemon stored gets its
        # STORED (some wait for the sync thread at that moment), so what a
        # client was told is exactly what the next start finds.
        d = self.start_daemon()
        clients = [d.client() for _ in range(20)]
        for n, c in enumerate(clients):
            c.send(b"".join(set_cmd("stop%02d" % n, msg(i))
                            for i in range(200)))
        d.stop(signal.SIGTERM)
        told = []
        for c in clients:
            received = bytearray()
            while True:
                chunk = c.sock.recv(1 << 16)
                if not chunk:
                    break
                received += chunk
            c.close()
            self.assertEqual(received, b"STORED\r\n" * (len(received) // 8))
            told.append(len(received) // 8)
        d.start()
        with d.client() as c:
            for n, count in enumerate(told):
                c.expect((b"get stop%02d\r\n" % n) * (count + 1),
                         b"".join(get_reply(("stop%02d" % n, msg(i)))
                                  for i in range(count)) + b"END\r\n")

    def test_sigint_stops_cleanly(self):
        d = self.start_daemon()
        with d.client() as c:
            c.expect(set_cmd("i", b"kept"), b"STORED\r\n")
            d.stop(signal.SIGINT)               # asserts exit code 0
            c.closed()                          # it closed our connection
        self.assertFalse(os.path.lexists(d.socket_path))
        d.start()
        with d.client() as c:
            c.expect(b"get i\r\n", get_reply(("i", b"kept")))



class Compaction(mqdtest.MqdTestCase):
    """Once every queue is empty, a checkpoint gives the disk back: the
    generation files that held the messages and the journal are removed;
    the counters stay.  What stays is the journal's space written ahead
    (4 MiB) and the queues' states."""

    N = 60000
    LEFT = 5 * 1024 * 1024

    def test_drained_store_shrinks_and_keeps_counters(self):
        import queuetest
        d = self.start_daemon()
        payload = b"m" * 100
        with d.client() as c:
            for _ in range(0, self.N, 5000):
                c.expect(set_cmd("q", payload) * 5000, b"STORED\r\n" * 5000)
            grown = queuetest.data_bytes(d)
            self.assertGreater(grown, 2 * self.LEFT)
            # Before the drain: the sweep may give the disk back as soon as
            # the last get is answered.
            offset = queuetest.log_size(d)
            for _ in range(0, self.N, 5000):
                c.expect(b"get q\r\n" * 5000,
                         get_reply(("q", payload)) * 5000)
            # The 1-second sweep does it: wait for its log line.
            queuetest.wait_log(d, "gave the disk back", offset, client=c)
            self.assertLess(queuetest.data_bytes(d), self.LEFT)
            c.expect(b"stats queue\r\n",
                     b"STAT q %d/%d\r\nEND\r\n" % (self.N, self.N))
            c.expect(set_cmd("q", b"after"), b"STORED\r\n")
        d.restart()
        with d.client() as c:
            c.expect(b"stats queue\r\n",
                     b"STAT q %d/%d\r\nEND\r\n" % (self.N + 1, self.N))
            c.expect(b"get q\r\n", get_reply(("q", b"after")))

    def test_steady_load_is_not_idle(self):
        """A queue empty between the requests of a steady load: no sweep
        gives the disk back while the load goes on (each would cut a
        checkpoint), and one does once nothing more is journaled."""
        import queuetest
        # No cut by size: one just before the load stops would leave less
        # journal than a give-back is worth, and nothing to give back.
        d = self.start_daemon(["--checkpoint-size", "1G"])
        payload = b"s" * 4000
        pair = set_cmd("q", payload) + b"get q\r\n"
        answer = b"STORED\r\n" + get_reply(("q", payload))
        with d.client() as c:
            offset = queuetest.log_size(d)
            start = int(c.stats()["uptime"])
            pairs = 0
            # Two whole seconds of the load: two sweeps at least, each with
            # more than the 1 MiB of journal that makes a give-back due.
            while int(c.stats()["uptime"]) < start + 3:
                c.expect(pair * 50, answer * 50)
                pairs += 50
            self.assertGreater(pairs * len(payload), 3 * 1024 * 1024)
            self.assertNotIn("gave the disk back", d.log_text(offset))
            queuetest.wait_log(d, "gave the disk back", offset, client=c)
            c.expect(b"stats queue\r\n",
                     b"STAT q %d/%d\r\nEND\r\n" % (pairs, pairs))


if __name__ == "__main__":
    mqdtest.main()
