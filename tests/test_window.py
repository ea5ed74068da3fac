#!/usr/bin/python3
"""Windowed reliable reads and stable message ids (issue 15): monitor,
confirm and abort on one connection, with get's /open, /close, /abort
beside them; aborts and disconnects give the window back head first, in
order; a kill -9 of the daemon with a window open delivers everything again
with the same ids, in order; ids equal across restarts, different across a
delete and a new queue of the same name, distinct over 10,000 messages."""

import re

import mqdtest
import queuetest
from mqdtest import get_reply, set_cmd
from queuetest import poll_stat

ID = re.compile(rb"^[0-9a-f]{16}\.[0-9]+\.[0-9]+$")
ALREADY_OPEN = (b"CLIENT_ERROR a reliable read of %s is already open: "
                b"close or abort it first\r\n")


def item(i):
    return b"item %02d" % i


def fill(c, queue, n, start=0):
    c.expect(b"".join(set_cmd(queue, item(i))
                      for i in range(start, start + n)),
             b"STORED\r\n" * n)


def instance(c):
    return queuetest.stat(c, "instance_id").encode()


def ids_reply(key, inst, inc, first_seq, items):
    """A monitor's (or a /id get's) whole answer: VALUE <key> 0 <len> <id>
    blocks of consecutive sequence numbers, then END."""
    return b"".join(b"VALUE %s 0 %d %s.%d.%d\r\n%s\r\n"
                    % (key, len(data), inst, inc, first_seq + i, data)
                    for i, data in enumerate(items)) + b"END\r\n"


VALUE_LINE = re.compile(rb"^VALUE \S+ [0-9]+ ([0-9]+) (\S+)\r\n$")


def read_values(c):
    """The VALUE blocks of one answer, each with an id, up to END:
    [(data, id)]."""
    out = []
    line = c.recv_line()
    while line != b"END\r\n":
        match = VALUE_LINE.match(line)
        assert match and ID.match(match.group(2)), line
        data = c.recv_exact(int(match.group(1)) + 2)
        out.append((data[:-2], match.group(2)))
        line = c.recv_line()
    return out


def monitor(c, queue, n, ms=0):
    c.send(b"monitor %s %d %d\r\n" % (queue, ms, n))
    return read_values(c)


