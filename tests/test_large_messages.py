#!/usr/bin/python3
"""Large messages both ways.  A set's data comes in whatever pieces the
client cuts it into, through the read buffer or (more than 32 KiB still to
come) straight into the connection's buffer (dispatch.c), and what follows
it is read after.  A get's message of 16 KiB and up
(conn.h's MQ_CONN_LEND_MIN) is sent from where its queue holds it, between
the reply text around it: the bytes must arrive exactly, in order, however
the socket cuts the sends, while the queue's buffer goes on taking new
messages, in every wire protocol."""

import struct

import mqdtest
from mqdtest import get_lines, get_reply, set_cmd

LEND_MIN = 16 * 1024
# Each side of the threshold, odd sizes, and past the socket's buffer.
SIZES = [LEND_MIN - 1, LEND_MIN, LEND_MIN + 1, 65536, 65537, 300001]


def body(tag, size):
    """Bytes that differ with the tag and the position, \\r\\n included."""
    seed = (tag * 2654435761) & 0xffffffff
    out = bytearray(size)
    for i in range(size):
        seed = (seed * 1103515245 + 12345) & 0xffffffff
        out[i] = seed >> 24
    out[:4] = b"\r\nE\n"
    return bytes(out)


def read_slowly(client, n, chunk):
    """n bytes, a small recv at a time: the daemon's sends fill the socket
    and go on from wherever the last one stopped."""
    got = bytearray(client.buf)
    client.buf.clear()
    while len(got) < n:
        part = client.sock.recv(min(chunk, n - len(got)))
        if not part:
            raise AssertionError("closed after %d of %d bytes" % (len(got), n))
        got += part
    return bytes(got)


