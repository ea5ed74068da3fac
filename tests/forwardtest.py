"""forwardtest: what the tests of mqd-forward share: the forwarder as a
process (registered with mqdtest's runner, which stops it after the test
and shows its log when the test fails), its routes file, and the local
side (pushing a batch to mqd, reading a queue back).

Environment (set by make check): MQD_FORWARD, the forwarder to test, next
to mqdtest's MQD.
"""

import atexit
import os
import re
import select
import shutil
import signal
import subprocess
import time

import brokers
import mqdtest

# A drain of thousands of messages, or one that waits for a broker to
# boot, takes seconds; this bounds it.
RUN_TIMEOUT = 120.0
# The stable id: instance.incarnation.seq (see the issue 15 contract).
ID_RE = re.compile(r"^([0-9a-f]{16})\.([0-9]+)\.([0-9]+)$")
# Stops of the forwarder tried before one lands between a STORED and the
# broker's ack (Forwarder.killed_between_stored_and_ack).
KILL_POINT_TRIES = 20


def forward_path():
    path = os.environ.get("MQD_FORWARD", "")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("MQD_FORWARD=%r is not an executable: run "
                             "through make check" % path)
    return path


def payload(i):
    """Bytes a text protocol could mangle (CR LF, NUL, high bytes), of
    sizes that vary."""
    return b"m%d\r\n\x00\xff" % i + bytes(range(i % 7)) * (i % 13)


