#!/usr/bin/python3
"""The instrument of bench/compare: mqbench counts against the real daemon.

bench/compare's verdicts rest on mqbench's counts: useful operations apart
from empty gets, the checksum sums that tie a fill to a drain in another
process, the backlog of an earlier run, queues turned over one request
after the other.  Each is checked here with exact numbers, and so is a
count that must come out wrong when a message is taken behind its back.

Environment (set by make check): MQD, MQBENCH, PYTHONPATH with tests/.
"""

import os
import signal
import subprocess

import mqdtest

TIMEOUT = 60


def mqbench_path():
    path = os.environ.get("MQBENCH", "")
    if not (path and os.access(path, os.X_OK)):
        raise AssertionError("MQBENCH=%r is not an executable: run through "
                             "make check" % path)
    return path


def parse_result(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.partition("=")[::2] for kv in line[7:].split())
    raise AssertionError("no RESULT line in:\n" + out)


def mqbench_command(daemon, *args):
    return [mqbench_path(), "-s", daemon.socket_path] + list(args)


def mqbench(daemon, *args, status=0):
    p = subprocess.run(mqbench_command(daemon, *args), capture_output=True,
                       text=True, timeout=TIMEOUT)
    if p.returncode != status:
        raise AssertionError("mqbench %s exited %d, not %d:\n%s%s" % (
            " ".join(args), p.returncode, status, p.stdout, p.stderr))
    return parse_result(p.stdout)


def sums_left(*results):
    """What the queue must still hold after these runs: (count, checksum
    sum), from what was acknowledged minus what was delivered."""
    count = total = 0
    for r in results:
        count += int(r["stored"]) - int(r["hits"])
        total += int(r["ack_sum"], 16) - int(r["recv_sum"], 16)
    return count, total % 2 ** 64


def queue_counts(client):
    """{queue: (enqueued, dequeued)} from MemcacheQ's 'stats queue'."""
    client.send(b"stats queue\r\n")
    out = {}
    for line in client.read_until(b"END\r\n").decode().splitlines()[:-1]:
        _stat, name, counts = line.split()
        enq, deq = counts.split("/")
        out[name] = (int(enq), int(deq))
    return out


