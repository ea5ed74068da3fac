#!/usr/bin/python3
"""The configuration file (-f): errors that name their file, line, group and
key; the command line over the file; daemon settings from [default]; SIGHUP
reloading the queue rules without dropping connections or messages."""

import os
import signal

import mqdtest
import queuetest
from mqdtest import get_reply, set_cmd, get_lines, lines_reply

TOO_LARGE = b"SERVER_ERROR object too large for cache\r\n"
USAGE_HINT = "Try 'mqd --help' for more information.\n"
MAX_U64 = "18446744073709551615"


class ConfigErrors(mqdtest.MqdTestCase):
    """A bad file stops mqd before it listens: exit 2, one message."""

    def refused(self, text, message):
        """Runs mqd on a file holding text; asserts exit 2 and that stderr
        is exactly "mqd: <path>:" + message."""
        tmp = mqdtest.scratch_dir()
        path = queuetest.write_config(text, tmp)
        sock = os.path.join(tmp, "mqd.sock")
        r = mqdtest.run_mqd(["-s", sock, "-H", os.path.join(tmp, "data"),
                             "-f", path])
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (2, "", "mqd: %s:%s\n%s" % (path, message,
                                                     USAGE_HINT)))
        self.assertFalse(os.path.lexists(sock), "socket created")

    def test_unknown_key_in_queue_group(self):
        self.refused("# queues\n\n[jobs]\nmax_items = 5\nmax_itmes = 6\n",
                     "5: [jobs] max_itmes: unknown key (a queue's group "
                     "takes max_items, max_bytes, max_message_size, max_age, "
                     "discard_old, max_deliveries, dead_letter, "
                     "default_delay, lease, retry_delay)")

    def test_unknown_key_in_default_group(self):
        self.refused("[default]\nmask = 0700\n# comment\nsokcet = /tmp/x\n",
                     "4: [default] sokcet: unknown key")

    def test_bad_rule_value(self):
        self.refused("[default]\nmax_items = 3\n\n[jobs]\nmax_items = lots\n",
                     "5: [jobs] max_items: 'lots' is not a number from 0 to "
                     + MAX_U64)

    def test_bad_bool_value(self):
        self.refused("[jobs]\ndiscard_old = maybe\n",
                     "2: [jobs] discard_old: 'maybe' is not true or false")

    def test_bad_rule_value_in_default(self):
        self.refused("[default]\nmax_bytes = 10X\n",
                     "2: [default] max_bytes: '10X' is not a size from 0 to "
                     "9223372036854775807 bytes (K, M and G suffixes "
                     "allowed)")

    def test_bad_daemon_value_in_default(self):
        self.refused("[default]\n\nmask = 0999\n",
                     "3: [default] mask: '0999' is not an octal mode from 0 "
                     "to 0777")

    def test_bad_queue_group_name(self):
        self.refused("[default]\nmax_items = 3\n[good]\nmax_items = 1\n"
                     "[bad/name]\nmax_items = 2\n",
                     "5: [bad/name]: not a valid queue name")

    def test_max_deliveries_without_dead_letter(self):
        self.refused("[jobs]\nmax_items = 10\nmax_deliveries = 3\n",
                     "3: [jobs] max_deliveries: needs dead_letter: the queue "
                     "that gets the item")

    def test_own_dead_letter(self):
        self.refused("[jobs]\nmax_deliveries = 3\ndead_letter = jobs\n",
                     "3: [jobs] dead_letter: a queue cannot be its own "
                     "dead-letter queue")

    def test_bad_durations(self):
        self.refused("[default]\nlease = 30s\n[jobs]\nlease = 30 s\n",
                     "4: [jobs] lease: '30 s' is not a duration from 0 to "
                     "315360000000ms (a number and a unit: ms, s, m or h, "
                     "as in 30s)")
        self.refused("[jobs]\nretry_delay = 10m..1s\n",
                     "2: [jobs] retry_delay: '10m..1s' starts above its "
                     "maximum")

    def test_bad_dead_letter_name(self):
        self.refused("[jobs]\nmax_deliveries = 3\n"
                     "dead_letter = dead/letters\n",
                     "3: [jobs] dead_letter: 'dead/letters' is not a valid "
                     "queue name")


class ConfigSettings(mqdtest.MqdTestCase):
    def test_command_line_overrides_file(self):
        d, _ = queuetest.start_with_config("[default]\nmax_message = 10\n",
                                           ["-B", "20"])
        with d.client() as c:
            c.expect(set_cmd("q", b"x" * 20), b"STORED\r\n")
            c.expect(set_cmd("q", b"x" * 21), TOO_LARGE)
            self.assertEqual(queuetest.stat(c, "max_message_size"), "20")

    def test_file_setting_without_command_line(self):
        d, _ = queuetest.start_with_config("[default]\nmax_message = 10\n")
        with d.client() as c:
            c.expect(set_cmd("q", b"x" * 10), b"STORED\r\n")
            c.expect(set_cmd("q", b"x" * 11), TOO_LARGE)
            self.assertEqual(queuetest.stat(c, "max_message_size"), "10")

    def test_socket_mask_from_default_group(self):
        d, _ = queuetest.start_with_config("[default]\nmask = 0770\n")
        self.assertEqual(d.socket_mode(), 0o770)
        d.stop()
        d2, _ = queuetest.start_with_config("[default]\nmask = 0770\n",
                                            ["-a", "0750"])
        self.assertEqual(d2.socket_mode(), 0o750)

    def test_max_connections_from_default_group(self):
        d, _ = queuetest.start_with_config("[default]\nmax_connections = 2\n"
                                           "no_sync = true\n")
        with d.client() as a, d.client() as b:
            a.expect(b"version\r\n", mqdtest.VERSION_REPLY)
            b.expect(b"version\r\n", mqdtest.VERSION_REPLY)
            with d.client() as third:
                third.expect_reply(
                    b"SERVER_ERROR too many open connections\r\n")
                third.closed()
            self.assertEqual(queuetest.stat(a, "fsync_per_write"), "0")


