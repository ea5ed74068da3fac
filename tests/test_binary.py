#!/usr/bin/python3
"""The memcache binary protocol as mqd answers it, byte for byte, on a raw
socket: a connection whose first byte is 0x80 speaks it.  Every opcode,
the ones mqd refuses, lengths that disagree, a wrong magic byte, quiet
multi-gets, blocking and reliable reads, and durability of a SET."""

import struct

import mqdtest
from mqdtest import get_reply, set_cmd
from queuetest import poll_stat

GET, SET, DELETE, QUIT, FLUSH, GETQ, NOOP, VERSION = 0, 1, 4, 7, 8, 9, 10, 11
GETK, GETKQ, STAT, SETQ, DELETEQ, QUITQ, FLUSHQ = 12, 13, 16, 17, 20, 23, 24
NOT_FOUND, TOO_LARGE, INVALID, NOT_STORED = 1, 3, 4, 5
UNKNOWN, NOT_SUPPORTED = 0x81, 0x83


def request(opcode, key=b"", extras=b"", value=b"", opaque=0, cas=0,
            key_len=None, body_len=None, magic=0x80):
    if key_len is None:
        key_len = len(key)
    if body_len is None:
        body_len = len(extras) + len(key) + len(value)
    return (struct.pack(">BBHBBHIIQ", magic, opcode, key_len, len(extras), 0,
                        0, body_len, opaque, cas) + extras + key + value)


def response(opcode, status=0, key=b"", extras=b"", value=b"", opaque=0,
             cas=0):
    return (struct.pack(">BBHBBHIIQ", 0x81, opcode, len(key), len(extras), 0,
                        status, len(extras) + len(key) + len(value), opaque,
                        cas) + extras + key + value)


def set_req(key, value, flags=0, exptime=0, opcode=SET, opaque=0):
    return request(opcode, key, struct.pack(">II", flags, exptime), value,
                   opaque)


def hit(opcode, value, flags=0, cas=0, key=b"", opaque=0):
    return response(opcode, key=key, extras=struct.pack(">I", flags),
                    value=value, opaque=opaque, cas=cas)


def error(opcode, status, text, opaque=0):
    return response(opcode, status, value=text, opaque=opaque)


def noop(opaque=0):
    return request(NOOP, opaque=opaque)


def noop_reply(opaque=0):
    return response(NOOP, opaque=opaque)


