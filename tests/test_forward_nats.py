"""mqd-forward and NATS JetStream (issue 15, tests 1-4 and 6): a real
nats-server with JetStream (tests/brokers.py), the real mqd and the real
forwarder.  Every message arrives byte-exact with mqd's stable id as its
Nats-Msg-Id, and the stream drops the copies a restart sends again."""

import json
import os
import signal
import subprocess

import brokers
import forwardtest
import mqdtest
from forwardtest import Forwarder, confirmed, payload

WINDOW = 64


def route_out(nats, window=WINDOW):
    return ("[out]\ndirection = out\nlocal = q\nnats = %s\nsubject = s.q\n"
            "window = %d\n" % (nats.url, window))


class NatsCase(mqdtest.MqdTestCase):
    def setUp(self):
        self.tmp = mqdtest.scratch_dir()
        self.nats = brokers.Nats(self.tmp)

    def start_nats(self):
        self.nats.start()
        self.nats.create_stream("S", ["s.>"])

    def forwarder(self, daemon, routes, **defaults):
        config = forwardtest.routes_file(self.tmp, daemon, routes, **defaults)
        return Forwarder(self.tmp, config)

    def stream(self):
        return self.nats.read_all("S")

    def ids(self, messages):
        return [m.headers.get("Nats-Msg-Id") for m in messages]


