#!/usr/bin/python3
"""Ruby's Dalli (Debian's ruby-dalli 3.0, which speaks only the binary
protocol), unmodified and with its defaults, as a mqd client:
tests/ruby/dalli_client.rb runs against a real daemon and its output is
compared line by line, then the daemon's state is checked over the raw
socket."""

import os

import clienttest
import mqdtest
from mqdtest import get_reply, set_cmd

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ruby",
                      "dalli_client.rb")

BIN = bytes(range(256)) + b"\r\nEND\r\n\0"
REFUSED = "Dalli::DalliError Response error 131: Not supported"


def expected(path):
    servers = '{"%s"=>{}}' % path
    return [
        "version string:1.0.0",
        "fifo true",
        "empty nil",
        "unknown nil",
        'marshalled {"job"=>[1, 2.5, nil]}',
        "bin hex:" + BIN.hex(),
        "zero string:",
        "zero gone nil",
        "from python hex:" + BIN[::-1].hex(),
        'get_multi {"ma"=>"a1", "mb"=>"b1"}',
        "ma next string:a2",
        "delete true",
        "delete again nil",
        "get gone nil",
        "stats version string:1.0.0",
        "stats curr_items string:0",
        "stats items " + servers,
        "stats slabs " + servers,
        'stats settings ["1048576", "off", "no"]',
        "open string:job 1",
        "abort nil",
        "open again string:job 1",
        "close nil",
        "after close nil",
        "timeout nil",
        "waiting",
        "woken string:wake up",
        "add " + REFUSED,
        "get string:u1",
        "replace " + REFUSED,
        "append " + REFUSED,
        "prepend " + REFUSED,
        "get string:u2",
        "incr " + REFUSED,
        "decr " + REFUSED,
        "touch " + REFUSED,
        "cas " + REFUSED,
        "get string:u4",
        'rest ["u5", "u6", "u7", "u8", nil]',
        "flush [true]",
    ]


class Dalli(mqdtest.MqdTestCase):
    def test_dalli_with_its_defaults(self):
        d = self.start_daemon()
        with d.client() as c:
            c.expect(set_cmd("from-python", BIN[::-1]), b"STORED\r\n")
        code, out, err = clienttest.run_client(
            ["ruby", SCRIPT, d.socket_path], d, "wake", b"wake up")
        self.assertEqual((code, err), (0, ""), "\n".join(out))
        self.assertEqual(out, expected(d.socket_path))
        with d.client() as c:
            # A raw set is stored as sent, with flags 0.
            c.expect(b"get for-python\r\n", get_reply(("for-python", BIN)))
            # Each message was taken once (cas's get took u3).
            self.assertTrue(*clienttest.queues_taken(c, {
                "bin": 1, "fifo0": 100, "fifo1": 100, "fifo2": 100,
                "for-python": 1, "from-python": 1, "ma": 2, "mb": 1,
                "ruby": 1, "u": 8, "wake": 1, "work": 1, "zero": 1}))


if __name__ == "__main__":
    mqdtest.main()