class Binary(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon(["-B", "1000"])
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def assertQueues(self, stats_queue):
        with self.d.client() as t:
            t.expect(b"stats queue\r\n", stats_queue + b"END\r\n")

    def test_version_noop_set_get(self):
        c = self.c
        c.expect(request(VERSION, opaque=1), response(VERSION, value=b"1.0.0",
                                                      opaque=1))
        c.expect(noop(0xfffffffe), noop_reply(0xfffffffe))
        c.expect(set_req(b"q", b"a\0\r\nb", flags=0xdeadbeef, opaque=2)
                 + set_req(b"q", b"", opaque=3),
                 response(SET, opaque=2) + response(SET, opaque=3))
        # CAS is the sequence number, as gets gives it.
        c.expect(request(GET, b"q", opaque=4),
                 hit(GET, b"a\0\r\nb", 0xdeadbeef, cas=1, opaque=4))
        c.expect(request(GETK, b"q", opaque=5),
                 hit(GETK, b"", cas=2, key=b"q", opaque=5))
        c.expect(request(GET, b"q", opaque=6),
                 error(GET, NOT_FOUND, b"Not found", 6))
        c.expect(request(GETK, b"q/t=0", opaque=7),
                 response(GETK, NOT_FOUND, key=b"q/t=0", opaque=7))
        # The same queue, as the text protocol sees it.
        self.assertQueues(b"STAT q 2/2\r\n")

    def test_quiet_requests(self):
        c = self.c
        # SETQ answers nothing; GETQ and GETKQ answer only hits; the NOOP
        # after them ends the pipeline.
        c.expect(set_req(b"q", b"1", opcode=SETQ, opaque=1)
                 + set_req(b"q", b"2", opcode=SETQ, opaque=2)
                 + request(GETQ, b"none", opaque=3)
                 + request(GETKQ, b"q", opaque=4)
                 + request(GETQ, b"r", opaque=5) + noop(6),
                 hit(GETKQ, b"1", cas=1, key=b"q", opaque=4) + noop_reply(6))
        c.expect(request(DELETEQ, b"q", opaque=7) + request(DELETEQ, b"q",
                                                             opaque=8)
                 + request(FLUSHQ, opaque=9) + noop(10),
                 error(DELETEQ, NOT_FOUND, b"Not found", 8) + noop_reply(10))
        # QUITQ: closed without a word.
        c.expect(request(QUITQ), b"")
        c.closed()

    def test_quiet_multi_get_one_message_per_queue(self):
        c = self.c
        c.expect(set_req(b"a", b"a1") + set_req(b"a", b"a2")
                 + set_req(b"b", b"b1"), response(SET) * 3)
        # Dalli and libmemcached send a multi-get as GETKQs and a NOOP, a
        # key as often as the caller's list names it.
        c.expect(request(GETKQ, b"a", opaque=1) + request(GETKQ, b"b",
                                                           opaque=2)
                 + request(GETKQ, b"a", opaque=3) + noop(4),
                 hit(GETKQ, b"a1", cas=1, key=b"a", opaque=1)
                 + hit(GETKQ, b"b1", cas=1, key=b"b", opaque=2)
                 + noop_reply(4))
        # The next multi-get, and a plain GET, take the next message.
        c.expect(request(GETKQ, b"a", opaque=5) + noop(6),
                 hit(GETKQ, b"a2", cas=2, key=b"a", opaque=5)
                 + noop_reply(6))

    def test_delete_flush_stats_quit(self):
        c = self.c
        c.expect(set_req(b"gone", b"g") + set_req(b"kept", b"k"),
                 response(SET) * 2)
        c.expect(request(DELETE, b"gone", opaque=1)
                 + request(DELETE, b"gone", opaque=2),
                 response(DELETE, opaque=1)
                 + error(DELETE, NOT_FOUND, b"Not found", 2))
        c.expect(request(FLUSH, extras=b"\0\0\0\x05", opaque=3),
                 response(FLUSH, opaque=3))
        c.expect(request(STAT, b"queue", opaque=4),
                 response(STAT, key=b"kept", value=b"1/0", opaque=4)
                 + response(STAT, opaque=4))
        for group in (b"items", b"slabs", b"sizes"):
            c.expect(request(STAT, group, opaque=5), response(STAT, opaque=5))
        c.expect(request(STAT, b"nosuch", opaque=6),
                 error(STAT, INVALID, b"unknown stats group", 6))
        c.send(request(STAT, opaque=7))
        stats = {}
        while True:
            head = c.recv_exact(24)
            _, op, kl, _, _, st, bl, opq, _ = struct.unpack(">BBHBBHIIQ",
                                                            head)
            self.assertEqual((op, st, opq), (STAT, 0, 7))
            body = c.recv_exact(bl)
            if kl == 0:
                break
            stats[body[:kl].decode()] = body[kl:].decode()
        self.assertEqual((stats["version"], stats["curr_items"],
                          stats["queue_kept_items"]), ("1.0.0", "0", "0"))
        c.expect(request(QUIT, opaque=8), response(QUIT, opaque=8))
        c.closed()

    def test_refused_opcodes_stay_in_step(self):
        c = self.c
        c.expect(set_req(b"q", b"first"), response(SET))
        flags_ttl = struct.pack(">II", 0, 0)
        refused = (
            (0x02, flags_ttl, b"v"), (0x03, flags_ttl, b"v"),      # ADD, ...
            (0x05, bytes(20), b""), (0x06, bytes(20), b""),         # INCR
            (0x0e, b"", b"v"), (0x0f, b"", b"v"),                   # APPEND
            (0x12, flags_ttl, b"v"), (0x13, flags_ttl, b"v"),
            (0x15, bytes(20), b""), (0x16, bytes(20), b""),
            (0x19, b"", b"v"), (0x1a, b"", b"v"),
            (0x1c, b"\0\0\0\x01", b""), (0x1d, b"\0\0\0\x01", b""),  # TOUCH
            (0x1e, b"\0\0\0\x01", b""), (0x23, b"\0\0\0\x01", b""),  # GATK
            (0x24, b"\0\0\0\x01", b""), (0x21, b"", b"\0user\0pw"),  # SASL
        )
        for opcode, extras, value in refused:
            with self.subTest(opcode=opcode):
                c.expect(request(opcode, b"q", extras, value, opaque=opcode)
                         + noop(1),
                         error(opcode, NOT_SUPPORTED, b"not supported",
                               opcode) + noop_reply(1))
        for opcode in (0x1f, 0x25, 0x40, 0x81, 0xff):
            with self.subTest(opcode=opcode):
                c.expect(request(opcode, b"q", value=b"data", opaque=9)
                         + noop(1),
                         error(opcode, UNKNOWN, b"Unknown command", 9)
                         + noop_reply(1))
        # A SET with a CAS is a compare-and-swap: refused, not stored.
        c.expect(request(SET, b"q", flags_ttl, b"x", cas=1),
                 error(SET, NOT_SUPPORTED,
                       b"compare and swap is not supported"))
        c.expect(request(GET, b"q"), hit(GET, b"first", cas=1))

    def test_lengths_that_disagree_stay_in_step(self):
        c = self.c
        flags_ttl = struct.pack(">II", 0, 0)
        cases = (
            # The total body length frames a request, whatever else says.
            (request(GET, b"abc", key_len=6),
             b"total body length under extras and key length"),
            (request(SET, b"q", value=b"v"), b"wrong extras length"),
            (request(GET, b"q", b"\0\0\0\0"), b"wrong extras length"),
            (request(GET), b"a key is needed"),
            (request(NOOP, b"k"), b"no key expected"),
            (request(GET, b"q", value=b"surprise"), b"no value expected"),
            (request(GET, b"k" * 251), b"queue name too long"),
            (request(SET, b"a b", flags_ttl, b"x"), b"invalid queue name"),
            (request(GET, b"q/later"), b"bad get option"),
        )
        for req, text in cases:
            with self.subTest(text=text):
                c.expect(req + noop(2), error(req[1], INVALID, text)
                         + noop_reply(2))

    def test_set_over_limit_is_skipped(self):
        c = self.c
        big = b"\r\n\x80" * 700           # over -B 1000, and binary-looking
        c.expect(set_req(b"q", big, opaque=1) + set_req(b"q", b"ok"),
                 error(SET, TOO_LARGE, b"Too large", 1) + response(SET))
        c.expect(request(GET, b"q"), hit(GET, b"ok", cas=1))

    def test_bad_magic_closes(self):
        c = self.c
        c.expect(noop(1), noop_reply(1))
        c.send(request(NOOP, magic=0x81) + noop(2))
        c.expect_reply(error(0, INVALID, b"not a binary request (magic byte)"))
        c.closed()

    def test_first_byte_chooses_the_protocol(self):
        with self.d.client() as text:
            # A text connection stays text, whatever comes later.
            text.expect(set_cmd("q", b"\x80x"), b"STORED\r\n")
            text.expect(b"\x80\r\n", b"ERROR\r\n")
        # A binary one stays binary: a text line is not a request.
        self.c.expect(noop(1), noop_reply(1))
        self.c.send(b"get q\r\n")
        self.c.expect_reply(error(0, INVALID,
                                  b"not a binary request (magic byte)"))
        self.c.closed()

    def test_requests_one_byte_at_a_time(self):
        c = self.c
        pipeline = (set_req(b"q", b"hello", opaque=1)
                    + request(GETK, b"q", opaque=2) + noop(3))
        for i in range(len(pipeline)):
            c.send(pipeline[i:i + 1])
        c.expect_reply(response(SET, opaque=1)
                       + hit(GETK, b"hello", cas=1, key=b"q", opaque=2)
                       + noop_reply(3))

    def test_blocking_and_reliable_reads(self):
        c = self.c
        c.send(request(GETK, b"jobs/t=5000/open", opaque=1))
        with self.d.client() as producer:
            poll_stat(producer, "queue_jobs_waiters", "1")
            producer.expect(set_cmd("jobs", b"job 1"), b"STORED\r\n")
        c.expect_reply(hit(GETK, b"job 1", cas=1, key=b"jobs/t=5000/open",
                           opaque=1))
        c.expect(request(GET, b"jobs/abort", opaque=2),
                 error(GET, NOT_FOUND, b"Not found", 2))
        c.expect(request(GET, b"jobs/open"), hit(GET, b"job 1", cas=1))
        c.expect(request(GET, b"jobs/close"),
                 error(GET, NOT_FOUND, b"Not found"))
        c.expect(request(GETK, b"jobs/t=100", opaque=3),
                 response(GETK, NOT_FOUND, key=b"jobs/t=100", opaque=3))
        self.assertQueues(b"STAT jobs 1/1\r\n")

    def test_acknowledged_set_survives_kill9(self):
        c = self.c
        # A SET's success, like STORED, comes after the sync that covers
        # it; so does the NOOP after quiet SETQs.
        c.expect(set_req(b"q", b"one"), response(SET))
        c.expect(set_req(b"q", b"two", opcode=SETQ) + noop(), noop_reply())
        c.close()
        self.d.kill9()
        self.d.start()
        with self.d.client() as t:
            t.expect(b"get q\r\nget q\r\n",
                     get_reply(("q", b"one")) + get_reply(("q", b"two")))


if __name__ == "__main__":
    mqdtest.main()
