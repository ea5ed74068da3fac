#!/usr/bin/python3
"""memcached's meta commands as mqd answers them, byte for byte, on a raw
socket: mg, ms, md, mn and me, every flag mqd takes and the ones it
refuses, on a text connection and mixed with the classic commands.
(Debian packages no client that speaks them: Dalli 3.0 speaks binary.)"""

import mqdtest
from mqdtest import get_reply, set_cmd
from queuetest import poll_stat


class Meta(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon(["-B", "1000"])
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def test_ms_and_mg(self):
        c = self.c
        c.expect(b"ms q 5 F42 T0 k O1\r\nhello\r\n", b"HD kq O1\r\n")
        c.expect(b"ms q 7 T3600\r\nb\0\r\nb\r\n\r\n", b"HD\r\n")
        c.expect(b"ms q 0 q\r\n\r\nmn\r\n", b"MN\r\n")
        # Flags come back in the order asked; t is -1 without an expiry.
        c.expect(b"mg q v t k f s O2 c\r\n",
                 b"VA 5 t-1 kq f42 s5 O2 c1\r\nhello\r\n")
        c.expect(b"mg q v t c\r\n", b"VA 7 t3600 c2\r\nb\0\r\nb\r\n\r\n")
        c.expect(b"mg q v s\r\n", b"VA 0 s0\r\n\r\n")
        c.expect(b"mg q v k O3\r\n", b"EN kq O3\r\n")
        c.expect(b"mg q v q k\r\nmn\r\n", b"MN\r\n")
        # The classic commands see the same queue.
        c.expect(b"stats queue\r\n", b"STAT q 3/3\r\nEND\r\n")

    def test_mg_without_v_takes_nothing(self):
        c = self.c
        c.expect(set_cmd("q", b"kept", flags=7), b"STORED\r\n")
        c.expect(b"mg q s f\r\nmg q\r\nmg q/open k\r\n",
                 b"HD s4 f7\r\nHD\r\nHD kq/open\r\n")
        c.expect(b"get q\r\n", get_reply(("q", b"kept", 7)))
        c.expect(b"mg q\r\n", b"EN\r\n")

    def test_quiet_multi_get_one_message_per_queue(self):
        c = self.c
        c.expect(set_cmd("a", b"a1") + set_cmd("a", b"a2")
                 + set_cmd("b", b"b1"), b"STORED\r\n" * 3)
        c.expect(b"mg a v k q\r\nmg b v k q\r\nmg a v k q\r\nmg c v k q\r\n"
                 b"mn\r\n",
                 b"VA 2 ka\r\na1\r\nVA 2 kb\r\nb1\r\nMN\r\n")
        c.expect(b"mg a v k q\r\nmn\r\n", b"VA 2 ka\r\na2\r\nMN\r\n")

    def test_ms_modes_and_limits(self):
        c = self.c
        # add, append, prepend, replace: read, not stored.
        for mode in (b"E", b"A", b"P", b"R", b"e"):
            with self.subTest(mode=mode):
                c.expect(b"ms q 3 M%s O9\r\nabc\r\n" % mode, b"NS O9\r\n")
        c.expect(b"ms q 3 q ME\r\nabc\r\nmn\r\n", b"NS\r\nMN\r\n")
        c.expect(b"ms q 1 MS\r\nx\r\n", b"HD\r\n")
        # Over -B: refused, and the data, which looks like commands, read.
        c.expect(b"ms q 1200 k\r\n" + b"mn\r\n" * 300 + b"\r\nmn\r\n",
                 b"SERVER_ERROR object too large for cache\r\nMN\r\n")
        c.expect(b"ms q 2 q\r\nabc\r\n",
                 b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")
        c.expect(b"mg q v\r\nmg q v\r\n", b"VA 1\r\nx\r\nEN\r\n")

    def test_md(self):
        c = self.c
        c.expect(set_cmd("q", b"1") + set_cmd("q", b"2"), b"STORED\r\n" * 2)
        c.expect(b"md q k O5\r\n", b"HD kq O5\r\n")
        c.expect(b"md q k O5\r\n", b"NF kq O5\r\n")
        c.expect(set_cmd("q", b"3") + b"md q q\r\nmd q q\r\nmn\r\n",
                 b"STORED\r\nNF\r\nMN\r\n")
        c.expect(b"stats queue\r\n", b"END\r\n")

    def test_errors_stay_in_step(self):
        c = self.c
        cases = (
            (b"mg\r\n", b"CLIENT_ERROR bad command line format"),
            (b"mg q x\r\n", b"CLIENT_ERROR invalid flag"),
            (b"mg q v T30\r\n", b"CLIENT_ERROR invalid flag"),
            (b"mg q vv\r\n", b"CLIENT_ERROR invalid flag"),
            (b"mg q v v\r\n", b"CLIENT_ERROR duplicate flag"),
            (b"mg q O" + b"o" * 33 + b"\r\n",
             b"CLIENT_ERROR opaque token too long"),
            (b"mg q/x v\r\n", b"CLIENT_ERROR bad get option"),
            (b"md q C1\r\n", b"CLIENT_ERROR invalid flag"),
            (b"md a/b\r\n", b"CLIENT_ERROR invalid queue name"),
            (b"mn now\r\n", b"CLIENT_ERROR bad command line format"),
            (b"ms q\r\n", b"CLIENT_ERROR bad command line format"),
            (b"ms q x\r\n", b"CLIENT_ERROR bad command line format"),
            (b"me q\r\n", b"CLIENT_ERROR me is not supported: a queue keeps "
             b"no metadata per message"),
            (b"MN\r\n", b"ERROR"),
        )
        for line, reply in cases:
            with self.subTest(line=line):
                c.expect(line + b"mn\r\n", reply + b"\r\nMN\r\n")
        # With a length, ms's data is skipped whatever else is wrong.
        for line, reply in ((b"ms q 5 c", b"CLIENT_ERROR invalid flag"),
                            (b"ms q 5 Fx", b"CLIENT_ERROR bad token in "
                             b"command line format"),
                            (b"ms q 5 MX", b"CLIENT_ERROR invalid mode for "
                             b"ms"),
                            (b"ms q/x 5", b"CLIENT_ERROR bad set option: a "
                             b"set takes only /delay=<ms>")):
            with self.subTest(line=line):
                # The data looks like a command: skipped, not run.
                c.expect(line + b"\r\nmn\r\nx\r\nmn\r\n",
                         reply + b"\r\nMN\r\n")
        c.expect(b"stats queue\r\n", b"END\r\n")

    def test_blocking_and_reliable_reads(self):
        c = self.c
        c.send(b"mg jobs/t=5000/open v k\r\n")
        with self.d.client() as producer:
            poll_stat(producer, "queue_jobs_waiters", "1")
            producer.expect(set_cmd("jobs", b"job 1"), b"STORED\r\n")
        c.expect_reply(b"VA 5 kjobs/t=5000/open\r\njob 1\r\n")
        c.expect(b"mg jobs/abort v\r\n", b"EN\r\n")
        c.expect(b"mg jobs/close/open v\r\n", b"VA 5\r\njob 1\r\n")
        c.expect(b"mg jobs/close\r\n", b"EN\r\n")
        c.expect(b"mg jobs/t=100 v O7\r\n", b"EN O7\r\n")
        c.expect(b"mg jobs/t=100 v q\r\nmn\r\n", b"MN\r\n")
        c.expect(b"stats queue\r\n", b"STAT jobs 1/1\r\nEND\r\n")

    def test_acknowledged_ms_survives_kill9(self):
        self.c.expect(b"ms q 3\r\none\r\nms q 3 q\r\ntwo\r\nmn\r\n",
                      b"HD\r\nMN\r\n")
        self.c.close()
        self.d.kill9()
        self.d.start()
        with self.d.client() as c:
            c.expect(b"mg q v\r\nmg q v\r\n", b"VA 3\r\none\r\nVA 3\r\ntwo\r\n")


if __name__ == "__main__":
    mqdtest.main()
