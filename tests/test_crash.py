#!/usr/bin/python3
"""The crash harness: producers and reliable consumers on several queues
while mqd is killed with SIGKILL at random moments, restarted, again and
again; then everything is drained and checked.

Each round starts mqd (waiting for its READY=1), lets the clients run until
they have done a random number of acknowledged operations (so the kill lands
at a random point of the daemon's work: while sets wait for their fsync, in
the middle of a data block, between an open and its close, ...), then kills
it with SIGKILL.  Now and then a round kills the daemon while it is still
starting, before it said READY=1.  After the last round mqd is started once
more and every queue is drained with plain gets.

Clients:
  - producers: one connection each, pipelined sets of 1 to 8 messages; a
    message counts as acknowledged once its STORED has been read.  After a
    kill a producer goes on with the next sequence number: a message whose
    STORED never came may be there or not, but never twice.
  - reliable consumers: `get q/open/t=...`, then `get q/close` or
    `get q/close/open/t=...`; a close counts as acknowledged once its END
    has been read.

Checks, after the drain:
  - every byte of every message is as sent (producer id, sequence number,
    padding and a CRC in the payload; the flags carry them too);
  - every acknowledged message was delivered: its last receipt is a close
    that was sent (acknowledged or cut off by a kill) or the drain;
  - a message received on an open read whose close was never sent came
    back later (the read goes back to the queue when its reader dies);
  - none delivered twice, except after an open read whose close was not
    acknowledged before the kill, and then only in a later round;
  - first deliveries come in FIFO order per producer stream, for each
    consumer and for the drain, and the drain only holds messages newer than
    anything a consumer already took for the first time;
  - after the drain the daemon reports no items and no open reads, also
    after one more clean restart.

Default mode (ack after fsync) and -N (ack before fsync): a kill is a crash
of the process, not of the machine, so nothing acknowledged may be lost in
either.

Environment: MQD_CRASH_ROUNDS (default 20) rounds per mode, MQD_CRASH_SEED
to repeat a run (the seed is printed as a TAP comment).
"""

import os
import random
import re
import select
import socket
import sys
import threading
import time
import zlib

import mqdtest

ROUNDS = int(os.environ.get("MQD_CRASH_ROUNDS", "20"))
SEED = int(os.environ.get("MQD_CRASH_SEED", "0")) or random.SystemRandom() \
    .randrange(1, 2**31)

QUEUES = ["crash0", "crash1", "crash2"]
# Producer i writes to PRODUCER_QUEUES[i]; crash0 gets two interleaved
# streams.  Consumer j reads CONSUMER_QUEUES[j]; crash0 has two readers.
PRODUCER_QUEUES = [0, 1, 2, 0]
CONSUMER_QUEUES = [0, 1, 2, 0]

TIMEOUT = mqdtest.TIMEOUT

HEADER = re.compile(rb"P(\d+) S(\d+) L(\d+) ")


def note(text):
    """A TAP comment, on stdout between the test lines."""
    for line in text.split("\n"):
        print("# " + line, flush=True)


# ---- payloads ---------------------------------------------------------------