def routes_file(tmp, daemon, routes, **defaults):
    """Writes tmp/routes.conf: [default] with the daemon's socket, short
    backoffs (the brokers come and go within a test) and defaults, then
    routes (text).  Returns its path."""
    settings = dict(socket=daemon.socket_path, backoff_min="100ms",
                    backoff_max="1s", confirm_timeout="10s",
                    status_file=os.path.join(tmp, "forward.status"))
    settings.update(defaults)
    text = "[default]\n" + "".join("%s = %s\n" % kv
                                   for kv in settings.items()) + routes
    path = os.path.join(tmp, "routes.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


class Forwarder:
    """One mqd-forward in the foreground; its output goes to
    tmp/mqd-forward.log."""

    def __init__(self, tmp, config, args=(), env=None):
        self.tmp = tmp
        self.config = config
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.log_path = os.path.join(tmp, "mqd-forward.log")
        self.proc = None
        mqdtest._registry.append(self)

    @property
    def running(self):
        return self.proc is not None

    def command(self):
        return [forward_path(), "-f", self.config] + self.args

    def start(self, *extra):
        assert self.proc is None, "mqd-forward is already running"
        with open(self.log_path, "ab") as log:
            log.write(("=== %s\n" % " ".join(self.command() + list(extra)))
                      .encode())
            log.flush()
            self.proc = subprocess.Popen(self.command() + list(extra),
                                         stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env)
        return self

    def drain(self, route):
        """Runs --drain route to its exit (0 asserted)."""
        self.start("--drain", route)
        return self.wait_exit(0, RUN_TIMEOUT)

    def wait_exit(self, expect=0, timeout=mqdtest.TIMEOUT):
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError("mqd-forward did not exit within %.0f s:\n%s"
                                 % (timeout, self.log_text()[-6000:]))
        self.proc = None
        if expect is not None and code != expect:
            raise AssertionError("mqd-forward exited with %d, expected %d:\n%s"
                                 % (code, expect, self.log_text()[-6000:]))
        return code

    def stop(self):
        """SIGTERM; asserts exit 0 (so AddressSanitizer's leaks show)."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(0)

    def kill9(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def cleanup(self):
        self.kill9()

    def log_text(self, offset=0):
        return mqdtest._read_text(self.log_path, offset)

    def wait_until(self, predicate, what, timeout=RUN_TIMEOUT, every=0.05):
        """Polls predicate() every 50 ms, or as told (the forwarder sends
        no signal of progress) while the forwarder runs; fails when it
        exits first or the time is up."""
        deadline = mqdtest.deadline(timeout)
        pidfd = os.pidfd_open(self.proc.pid)
        try:
            while not predicate():
                if select.select([pidfd], [], [], every)[0]:
                    raise AssertionError("mqd-forward exited (%s) before %s:"
                                         "\n%s" % (self.proc.wait(), what,
                                                   self.log_text()[-6000:]))
                if deadline.expired():
                    raise AssertionError("not %s within %.0f s:\n%s"
                                         % (what, timeout,
                                            self.log_text()[-6000:]))
        finally:
            os.close(pidfd)

    def killed_then_drained(self, route, progressed, what):
        """Starts the forwarder, kills it (kill -9) once progressed()
        holds, then drains route with a new one."""
        self.start()
        self.wait_until(progressed, what)
        self.kill9()
        return self.drain(route)

    def killed_between_stored_and_ack(self, route, stored, acked, start_at):
        """The reverse route's crash point: starts the forwarder; once
        stored() (mqd's count for the local queue) reaches start_at, stops
        it (SIGSTOP) and reads stored() and acked() (the broker's count of
        messages acknowledged) until they settle.  More acked than stored
        fails at once: the broker let go of messages mqd does not hold.
        More stored than acked is the point: some message is past its
        STORED and short of its ack; kill -9 there, drain route with a new
        forwarder, and return stored - acked, the copies the broker must
        deliver again.  As many: the forwarder goes on (SIGCONT) and is
        stopped again once mqd holds more, up to KILL_POINT_TRIES times."""
        self.start()
        readings = []
        floor = start_at - 1
        for _ in range(KILL_POINT_TRIES):
            # Stopped as soon as mqd holds more, the forwarder is likely
            # waiting for the STORED of those (a group commit's fsync) or
            # about to ack them: polled without a pause (a 50 ms one lets
            # a forwarder to NATS store 1,500 more).
            self.wait_until(lambda: stored() > floor,
                            "more than %d stored (stored, acked when "
                            "stopped: %s)" % (floor, readings), every=0)
            self.proc.send_signal(signal.SIGSTOP)
            os.waitpid(self.proc.pid, os.WUNTRACED)
            now = settled(lambda: (stored(), acked()), "stored and acked")
            readings.append(now)
            if now[0] < now[1]:
                raise AssertionError("stopped with %d messages acked to the "
                                     "broker that mqd does not hold: a kill "
                                     "now loses them (stored, acked: %s)"
                                     % (now[1] - now[0], readings))
            if now[0] > now[1]:
                self.kill9()
                self.drain(route)
                return now[0] - now[1]
            floor = now[0]
            self.proc.send_signal(signal.SIGCONT)
        raise AssertionError("the forwarder never stopped between a STORED "
                             "and the broker's ack in %d tries (stored, "
                             "acked): %s" % (KILL_POINT_TRIES, readings))

    def counters(self, route):
        """The route's line of the status file, as a dict."""
        with open(os.path.join(self.tmp, "forward.status")) as f:
            for line in f:
                name, _, rest = line.partition(" ")
                if name == route:
                    fields = rest.split(" state=")[0].split()
                    return {k: int(v) for k, v in
                            (f.split("=") for f in fields)}
        raise AssertionError("no line for %s in the status file" % route)


def confirmed(forwarder, route):
    """The route's confirmed counter in the status file; 0 before the
    file or the route's line is written."""
    try:
        return forwarder.counters(route)["confirmed"]
    except (FileNotFoundError, AssertionError):
        return 0


def settled(read, what, quiet=0.25):
    """read() again until the readings have not changed for quiet seconds
    of reading: whatever changes them is stopped, but what it wrote just
    before may still be on its way to the server that counts, and a server
    may count it later (two readings in a row agreed once while NATS had
    29 acks still to count)."""
    deadline = mqdtest.deadline()
    now, since = read(), time.monotonic()
    while time.monotonic() - since < quiet:
        if deadline.expired():
            raise AssertionError("%s still changing after %.0f s: %r"
                                 % (what, mqdtest.TIMEOUT, now))
        later = read()
        if later != now:
            now, since = later, time.monotonic()
    return now


def push_all(daemon, queue, payloads, chunk=500):
    """Sets every payload on queue, pipelined; asserts each STORED."""
    with daemon.client() as c:
        for start in range(0, len(payloads), chunk):
            part = payloads[start:start + chunk]
            c.send(b"".join(mqdtest.set_cmd(queue, p) for p in part))
            c.expect_reply(b"STORED\r\n" * len(part))


def take_all(daemon, queue):
    """Every message of queue, in order, taken with get."""
    taken = []
    with daemon.client() as c:
        while True:
            c.send(b"get %s\r\n" % queue.encode())
            line = c.recv_line()
            if line == b"END\r\n":
                return taken
            size = int(line.split()[3])
            taken.append(c.recv_exact(size + 2)[:-2])
            c.expect_reply(b"END\r\n")


def items(daemon, queue):
    with daemon.client() as c:
        return int(c.stats().get("queue_%s_items" % queue, "0"))


def check_arrived(test, daemon, queue, sent, window, duplicates):
    """queue holds every payload of sent, and exactly duplicates copies
    (at most window)."""
    got = take_all(daemon, queue)
    test.assertEqual(set(got), set(sent))
    test.assertEqual(len(got) - len(sent), duplicates)
    test.assertLessEqual(duplicates, window)


def instance_id(daemon):
    with daemon.client() as c:
        return c.stats()["instance_id"]


def check_ids(test, ids, instance):
    """Each id is instance.incarnation.seq of this daemon, and seqs grow
    in order (one incarnation)."""
    seqs = []
    for i in ids:
        m = ID_RE.match(i or "")
        test.assertIsNotNone(m, "not a stable id: %r" % i)
        test.assertEqual(m.group(1), instance)
        seqs.append(int(m.group(3)))
    test.assertEqual(seqs, sorted(seqs))
    test.assertEqual(len(set(ids)), len(ids))


def check_at_least_once(test, sent, got, window):
    """got holds every payload of sent, each copy of one message carrying
    the same id, and at most window duplicates.  got: [(payload, id)]."""
    ids = {}
    for body, msg_id in got:
        ids.setdefault(body, set()).add(msg_id)
    test.assertEqual(set(ids), set(sent), "messages lost or invented")
    for body, seen in ids.items():
        test.assertEqual(len(seen), 1, "copies of %r with ids %s"
                         % (body, seen))
    duplicates = len(got) - len(sent)
    test.assertLessEqual(duplicates, window)
    return duplicates


_shared = {}


def shared_rabbitmq():
    """One RabbitMQ node for all the tests of a file (a node boots in 5 to
    15 s here): started on first use, stopped and removed at exit.  Tests
    use queues of their own; one that stops the node starts it again."""
    rabbit = _shared.get("rabbitmq")
    if rabbit is None:
        tmp = mqdtest.make_tmpdir()
        rabbit = _shared["rabbitmq"] = brokers.RabbitMQ(tmp)
        atexit.register(_stop_shared, rabbit, tmp)
    if not rabbit.running:
        rabbit.start()
    keep_running(rabbit)
    return rabbit


def _stop_shared(rabbit, tmp):
    rabbit.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def keep_running(rabbit):
    """Takes the shared node (and its epmd) off the list of servers the
    runner stops after each test."""
    for p in (rabbit, rabbit.epmd):
        if p in mqdtest._registry:
            mqdtest._registry.remove(p)


def read_queue(rabbit, queue):
    """Takes every message of queue, in order, as brokers.Delivery: one
    consumer with a prefetch of 1000 (a basic.get per message costs 5 ms
    here)."""
    got = []
    with rabbit.connection() as conn:
        channel = conn.channel()
        count = channel.queue_declare(queue, passive=True).method.message_count
        channel.basic_qos(prefetch_count=1000)
        if count == 0:
            return got
        for _, props, body in channel.consume(queue, auto_ack=True):
            got.append(brokers.Delivery(body, props))
            if len(got) == count:
                break
        channel.cancel()
    return got