class Window(queuetest.OneDaemonCase):
    def assert_queue(self, queue, items, open_reads):
        stats = self.c.stats()
        self.assertEqual((stats["queue_%s_items" % queue],
                          stats["queue_%s_open_transactions" % queue]),
                         (str(items), str(open_reads)))

    def test_monitor_confirm_exact_bytes(self):
        fill(self.c, "q", 3)
        inst = instance(self.c)
        self.c.expect(b"monitor q 0 2\r\n",
                      ids_reply(b"q", inst, 1, 1, [item(0), item(1)]))
        self.assert_queue("q", 1, 2)
        self.c.expect(b"confirm q 1\r\n", b"END\r\n")
        self.c.expect(b"confirm q 2\r\n",
                      b"CLIENT_ERROR reliable reads of q open on this "
                      b"connection: 1, fewer than 2\r\n")
        # The window grows behind the read still open.
        self.c.expect(b"monitor q 0 5\r\n",
                      ids_reply(b"q", inst, 1, 3, [item(2)]))
        self.assert_queue("q", 0, 2)
        self.c.expect(b"confirm q 2\r\n", b"END\r\n")
        self.c.expect(b"monitor q 0 5\r\n", b"END\r\n")
        self.c.expect(b"confirm q 0\r\n", b"END\r\n")
        stats = self.c.stats()
        self.assertEqual((stats["queue_q_items"], stats["queue_q_dequeued"],
                          stats["queue_q_open_transactions"]),
                         ("0", "3", "0"))
        # A plain get is the memcache reply it always was; /id adds the id.
        fill(self.c, "q", 2, 3)
        self.c.expect(b"get q\r\n", get_reply(("q", item(3))))
        self.c.expect(b"get q/id\r\n",
                      ids_reply(b"q/id", inst, 1, 5, [item(4)]))

    def test_monitor_waits_for_the_first(self):
        other = self.client()
        self.c.send(b"monitor w 10000 3\r\n")
        poll_stat(other, "queue_w_waiters", "1")
        fill(other, "w", 1)
        values = read_values(self.c)
        self.assertEqual([data for data, _ in values], [item(0)])
        self.assert_queue("w", 0, 1)
        # Its time up with nothing: END.
        self.c.expect(b"monitor empty 20 3\r\n", b"END\r\n")

    def test_abort_gives_back_the_oldest_in_order(self):
        fill(self.c, "q", 5)
        first = monitor(self.c, b"q", 5)
        self.c.expect(b"abort q 2\r\n", b"END\r\n")
        self.assert_queue("q", 2, 3)
        other = self.client()
        self.assertEqual(monitor(other, b"q", 5), first[:2])
        # All of a connection's reads, head first: /abort.
        self.c.expect(b"get q/abort\r\n", b"END\r\n")
        self.assertEqual(monitor(self.client(), b"q", 5), first[2:])
        self.c.expect(b"confirm q 1\r\n",
                      b"CLIENT_ERROR reliable reads of q open on this "
                      b"connection: 0, fewer than 1\r\n")

    def test_get_options_beside_a_window(self):
        fill(self.c, "q", 4)
        first = monitor(self.c, b"q", 3)
        self.c.expect(b"get q/open\r\n", ALREADY_OPEN % b"q")
        self.c.expect(b"get q/touch\r\n", b"END\r\n")
        # /close closes the oldest; /close/open closes the next and opens
        # item 3 behind item 2.
        self.c.expect(b"get q/close\r\n", b"END\r\n")
        self.c.expect(b"get q/close/open\r\n",
                      get_reply(("q/close/open", item(3))))
        stats = self.c.stats()
        self.assertEqual((stats["queue_q_dequeued"],
                          stats["queue_q_open_transactions"]), ("2", "2"))
        self.c.expect(b"get q/abort\r\n", b"END\r\n")
        again = monitor(self.client(), b"q", 5)
        self.assertEqual([data for data, _ in again], [item(2), item(3)])
        self.assertEqual(again[0], first[2])

    def test_disconnect_gives_back_every_window_in_order(self):
        fill(self.c, "a", 3)
        fill(self.c, "b", 3)
        reader = self.client()
        got_a, got_b = monitor(reader, b"a", 2), monitor(reader, b"b", 3)
        reader.close()
        poll_stat(self.c, "queue_a_open_transactions", "0")
        self.assert_queue("b", 3, 0)
        self.assertEqual(monitor(self.c, b"a", 5)[:2], got_a)
        self.assertEqual(monitor(self.c, b"b", 5), got_b)

    def test_bad_input_keeps_the_connection_in_step(self):
        fill(self.c, "q", 1)
        long_name = b"n" * 251
        cases = [
            (b"monitor q 0\r\n", b"CLIENT_ERROR bad command line format.  "
             b"Usage: monitor <queue> <ms> <max>\r\n"),
            (b"monitor q 0 1 2\r\n", b"CLIENT_ERROR bad command line "
             b"format.  Usage: monitor <queue> <ms> <max>\r\n"),
            (b"monitor q -1 1\r\n",
             b"CLIENT_ERROR bad wait: 0 to 2147483647 ms\r\n"),
            (b"monitor q 2147483648 1\r\n",
             b"CLIENT_ERROR bad wait: 0 to 2147483647 ms\r\n"),
            (b"monitor q 0 0\r\n",
             b"CLIENT_ERROR bad count: 1 to 65536 messages\r\n"),
            (b"monitor q 0 65537\r\n",
             b"CLIENT_ERROR bad count: 1 to 65536 messages\r\n"),
            (b"monitor q 0 x\r\n",
             b"CLIENT_ERROR bad count: 1 to 65536 messages\r\n"),
            (b"monitor q/open 0 1\r\n",
             b"CLIENT_ERROR invalid queue name\r\n"),
            (b"monitor %s 0 1\r\n" % long_name,
             b"CLIENT_ERROR queue name too long\r\n"),
            (b"confirm q\r\n", b"CLIENT_ERROR bad command line format.  "
             b"Usage: confirm <queue> <n>\r\n"),
            (b"abort\r\n", b"CLIENT_ERROR bad command line format.  "
             b"Usage: abort <queue> <n>\r\n"),
            (b"confirm q -1\r\n",
             b"CLIENT_ERROR bad count: 0 to 65536 reads\r\n"),
            (b"abort q 65537\r\n",
             b"CLIENT_ERROR bad count: 0 to 65536 reads\r\n"),
            (b"confirm q/x 1\r\n", b"CLIENT_ERROR invalid queue name\r\n"),
            (b"abort q 1\r\n", b"CLIENT_ERROR reliable reads of q open on "
             b"this connection: 0, fewer than 1\r\n"),
            (b"get q/touch/id\r\n", b"CLIENT_ERROR /touch takes no other "
             b"option but lease=\r\n"),
        ]
        for request, reply in cases:
            self.c.expect(request, reply)
        # All in one pipelined write: each answered, nothing taken.
        self.c.expect(b"".join(r for r, _ in cases) + b"version\r\n",
                      b"".join(a for _, a in cases) + mqdtest.VERSION_REPLY)
        self.assert_queue("q", 1, 0)

    def test_open_reads_per_connection_are_bounded(self):
        n = 65536
        self.c.send(b"".join(set_cmd("big", b"x", noreply=True)
                             for _ in range(n + 1)))
        poll_stat(self.c, "queue_big_items", str(n + 1))
        values = []
        while len(values) < n:
            values += monitor(self.c, b"big", n - len(values))
        self.assertEqual(len(set(i for _, i in values)), n)
        too_many = (b"CLIENT_ERROR too many reliable reads open on this "
                    b"connection: at most 65536\r\n")
        self.c.expect(b"monitor big 0 1\r\n", too_many)
        self.c.expect(b"get big/close/open\r\n",
                      get_reply(("big/close/open", b"x")))
        fill(self.c, "other", 1)
        self.c.expect(b"get other/open\r\n", too_many)
        self.assert_queue("big", 0, n)
        self.c.expect(b"confirm big 65536\r\n", b"END\r\n")
        self.assert_queue("big", 0, 0)


