#!/usr/bin/python3
"""Deep queues: a start after a crash replays what came after the last
checkpoint, not the whole store; memory does not grow with the depth.

The daemon runs with a checkpoint every 1 MiB of journal, and 100,000
messages of 100 bytes (about 15 MiB of journal) are stored: about fifteen
checkpoints.  The numbers asserted are counts (entries replayed, messages
drained) and memory, never times: bench/compare measures those.
"""

import re

import mqdtest
from mqdtest import set_cmd

N = 100000
SIZE = 100
CHECKPOINT = 1024 * 1024
# A replay covers at most the journal of the checkpoint under way and the
# one before it: two checkpoints' worth of entries of at least SIZE bytes.
MAX_REPLAYED = 2 * CHECKPOINT // SIZE


def message(i):
    return (b"deep %07d " % i).ljust(SIZE, b"d")


def vm_kb(d, field):
    with open("/proc/%d/status" % d.pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, d.pid))


def fill(c, first, n, queue=b"deep"):
    for start in range(first, first + n, 1000):
        batch = range(start, min(start + 1000, first + n))
        c.expect(b"".join(set_cmd(queue.decode(), message(i)) for i in batch),
                 b"STORED\r\n" * len(batch))


def drain(test, c, first, n, queue=b"deep"):
    """Gets n messages in pipelined batches and checks each."""
    got = first
    while got < first + n:
        batch = min(500, first + n - got)
        c.expect(b"get %s\r\n" % queue * batch,
                 b"".join(b"VALUE %s 0 %d\r\n" % (queue, SIZE) + message(i)
                          + b"\r\nEND\r\n" for i in range(got, got + batch)))
        got += batch
    c.expect(b"get %s\r\n" % queue, b"END\r\n")


def replayed(log):
    return sum(int(n) for n in re.findall(r"(\d+) entries replayed", log))


class Depth(mqdtest.MqdTestCase):
    def test_kill9_replays_only_after_the_last_checkpoint(self):
        d = self.start_daemon(["--checkpoint-size", str(CHECKPOINT)])
        with d.client() as c:
            fill(c, 0, N)
        d.kill9()
        offset = len(d.log_text())
        d.start()
        log = d.log_text()[offset:]
        count = replayed(log)
        print("# %d messages queued; the start after kill -9 replayed %d "
              "journal entries; VmHWM %d kB" % (N, count,
                                                vm_kb(d, "VmHWM")),
              flush=True)
        self.assertGreater(count, 0, log)
        self.assertLess(count, MAX_REPLAYED, log)
        self.assertLess(vm_kb(d, "VmHWM"), 64 * 1024 * d.memory_slack())
        with d.client() as c:
            drain(self, c, 0, N)

    def test_clean_restart_replays_nothing(self):
        d = self.start_daemon(["--checkpoint-size", str(CHECKPOINT)])
        with d.client() as c:
            fill(c, 0, N // 4)
        offset = len(d.log_text())
        d.restart()
        self.assertNotIn("entries replayed", d.log_text()[offset:])
        with d.client() as c:
            drain(self, c, 0, N // 4)

    def test_memory_flat_in_depth(self):
        # Resident memory after 10,000 and after 100,000 messages: the
        # difference is what a queue's young tail and head may hold, not
        # the depth.
        mqdtest.small_asan_quarantine(self)
        d = self.start_daemon(["--checkpoint-size", str(CHECKPOINT)])
        with d.client() as c:
            fill(c, 0, N // 10)
            shallow = d.rss_kb()
            fill(c, N // 10, N - N // 10)
            deep = d.rss_kb()
            print("# VmRSS %d kB with %d queued, %d kB with %d"
                  % (shallow, N // 10, deep, N), flush=True)
            self.assertLess(deep - shallow, 8 * 1024 * d.memory_slack())
            drain(self, c, 0, N)

    def test_thousand_queues_at_depth(self):
        # 1,000 queues of 100 messages, filled round-robin, so that every
        # young tail grows at once: they are sealed within their budget,
        # and every message comes back in order after a kill.
        d = self.start_daemon(["--checkpoint-size", str(CHECKPOINT)])
        queues = [b"q%04d" % q for q in range(1000)]
        with d.client() as c:
            for i in range(100):
                c.expect(b"".join(set_cmd(q.decode(), message(i))
                                  for q in queues),
                         b"STORED\r\n" * len(queues))
            self.assertLess(d.rss_kb(), 48 * 1024 * d.memory_slack())
        d.kill9()
        d.start()
        with d.client() as c:
            for q in queues:
                drain(self, c, 0, 100, q)

    def test_thousand_shallow_queues_under_a_pair_load(self):
        # 1,000 queues holding 20 messages each, then 300 rounds of a set
        # to every queue and a get from every queue: 40 KiB go through
        # each young tail while it keeps 2.6 KiB.  Its memory follows what
        # it keeps: when a tail's array grew until 64 KiB had gone through
        # it, 1,000 of them took 37 MB under bench/compare's pair load.  No
        # checkpoint is cut (it would seal the tails and free them).
        mqdtest.small_asan_quarantine(self)
        d = self.start_daemon(["--checkpoint-size", "1G"])
        queues = [b"q%04d" % q for q in range(1000)]
        depth, rounds = 20, 300
        with d.client() as c:
            for i in range(depth):
                c.expect(b"".join(set_cmd(q.decode(), message(i))
                                  for q in queues),
                         b"STORED\r\n" * len(queues))
            before = d.rss_kb()
            for i in range(depth, depth + rounds):
                c.expect(b"".join(set_cmd(q.decode(), message(i))
                                  + b"get %s\r\n" % q for q in queues),
                         b"".join(b"STORED\r\nVALUE %s 0 %d\r\n" % (q, SIZE)
                                  + message(i - depth) + b"\r\nEND\r\n"
                                  for q in queues))
            after = d.rss_kb()
            print("# VmRSS %d kB before the rounds, %d kB after"
                  % (before, after), flush=True)
            self.assertLess(after - before, 16 * 1024 * d.memory_slack())
            for q in queues:
                drain(self, c, rounds, depth, q)


if __name__ == "__main__":
    mqdtest.main()
