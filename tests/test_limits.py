#!/usr/bin/python3
"""Per-queue limits from the configuration file (-f): max_items, max_bytes,
max_message_size, discard_old, and [default] rules that every queue takes
unless its own group says otherwise."""

import mqdtest
import queuetest
from mqdtest import get_reply, set_cmd, get_lines, lines_reply

TOO_LARGE = b"SERVER_ERROR object too large for cache\r\n"
VERSION = mqdtest.VERSION_REPLY


def msg(i):
    return b"m%d" % i


class Limits(mqdtest.MqdTestCase):
    def start(self, config, args=()):
        self.d, self.config = queuetest.start_with_config(config, args)
        self.c = self.d.client()
        self.addCleanup(self.c.close)
        return self.c

    def test_max_items(self):
        c = self.start("[small]\nmax_items = 2\n")
        c.expect(set_cmd("small", msg(1)) + set_cmd("small", msg(2)),
                 b"STORED\r\n" * 2)
        c.expect(set_cmd("small", msg(3)), b"NOT_STORED\r\n")
        # noreply says nothing either way; the queue is unchanged.
        c.expect(set_cmd("small", msg(4), noreply=True) + b"version\r\n",
                 VERSION)
        stats = c.stats()
        self.assertEqual((stats["queue_small_items"],
                          stats["queue_small_total_items"]), ("2", "2"))
        # Another queue has no limit.
        c.expect(b"".join(set_cmd("big", msg(i)) for i in range(5)),
                 b"STORED\r\n" * 5)
        # Room again after a get.
        c.expect(b"get small\r\n", get_reply(("small", msg(1))))
        c.expect(set_cmd("small", msg(5)), b"STORED\r\n")
        c.expect(set_cmd("small", msg(6)), b"NOT_STORED\r\n")
        c.expect(get_lines("small", 3),
                 lines_reply(3, ("small", msg(2)), ("small", msg(5))))

    def test_max_items_counts_open_reads_out(self):
        # An item out on a reliable read no longer waits in the queue.
        c = self.start("[small]\nmax_items = 1\n")
        c.expect(set_cmd("small", msg(1)), b"STORED\r\n")
        c.expect(b"get small/open\r\n", get_reply(("small/open", msg(1))))
        c.expect(set_cmd("small", msg(2)), b"STORED\r\n")
        # Given back, it is over the limit until something leaves.
        c.expect(b"get small/abort\r\n", b"END\r\n")
        c.expect(set_cmd("small", msg(3)), b"NOT_STORED\r\n")
        c.expect(get_lines("small", 3),
                 lines_reply(3, ("small", msg(1)), ("small", msg(2))))

    def test_max_bytes(self):
        c = self.start("[b]\nmax_bytes = 10\n")
        c.expect(set_cmd("b", b"1234") + set_cmd("b", b"5678"),
                 b"STORED\r\n" * 2)
        c.expect(set_cmd("b", b"abc"), b"NOT_STORED\r\n")   # 11 > 10
        c.expect(set_cmd("b", b"ab"), b"STORED\r\n")         # exactly 10
        c.expect(set_cmd("b", b""), b"STORED\r\n")           # 0 bytes fit
        c.expect(set_cmd("b", b"x"), b"NOT_STORED\r\n")
        self.assertEqual(queuetest.stat(c, "queue_b_bytes"), "10")
        c.expect(b"get b\r\n", get_reply(("b", b"1234")))
        c.expect(set_cmd("b", b"wxyz"), b"STORED\r\n")
        c.expect(get_lines("b", 5),
                 lines_reply(5, ("b", b"5678"), ("b", b"ab"), ("b", b""),
                             ("b", b"wxyz")))

    def test_max_bytes_with_suffix(self):
        c = self.start("[b]\nmax_bytes = 1K\n")
        c.expect(set_cmd("b", b"x" * 1000), b"STORED\r\n")
        c.expect(set_cmd("b", b"x" * 25), b"NOT_STORED\r\n")
        c.expect(set_cmd("b", b"x" * 24), b"STORED\r\n")

    def test_max_message_size(self):
        c = self.start("[small]\nmax_message_size = 8\n")
        c.expect(set_cmd("small", b"12345678"), b"STORED\r\n")
        # Refused, and its data, which looks like commands, is skipped:
        # the connection stays in step.
        c.expect(set_cmd("small", b"get small\r\n") + b"version\r\n",
                 TOO_LARGE + VERSION)
        # noreply: refused in silence (as memcached), still in step.
        c.expect(set_cmd("small", b"123456789", noreply=True)
                 + get_lines("small", 2),
                 lines_reply(2, ("small", b"12345678")))
        # Only that queue is limited.
        c.expect(set_cmd("other", b"123456789"), b"STORED\r\n")
        self.assertEqual(queuetest.stat(c, "queue_small_total_items"), "1")

    def test_discard_old(self):
        c = self.start("[ring]\nmax_items = 3\ndiscard_old = true\n")
        c.expect(b"".join(set_cmd("ring", msg(i)) for i in range(1, 6)),
                 b"STORED\r\n" * 5)
        stats = c.stats()
        self.assertEqual((stats["queue_ring_items"],
                          stats["queue_ring_discarded"],
                          stats["queue_ring_total_items"]), ("3", "2", "5"))
        c.expect(get_lines("ring", 4),
                 lines_reply(4, *(("ring", msg(i)) for i in range(3, 6))))
        # Discarded is not dequeued.
        c.expect(b"stats queue\r\n", b"STAT ring 5/3\r\nEND\r\n")

    def test_discard_old_by_bytes(self):
        c = self.start("[ring]\nmax_bytes = 10\ndiscard_old = yes\n")
        c.expect(set_cmd("ring", b"aaaa") + set_cmd("ring", b"bbbb")
                 + set_cmd("ring", b"cccccc"), b"STORED\r\n" * 3)
        # aaaa made room for cccccc; bbbb + cccccc = 10.
        self.assertEqual(queuetest.stat(c, "queue_ring_discarded"), "1")
        # Larger than the whole queue: nothing to discard makes it fit.
        c.expect(set_cmd("ring", b"x" * 11), b"NOT_STORED\r\n")
        c.expect(get_lines("ring", 3),
                 lines_reply(3, ("ring", b"bbbb"), ("ring", b"cccccc")))

    def test_default_group_and_override(self):
        # [big] comes first in the file: [default] still lies under it.
        c = self.start("[big]\nmax_items = 4\n\n"
                       "[default]\nmax_items = 2\nmax_message_size = 8\n")
        for q in ("any", "other"):
            c.expect(set_cmd(q, msg(1)) + set_cmd(q, msg(2)),
                     b"STORED\r\n" * 2)
            c.expect(set_cmd(q, msg(3)), b"NOT_STORED\r\n")
            c.expect(set_cmd(q, b"123456789"), TOO_LARGE)
        c.expect(b"".join(set_cmd("big", msg(i)) for i in range(4)),
                 b"STORED\r\n" * 4)
        c.expect(set_cmd("big", msg(4)), b"NOT_STORED\r\n")
        # What [big] does not say comes from [default].
        c.expect(b"get big\r\n", get_reply(("big", msg(0))))
        c.expect(set_cmd("big", b"123456789"), TOO_LARGE)


if __name__ == "__main__":
    mqdtest.main()