class StableIds(mqdtest.MqdTestCase):
    def head_id(self, c, queue=b"q"):
        c.send(b"get %s/peek/id\r\n" % queue)
        (_, id_), = read_values(c)
        return id_

    def test_same_id_across_restarts_new_after_delete(self):
        d = self.start_daemon()
        with d.client() as c:
            fill(c, "q", 2)
            inst = instance(c)
            first = self.head_id(c)
        d.restart()
        with d.client() as c:
            self.assertEqual(instance(c), inst)
            self.assertEqual(self.head_id(c), first)
        d.kill9()
        d.start()
        with d.client() as c:
            self.assertEqual(instance(c), inst)
            self.assertEqual(self.head_id(c), first)
            c.expect(b"delete q\r\n", b"DELETED\r\n")
            fill(c, "q", 1)
            again = self.head_id(c)
        self.assertNotEqual(again, first)
        self.assertEqual(again.split(b".")[0], inst)
        # The new incarnation survives a kill too.
        d.kill9()
        d.start()
        with d.client() as c:
            self.assertEqual(self.head_id(c), again)

    def test_kill9_with_a_window_open(self):
        d = self.start_daemon()
        with d.client() as c:
            fill(c, "q", 10)
            first = monitor(c, b"q", 6)
            c.expect(b"confirm q 2\r\n", b"END\r\n")
            d.kill9()
        d.start()
        with d.client() as c:
            again = monitor(c, b"q", 20)
            # The open reads first, then the rest, each with its id.
            self.assertEqual([data for data, _ in again],
                             [item(i) for i in range(2, 10)])
            self.assertEqual(again[:4], first[2:])
            self.assertEqual(len(set(i for _, i in again)), 8)
            c.expect(b"confirm q 8\r\n", b"END\r\n")
            self.assertEqual(queuetest.stat(c, "queue_q_items"), "0")

    def test_ten_thousand_ids_distinct(self):
        n = 10000
        d = self.start_daemon()
        with d.client() as c:
            for queue in ("q", "r"):
                c.send(b"".join(set_cmd(queue, b"m%d" % i, noreply=True)
                                for i in range(n)))
            poll_stat(c, "queue_r_items", str(n))
            ids = []
            for queue in (b"q", b"r"):
                got = []
                while len(got) < n:
                    window = monitor(c, queue, 256)
                    c.expect(b"confirm %s %d\r\n" % (queue, len(window)),
                             b"END\r\n")
                    got += window
                self.assertEqual([data for data, _ in got],
                                 [b"m%d" % i for i in range(n)])
                ids += [id_ for _, id_ in got]
            self.assertEqual(len(set(ids)), 2 * n)
            self.assertEqual(queuetest.stat(c, "queue_q_dequeued"), str(n))


if __name__ == "__main__":
    mqdtest.main()