class LargeMessages(mqdtest.MqdTestCase):
    def test_sets_in_pieces(self):
        """Each set cut at every kind of place: in its line, just after it,
        with more and less than 32 KiB of its data left, with the next
        command in the same piece as its end."""
        d = self.start_daemon(["-N"])
        datas = [body(300 + i, size) for i, size in
                 enumerate([20000, LEND_MIN, 65536, 131072, 200000])]
        stream = b"".join(set_cmd("p", data) for data in datas)
        cuts = sorted({5, 12, 40, 17000, 30000, 65600, 100000, 140000,
                       len(stream) - LEND_MIN - 1, len(stream) - 3})
        with d.client() as c:
            at = 0
            for cut in cuts + [len(stream)]:
                c.send(stream[at:cut])
                at = cut
            c.expect_reply(b"STORED\r\n" * len(datas))
            c.send(get_lines("p", len(datas)) + b"get p\r\n")
            want = b"".join(get_reply(("p", data)) for data in datas)
            self.assertEqual(read_slowly(c, len(want) + 5, 65536),
                             want + b"END\r\n")

    def check_interleaved(self, args):
        """Sets and gets on one queue, all sent before any reply is read:
        each get's message leaves the queue's buffer, which the next set
        fills again while the reply still waits to be sent."""
        d = self.start_daemon(args)
        with d.client() as c:
            request, reply = b"", b""
            for tag, size in enumerate(SIZES + [100] + SIZES[::-1]):
                data = body(tag, size)
                request += set_cmd("q", data) + b"get q\r\n"
                reply += b"STORED\r\n" + get_reply(("q", data))
            c.send(request + b"version\r\n")
            reply += mqdtest.VERSION_REPLY
            self.assertEqual(read_slowly(c, len(reply), 3001), reply)
            c.expect(b"get q\r\n", b"END\r\n")

    def test_interleaved_durable(self):
        self.check_interleaved([])

    def test_interleaved_no_sync(self):
        self.check_interleaved(["-N"])

    def test_queue_grows_behind_a_reply(self):
        """Sets after a get, in one pass: the queue's buffer grows (and
        moves) while the reply that points into it waits to be sent."""
        d = self.start_daemon(["-N"])
        with d.client() as c:
            datas = [body(500 + i, 300001 + i) for i in range(6)]
            for data in datas[:2]:
                c.expect(set_cmd("g", data), b"STORED\r\n")
            c.send(b"get g\r\n" + b"".join(set_cmd("g", data)
                                           for data in datas[2:])
                   + get_lines("g", 5))
            want = (get_reply(("g", datas[0])) + b"STORED\r\n" * 4
                    + b"".join(get_reply(("g", data)) for data in datas[1:]))
            self.assertEqual(read_slowly(c, len(want), 65536), want)

    def test_many_loans_in_one_reply(self):
        """More large messages waiting in one connection's output than one
        sendmsg takes (64 pieces), and a multi-get of several queues."""
        d = self.start_daemon(["-N"])
        with d.client() as c:
            datas = [body(1000 + i, LEND_MIN + i * 7) for i in range(70)]
            for data in datas:
                c.expect(set_cmd("m", data), b"STORED\r\n")
            for name in (b"a", b"b", b"c"):
                c.expect(set_cmd(name, body(name[0], 20000)), b"STORED\r\n")
            c.send(get_lines("m", 70) + b"get a b c\r\n")
            reply = b"".join(get_reply(("m", data)) for data in datas)
            reply += get_reply(*[(n, body(ord(n), 20000)) for n in "abc"])
            self.assertEqual(read_slowly(c, len(reply), 7919), reply)
            c.expect(b"get m a b c\r\n", b"END\r\n")

    def test_another_connection_refills_the_queue(self):
        """The reader's reply waits unsent while another client stores into
        the same queue and takes from it."""
        d = self.start_daemon(["-N"])
        with d.client() as reader, d.client() as writer:
            first, second = body(1, 300000), body(2, 300000)
            reader.expect(set_cmd("s", first), b"STORED\r\n")
            reader.send(b"get s\r\n")
            want = get_reply(("s", first))
            # Its first bytes came: the get has run.
            self.assertEqual(read_slowly(reader, 5, 5), want[:5])
            writer.expect(set_cmd("s", second), b"STORED\r\n")
            writer.expect(b"get s\r\n", get_reply(("s", second)))
            self.assertEqual(read_slowly(reader, len(want) - 5, 1000),
                             want[5:])

    def test_binary_get(self):
        d = self.start_daemon(["-N"])
        data = body(7, 70000)
        header = ">BBHBBHIIQ"
        with d.client() as c:
            c.send(struct.pack(header, 0x80, 0x01, 1, 8, 0, 0, 9 + len(data),
                               1, 0) + struct.pack(">II", 5, 0) + b"b" + data)
            c.expect_reply(struct.pack(header, 0x81, 0x01, 0, 0, 0, 0, 0, 1,
                                       0))
            c.send(struct.pack(header, 0x80, 0x0c, 1, 0, 0, 0, 1, 2, 0)
                   + b"b")              # GETK: the key before the value
            want = (struct.pack(header, 0x81, 0x0c, 1, 4, 0, 0,
                                5 + len(data), 2, 1)
                    + struct.pack(">I", 5) + b"b" + data)
            self.assertEqual(read_slowly(c, len(want), 4999), want)

    def test_meta_get(self):
        """mg with v carries the value; without v none (and it takes
        nothing)."""
        d = self.start_daemon(["-N"])
        one, two = body(8, 40000), body(9, 40000)
        with d.client() as c:
            for data in (one, two):
                c.expect(b"ms g %d\r\n" % len(data) + data + b"\r\n",
                         b"HD\r\n")
            c.send(b"mg g v s\r\nmg g s\r\nmg g v\r\nmn\r\n")
            want = (b"VA 40000 s40000\r\n" + one + b"\r\nHD s40000\r\n"
                    + b"VA 40000\r\n" + two + b"\r\nMN\r\n")
            self.assertEqual(read_slowly(c, len(want), 4096), want)
            c.expect(b"mg g v\r\n", b"EN\r\n")


if __name__ == "__main__":
    mqdtest.main()