class Reload(mqdtest.MqdTestCase):
    def start(self, text):
        self.d, self.path = queuetest.start_with_config(text)
        self.c = self.d.client()
        self.addCleanup(self.c.close)
        return self.c

    def sighup(self, text, expect_in_log):
        """Rewrites the file, sends SIGHUP, waits for the daemon's log line
        (bounded poll: a signal has no reply)."""
        queuetest.write_config(text, os.path.dirname(self.path))
        offset = queuetest.log_size(self.d)
        self.d.proc.send_signal(signal.SIGHUP)
        return queuetest.wait_log(self.d, expect_in_log, offset, self.c)

    def reloaded(self):
        return "SIGHUP: queue rules reloaded from %s" % self.path

    def test_sighup_applies_new_limits(self):
        c = self.start("[q]\nmax_items = 5\n")
        waiting = self.d.client()
        self.addCleanup(waiting.close)
        waiting.send(b"get w/t=10000\r\n")
        queuetest.poll_stat(c, "queue_w_waiters", "1")
        c.expect(b"".join(set_cmd("q", b"m%d" % i) for i in range(4)),
                 b"STORED\r\n" * 4)
        self.sighup("[q]\nmax_items = 3\n\n[fresh]\nmax_items = 1\n",
                    self.reloaded())
        # Same connection, same messages; the new limit holds.
        c.expect(set_cmd("q", b"m4"), b"NOT_STORED\r\n")
        c.expect(b"get q\r\n", get_reply(("q", b"m0")))
        c.expect(set_cmd("q", b"m4"), b"NOT_STORED\r\n")   # 3 of 3
        c.expect(b"get q\r\n", get_reply(("q", b"m1")))
        c.expect(set_cmd("q", b"m5"), b"STORED\r\n")
        c.expect(get_lines("q", 4),
                 lines_reply(4, ("q", b"m2"), ("q", b"m3"), ("q", b"m5")))
        # A group new in the file applies to a queue created after it.
        c.expect(set_cmd("fresh", b"1"), b"STORED\r\n")
        c.expect(set_cmd("fresh", b"2"), b"NOT_STORED\r\n")
        # The get that waited through the reload is still served.
        c.expect(set_cmd("w", b"still here"), b"STORED\r\n")
        waiting.expect_reply(get_reply(("w/t=10000", b"still here")))
        stats = c.stats()
        self.assertEqual((stats["curr_connections"],
                          stats["total_connections"]), ("2", "2"))

    def test_sighup_removes_a_limit(self):
        c = self.start("[default]\nmax_items = 1\n")
        c.expect(set_cmd("q", b"1"), b"STORED\r\n")
        c.expect(set_cmd("q", b"2"), b"NOT_STORED\r\n")
        self.sighup("# no limits now\n", self.reloaded())
        c.expect(set_cmd("q", b"2") + set_cmd("q", b"3"), b"STORED\r\n" * 2)
        c.expect(get_lines("q", 3), lines_reply(3, ("q", b"1"), ("q", b"2"),
                                                ("q", b"3")))

    def test_sighup_broken_file_keeps_old_rules(self):
        c = self.start("[q]\nmax_items = 2\n")
        c.expect(set_cmd("q", b"1"), b"STORED\r\n")
        log = self.sighup("[q]\nmax_items = lots\n",
                          "SIGHUP: keeping the rules in force: %s:2: [q] "
                          "max_items: 'lots' is not a number from 0 to %s"
                          % (self.path, MAX_U64))
        self.assertIn("WARNING", log)
        self.assertNotIn(self.reloaded(), log)
        c.expect(set_cmd("q", b"2"), b"STORED\r\n")
        c.expect(set_cmd("q", b"3"), b"NOT_STORED\r\n")
        # Not even a key file: the same.
        self.sighup("max_items = 10\n",
                    "SIGHUP: keeping the rules in force: %s: " % self.path)
        c.expect(set_cmd("q", b"3"), b"NOT_STORED\r\n")
        # Fixed, it is taken.
        self.sighup("[q]\nmax_items = 3\n", self.reloaded())
        c.expect(set_cmd("q", b"3"), b"STORED\r\n")
        c.expect(get_lines("q", 4), lines_reply(4, ("q", b"1"), ("q", b"2"),
                                                ("q", b"3")))

    def test_sighup_refuses_what_start_refuses(self):
        # A [default] key that would stop mqd from starting is not quietly
        # accepted on reload either.
        c = self.start("[q]\nmax_items = 2\n")
        log = self.sighup("[default]\nmax_itmes = 5\n[q]\nmax_items = 3\n",
                          "SIGHUP: ")
        self.assertIn("SIGHUP: keeping the rules in force: %s:2: [default] "
                      "max_itmes: unknown key" % self.path, log)
        c.expect(set_cmd("q", b"1") + set_cmd("q", b"2"), b"STORED\r\n" * 2)
        c.expect(set_cmd("q", b"3"), b"NOT_STORED\r\n")


if __name__ == "__main__":
    mqdtest.main()