class TestOut(NatsCase):
    def test_in_order_with_ids(self):
        """1: 10,000 messages arrive byte-exact, in order, each with its
        stable id as Nats-Msg-Id."""
        d = self.start_daemon()
        sent = [payload(i) for i in range(10000)]
        forwardtest.push_all(d, "q", sent)
        self.start_nats()
        fwd = self.forwarder(d, route_out(self.nats, window=256))
        fwd.drain("out")
        got = self.stream()
        self.assertEqual([m.body for m in got], sent)
        forwardtest.check_ids(self, self.ids(got), forwardtest.instance_id(d))
        self.assertEqual(forwardtest.items(d, "q"), 0)
        self.assertEqual(fwd.counters("out"),
                         dict(forwarded=10000, confirmed=10000, retried=0,
                              nacked=0, lag=0))

    def test_broker_down_at_start(self):
        """2: with no server, producers' sets are all answered STORED;
        once it is up (and its stream exists) everything arrives, once."""
        d = self.start_daemon()
        fwd = self.forwarder(d, route_out(self.nats))
        fwd.start("--drain", "out")
        fwd.wait_until(lambda: "down nats://127.0.0.1" in fwd.log_text(),
                       "a failed connection logged")
        sent = [payload(i) for i in range(2000)]
        forwardtest.push_all(d, "q", sent)
        self.assertEqual(forwardtest.items(d, "q"), 2000)
        self.start_nats()
        fwd.wait_exit(0, forwardtest.RUN_TIMEOUT)
        # Once (the stream drops copies); order is not asserted: what was
        # published before the stream existed went again after later ones.
        self.assertEqual(sorted(m.body for m in self.stream()), sorted(sent))

    def test_stream_missing_reconnects(self):
        """Four routes to a server without their stream: every publish is
        answered "no responders", so each route breaks its link and makes
        a new one every 10 ms, hundreds of times, while the replies to its
        window are still arriving.  libnats 3.4.1's reader thread uses a
        subscription it does not hold (nats.c #637, fixed in 3.6.1): closing
        a link by destroying the publish-ack inbox before the connection
        was a use after free, a crash in about one run in three of this
        test.  glibc fills freed memory (MALLOC_PERTURB_) so that a use
        after free shows in the plain build too.  Once the stream exists,
        every message arrives, once."""
        d = self.start_daemon()
        routes, sent = "", {}
        for r in range(4):
            queue = "q%d" % r
            routes += ("[out%d]\ndirection = out\nlocal = %s\nnats = %s\n"
                       "subject = s.%s\nwindow = 256\n"
                       % (r, queue, self.nats.url, queue))
            sent[queue] = [b"%d:" % r + payload(i) for i in range(1000)]
            forwardtest.push_all(d, queue, sent[queue])
        self.nats.start()
        config = forwardtest.routes_file(self.tmp, d, routes,
                                         backoff_min="10ms",
                                         backoff_max="10ms")
        fwd = forwardtest.Forwarder(self.tmp, config,
                                    env=dict(MALLOC_PERTURB_="165",
                                             MALLOC_CHECK_="3"))
        fwd.start()
        fwd.wait_until(lambda: fwd.log_text().count(": down nats://") >= 2000,
                       "2,000 links broken by the missing stream")
        self.nats.create_stream("S", ["s.>"])
        fwd.wait_until(lambda: all(confirmed(fwd, "out%d" % r) == 1000
                                   for r in range(4)),
                       "every message confirmed")
        fwd.stop()
        self.assertEqual(sorted(m.body for m in self.stream()),
                         sorted(sum(sent.values(), [])))
        self.assertEqual([forwardtest.items(d, q) for q in sent], [0] * 4)

    def test_forwarder_killed(self):
        """3: kill -9 of the forwarder mid-stream, then a drain: the
        messages sent again carry their ids, and the stream holds each
        message once, in order."""
        d = self.start_daemon()
        sent = [payload(i) for i in range(3000)]
        forwardtest.push_all(d, "q", sent)
        self.start_nats()
        fwd = self.forwarder(d, route_out(self.nats))
        fwd.killed_then_drained(
            "out", lambda: forwardtest.items(d, "q") < 2000,
            "1000 messages forwarded")
        got = self.stream()
        self.assertEqual([m.body for m in got], sent)
        forwardtest.check_ids(self, self.ids(got), forwardtest.instance_id(d))

    def test_broker_killed(self):
        """4: nats-server killed (kill -9) and started again mid-stream:
        nothing lost."""
        d = self.start_daemon()
        sent = [payload(i) for i in range(3000)]
        forwardtest.push_all(d, "q", sent)
        self.start_nats()
        fwd = self.forwarder(d, route_out(self.nats))
        fwd.start("--drain", "out")
        fwd.wait_until(lambda: forwardtest.items(d, "q") < 2000,
                       "1000 messages forwarded", every=0)
        self.nats.kill()
        self.nats.start()
        fwd.wait_exit(0, forwardtest.RUN_TIMEOUT)
        got = self.stream()
        forwardtest.check_at_least_once(
            self, sent, list(zip([m.body for m in got], self.ids(got))),
            WINDOW)

    def test_mqd_stopped(self):
        """A hung mqd (SIGSTOP) mid-stream is a broken connection after
        confirm_timeout, not a hung route: the forwarder logs it, retries,
        and once mqd runs again (SIGCONT) everything arrives, once, in
        order."""
        d = self.start_daemon()
        sent = [payload(i) for i in range(3000)]
        forwardtest.push_all(d, "q", sent)
        self.start_nats()
        fwd = self.forwarder(d, route_out(self.nats), confirm_timeout="1s")
        fwd.start("--drain", "out")
        fwd.wait_until(lambda: forwardtest.items(d, "q") < 2000,
                       "1000 messages forwarded", every=0)
        os.kill(d.pid, signal.SIGSTOP)
        self.assertTrue(os.WIFSTOPPED(os.waitpid(d.pid, os.WUNTRACED)[1]))
        try:
            fwd.wait_until(lambda: "no answer from the daemon at %s in"
                           % d.socket_path in fwd.log_text(),
                           "the hung mqd logged")
        finally:
            os.kill(d.pid, signal.SIGCONT)
        fwd.wait_exit(0, forwardtest.RUN_TIMEOUT)
        log = fwd.log_text()
        self.assertIn("out: mqd: ", log)
        # Once mqd answers again, the route's state says up again.
        self.assertIn("out: up %s" % self.nats.url,
                      log[log.rindex("out: mqd: "):])
        got = self.stream()
        self.assertEqual([m.body for m in got], sent)
        forwardtest.check_ids(self, self.ids(got), forwardtest.instance_id(d))
        self.assertEqual(forwardtest.items(d, "q"), 0)

    def test_refused_to_dead_letter(self):
        """5, JetStream: a stream of 10 messages at most that discards new
        ones refuses the rest; mqd's max_deliveries moves them to the
        dead-letter queue."""
        conf = self.tmp + "/mqd.conf"
        with open(conf, "w") as f:
            f.write("[q]\nmax_deliveries = 2\ndead_letter = dlq\n")
        d = self.start_daemon(["-f", conf])
        sent = [payload(i) for i in range(30)]
        forwardtest.push_all(d, "q", sent)
        self.nats.start()
        self.nats.create_stream("S", ["s.>"], max_msgs=10, discard="new")
        fwd = self.forwarder(d, route_out(self.nats))
        fwd.drain("out")
        self.assertEqual([m.body for m in self.stream()], sent[:10])
        self.assertEqual(sorted(forwardtest.take_all(d, "dlq")),
                         sorted(sent[10:]))
        counters = fwd.counters("out")
        self.assertEqual((counters["confirmed"], counters["nacked"]),
                         (10, 40))
        self.assertIn("refused by the stream", fwd.log_text())


