#!/usr/bin/python3
"""PHP's memcache extension, unmodified, as a mqd client (the README's PHP
example): tests/php/memcache_client.php runs against a real daemon, its
output is compared line by line, then the daemon's state is checked over the
raw socket."""

import os
import subprocess

import clienttest
import mqdtest
from mqdtest import get_reply, get_lines, lines_reply

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "php",
                      "memcache_client.php")

_BYTES = bytes(range(256))
BIN = _BYTES + b"\r\nEND\r\n" + _BYTES[::-1]

EXPECTED = [
    "connect true",
    "set q4 true",
    "set q4 true",
    "get q4 string:hello",
    "get q4 string:world",
    "get q4 false",
    "set bin true",
    "get bin hex:" + BIN.hex(),
    "bin same true",
    "set ma true",
    "set mb true",
    "get ma,mb,mc array:ma=string:a1,mb=string:b1",
    "set gone true",
    "set gone true",
    "delete gone true",
    "get gone false",
    "delete gone false",
    "set left true",
    "close true",
]


class PhpMemcache(mqdtest.MqdTestCase):
    def run_php(self, socket_path):
        r = subprocess.run([clienttest.php(), SCRIPT, socket_path],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, errors="replace",
                           timeout=mqdtest.TIMEOUT)
        self.assertEqual(r.returncode, 0,
                         "php exited %d\nstdout:\n%s\nstderr:\n%s"
                         % (r.returncode, r.stdout, r.stderr))
        return r

    def test_extension_loaded(self):
        r = subprocess.run([clienttest.php(), "-r",
                            "echo class_exists('Memcache') ? "
                            "'yes' : 'no';"], capture_output=True, text=True,
                           timeout=mqdtest.TIMEOUT)
        self.assertEqual((r.returncode, r.stdout), (0, "yes"), r.stderr)

    def test_php_client(self):
        d = self.start_daemon()
        r = self.run_php(d.socket_path)
        self.assertEqual(r.stdout.splitlines(), EXPECTED, r.stderr)
        self.assertEqual(r.stderr, "")
        with d.client() as c:
            # q4: 2 in, 2 out; bin and ma/mb read; gone deleted; left waits.
            c.expect(b"stats queue\r\n",
                     b"STAT bin 1/1\r\nSTAT left 1/0\r\nSTAT ma 1/1\r\n"
                     b"STAT mb 1/1\r\nSTAT q4 2/2\r\nEND\r\n")
            self.assertEqual(c.stats()["curr_items"], "1")
            # PHP strings are stored with flags 0, bytes exactly as sent.
            c.expect(b"get left q4 bin gone\r\n",
                     get_reply(("left", b"leftover")))

    def test_delay_and_lease_options_pass_the_key_check(self):
        """Issue 14's options travel in the key ('/', '=' and digits), which
        the extension sends as they are.  With delay=0 (no delay) the
        outcome does not depend on the delays' own tests."""
        d = self.start_daemon()
        code = ('$m = new Memcache; $m->connect("unix://" . $argv[1], 0);'
                'var_export(array($m->set("opts/delay=0", "now"),'
                ' $m->get("opts/open/lease=30000"),'
                ' $m->get("opts/abort/delay=0"), $m->get("opts")));')
        r = subprocess.run([clienttest.php(), "-r", code, "--",
                            d.socket_path], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True,
                           timeout=mqdtest.TIMEOUT)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(r.stdout, "array (\n  0 => true,\n  1 => 'now',\n"
                         "  2 => false,\n  3 => 'now',\n)")
        with d.client() as c:
            c.expect(b"stats queue\r\n", b"STAT opts 1/1\r\nEND\r\n")

    def test_php_reads_what_raw_client_wrote(self):
        d = self.start_daemon()
        with d.client() as c:
            c.expect(mqdtest.set_cmd("q4", b"hello")
                     + mqdtest.set_cmd("q4", b"world"),
                     b"STORED\r\nSTORED\r\n")
        # The script's sets come after these two, so its gets read them.
        r = self.run_php(d.socket_path)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[3:6], ["get q4 string:hello",
                                      "get q4 string:world",
                                      "get q4 string:hello"])
        with d.client() as c:
            c.expect(get_lines("q4", 3), lines_reply(3, ("q4", b"world")))


if __name__ == "__main__":
    mqdtest.main()