class Counting(mqdtest.MqdTestCase):
    def test_pair_counts_every_set_and_get(self):
        d = self.start_daemon(["-N"])
        r = mqbench(d, "-w", "pair", "-c", "3", "-n", "300")
        self.assertEqual((r["sets"], r["stored"], r["gets"], r["hits"],
                          r["useful"], r["empty"], r["lost"], r["dup"],
                          r["mismatched"], r["reordered"]),
                         ("300", "300", "300", "300", "600", "0", "0", "0",
                          "0", "0"))
        self.assertEqual(r["ack_sum"], r["recv_sum"])

    def test_empty_gets_are_not_work(self):
        d = self.start_daemon(["-N"])
        mqbench(d, "-w", "produce", "-n", "5", "-k", "few")
        # plain gets until 10 messages came or 300 ms passed without one
        r = mqbench(d, "-w", "consume", "-n", "10", "-b", "0", "-I", "300",
                    "-k", "few", status=1)
        self.assertEqual((r["hits"], r["useful"], r["msgs"], r["lost"]),
                         ("5", "5", "5", "5"))
        self.assertGreater(int(r["empty"]), 0)
        self.assertEqual(int(r["gets"]), 5 + int(r["empty"]))
        self.assertEqual(int(r["ops"]), int(r["gets"]))

    def test_a_fill_and_a_drain_agree_across_kill9(self):
        d = self.start_daemon()
        fill = mqbench(d, "-w", "produce", "-c", "4", "-d", "8", "-n", "1000",
                       "-P", "250", "-R", "f111", "-k", "deep")
        self.assertEqual(fill["stored"], "1000")
        self.assertEqual(len(fill["splits"].split(",")), 4)
        d.kill9()
        d.start()
        drain = mqbench(d, "-w", "consume", "-c", "3", "-d", "4", "-n",
                        "1000", "-R", "f111", "-k", "deep", "-I", "2000")
        self.assertEqual((drain["hits"], drain["lost"], drain["dup"],
                          drain["reordered"], drain["corrupt"],
                          drain["foreign"]),
                         ("1000", "0", "0", "0", "0", "0"))
        self.assertEqual(drain["recv_sum"], fill["ack_sum"])
        self.assertEqual(sums_left(fill, drain), (0, 0))

    def test_a_message_taken_behind_its_back_shows(self):
        d = self.start_daemon(["-N"])
        fill = mqbench(d, "-w", "produce", "-n", "20", "-k", "q")
        with d.client() as c:
            c.send(b"get q\r\n")
            c.read_until(b"END\r\n")
        drain = mqbench(d, "-w", "consume", "-n", "20", "-b", "0", "-I",
                        "300", "-k", "q", status=1)
        self.assertEqual((drain["hits"], drain["lost"]), ("19", "1"))
        count, total = sums_left(fill, drain)
        self.assertEqual(count, 1)
        self.assertNotEqual(total, 0)

    def test_a_pair_load_on_a_backlog(self):
        d = self.start_daemon(["-N"])
        q = ["-Q", "1", "-k", "deep", "-R", "b0b0"]
        fill = mqbench(d, "-w", "produce", "-c", "2", "-n", "100", "-i", "0",
                       *q)
        pair = mqbench(d, "-w", "pair", "-c", "2", "-n", "40", "-i", "10", *q)
        # the gets took the oldest messages, all from the fill
        self.assertEqual((pair["stored"], pair["hits"], pair["backlog"],
                          pair["lost"], pair["dup"], pair["reordered"]),
                         ("40", "40", "40", "-", "0", "0"))
        left = sums_left(fill, pair)
        self.assertEqual(left[0], 100)
        drain = mqbench(d, "-w", "consume", "-c", "2", "-n", "100", *q)
        self.assertEqual((drain["hits"], drain["dup"], drain["reordered"]),
                         ("100", "0", "0"))
        self.assertEqual(sums_left(fill, pair, drain), (0, 0))

    def test_queues_turned_over_one_request_after_the_other(self):
        d = self.start_daemon(["-N"])
        mqbench(d, "-w", "produce", "-c", "3", "-n", "3000", "-Q", "30",
                "-k", "sp")
        with d.client() as c:
            counts = queue_counts(c)
        self.assertEqual(sorted(counts), sorted("sp.%d" % i
                                                for i in range(30)))
        self.assertEqual(sum(e for e, _ in counts.values()), 3000)
        # 1,000 sets each, every one to the next queue: none is left empty
        self.assertGreaterEqual(min(e for e, _ in counts.values()), 90)
        r = mqbench(d, "-w", "consume", "-c", "4", "-n", "3000", "-Q", "30",
                    "-b", "0", "-k", "sp")
        self.assertEqual((r["hits"], r["lost"], r["dup"], r["reordered"]),
                         ("3000", "0", "0", "0"))

    def test_sigterm_ends_a_paced_run_with_its_result(self):
        d = self.start_daemon(["-N"])
        p = subprocess.Popen(mqbench_command(d, "-w", "pair", "-r", "50",
                                             "-t", "600", "-k", "probe"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            # its first get answered, as the daemon counts it
            dl = mqdtest.deadline()
            with d.client() as c:
                while queue_counts(c).get("probe.0", (0, 0))[1] < 1:
                    self.assertFalse(dl.expired(), "no get from the paced "
                                     "client within %d s" % mqdtest.TIMEOUT)
        finally:
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        r = parse_result(out)
        self.assertGreaterEqual(int(r["hits"]), 1)
        self.assertEqual((r["stored"], r["lost"], r["mismatched"],
                          r["unanswered"]), (r["hits"], "0", "0", "0"))

    def test_wait_socket_connects_once_the_daemon_listens(self):
        d = self.start_daemon(["-N"])
        mqbench(d, "-w", "produce", "-n", "1", "-k", "w")
        d.stop()
        p = subprocess.Popen(mqbench_command(d, "-w", "consume", "-n", "1",
                                             "-b", "0", "-W", "30", "-k",
                                             "w"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        d.start()
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        r = parse_result(out)
        self.assertEqual((r["hits"], r["lost"]), ("1", "0"))
        self.assertGreaterEqual(float(r["first_msg_mono"]),
                                float(r["start_mono"]))


if __name__ == "__main__":
    mqdtest.main()
