"""make check-cluster: mqd-forward into a 3-node RabbitMQ quorum queue on
this machine while nodes go away (not in make check: a cluster takes about
a minute to form on 2 cores, the run a few more).

One mqd, one route (local queue -> quorum queue with a member on each node,
the three nodes' URLs tried in turn), a producer setting CLUSTER_MESSAGES
messages (3,000 unless set) at a steady pace while:

1. all three nodes run;
2. one node is stopped (SIGTERM, data kept): forwarding goes on through the
   other two (no stall: the queue grows within STALL_LIMIT), then it is
   started again;
3. two nodes are stopped: the quorum is lost, the forwarder waits, mqd keeps
   answering STORED to every set; then both start again.

In the end every message is in the quorum queue, byte-exact, under the
stable id it had in mqd: none lost, and duplicates (the same id twice) at
most one window per broken link.

Environment: as make check (MQD, MQD_FORWARD, PYTHONPATH).
"""

import os
import threading
import time
import unittest

import brokers
import forwardtest
import mqdtest

MESSAGES = int(os.environ.get("CLUSTER_MESSAGES", "3000"))
WINDOW = 64
STALL_LIMIT = 60.0          # seconds the queue may stand still with a quorum
PHASE = MESSAGES // 3


def body(i):
    return b"cluster message %06d " % i + b"x" * 64


class Producer(threading.Thread):
    """Sets the messages one by one on its own connection, at most one
    every `pace` seconds, and records every reply; `sent` counts them."""

    def __init__(self, socket_path, pace=0.002):
        super().__init__(daemon=True)
        self.socket_path, self.pace = socket_path, pace
        self.sent = 0
        self.replies = []
        self.gate = threading.Semaphore(0)
        self.error = None

    def allow(self, n):
        for _ in range(n):
            self.gate.release()

    def run(self):
        try:
            with mqdtest.Client(self.socket_path) as c:
                for i in range(MESSAGES):
                    self.gate.acquire()
                    started = time.monotonic()
                    self.replies.append(c.call(mqdtest.set_cmd("cq",
                                                               body(i))))
                    self.sent += 1
                    time.sleep(max(0.0, self.pace -
                                   (time.monotonic() - started)))
        except Exception as e:      # the test reports it
            self.error = e


def wait_for(what, predicate, seconds):
    started = time.monotonic()
    deadline = mqdtest.deadline(seconds)
    while not predicate():
        if deadline.expired():
            raise AssertionError("%s: not within %.0f s" % (what, seconds))
        time.sleep(0.2)             # the poll interval: the broker is asked
    print("# %s: %.1f s" % (what, time.monotonic() - started), flush=True)


class ClusterForward(unittest.TestCase):

    def test_quorum_queue_survives_one_and_two_nodes_down(self):
        tmp = mqdtest.scratch_dir()
        with brokers.RabbitMQCluster(tmp) as cluster, \
                mqdtest.Daemon(["-c", "1024"]) as mqd:
            cluster.declare_queue("cq")
            conf = forwardtest.routes_file(
                tmp, mqd, "[cq]\ndirection = out\nlocal = cq\nrabbitmq = %s"
                "\nqueue = cq\nwindow = %d\n" % (", ".join(cluster.urls),
                                                  WINDOW))
            forward = forwardtest.Forwarder(tmp, conf).start()
            self.run_phases(cluster, mqd)
            forward.stop()
            self.check_queue(cluster, forwardtest.instance_id(mqd))

    def queued(self, cluster):
        """The quorum queue's count, through a node that runs."""
        node = next(n for n in cluster.nodes if n.running)
        return node.message_count("cq")

    def run_phases(self, cluster, mqd):
        producer = Producer(mqd.socket_path)
        producer.start()

        # 1. All three nodes.
        producer.allow(PHASE)
        wait_for("first third forwarded", lambda: self.queued(cluster)
                 >= PHASE, STALL_LIMIT)

        # 2. One node stopped: the other two keep the quorum.
        cluster.nodes[0].stop(keep=True)
        producer.allow(PHASE)
        wait_for("second third forwarded with one node down",
                 lambda: self.queued(cluster) >= 2 * PHASE, STALL_LIMIT)
        cluster.nodes[0].start()

        # 3. Two nodes stopped: no quorum; mqd takes every set.
        cluster.nodes[1].stop(keep=True)
        cluster.nodes[2].stop(keep=True)
        producer.allow(MESSAGES - 2 * PHASE)
        wait_for("sets answered with two nodes down",
                 lambda: producer.sent == MESSAGES or producer.error,
                 STALL_LIMIT)
        self.assertIsNone(producer.error)
        self.assertEqual(set(producer.replies), {b"STORED\r\n"})
        # Without a quorum nothing is confirmed: the last third waits in
        # mqd, but for the window the forwarder holds open.
        self.assertGreaterEqual(forwardtest.items(mqd, "cq"),
                                MESSAGES - 2 * PHASE - WINDOW)
        back = time.monotonic()
        cluster.nodes[1].start()
        cluster.nodes[2].start()
        wait_for("everything forwarded once the nodes are back",
                 lambda: self.queued(cluster) >= MESSAGES, 10 * STALL_LIMIT)
        print("# from the first restart to everything forwarded: %.1f s"
              % (time.monotonic() - back))
        wait_for("local queue emptied",
                 lambda: forwardtest.items(mqd, "cq") == 0, STALL_LIMIT)

    def check_queue(self, cluster, instance):
        got = [(m.body, m.properties.message_id)
               for m in cluster.nodes[0].read_all("cq")]
        for _, msg_id in got:
            self.assertRegex(msg_id, r"^%s\.[0-9]+\.[0-9]+$" % instance)
        # Each broken link (a node stopped under it, the quorum lost) may
        # send one window again.
        duplicates = forwardtest.check_at_least_once(
            self, [body(i) for i in range(MESSAGES)], got, 3 * WINDOW)
        print("# %d messages, %d duplicates, each copy with its id"
              % (MESSAGES, duplicates))

if __name__ == "__main__":
    mqdtest.main()
