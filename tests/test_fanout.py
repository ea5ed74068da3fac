#!/usr/bin/python3
"""Fanout queues: "parent+child", once named, gets a copy of every later set
on parent, until it is deleted; children survive a restart."""

import mqdtest
import queuetest
from mqdtest import get_reply, set_cmd, get_lines, lines_reply
from queuetest import poll_stat


class Fanout(mqdtest.MqdTestCase):
    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def test_child_gets_copies_once_named(self):
        c = self.c
        c.expect(set_cmd("parent", b"before"), b"STORED\r\n")
        # Naming it is what creates it: it was empty, and stays so.
        c.expect(b"get parent+child\r\n", b"END\r\n")
        c.expect(set_cmd("parent", b"one", flags=3)
                 + set_cmd("parent", b"two"), b"STORED\r\n" * 2)
        c.expect(get_lines("parent+child", 3),
                 lines_reply(3, ("parent+child", b"one", 3),
                             ("parent+child", b"two")))
        # The parent keeps its own items, the one from before included.
        c.expect(get_lines("parent", 4),
                 lines_reply(4, ("parent", b"before"), ("parent", b"one", 3),
                             ("parent", b"two")))
        c.expect(b"stats queue\r\n",
                 b"STAT parent 3/3\r\nSTAT parent+child 2/2\r\nEND\r\n")

    def test_two_children(self):
        c = self.c
        c.expect(b"get jobs+a jobs+b\r\n", b"END\r\n")
        c.expect(set_cmd("jobs", b"x") + set_cmd("jobs", b"y"),
                 b"STORED\r\n" * 2)
        for child in ("jobs+a", "jobs+b"):
            c.expect(get_lines(child, 3),
                     lines_reply(3, (child, b"x"), (child, b"y")))
        c.expect(get_lines("jobs", 2),
                 lines_reply(2, ("jobs", b"x"), ("jobs", b"y")))
        # Each had its own copy: nothing is left anywhere.
        c.expect(b"get jobs jobs+a jobs+b\r\n", b"END\r\n")

    def test_blocked_get_on_child_woken_by_parent(self):
        w = self.d.client()
        self.addCleanup(w.close)
        w.send(b"get feed+reader/t=5000\r\n")
        poll_stat(self.c, "queue_feed+reader_waiters", "1")
        self.c.expect(set_cmd("feed", b"news"), b"STORED\r\n")
        w.expect_reply(get_reply(("feed+reader/t=5000", b"news")))
        self.c.expect(b"get feed\r\n", get_reply(("feed", b"news")))

    def test_deleted_child_stops_receiving(self):
        c = self.c
        c.expect(b"get parent+child\r\n", b"END\r\n")
        c.expect(set_cmd("parent", b"1"), b"STORED\r\n")
        c.expect(b"delete parent+child\r\n", b"DELETED\r\n")
        c.expect(set_cmd("parent", b"2"), b"STORED\r\n")
        # No child any more: the copy went nowhere.
        c.expect(b"stats queue\r\n", b"STAT parent 2/0\r\nEND\r\n")
        self.assertIsNone(queuetest.stat(c, "queue_parent+child_items"))
        c.close()
        self.d.restart()
        with self.d.client() as c:
            # Not brought back by a restart either.
            c.expect(set_cmd("parent", b"3"), b"STORED\r\n")
            c.expect(b"stats queue\r\n", b"STAT parent 3/0\r\nEND\r\n")
            c.expect(get_lines("parent", 3),
                     lines_reply(3, ("parent", b"1"), ("parent", b"2"),
                                 ("parent", b"3")))
            # Named again, it starts again, empty.
            c.expect(b"get parent+child\r\n", b"END\r\n")
            c.expect(set_cmd("parent", b"4"), b"STORED\r\n")
            c.expect(b"get parent+child\r\n",
                     get_reply(("parent+child", b"4")))

    def test_children_survive_restart(self):
        c = self.c
        c.expect(b"get parent+child\r\n", b"END\r\n")
        c.close()
        self.d.restart()
        with self.d.client() as c:
            c.expect(set_cmd("parent", b"after restart"), b"STORED\r\n")
            c.expect(b"get parent+child\r\n",
                     get_reply(("parent+child", b"after restart")))
            c.expect(b"get parent\r\n",
                     get_reply(("parent", b"after restart")))

    def test_kill9_after_naming_keeps_child(self):
        c = self.c
        c.expect(b"get parent+child\r\n", b"END\r\n")
        c.expect(set_cmd("parent", b"copied"), b"STORED\r\n")
        c.close()
        self.d.kill9()
        self.d.start()
        with self.d.client() as c:
            c.expect(set_cmd("parent", b"after"), b"STORED\r\n")
            c.expect(get_lines("parent+child", 3),
                     lines_reply(3, ("parent+child", b"copied"),
                                 ("parent+child", b"after")))


if __name__ == "__main__":
    mqdtest.main()