def make_payload(rng, producer, seq):
    r = rng.random()
    if r < 0.02:
        size = rng.randrange(8 * 1024, 96 * 1024)  # arrives in pieces
    elif r < 0.1:
        size = 0
    else:
        size = rng.randrange(1, 300)
    # Binary padding, with CR, LF and NUL bytes on purpose.
    pad = bytes(rng.choice(b"\r\n\x00\xffabcxyz0123 ") for _ in range(
        min(size, 64))) * (size // 64 + 1)
    pad = pad[:size]
    head = b"P%d S%d L%d " % (producer, seq, size)
    return head + pad + b" C%08x" % zlib.crc32(head + pad)


def payload_flags(producer, seq):
    return (producer << 24) | (seq & 0xffffff)


def decode_payload(data):
    """(producer, seq) of a payload, or an error string."""
    m = HEADER.match(data)
    if not m:
        return "no header: %r" % data[:60]
    producer, seq, size = int(m.group(1)), int(m.group(2)), int(m.group(3))
    body, tail = data[:-10], data[-10:]     # tail: b" C%08x"
    if len(data) != m.end() + size + 10:
        return "P%d S%d: %d bytes, expected %d" % (
            producer, seq, len(data), m.end() + size + 10)
    if tail != b" C%08x" % zlib.crc32(body):
        return "P%d S%d: checksum %r does not match" % (producer, seq, tail)
    return producer, seq


# ---- a small client that tells a dead daemon from a wrong answer ------------

class Disconnected(Exception):
    pass


class ProtocolViolation(Exception):
    pass


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.buf = bytearray()
        try:
            self.sock.connect(path)
        except (ConnectionRefusedError, FileNotFoundError, OSError) as e:
            self.sock.close()
            raise Disconnected("connect: %s" % e) from None

    def close(self):
        self.sock.close()

    def send(self, data):
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise ProtocolViolation("send blocked for %.0f s" % TIMEOUT) \
                from None
        except OSError as e:
            raise Disconnected("send: %s" % e) from None

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise ProtocolViolation("no reply within %.0f s; buffered %r"
                                    % (TIMEOUT, bytes(self.buf[:200]))) \
                from None
        except OSError as e:
            raise Disconnected("recv: %s" % e) from None
        if not chunk:
            raise Disconnected("end of file")
        self.buf += chunk

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out
            self._fill()

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


# ---- the shared record -------------------------------------------------------

class Receipt:
    __slots__ = ("order", "who", "round", "state")

    def __init__(self, order, who, rnd, state):
        self.order = order        # global order of receipts
        self.who = who            # "C<j>" or "drain"
        self.round = rnd
        # "open": close never sent; "close-sent": sent, its END not read;
        # "closed": acknowledged; "drain": taken by the final plain get.
        self.state = state


class Harness:
    def __init__(self, seed, daemon_args):
        self.seed = seed
        self.daemon_args = daemon_args
        self.cond = threading.Condition()
        self.generation = 0
        self.up = False
        self.stopping = False
        self.events = 0
        self.failures = []
        self.round = 0
        # (producer, seq) -> [crc of payload, length, acked]
        self.sent = {}
        self.receipts = {}        # (producer, seq) -> [Receipt]
        self.first = {}           # who -> list of (producer, seq) first seen
        self.order = 0
        self.counts = dict(sets_sent=0, sets_acked=0, closes_acked=0,
                           opens=0, startup_kills=0, kills=0)

    # -- called by workers, under no lock --

    def fail(self, text):
        with self.cond:
            self.failures.append(text)
            self.cond.notify_all()

    def wait_up(self, last_gen):
        """Blocks until a generation newer than last_gen is up; None when
        the harness stops."""
        with self.cond:
            while True:
                if self.stopping or self.failures:
                    return None
                if self.up and self.generation > last_gen:
                    return self.generation
                self.cond.wait()

    def killed(self, gen):
        """TRUE when the daemon of generation gen was killed on purpose."""
        with self.cond:
            return gen != self.generation or not self.up or self.stopping

    def record_sent(self, producer, seq, payload):
        with self.cond:
            self.sent[(producer, seq)] = [zlib.crc32(payload), len(payload),
                                          False]
            self.counts["sets_sent"] += 1

    def record_acked(self, ids):
        with self.cond:
            for key in ids:
                self.sent[key][2] = True
            self.counts["sets_acked"] += len(ids)
            self.events += len(ids)
            self.cond.notify_all()

    def record_receipt(self, who, data, flags, state):
        """A VALUE block read in full; returns the Receipt (its state may
        change later) or raises ProtocolViolation."""
        decoded = decode_payload(data)
        if isinstance(decoded, str):
            raise ProtocolViolation("%s received a corrupt message: %s"
                                    % (who, decoded))
        with self.cond:
            sent = self.sent.get(decoded)
            if sent is None:
                raise ProtocolViolation("%s received P%d S%d, never sent"
                                        % ((who,) + decoded))
            if (zlib.crc32(data), len(data)) != (sent[0], sent[1]):
                raise ProtocolViolation("%s received P%d S%d with other bytes"
                                        " than sent" % ((who,) + decoded))
            if flags != payload_flags(*decoded):
                raise ProtocolViolation("%s received P%d S%d with flags %d"
                                        % ((who,) + decoded + (flags,)))
            self.order += 1
            receipt = Receipt(self.order, who, self.round, state)
            previous = self.receipts.setdefault(decoded, [])
            if not previous:
                self.first.setdefault(who, []).append(decoded)
            previous.append(receipt)
            self.counts["opens"] += state == "open"
            self.events += 1
            self.cond.notify_all()
            return decoded, receipt

    def set_state(self, receipt, state):
        with self.cond:
            receipt.state = state
            if state == "closed":
                self.counts["closes_acked"] += 1
                self.events += 1
                self.cond.notify_all()


def read_get_reply(conn, harness, who, key, state):
    """Reads a get's reply: at most one VALUE block, then END.  Returns
    (id, receipt) or None."""
    line = conn.line()
    got = None
    if line.startswith(b"VALUE "):
        parts = line.split(b" ")
        if len(parts) != 4 or parts[1] != key:
            raise ProtocolViolation("%s: bad VALUE line %r" % (who, line))
        flags, size = int(parts[2]), int(parts[3])
        data = conn.exact(size + 2)
        if data[-2:] != b"\r\n":
            raise ProtocolViolation("%s: data block of %d bytes not ended by "
                                    "CRLF" % (who, size))
        got = harness.record_receipt(who, data[:-2], flags, state)
        line = conn.line()
    if line != b"END":
        raise ProtocolViolation("%s: %r where END belongs (key %r)"
                                % (who, line, key))
    return got


# ---- workers -----------------------------------------------------------------

class Worker(threading.Thread):
    def __init__(self, harness, socket_path, name):
        super().__init__(name=name, daemon=True)
        self.h = harness
        self.socket_path = socket_path
        self.last_gen = 0

    def run(self):
        try:
            while True:
                gen = self.h.wait_up(self.last_gen)
                if gen is None:
                    return
                self.last_gen = gen
                conn = None
                try:
                    conn = Conn(self.socket_path)
                    self.session(conn, gen)
                except Disconnected as e:
                    if not self.h.killed(gen):
                        self.h.fail("%s lost its connection while mqd was "
                                    "running: %s" % (self.name, e))
                        return
                    self.after_kill()
                except ProtocolViolation as e:
                    if not self.h.killed(gen):
                        self.h.fail("%s: %s" % (self.name, e))
                        return
                    self.after_kill()
                finally:
                    if conn is not None:
                        conn.close()
        except Exception as e:  # a bug of the harness itself
            self.h.fail("%s crashed: %r" % (self.name, e))
            raise

    def after_kill(self):
        pass


class Producer(Worker):
    def __init__(self, harness, socket_path, index):
        super().__init__(harness, socket_path, "P%d" % index)
        self.index = index
        self.queue = QUEUES[PRODUCER_QUEUES[index]].encode()
        self.rng = random.Random(harness.seed * 100 + index)
        self.seq = 0

    def session(self, conn, gen):
        while not self.h.killed(gen):
            batch = []
            out = []
            for _ in range(self.rng.choice((1, 1, 2, 4, 8))):
                self.seq += 1
                payload = make_payload(self.rng, self.index, self.seq)
                batch.append((self.index, self.seq))
                self.h.record_sent(self.index, self.seq, payload)
                out.append(b"set %s %d 0 %d\r\n" % (
                    self.queue, payload_flags(self.index, self.seq),
                    len(payload)) + payload + b"\r\n")
            conn.send(b"".join(out))
            for i, key in enumerate(batch):
                reply = conn.line()
                if reply != b"STORED":
                    raise ProtocolViolation("set P%d S%d answered %r"
                                            % (key + (reply,)))
                self.h.record_acked([key])


class Consumer(Worker):
    def __init__(self, harness, socket_path, index):
        super().__init__(harness, socket_path, "C%d" % index)
        self.queue = QUEUES[CONSUMER_QUEUES[index]].encode()
        self.rng = random.Random(harness.seed * 100 + 50 + index)
        self.open = None          # Receipt of the open read, if any

    def after_kill(self):
        self.open = None          # the daemon gave it back when it died

    def session(self, conn, gen):
        self.open = None
        while not self.h.killed(gen):
            wait = self.rng.choice((0, 50, 200))
            suffix = b"/t=%d" % wait if wait else b""
            if self.open is None:
                key = self.queue + b"/open" + suffix
                conn.send(b"get " + key + b"\r\n")
                got = read_get_reply(conn, self.h, self.name, key, "open")
                if got is not None:
                    self.open = got[1]
                continue
            if self.rng.random() < 0.5:
                key = self.queue + b"/close"
                receipt, self.open = self.open, None
                self.h.set_state(receipt, "close-sent")
                conn.send(b"get " + key + b"\r\n")
                if read_get_reply(conn, self.h, self.name, key, "open"):
                    raise ProtocolViolation("get %r handed out a message"
                                            % key)
                self.h.set_state(receipt, "closed")
            else:
                key = self.queue + b"/close/open" + suffix
                receipt, self.open = self.open, None
                self.h.set_state(receipt, "close-sent")
                conn.send(b"get " + key + b"\r\n")
                line_got = read_get_reply(conn, self.h, self.name, key,
                                          "open")
                self.h.set_state(receipt, "closed")
                if line_got is not None:
                    self.open = line_got[1]


# ---- the test ----------------------------------------------------------------

class CrashHarness(mqdtest.MqdTestCase):
    def run_harness(self, args):
        seed = SEED + (1 if args else 0)
        rng = random.Random(seed)
        h = Harness(seed, args)
        d = mqdtest.Daemon(args)
        started = time.monotonic()
        note("crash harness %s: seed %d (MQD_CRASH_SEED=%d repeats it), "
             "%d rounds" % (" ".join(args) or "default mode", seed, SEED,
                            ROUNDS))
        workers = ([Producer(h, d.socket_path, i)
                    for i in range(len(PRODUCER_QUEUES))]
                   + [Consumer(h, d.socket_path, j)
                      for j in range(len(CONSUMER_QUEUES))])
        for w in workers:
            w.start()
        try:
            for rnd in range(1, ROUNDS + 1):
                self.one_round(d, h, rng, rnd)
        finally:
            with h.cond:
                h.stopping = True
                h.up = False
                h.cond.notify_all()
            d.kill9()
            for w in workers:
                w.join(TIMEOUT)
        self.assertEqual(h.failures, [], "\n".join(h.failures))
        self.assertFalse([w.name for w in workers if w.is_alive()],
                         "workers still running")
        d.start()
        h.round = ROUNDS + 1
        self.drain(d, h)
        self.check(h)
        # The drain's deletes stick, also over a clean restart.
        d.restart()
        with d.client() as c:
            stats = c.stats()
            for q in QUEUES:
                self.assertEqual(stats.get("queue_%s_items" % q, "0"), "0")
            for q in QUEUES:
                c.expect(b"get %s\r\n" % q.encode(), b"END\r\n")
        d.stop()
        counts = h.counts
        delivered = sum(1 for r in h.receipts.values() if r)
        redelivered = sum(len(r) - 1 for r in h.receipts.values())
        note("%s: %d rounds (%d kills while starting) in %.1f s: %d sets "
             "sent, %d acknowledged, %d messages delivered, %d opens, %d "
             "closes acknowledged, %d redeliveries after a kill, %d drained"
             % (" ".join(args) or "default mode", ROUNDS,
                counts["startup_kills"], time.monotonic() - started,
                counts["sets_sent"], counts["sets_acked"], delivered,
                counts["opens"], counts["closes_acked"], redelivered,
                len(h.first.get("drain", []))))
        self.assertGreater(counts["sets_acked"], ROUNDS * 10)
        self.assertGreater(counts["closes_acked"], ROUNDS * 5)

    def one_round(self, d, h, rng, rnd):
        h.round = rnd
        if rng.random() < 0.1:
            # A kill while mqd starts: somewhere in exec, the data file's
            # open, the scan that rebuilds the queues, or just after.
            d._spawn()
            d.kill9()
            h.counts["startup_kills"] += 1
        d.start()
        r = rng.random()
        target = (rng.randrange(0, 20) if r < 0.25
                  else rng.randrange(20, 250))
        with h.cond:
            h.generation += 1
            h.up = True
            goal = h.events + target
            h.cond.notify_all()
            limit = mqdtest.deadline(TIMEOUT)
            while h.events < goal and not h.failures:
                if d.proc.poll() is not None:
                    break
                self.assertFalse(limit.expired(), "round %d: no progress for "
                                 "%.0f s (%d of %d events)\n%s"
                                 % (rnd, TIMEOUT, h.events - goal + target,
                                    target, d.log_text()[-3000:]))
                h.cond.wait(min(limit.left(), 0.5))
            h.up = False
        code = d.proc.poll()
        self.assertIsNone(code, "round %d: mqd died by itself (exit %s):\n%s"
                          % (rnd, code, d.log_text()[-3000:]))
        d.kill9()
        h.counts["kills"] += 1
        self.assertEqual(h.failures, [], "\n".join(h.failures))

    def drain(self, d, h):
        with d.client() as c:
            for q in QUEUES:
                key = q.encode()
                while True:
                    c.send(b"get" + (b" " + key) * 64 + b"\r\n")
                    n = 0
                    while True:
                        line = c.recv_line()
                        if line == b"END\r\n":
                            break
                        parts = line.split(b" ")
                        self.assertEqual(parts[:2], [b"VALUE", key], line)
                        flags, size = int(parts[2]), int(parts[3])
                        data = c.recv_exact(size + 2)
                        self.assertEqual(data[-2:], b"\r\n")
                        try:
                            h.record_receipt("drain", data[:-2], flags,
                                             "drain")
                        except ProtocolViolation as e:
                            self.fail(str(e))
                        n += 1
                    if n == 0:
                        break
            stats = c.stats()
            for q in QUEUES:
                self.assertEqual(stats.get("queue_%s_items" % q, "0"), "0")
                self.assertEqual(
                    stats.get("queue_%s_open_transactions" % q, "0"), "0")

    def check(self, h):
        problems = []
        # Delivery and duplicates, message by message.
        for key, (crc, size, acked) in sorted(h.sent.items()):
            receipts = h.receipts.get(key, [])
            name = "P%d S%d" % key
            if not receipts:
                if acked:
                    problems.append("%s: acknowledged (STORED) but never "
                                    "delivered" % name)
                continue
            for earlier, later in zip(receipts, receipts[1:]):
                if earlier.state not in ("open", "close-sent"):
                    problems.append(
                        "%s: delivered again (to %s in round %d) after %s "
                        "took it in round %d and its read ended %s"
                        % (name, later.who, later.round, earlier.who,
                           earlier.round, earlier.state))
                elif later.round <= earlier.round:
                    problems.append(
                        "%s: delivered to %s in round %d while the open read "
                        "of %s (same round) was not given back"
                        % (name, later.who, later.round, earlier.who))
            last = receipts[-1]
            if last.state == "open":
                problems.append("%s: %s opened it in round %d and died "
                                "without sending a close, but it never came "
                                "back" % (name, last.who, last.round))
        # FIFO of first deliveries, per producer stream.
        drained_from = {}
        highest = {}
        for who, firsts in sorted(h.first.items()):
            seen = {}
            for producer, seq in firsts:
                prev = seen.get(producer, 0)
                if seq <= prev:
                    problems.append("FIFO: %s took P%d S%d after P%d S%d"
                                    % (who, producer, seq, producer, prev))
                seen[producer] = seq
                if who == "drain":
                    drained_from.setdefault(producer, seq)
                else:
                    highest[producer] = max(highest.get(producer, 0), seq)
        for producer, seq in sorted(drained_from.items()):
            if seq <= highest.get(producer, 0):
                problems.append("FIFO: the drain found P%d S%d, older than "
                                "P%d S%d that a consumer already took"
                                % (producer, seq, producer,
                                   highest[producer]))
        if problems:
            self.fail("seed %d, %d problems:\n%s" % (
                h.seed, len(problems), "\n".join(problems[:60])))

    def test_kill9_default_mode(self):
        self.run_harness([])

    def test_kill9_no_sync(self):
        self.run_harness(["-N"])


if __name__ == "__main__":
    mqdtest.main()
