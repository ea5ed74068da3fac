"""mqd-forward and RabbitMQ (issue 15, tests 1-6): a real RabbitMQ node
(tests/brokers.py; one for the file, each test on queues of its own), the
real mqd and the real forwarder.  Every message arrives byte-exact, with
mqd's stable id as its message_id, whatever stops: the broker at the
start, the forwarder (kill -9), the broker (kill -9); refused messages end
in mqd's dead-letter queue; and the reverse route loses nothing either,
even with the forwarder killed between a STORED and the broker's ack."""

import forwardtest
import mqdtest
from forwardtest import Forwarder, payload

WINDOW = 64


def route_out(rabbit, queue, window=WINDOW):
    return ("[out]\ndirection = out\nlocal = q\nrabbitmq = %s\nqueue = %s\n"
            "window = %d\n" % (rabbit.url, queue, window))


def bodies_and_ids(messages):
    return [(m.body, m.properties.message_id) for m in messages]


class RabbitCase(mqdtest.MqdTestCase):
    def setUp(self):
        self.tmp = mqdtest.scratch_dir()
        self.rabbit = forwardtest.shared_rabbitmq()
        # A queue of this test's own on the shared node.
        self.queue = self.id().rsplit(".", 1)[-1]

    def tearDown(self):
        # A test that restarted the node leaves it running for the next.
        forwardtest.keep_running(self.rabbit)

    def forwarder(self, daemon, routes, **defaults):
        config = forwardtest.routes_file(self.tmp, daemon, routes, **defaults)
        return Forwarder(self.tmp, config)

    def read(self):
        return forwardtest.read_queue(self.rabbit, self.queue)

    def publish_many(self, payloads):
        """Persistent messages to the test's queue on one confirmed
        channel."""
        import pika
        props = pika.BasicProperties(delivery_mode=2)
        with self.rabbit.connection() as conn:
            channel = conn.channel()
            channel.confirm_delivery()
            for p in payloads:
                channel.basic_publish("", self.queue, p, props,
                                      mandatory=True)