class TestIn(NatsCase):
    def test_reverse_route_forwarder_killed(self):
        """6: messages published to JetStream arrive in the local queue
        through a durable consumer; a forwarder killed (kill -9) while mqd
        holds messages it answered STORED for and the consumer has not
        seen acked loses nothing: the consumer delivers exactly those
        again, and ends with nothing pending."""
        d = self.start_daemon()
        self.nats.start()
        self.nats.create_stream("IN", ["in.>"])
        sent = [payload(i) for i in range(3000)]
        with self.nats.client() as c:
            for i, p in enumerate(sent):
                _, body = c.request("in.x", p, {"Nats-Msg-Id": "b%d" % i})
                self.assertNotIn("error", json.loads(body))
        routes = ("[back]\ndirection = in\nlocal = local\nnats = %s\n"
                  "subject = in.>\nstream = IN\ndurable = mqd\nwindow = %d\n"
                  % (self.nats.url, WINDOW))
        # The consumer gives a dead forwarder's deliveries again after
        # confirm_timeout (its AckWait); the drain waits for them.
        fwd = self.forwarder(d, routes, confirm_timeout="2s")
        again = fwd.killed_between_stored_and_ack(
            "back", lambda: forwardtest.items(d, "local"),
            lambda: len(sent) - self.unsettled(), 1000)
        forwardtest.check_arrived(self, d, "local", sent, WINDOW, again)
        self.assertEqual(self.unsettled(), 0)

    def unsettled(self):
        """Messages of the stream the consumer has not seen acked; counts
        acks out of order too, where ack_floor would not."""
        info = self.nats.consumer_info("IN", "mqd")
        return info["num_pending"] + info["num_ack_pending"]


class TestProgram(NatsCase):
    def run_forward(self, *args):
        return subprocess.run([forwardtest.forward_path()] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=mqdtest.TIMEOUT)

    def test_bad_file_and_check(self):
        """A bad file names its line and stops everything (exit 2);
        --check says how many routes a good one has; --drain needs a
        route of the file."""
        d = self.start_daemon()
        path = forwardtest.routes_file(self.tmp, d,
                                       route_out(self.nats, window=0))
        r = self.run_forward("-f", path)
        self.assertEqual(r.returncode, 2)
        line = open(path).read().split("\n").index("window = 0") + 1
        self.assertEqual(r.stderr, "mqd-forward: %s:%d: [out] window: not a "
                         "number of messages from 1 to 65535\n"
                         % (path, line))
        path = forwardtest.routes_file(self.tmp, d, route_out(self.nats))
        r = self.run_forward("-f", path, "--check")
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, "1 routes\n", ""))
        r = self.run_forward("-f", path, "--drain", "nope")
        self.assertEqual((r.returncode, r.stderr),
                         (2, "mqd-forward: --drain nope: no such route in "
                          "%s\n" % path))

    def test_counters_and_stop(self):
        """SIGUSR1 logs each route's counters; SIGTERM stops at once, even
        in a long backoff, giving the window back to mqd."""
        d = self.start_daemon()
        sent = [payload(i) for i in range(100)]
        forwardtest.push_all(d, "q", sent)
        self.start_nats()
        config = forwardtest.routes_file(self.tmp, d, route_out(self.nats))
        fwd = Forwarder(self.tmp, config).start()
        # The stream may hold all 100 before their acks reach the
        # forwarder: the report is asked for once its status file (written
        # on a timer) counts every one confirmed.
        fwd.wait_until(lambda: self.nats.stream_info("S")["messages"] == 100,
                       "100 forwarded")
        fwd.wait_until(lambda: confirmed(fwd, "out") == 100,
                       "100 confirmed in the status file")
        fwd.proc.send_signal(signal.SIGUSR1)
        fwd.wait_until(lambda: "out forwarded=100 confirmed=100 retried=0 "
                       "nacked=0 lag=0 state=up %s" % self.nats.url
                       in fwd.log_text(), "the counters logged")
        fwd.stop()
        # A broker that is down, and a backoff longer than the test.
        self.nats.stop()
        config = forwardtest.routes_file(self.tmp, d, route_out(self.nats),
                                         backoff_min="1h", backoff_max="1h")
        forwardtest.push_all(d, "q", sent)
        fwd = Forwarder(self.tmp, config).start()
        fwd.wait_until(lambda: "down %s" % self.nats.url in fwd.log_text(),
                       "a failed connection logged")
        fwd.stop()
        self.assertEqual(forwardtest.items(d, "q"), 100)
        self.assertIn("stopping on SIGTERM", fwd.log_text())
        self.assertTrue(os.path.exists(os.path.join(self.tmp,
                                                    "forward.status")))


if __name__ == "__main__":
    mqdtest.main()
