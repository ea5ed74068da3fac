#!/usr/bin/python3
"""Commands memcache clients send that a queue has nothing to carry out for
(add, replace, append, prepend, cas, touch, incr, decr, gat, gats) and
memcached's cache stats groups: each is answered exactly once (or not at
all with noreply), a storage command's data block is read and dropped, no
message is taken or lost, and the commands after them are answered in
step.  Also: a multi-get gives at most one message per queue, and the
version is one libmemcached accepts."""

import mqdtest
from mqdtest import get_reply, set_cmd

VERSION = mqdtest.VERSION_REPLY
STORES = (b"add", b"replace", b"append", b"prepend")


def store_cmd(word, queue, data, extra=b""):
    return (b"%s %s 0 0 %d%s\r\n" % (word, queue, len(data), extra)
            + data + b"\r\n")


class InStep(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon(["-B", "1000"])
        self.c = self.d.client()
        self.addCleanup(self.c.close)
        self.c.expect(set_cmd("q", b"first"), b"STORED\r\n")

    def assertQueue(self, stats_queue):
        with self.d.client() as c:
            c.expect(b"stats queue\r\n", stats_queue + b"END\r\n")

    def test_storage_commands_read_their_data_and_store_nothing(self):
        c = self.c
        for word in STORES:
            with self.subTest(word=word):
                # The data looks like commands: read as data, it is dropped.
                c.expect(store_cmd(word, b"q", b"get q\r\nset q 0 0 1")
                         + b"version\r\n", b"NOT_STORED\r\n" + VERSION)
                c.expect(store_cmd(word, b"q", b"", b" noreply")
                         + b"version\r\n", VERSION)
                c.expect(store_cmd(word, b"new", b"x") + b"get new\r\n",
                         b"NOT_STORED\r\nEND\r\n")
        c.expect(b"cas q 0 0 5 42\r\nhello\r\nversion\r\n",
                 b"NOT_STORED\r\n" + VERSION)
        c.expect(b"cas q 0 0 5 42 noreply\r\nhello\r\nversion\r\n", VERSION)
        # No message was taken, none was added, and no queue was created.
        self.assertQueue(b"STAT q 1/0\r\n")
        c.expect(set_cmd("q", b"second") + b"get q\r\nget q\r\n",
                 b"STORED\r\n" + get_reply(("q", b"first"))
                 + get_reply(("q", b"second")))

    def test_malformed_storage_commands_name_themselves(self):
        c = self.c
        for word in STORES:
            with self.subTest(word=word):
                error = b"CLIENT_ERROR bad command line format for %s\r\n" \
                    % word
                # The length is readable: the data is skipped.
                c.expect(b"%s q x 0 5\r\nhello\r\nversion\r\n" % word,
                         error + VERSION)
                c.expect(b"%s q 0 0 5 later\r\nhello\r\nversion\r\n" % word,
                         error + VERSION)
                # No length: nothing to skip.
                c.expect(b"%s q 0 0\r\nversion\r\n" % word, error + VERSION)
        cas = b"CLIENT_ERROR bad command line format for cas\r\n"
        c.expect(b"cas q 0 0 5\r\nversion\r\n", cas + VERSION)
        c.expect(b"cas q 0 0 5 x\r\nhello\r\nversion\r\n", cas + VERSION)
        c.expect(b"add q/x 0 0 5\r\nhello\r\nversion\r\n",
                 b"CLIENT_ERROR invalid queue name\r\n" + VERSION)
        self.assertQueue(b"STAT q 1/0\r\n")

    def test_storage_commands_have_sets_limits(self):
        c = self.c
        # Over -B: refused at once, the data skipped as it arrives.
        big = b"\x00\r\n" * 500
        c.expect(store_cmd(b"append", b"q", big) + b"version\r\n",
                 b"SERVER_ERROR object too large for cache\r\n" + VERSION)
        # A data block not ended by \r\n, as for set.
        c.expect(b"prepend q 0 0 2\r\nabc\r\n",
                 b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")
        c.expect(b"get q\r\n", get_reply(("q", b"first")))

    def test_touch_incr_decr_answer_once(self):
        c = self.c
        for line in (b"touch q 10", b"incr q 1", b"decr q 1",
                     b"incr nosuch 18446744073709551615"):
            with self.subTest(line=line):
                c.expect(line + b"\r\nversion\r\n", b"NOT_FOUND\r\n" + VERSION)
                c.expect(line + b" noreply\r\nversion\r\n", VERSION)
        for word, line in ((b"touch", b"touch q"), (b"touch", b"touch q x"),
                           (b"incr", b"incr q -1"), (b"decr", b"decr q 1 2")):
            with self.subTest(line=line):
                c.expect(line + b"\r\nversion\r\n",
                         b"CLIENT_ERROR bad command line format for %s\r\n"
                         % word + VERSION)
        self.assertQueue(b"STAT q 1/0\r\n")

    def test_gat_takes_nothing(self):
        c = self.c
        c.expect(b"gat 100 q\r\ngats 0 q nosuch\r\nversion\r\n",
                 b"END\r\nEND\r\n" + VERSION)
        c.expect(b"gat x q\r\n",
                 b"CLIENT_ERROR bad command line format for gat\r\n")
        c.expect(b"get q\r\n", get_reply(("q", b"first")))

    def test_stats_cache_groups_are_empty(self):
        for group in (b"items", b"slabs", b"sizes", b"cachedump 1 0",
                      b"cachedump 5 100"):
            with self.subTest(group=group):
                self.c.expect(b"stats %s\r\n" % group, b"END\r\n")
        self.c.expect(b"stats cachedump 1\r\n",
                      b"CLIENT_ERROR bad command line format\r\n")
        self.c.expect(b"stats nosuch\r\n",
                      b"CLIENT_ERROR unknown stats group\r\n")

    def test_version_has_a_major_of_at_least_one(self):
        reply = self.c.call(b"version\r\n")
        self.assertEqual(reply, b"VERSION 1.0.0\r\n")
        self.assertEqual(self.c.stats()["version"], "1.0.0")

    def test_multi_get_one_message_per_queue(self):
        c = self.c
        c.expect(set_cmd("q", b"second") + set_cmd("r", b"r1"),
                 b"STORED\r\nSTORED\r\n")
        c.expect(b"get q r q q r\r\n",
                 get_reply(("q", b"first"), ("r", b"r1")))
        c.expect(b"get q q\r\n", get_reply(("q", b"second")))
        self.assertQueue(b"STAT q 2/2\r\nSTAT r 1/1\r\n")


if __name__ == "__main__":
    mqdtest.main()