class TestOut(RabbitCase):
    def test_in_order_with_ids(self):
        """1: 10,000 messages arrive byte-exact, in order, each with its
        stable id as message_id; the local queue is left empty."""
        d = self.start_daemon()
        sent = [payload(i) for i in range(10000)]
        forwardtest.push_all(d, "q", sent)
        self.rabbit.declare_queue(self.queue)
        fwd = self.forwarder(d, route_out(self.rabbit, self.queue, 256))
        fwd.drain("out")
        got = self.read()
        self.assertEqual([m.body for m in got], sent)
        for m in got:
            self.assertEqual(m.properties.delivery_mode, 2)
        forwardtest.check_ids(self, [m.properties.message_id for m in got],
                              forwardtest.instance_id(d))
        self.assertEqual(forwardtest.items(d, "q"), 0)
        self.assertEqual(fwd.counters("out"),
                         dict(forwarded=10000, confirmed=10000, retried=0,
                              nacked=0, lag=0))

    def test_broker_down_at_start(self):
        """2: with no broker, producers' sets are all answered STORED and
        the forwarder keeps trying; once the broker is up everything
        arrives, once."""
        self.rabbit.kill()
        d = self.start_daemon()
        fwd = self.forwarder(d, route_out(self.rabbit, self.queue))
        fwd.start("--drain", "out")
        fwd.wait_until(lambda: "down amqp://127.0.0.1" in fwd.log_text(),
                       "a failed connection logged")
        sent = [payload(i) for i in range(2000)]
        forwardtest.push_all(d, "q", sent)
        self.assertEqual(forwardtest.items(d, "q"), 2000)
        self.rabbit.start()
        self.rabbit.declare_queue(self.queue)
        fwd.wait_exit(0, forwardtest.RUN_TIMEOUT)
        # Once: no copies.  Order is not asserted: messages published
        # before the queue was declared came back (basic.return) and went
        # again after later ones.
        self.assertEqual(sorted(m.body for m in self.read()), sorted(sent))
        # The URL as given, less its user and password.
        self.assertIn("out: up amqp://127.0.0.1:%d/\n" % self.rabbit.port,
                      fwd.log_text())
        self.assertNotIn("guest", fwd.log_text())

    def test_forwarder_killed(self):
        """3: kill -9 of the forwarder mid-stream, then a drain: nothing
        lost; duplicates at most one window, each with its original's
        id."""
        d = self.start_daemon()
        sent = [payload(i) for i in range(3000)]
        forwardtest.push_all(d, "q", sent)
        self.rabbit.declare_queue(self.queue)
        fwd = self.forwarder(d, route_out(self.rabbit, self.queue))
        fwd.killed_then_drained(
            "out", lambda: forwardtest.items(d, "q") < 2000,
            "1000 messages forwarded")
        forwardtest.check_at_least_once(self, sent,
                                        bodies_and_ids(self.read()), WINDOW)

    def test_broker_killed(self):
        """4: the broker killed (kill -9) and started again mid-stream:
        nothing lost."""
        d = self.start_daemon()
        sent = [payload(i) for i in range(3000)]
        forwardtest.push_all(d, "q", sent)
        self.rabbit.declare_queue(self.queue)
        fwd = self.forwarder(d, route_out(self.rabbit, self.queue))
        fwd.start("--drain", "out")
        fwd.wait_until(lambda: forwardtest.items(d, "q") < 2000,
                       "1000 messages forwarded", every=0)
        self.rabbit.kill()
        self.rabbit.start()
        fwd.wait_exit(0, forwardtest.RUN_TIMEOUT)
        forwardtest.check_at_least_once(self, sent,
                                        bodies_and_ids(self.read()), WINDOW)
        self.assertGreater(fwd.counters("out")["retried"], 0)

    def test_refused_to_dead_letter(self):
        """5: a queue with x-max-length 10 and reject-publish takes the
        first 10; the broker's nacks give the rest back to mqd, whose
        max_deliveries moves them to the dead-letter queue."""
        conf = self.tmp + "/mqd.conf"
        with open(conf, "w") as f:
            f.write("[q]\nmax_deliveries = 2\ndead_letter = dlq\n")
        d = self.start_daemon(["-f", conf])
        sent = [payload(i) for i in range(30)]
        forwardtest.push_all(d, "q", sent)
        # A classic queue: a quorum queue applies its limit a little late,
        # taking a burst over it.
        self.rabbit.declare_queue(self.queue, {"x-max-length": 10,
                                               "x-overflow": "reject-publish"},
                                  quorum=False)
        fwd = self.forwarder(d, route_out(self.rabbit, self.queue))
        fwd.drain("out")
        self.assertEqual([m.body for m in self.read()], sent[:10])
        self.assertEqual(sorted(forwardtest.take_all(d, "dlq")),
                         sorted(sent[10:]))
        self.assertEqual(forwardtest.items(d, "q"), 0)
        counters = fwd.counters("out")
        self.assertEqual(counters["confirmed"], 10)
        self.assertEqual(counters["nacked"], 40)

    def test_returned_to_dead_letter(self):
        """5, basic.return: a queue that does not exist returns each
        mandatory publish; mqd's rules move the messages aside, in
        order."""
        conf = self.tmp + "/mqd.conf"
        with open(conf, "w") as f:
            f.write("[q]\nmax_deliveries = 1\ndead_letter = dlq\n")
        d = self.start_daemon(["-f", conf])
        sent = [payload(i) for i in range(20)]
        forwardtest.push_all(d, "q", sent)
        fwd = self.forwarder(d, route_out(self.rabbit, "no-such-queue"))
        fwd.drain("out")
        self.assertEqual(forwardtest.take_all(d, "dlq"), sent)
        self.assertEqual(fwd.counters("out"),
                         dict(forwarded=20, confirmed=0, retried=0,
                              nacked=20, lag=0))


class TestIn(RabbitCase):
    def test_reverse_route_forwarder_killed(self):
        """6: messages published to the broker arrive in the local queue;
        a forwarder killed (kill -9) while mqd holds messages it answered
        STORED for and the broker has not seen acked loses nothing: the
        broker delivers exactly those again, and the queue ends empty."""
        d = self.start_daemon()
        self.rabbit.declare_queue(self.queue)
        sent = [payload(i) for i in range(3000)]
        self.publish_many(sent)
        routes = ("[back]\ndirection = in\nlocal = local\nrabbitmq = %s\n"
                  "queue = %s\nwindow = %d\n"
                  % (self.rabbit.url, self.queue, WINDOW))
        fwd = self.forwarder(d, routes)
        again = fwd.killed_between_stored_and_ack(
            "back", lambda: forwardtest.items(d, "local"),
            lambda: len(sent) - self.rabbit.unsettled(self.queue), 1000)
        forwardtest.check_arrived(self, d, "local", sent, WINDOW, again)
        self.assertEqual(self.rabbit.message_count(self.queue), 0)


if __name__ == "__main__":
    mqdtest.main()
