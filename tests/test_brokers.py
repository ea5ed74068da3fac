"""The real-broker harness (tests/brokers.py) proves itself: servers start
on their own loopback ports, take and give back exact messages with their
ids, keep persistent messages across kill -9, and leave nothing behind."""

import os
import time
import unittest

import brokers
import mqdtest


def listening(pid):
    """{(address, port)} of the TCP sockets process pid listens on, from
    /proc: address is the hex of /proc/net/tcp{,6}, e.g. 0100007F for
    127.0.0.1."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                address, port = fields[1].split(":")
                if fields[3] == "0A" and fields[9] in inodes:   # LISTEN
                    found.add((address, int(port, 16)))
    return found


LOOPBACK4 = "0100007F"
LOOPBACK6 = "00000000000000000000000001000000"


def until_answered(call):
    """call()'s result, calling it again while the cluster answers with an
    error or not at all (a stream choosing its leader, a server catching
    up after a restart); gives up after brokers.START_TIMEOUT."""
    deadline = mqdtest.deadline(brokers.START_TIMEOUT)
    while True:
        try:
            return call()
        except (AssertionError, OSError):
            if deadline.expired():
                raise
        time.sleep(0.05)    # the poll interval


def until_equal(call, want):
    """call()'s answer (through until_answered) once it equals want, or
    its last one after brokers.START_TIMEOUT: a server restarted into a
    cluster answers before it has caught up."""
    deadline = mqdtest.deadline(brokers.START_TIMEOUT)
    while True:
        got = until_answered(call)
        if got == want or deadline.expired():
            return got
        time.sleep(0.05)    # the poll interval


def payload(i):
    """Bytes that a text protocol could mangle: CR LF, NUL, high bytes."""
    return b"m%d\r\n\x00\xff" % i + bytes(range(i % 7))


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def left_behind(tmp):
    """What stopped servers left in tmp: {their directory: its files}."""
    return {d: sorted(os.listdir(os.path.join(tmp, d)))
            for d in os.listdir(tmp)}


def crash_and_restart(test, server):
    """kill -9 of server, then start() on the data it left."""
    pid = server.pid
    server.kill()
    test.assertTrue(gone(pid))
    server.start()
    test.assertNotEqual(server.pid, pid)


class RabbitMQHarness(unittest.TestCase):

    def test_loopback_only_exact_messages_and_reject_publish(self):
        tmp = mqdtest.scratch_dir()
        with brokers.RabbitMQ(tmp) as rabbit:
            self.assertEqual(listening(rabbit.pid),
                             {(LOOPBACK4, rabbit.port),
                              (LOOPBACK4, rabbit.dist_port)})
            self.assertTrue(listening(rabbit.epmd.pid) <=
                            {(LOOPBACK4, rabbit.epmd.port),
                             (LOOPBACK6, rabbit.epmd.port)})
            self.assertEqual(rabbit.url,
                             "amqp://guest:guest@127.0.0.1:%d/" % rabbit.port)

            rabbit.declare_queue("plain")
            for i in range(100):
                rabbit.publish("plain", payload(i), message_id="id.%d" % i)
            self.assertEqual(rabbit.message_count("plain"), 100)
            got = rabbit.read_all("plain")
            self.assertEqual([m.body for m in got],
                             [payload(i) for i in range(100)])
            self.assertEqual([m.properties.message_id for m in got],
                             ["id.%d" % i for i in range(100)])
            self.assertEqual({m.properties.delivery_mode for m in got}, {2})
            self.assertEqual(rabbit.message_count("plain"), 0)

            # A quorum queue refuses once it is over its limit, so it
            # holds one more than x-max-length (RabbitMQ 3.10).
            rabbit.declare_queue("full", {"x-max-length": 2,
                                          "x-overflow": "reject-publish"})
            for i in range(3):
                rabbit.publish("full", b"kept %d" % i)
            import pika
            with self.assertRaises(pika.exceptions.NackError):
                rabbit.publish("full", b"refused")
            self.assertEqual([m.body for m in rabbit.read_all("full")],
                             [b"kept 0", b"kept 1", b"kept 2"])

    def test_kill_keeps_persistent_messages(self):
        tmp = mqdtest.scratch_dir()
        with brokers.RabbitMQ(tmp) as rabbit:
            rabbit.declare_queue("q")
            for i in range(20):
                rabbit.publish("q", payload(i), message_id="id.%d" % i)
            crash_and_restart(self, rabbit)
            got = rabbit.read_all("q")
            self.assertEqual([(m.body, m.properties.message_id) for m in got],
                             [(payload(i), "id.%d" % i) for i in range(20)])

    def test_stop_removes_node_and_epmd(self):
        tmp = mqdtest.scratch_dir()
        rabbit = brokers.RabbitMQ(tmp).start()
        pids = (rabbit.pid, rabbit.epmd.pid)
        rabbit.stop()
        self.assertTrue(all(gone(pid) for pid in pids))
        self.assertFalse(brokers.connects(rabbit.port))
        # The logs stay for the runner to show, until cleanup().
        self.assertEqual(left_behind(tmp),
                         {"rabbitmq-rabbit": ["rabbitmq.log"],
                          "epmd-%d" % rabbit.epmd.port: ["epmd.log"]})
        rabbit.cleanup()
        self.assertEqual(os.listdir(tmp), [])


class NatsHarness(unittest.TestCase):

    def test_stream_headers_duplicates_and_info(self):
        tmp = mqdtest.scratch_dir()
        with brokers.Nats(tmp) as nats:
            self.assertEqual(listening(nats.pid), {(LOOPBACK4, nats.port)})
            self.assertEqual(nats.url, "nats://127.0.0.1:%d" % nats.port)
            created = nats.create_stream("S", ["s.>"])
            self.assertEqual(created["config"]["num_replicas"], 1)
            for i in range(50):
                ack = nats.publish("s.x", payload(i), msg_id="id.%d" % i)
                self.assertEqual(ack, {"stream": "S", "seq": i + 1})
            # The same Nats-Msg-Id again: acknowledged, not stored.
            self.assertEqual(nats.publish("s.x", b"again", msg_id="id.7"),
                             {"stream": "S", "seq": 8, "duplicate": True})
            self.assertEqual(nats.publish("s.y", b"no id"),
                             {"stream": "S", "seq": 51})
            state = nats.stream_info("S")
            self.assertEqual((state["messages"], state["first_seq"],
                              state["last_seq"]), (51, 1, 51))
            self.assertEqual(
                nats.read_all("S"),
                [brokers.Message(payload(i), {"Nats-Msg-Id": "id.%d" % i})
                 for i in range(50)] + [brokers.Message(b"no id", {})])

    def test_api_error_is_raised(self):
        tmp = mqdtest.scratch_dir()
        with brokers.Nats(tmp) as nats:
            with self.assertRaises(brokers.NatsApiError) as e:
                nats.stream_info("missing")
            self.assertEqual(e.exception.code, 10059)  # stream not found

    def test_kill_keeps_stream_and_its_duplicate_window(self):
        tmp = mqdtest.scratch_dir()
        with brokers.Nats(tmp) as nats:
            nats.create_stream("S", ["s"])
            for i in range(30):
                nats.publish("s", payload(i), msg_id="id.%d" % i)
            crash_and_restart(self, nats)
            self.assertEqual(nats.publish("s", b"again", msg_id="id.29"),
                             {"stream": "S", "seq": 30, "duplicate": True})
            self.assertEqual(
                nats.read_all("S"),
                [brokers.Message(payload(i), {"Nats-Msg-Id": "id.%d" % i})
                 for i in range(30)])
        self.assertEqual(left_behind(tmp), {"nats-nats": ["nats-server.log"]})

    def test_cluster_r3_stream_outlives_a_killed_server(self):
        tmp = mqdtest.scratch_dir()
        with brokers.NatsCluster(tmp) as cluster:
            first, second, third = cluster.nodes
            created = first.create_stream("S", ["s"], num_replicas=3)
            self.assertEqual(created["config"]["num_replicas"], 3)
            # A new stream's subject may not have reached every server yet
            # ("no responders"), and after the kill the stream may be
            # choosing a new leader: a publish that is refused or not
            # answered is sent again with its id, as a publisher would, and
            # stored once.
            for i in range(10):
                until_answered(lambda: second.publish("s", payload(i),
                                                      msg_id="id.%d" % i))
            third.kill()
            for i in range(10, 20):
                until_answered(lambda: first.publish("s", payload(i),
                                                     msg_id="id.%d" % i))
            third.start()
            want = [brokers.Message(payload(i), {"Nats-Msg-Id": "id.%d" % i})
                    for i in range(20)]
            self.assertEqual(until_equal(lambda: third.read_all("S"), want),
                             want)
        self.assertEqual(left_behind(tmp),
                         {"nats-node%d" % i: ["nats-server.log"]
                          for i in range(3)})


if __name__ == "__main__":
    mqdtest.main()
