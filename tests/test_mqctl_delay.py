#!/usr/bin/python3
"""mqctl's delays, leases and retries against a daemon that carries them
out (issue 14): push -D holds messages back, none early by the monotonic
clock, and they join the queue in due order; a queue's default_delay and
push -D 0 over it; work -L hands a hung command's message to another
reader; work -R, and a queue's retry_delay under a plain /abort, space the
tries of a failing command as the rule says.

Written against issue 14 before the daemon's part of it was merged: not in
TESTS until it is, and then it must pass as it is.  What mqctl sends is
checked in test_mqctl.py (DelaysAndLeases), which passes either way."""

import os
import subprocess
import time

import mqdtest
import queuetest
from test_mqctl import MqctlCase

# How late a due message may come on a busy machine (sanitizers, two
# cores shared).  Early is never allowed.
LATE = 1.0

# A command that logs the time of each try to $0 and fails until the try
# numbered $1: a shell's, which starts in a millisecond where python3 may
# take a second on a loaded machine, and that would be counted in the gaps.
TRIES = r'''
cat > /dev/null
date +%s.%N >> "$0"
[ "$(wc -l < "$0")" -ge "$1" ]
'''


def take(client, queue, seconds):
    """A blocking get of queue: (message, monotonic time of its arrival),
    or (None, time) when the wait ended."""
    client.send(b"get %s/t=%d\r\n" % (queue.encode(), seconds * 1000))
    line = client.recv_line()
    arrived = time.monotonic()
    if line == b"END\r\n":
        return None, arrived
    size = int(line.split()[3])
    data = client.recv_exact(size + 2)[:-2]
    if client.recv_line() != b"END\r\n":
        raise AssertionError("no END after %r" % data)
    return data, arrived


class Delays(MqctlCase):
    def push_timed(self, *args, input=b""):
        """mqctl push ...: the monotonic time before it started."""
        start = time.monotonic()
        self.ok("push", *args, input=input)
        return start

    def test_push_delay_holds_back_none_early_in_due_order(self):
        self.daemon()
        late = self.push_timed("-D", "1500ms", "q", "late")
        early = self.push_timed("--delay=600ms", "q", "early")
        now = self.push_timed("q", "now")
        with self.d.client() as c:
            got = [take(c, "q", 10) for _ in range(3)]
        self.assertEqual([m for m, _ in got], [b"now", b"early", b"late"])
        for (message, arrived), start, delay in zip(
                got, (now, early, late), (0, 0.6, 1.5)):
            with self.subTest(message=message):
                self.assertGreaterEqual(arrived - start, delay)
                self.assertLess(arrived - start, delay + LATE)
        self.assertEqual(self.stat("queue_q_items"), "0")
        self.assertEqual(self.stat("queue_q_delayed"), "0")

    def test_lines_pushed_together_come_together_in_order(self):
        self.daemon()
        start = self.push_timed("-l", "-D", "700ms", "q",
                                input=b"a\nb\nc\n")
        with self.d.client() as c:
            got = [take(c, "q", 10) for _ in range(3)]
        self.assertEqual([m for m, _ in got], [b"a", b"b", b"c"])
        for _, arrived in got:
            self.assertGreaterEqual(arrived - start, 0.7)
            self.assertLess(arrived - start, 0.7 + LATE)

    def test_delay_zero_overrides_the_queue_default(self):
        path = queuetest.write_config("[q]\ndefault_delay = 1h\n")
        self.daemon(["-f", path])
        self.ok("push", "q", "in an hour")
        self.ok("push", "-D", "0", "q", "now")
        self.assertEqual(self.ok("pop", "q"), b"now")
        r = self.run_mqctl("pop", "q")
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        r = self.run_mqctl("peek", "q")
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertEqual(self.stat("queue_q_items"), "0")
        self.assertEqual(self.stat("queue_q_delayed"), "1")


class Leases(MqctlCase):
    def lose_to_another_reader(self, work_args):
        """mqctl work work_args... jobs with a command that hangs for 3 s:
        another reader gets the message once the lease is over, and the
        worker's ack is refused.  Returns the seconds from before the read
        to the other reader's message."""
        self.ok("push", "jobs", "precious")
        begun = time.monotonic()
        with self.blocked_worker(3, "-n", "1", "-w", "1",
                                 *work_args) as worker:
            with self.d.client() as c:
                message, arrived = take(c, "jobs", 10)
            self.assertEqual(message, b"precious")
            _, err = worker.communicate(timeout=60)
        self.assertEqual(worker.returncode, 0, err)
        self.assertIn(b"(the message will be delivered again)", err)
        self.assertEqual(self.stat("queue_jobs_open_transactions"), "0")
        return arrived - begun

    def test_work_lease_hands_a_hung_message_to_another_reader(self):
        self.daemon()
        waited = self.lose_to_another_reader(["-L", "500ms"])
        self.assertGreaterEqual(waited, 0.5)
        self.assertLess(waited, 0.5 + LATE)

    def test_the_queue_lease_applies_without_l(self):
        path = queuetest.write_config("[jobs]\nlease = 400ms\n")
        self.daemon(["-f", path])
        waited = self.lose_to_another_reader([])
        self.assertGreaterEqual(waited, 0.4)
        self.assertLess(waited, 0.4 + LATE)


class Retries(MqctlCase):
    def tries(self, work_args, good):
        """mqctl work work_args... jobs on one message with a command that
        fails until its try number good: the gaps between the tries."""
        log = os.path.join(mqdtest.scratch_dir(), "tries")
        self.ok("push", "jobs", "flaky")
        r = subprocess.run([self.mqctl, "work", "-n", "1"] + work_args
                           + ["jobs", "--", "sh", "-c", TRIES, log,
                              str(good)],
                           capture_output=True, timeout=120, env=self.env())
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            times = [float(t) for t in f.read().split()]
        self.assertEqual(len(times), good)
        self.assertEqual(self.stat("queue_jobs_items"), "0")
        self.assertEqual(self.stat("queue_jobs_open_transactions"), "0")
        self.r = r
        return [b - a for a, b in zip(times, times[1:])]

    def assertGaps(self, gaps, want):
        self.assertEqual(len(gaps), len(want))
        for gap, delay in zip(gaps, want):
            self.assertGreaterEqual(gap, delay, gaps)
            self.assertLess(gap, delay + LATE, gaps)
        self.assertEqual(self.stat("queue_jobs_delayed"), "0")

    def test_retry_delay_option_spaces_the_tries(self):
        self.daemon()
        gaps = self.tries(["-R", "300ms"], 4)
        self.assertGaps(gaps, [0.3, 0.3, 0.3])
        self.assertEqual(self.r.stderr.count(
            b"the message was given back to jobs, due again in 300ms\n"), 3)

    def test_queue_retry_delay_backs_off_under_a_plain_abort(self):
        path = queuetest.write_config("[jobs]\nretry_delay = 200ms..800ms\n")
        self.daemon(["-f", path])
        # -d 0: no pause of mqctl's own in the gaps.
        gaps = self.tries(["-d", "0"], 4)
        self.assertGaps(gaps, [0.2, 0.4, 0.8])

    def test_retry_delay_option_overrides_the_queue_rule(self):
        path = queuetest.write_config("[jobs]\nretry_delay = 1h\n")
        self.daemon(["-f", path])
        gaps = self.tries(["--retry-delay=250ms"], 2)
        self.assertGaps(gaps, [0.25])


if __name__ == "__main__":
    mqdtest.main()
