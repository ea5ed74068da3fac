#!/usr/bin/python3
"""PHP's Memcached extension (libmemcached), unmodified, as a mqd client:
tests/php/memcached_client.php runs against a real daemon and its output
is compared line by line, then the daemon's state is checked over the raw
socket."""

import os

import clienttest
import mqdtest
from mqdtest import get_reply

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "php",
                      "memcached_client.php")

BIN = bytes(range(256)) + b"\r\nEND\r\n\0"


def expected(binary):
    # The commands a queue cannot carry out: text answers NOT_STORED or
    # NOT_FOUND; binary "Not supported", a status libmemcached has no word
    # for (its UNKNOWN READ FAILURE), which leaves the connection in step.
    ns = "UNKNOWN READ FAILURE" if binary else "NOT STORED"
    nf = "UNKNOWN READ FAILURE" if binary else "NOT FOUND"
    return [
        "addServer true",
        "sets true",
        "fifo true",
        "empty false NOT FOUND",
        "unknown false NOT FOUND",
        "set bin true",
        "get bin hex:" + BIN.hex(),
        "set zero true",
        "get zero string: SUCCESS",
        "zero gone false NOT FOUND",
        "getMulti array:ma=string:a1,mb=string:b1",
        "ma next string:a2",
        "delete true",
        "delete again false NOT FOUND",
        "get gone false",
        "stats servers other:1",
        "stats version string:1.0.0",
        "stats curr_items string:0",
        "getVersion string:1.0.0",
        "open string:job 1",
        "abort false NOT FOUND",
        "open again string:job 1",
        "close false NOT FOUND",
        "after close false NOT FOUND",
        "timeout false NOT FOUND",
        "waiting",
        "woken string:wake up",
        "add false " + ns,
        "get string:u1",
        "replace false " + ns,
        "append false " + ns,
        "get string:u2",
        "prepend false " + ns,
        "peek string:u3",
        "cas false " + ns,
        "get string:u3",
        "touch false " + nf,
        "increment false " + nf,
        "decrement false " + nf,
        "set true",
        "get string:u4",
        "get string:u5",
        "get false NOT FOUND",
    ]


class PhpMemcached(mqdtest.MqdTestCase):
    def run_script(self, mode):
        d = self.start_daemon()
        code, out, err = clienttest.run_client(
            [clienttest.php(), SCRIPT, d.socket_path, mode], d, "wake",
            b"wake up")
        self.assertEqual((code, err), (0, ""), "\n".join(out))
        self.assertEqual(out, expected(mode == "binary"))
        with d.client() as c:
            # Every message was taken once, and nothing is left.
            self.assertTrue(*clienttest.queues_taken(c, dict(
                bin=1, fifo0=100, fifo1=100, fifo2=100, ma=2, mb=1, u=5,
                wake=1, work=1, zero=1)))
            c.expect(b"get u ma\r\n", b"END\r\n")
        return d

    def test_extension_loaded(self):
        self.assertEqual(clienttest.run_client(
            [clienttest.php(), "-r",
             "echo class_exists('Memcached') ? 'yes' : 'no';"], None),
            (0, ["yes"], ""))

    def test_text_protocol(self):
        self.run_script("text")

    def test_binary_protocol(self):
        # OPT_BINARY_PROTOCOL, as PHP's memcached session handler sets it.
        self.run_script("binary")


if __name__ == "__main__":
    mqdtest.main()
