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

Clients (threads, one connection each, reconnecting after each restart;
they never close a connection themselves, so only the kill ends a reader):
  - producers: pipelined sets of 1 to 8 messages (0 bytes to 96 KiB,
    binary); a message counts as acknowledged once its STORED has been read.
    After a kill a producer goes on with the next sequence number: a message
    whose STORED never came may be there or not, but never twice.
  - reliable consumers: `get[s] q/open/t=...`, then `get q/close` or
    `get[s] q/close/open/t=...`; a close counts as acknowledged once its END
    has been read.  gets gives the daemon's sequence number, for the report.

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
either.  When a check fails, or mqd refuses to start after a kill, the data
directory and mqd's whole log are copied to
$TMPDIR/mqd-crash-evidence-<seed>-<round> for the bug report.

KillArtifacts makes, on purpose, the states a kill at one precise moment
leaves: a journal cut in the middle of an entry, the generation being
written damaged, a kill right after a start.  The next start replays the
journals after the last checkpoint, with every acknowledged message.

Environment: MQD_CRASH_ROUNDS (default 30) rounds per mode, MQD_CRASH_SEED
to repeat a run (the seed is printed as a TAP comment).
"""

import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import zlib

import mqdtest

ROUNDS = int(os.environ.get("MQD_CRASH_ROUNDS", "30"))
SEED = int(os.environ.get("MQD_CRASH_SEED", "0")) or random.SystemRandom() \
    .randrange(1, 2**31)

QUEUES = ["crash0", "crash1", "crash2", "deep"]
# Producer i writes to PRODUCER_QUEUES[i]; crash0 gets two interleaved
# streams.  Consumer j reads CONSUMER_QUEUES[j]; crash0 has two readers.
# Nobody reads "deep" before the drain: it grows over the rounds, so its
# messages are sealed into segments and outlive several checkpoints.
PRODUCER_QUEUES = [0, 1, 2, 0, 3]
CONSUMER_QUEUES = [0, 1, 2, 0]
DEEP = 3

TIMEOUT = mqdtest.TIMEOUT

HEADER = re.compile(rb"P(\d+) S(\d+) L(\d+) ")


def note(text):
    """A TAP comment, on stdout between the test lines."""
    for line in text.split("\n"):
        print("# " + line, flush=True)


# ---- payloads ---------------------------------------------------------------

def make_payload(rng, producer, seq, deep=False):
    r = rng.random()
    if deep:
        size = rng.randrange(512, 4096)
    elif r < 0.02:
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
    """((producer, seq), None) of a good payload; (None, why) when even its
    header is unreadable; ((producer, seq), why) when the rest is wrong."""
    m = HEADER.match(data)
    if not m:
        return None, "no header: %r" % data[:60]
    key = int(m.group(1)), int(m.group(2))
    size = int(m.group(3))
    body, tail = data[:-10], data[-10:]     # tail: b" C%08x"
    if len(data) != m.end() + size + 10:
        return key, "%d bytes, expected %d" % (len(data),
                                               m.end() + size + 10)
    if tail != b" C%08x" % zlib.crc32(body):
        return key, "checksum %r does not match" % tail
    return key, None


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


# ---- the shared record ------------------------------------------------------

class Receipt:
    __slots__ = ("order", "who", "round", "state", "seq")

    def __init__(self, order, who, rnd, state, seq):
        self.order = order        # global order of receipts
        self.who = who            # "C<j>" or "drain"
        self.round = rnd
        self.seq = seq            # the daemon's sequence number (gets)
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
        self.killing = False      # the kill of this generation is coming
        self.stopping = False
        self.events = 0
        self.failures = []
        self.start_refusals = []  # rounds where mqd would not start
        self.corrupt = []         # messages delivered damaged
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

    def wait_up(self, worker):
        """Blocks until a generation newer than the worker's last is up,
        and marks the worker busy in it; None when the harness stops."""
        with self.cond:
            while True:
                if self.stopping or self.failures:
                    return None
                if self.up and self.generation > worker.last_gen:
                    worker.last_gen = self.generation
                    worker.active = True
                    return self.generation
                self.cond.wait()

    def set_active(self, worker, active):
        with self.cond:
            worker.active = active
            self.cond.notify_all()

    def killed(self, gen):
        """TRUE when the daemon of generation gen was killed on purpose (or
        is about to be: a connection that breaks now is the kill's)."""
        with self.cond:
            return gen != self.generation or self.killing or self.stopping

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

    def record_receipt(self, who, rnd, data, flags, state, seq=None):
        """A VALUE block read in full by who, on its connection of round
        rnd; returns (id, Receipt) (its state may change later), or None
        for a message too damaged to tell which it was.  Damage is recorded
        as a problem; the run goes on, to tell what else went wrong."""
        decoded, damage = decode_payload(data)
        where = "%s in round %d%s" % (who, rnd, "" if seq is None
                                      else " (seq %d)" % seq)
        with self.cond:
            if decoded is None:
                self.corrupt.append("corrupt: %s received a message that "
                                    "was never sent: %s" % (where, damage))
                return None
            sent = self.sent.get(decoded)
            if sent is None:
                self.corrupt.append("corrupt: %s received P%d S%d, never "
                                    "sent" % ((where,) + decoded))
                return None
            if damage is None and (zlib.crc32(data), len(data)) != (
                    sent[0], sent[1]):
                damage = "other bytes than sent"
            if damage is None and flags != payload_flags(*decoded):
                damage = "flags %d" % flags
            if damage is not None:
                self.corrupt.append("corrupt: %s received P%d S%d damaged: "
                                    "%s" % ((where,) + decoded + (damage,)))
            self.order += 1
            receipt = Receipt(self.order, who, rnd, state, seq)
            previous = self.receipts.setdefault(decoded, [])
            if not previous:
                self.first.setdefault(who, []).append(decoded)
            previous.append(receipt)
            self.counts["opens"] += state == "open"
            self.events += 1
            self.cond.notify_all()
            return decoded, receipt

    def set_state(self, receipt, state):
        if not isinstance(receipt, Receipt):
            return                  # a damaged message, already reported
        with self.cond:
            receipt.state = state
            if state == "closed":
                self.counts["closes_acked"] += 1
                self.events += 1
                self.cond.notify_all()


def read_get_reply(conn, harness, who, rnd, key, state, gets=False):
    """Reads a get's (or gets') reply: at most one VALUE block, then END.
    Returns (id, receipt) or None; (None, None) for a message too damaged
    to tell which it was."""
    line = conn.line()
    got = None
    if line.startswith(b"VALUE "):
        parts = line.split(b" ")
        if len(parts) != (5 if gets else 4) or parts[1] != key:
            raise ProtocolViolation("%s: bad VALUE line %r" % (who, line))
        flags, size = int(parts[2]), int(parts[3])
        seq = int(parts[4]) if gets else None
        data = conn.exact(size + 2)
        if data[-2:] != b"\r\n":
            raise ProtocolViolation("%s: data block of %d bytes not ended by "
                                    "CRLF" % (who, size))
        # A message too damaged to tell which it was is still open.
        got = harness.record_receipt(who, rnd, data[:-2], flags, state,
                                     seq) or (None, None)
        line = conn.line()
    if line != b"END":
        raise ProtocolViolation("%s: %r where END belongs (key %r)"
                                % (who, line, key))
    return got


# ---- workers ----------------------------------------------------------------

class Worker(threading.Thread):
    def __init__(self, harness, socket_path, name):
        super().__init__(name=name, daemon=True)
        self.h = harness
        self.socket_path = socket_path
        self.last_gen = 0         # both under harness.cond
        self.active = False       # in a session

    def run(self):
        try:
            while True:
                gen = self.h.wait_up(self)
                if gen is None:
                    return
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
                    self.h.set_active(self, False)
        except Exception as e:  # a bug of the harness itself
            self.h.fail("%s crashed: %r" % (self.name, e))
            raise

    def after_kill(self):
        pass


class Producer(Worker):
    def __init__(self, harness, socket_path, index, queue):
        super().__init__(harness, socket_path, "P%d" % index)
        self.index = index
        self.deep = queue == QUEUES[DEEP]
        self.queue = queue.encode()
        self.rng = random.Random(harness.seed * 100 + index)
        self.seq = 0

    def session(self, conn, gen):
        # Clients never end a session on their own: a consumer that closed
        # its connection would give its open read back, and the message would
        # go to another one in the same round.  The kill ends every session.
        while True:
            self.send_batch(conn)

    def send_batch(self, conn):
        batch = []
        out = []
        for _ in range(self.rng.choice((1, 1, 2, 4, 8))):
            self.seq += 1
            batch.append((self.index, self.seq))
            out.append(self.set_command(self.seq))
        conn.send(b"".join(out))
        for key in batch:
            reply = conn.line()
            if reply != b"STORED":
                raise ProtocolViolation("set P%d S%d answered %r"
                                        % (key + (reply,)))
            self.acked(key)

    def set_command(self, seq):
        payload = make_payload(self.rng, self.index, seq, self.deep)
        self.h.record_sent(self.index, seq, payload)
        return self.set_line(self.queue, seq, payload)

    def set_line(self, key, seq, payload):
        return b"set %s %d 0 %d\r\n" % (
            key, payload_flags(self.index, seq), len(payload)) + payload \
            + b"\r\n"

    def acked(self, key):
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
        while True:
            wait = self.rng.choice((0, 50, 200))
            suffix = b"/t=%d" % wait if wait else b""
            # gets tells the sequence number, which the report shows.
            gets = self.rng.random() < 0.5
            command = b"gets " if gets else b"get "
            if self.open is None:
                key = self.queue + b"/open" + suffix
                conn.send(command + key + b"\r\n")
                got = read_get_reply(conn, self.h, self.name, gen, key,
                                     "open", gets)
                if got is not None:
                    self.open = got[1] or "damaged"
                continue
            if self.rng.random() < 0.5:
                key = self.queue + b"/close"
                receipt, self.open = self.open, None
                self.h.set_state(receipt, "close-sent")
                conn.send(b"get " + key + b"\r\n")
                if read_get_reply(conn, self.h, self.name, gen, key,
                                  "open"):
                    raise ProtocolViolation("get %r handed out a message"
                                            % key)
                self.h.set_state(receipt, "closed")
            else:
                key = self.queue + b"/close/open" + suffix
                receipt, self.open = self.open, None
                self.h.set_state(receipt, "close-sent")
                conn.send(command + key + b"\r\n")
                line_got = read_get_reply(conn, self.h, self.name, gen, key,
                                          "open", gets)
                self.h.set_state(receipt, "closed")
                if line_got is not None:
                    self.open = line_got[1] or "damaged"


def interesting_log(d):
    """The daemon's log over all rounds, without the lines every start
    writes."""
    lines = [line for line in d.log_text().split("\n")
             if line.strip() and not line.startswith("=== ")
             and "replacing stale socket" not in line
             and "stopping on SIGTERM" not in line]
    return "mqd's log, %d notable lines:\n%s" % (
        len(lines), "\n".join(lines[-100:]))


def keep_evidence(d, seed, rnd):
    """Copies the data directory and the daemon's whole log, for the bug
    report; the test's own directory is removed after it."""
    dest = os.path.join(tempfile.gettempdir(), "mqd-crash-evidence-%d-%d"
                        % (seed, rnd))
    shutil.rmtree(dest, ignore_errors=True)
    try:
        shutil.copytree(d.data_dir, os.path.join(dest, "data"))
        shutil.copy2(d.log_path, os.path.join(dest, "mqd.log"))
    except OSError as e:
        return "could not keep the evidence: %s" % e
    return "the data directory and mqd's log are kept in %s" % dest


# ---- the test ---------------------------------------------------------------

class CrashHarness(mqdtest.MqdTestCase):
    def run_harness(self, args):
        seed = SEED + len(" ".join(args))
        rng = random.Random(seed)
        h = Harness(seed, args)
        d = mqdtest.Daemon(args)
        started = time.monotonic()
        note("crash harness %s: seed %d (MQD_CRASH_SEED=%d repeats it), "
             "%d rounds" % (" ".join(args) or "default mode", seed, SEED,
                            ROUNDS))
        workers = ([Producer(h, d.socket_path, i, QUEUES[q])
                    for i, q in enumerate(PRODUCER_QUEUES)]
                   + [Consumer(h, d.socket_path, j)
                      for j in range(len(CONSUMER_QUEUES))])
        for w in workers:
            w.start()
        try:
            for rnd in range(1, ROUNDS + 1):
                self.one_round(d, h, workers, rng, rnd)
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
        h.round = ROUNDS + 1
        self.start_or_recover(d, h, h.round)
        self.drain(d, h)
        self.check(h, d)
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

    def start_or_recover(self, d, h, rnd):
        """Starts mqd.  When it refuses to start after a kill (a defect in
        itself, recorded), does what mqd(8) says under RECOVERY and goes on,
        so that the run still tells what the recovery lost."""
        offset = d._spawn()
        code = d._wait_ready_or_exit()
        if code is None:
            return                  # READY=1
        log = d.log_text(offset)
        path = os.path.join(d.data_dir, "mqd.gdbm")
        h.start_refusals.append("round %d: mqd refused to start after a "
                                "kill (exit %d): %s\n%s"
                                % (rnd, code, log.strip().split("\n")[-1],
                                   keep_evidence(d, h.seed, rnd)))
        if "crash-tolerance snapshots" in log:
            # Left by a kill during the start on a file system without
            # reflinks: empty, so no snapshot at all.
            for suffix in (".even", ".odd"):
                snap = path + suffix
                if os.path.exists(snap):
                    self.assertEqual(os.path.getsize(snap), 0,
                                     "a snapshot that is not empty: %s"
                                     % snap)
                    os.unlink(snap)
        else:
            gdbmtool = shutil.which("gdbmtool") or "/usr/bin/gdbmtool"
            self.assertTrue(os.access(gdbmtool, os.X_OK),
                            "mqd refused to start (%s) and gdbmtool, which "
                            "mqd(8) prescribes, is missing: install Debian's "
                            "package gdbmtool" % log.strip())
            run = subprocess.run([gdbmtool, path, "recover", "verbose",
                                  "summary", "backup"], capture_output=True,
                                 text=True, timeout=TIMEOUT * 6)
            h.start_refusals[-1] += "\ngdbmtool recover: %s" % " ".join(
                line for line in (run.stdout + run.stderr).split("\n")
                if "recovered" in line or "Recovery" in line)
            for f in os.listdir(d.data_dir):
                if ".~" in f:
                    os.unlink(os.path.join(d.data_dir, f))
        d.start()

    def one_round(self, d, h, workers, rng, rnd):
        h.round = rnd
        if rng.random() < 0.1:
            # A kill while mqd starts: somewhere in exec, the data file's
            # open, the scan that rebuilds the queues, or just after.
            d._spawn()
            d.kill9()
            h.counts["startup_kills"] += 1
        self.start_or_recover(d, h, rnd)
        r = rng.random()
        target = (rng.randrange(0, 20) if r < 0.25
                  else rng.randrange(20, 800))
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
            h.killing = True
        code = d.proc.poll()
        self.assertIsNone(code, "round %d: mqd died by itself (exit %s):\n%s"
                          % (rnd, code, d.log_text()[-3000:]))
        d.kill9()
        h.counts["kills"] += 1
        # Every client has had its session of this round, and seen it end,
        # before the next: what they read late from their socket buffers
        # counts for this round.
        with h.cond:
            limit = mqdtest.deadline(TIMEOUT)
            while (any(w.active or w.last_gen != h.generation
                       for w in workers) and not h.failures):
                self.assertFalse(limit.expired(), "clients still busy %.0f s "
                                 "after the kill" % TIMEOUT)
                h.cond.wait(limit.left())
            h.up = False
            h.killing = False
        self.assertEqual(h.failures, [], "\n".join(h.failures))

    def drain(self, d, h):
        with d.client() as c:
            for q in QUEUES:
                key = q.encode()
                # A queue gives one message per line: 64 lines at once.
                while self.drain_lines(c, h, key, 64):
                    pass
            stats = c.stats()
            for q in QUEUES:
                self.assertEqual(stats.get("queue_%s_items" % q, "0"), "0")
                self.assertEqual(
                    stats.get("queue_%s_open_transactions" % q, "0"), "0")

    def drain_lines(self, c, h, key, lines):
        """Sends lines plain gets of key; returns the messages they gave."""
        c.send(b"get %s\r\n" % key * lines)
        n, ends = 0, 0
        while ends < lines:
            line = c.recv_line()
            if line == b"END\r\n":
                ends += 1
                continue
            parts = line.split(b" ")
            self.assertEqual(parts[:2], [b"VALUE", key], line)
            flags, size = int(parts[2]), int(parts[3])
            data = c.recv_exact(size + 2)
            self.assertEqual(data[-2:], b"\r\n")
            h.record_receipt("drain", h.round, data[:-2], flags, "drain")
            n += 1
        return n

    def check(self, h, d):
        problems = list(h.start_refusals) + list(h.corrupt)
        # Delivery and duplicates, message by message.
        for key, (crc, size, acked) in sorted(h.sent.items()):
            receipts = h.receipts.get(key, [])
            name = "P%d S%d" % key
            before = len(problems)
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
            if len(problems) > before:
                problems[-1] += " (receipts: %s)" % ", ".join(
                    "%s round %d %s%s" % (r.who, r.round, r.state,
                                          "" if r.seq is None
                                          else " seq %d" % r.seq)
                    for r in receipts)
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
            kinds = [("refused to start after a kill", "refused to start"),
                     ("damaged deliveries", "corrupt: "),
                     ("acknowledged messages lost", "never delivered"),
                     ("open reads that never came back", "never came back"),
                     ("duplicate deliveries", "delivered again"),
                     ("duplicates within one run of mqd", "not given back"),
                     ("FIFO violations", "FIFO")]
            summary = ", ".join("%d %s" % (n, what) for what, n in (
                (what, sum(key in p for p in problems))
                for what, key in kinds) if n)
            self.fail("seed %d: %s\n%s\n%s\n%s" % (
                h.seed, summary, "\n".join(problems[:60]),
                interesting_log(d), keep_evidence(d, h.seed, h.round)))

    def test_kill9_default_mode(self):
        self.run_harness([])

    def test_kill9_no_sync(self):
        self.run_harness(["-N"])

    def test_kill9_small_checkpoints(self):
        # A checkpoint every 256 KiB of journal: kills land while segments
        # are sealed, while a checkpoint's generation is written, synced or
        # renamed, and between two journals.
        self.run_harness(["--checkpoint-size", "256K"])


def journal_entries_end(path):
    """The offset just past the last whole entry of a journal (its logical
    end: what follows is zeros written ahead, or what a kill cut short)."""
    with open(path, "rb") as f:
        data = f.read()
    at = 4096
    while at + 8 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        if length == 0 or at + 8 + length > len(data):
            break
        at += 8 + length
    return at


class KillArtifacts(mqdtest.MqdTestCase):
    """What a SIGKILL at one precise moment leaves in the data directory,
    made on purpose: the next start must take it in its stride, with every
    acknowledged message.  The harness above hits these moments by chance."""

    def killed(self, n=50, size=8):
        """n messages stored, then the daemon killed.  Returns the daemon,
        the journal its next start replays and the messages."""
        d = self.start_daemon()
        msgs = [(b"kept %03d " % i).ljust(size, b"k") for i in range(n)]
        with d.client() as c:
            c.expect(b"".join(mqdtest.set_cmd("k", m) for m in msgs),
                     b"STORED\r\n" * n)
        d.kill9()
        journals = sorted((name for name in os.listdir(d.data_dir)
                           if re.fullmatch(r"mqd-\d+\.journal", name)),
                          key=lambda name: int(name[4:-8]))
        journal = os.path.join(d.data_dir, journals[0])
        self.assertGreater(journal_entries_end(journal), 4096)
        return d, journal, msgs

    def assert_all_there(self, d, msgs):
        d.start()
        with d.client() as c:
            c.expect(b"get k\r\n" * (len(msgs) + 1),
                     b"".join(mqdtest.get_reply(("k", m)) for m in msgs)
                     + b"END\r\n")
        d.stop()
        # A clean stop leaves one generation and an empty journal: the
        # next start replays nothing.
        names = sorted(os.listdir(d.data_dir))
        self.assertEqual(len([n for n in names if n.endswith(".gdbm")]), 1,
                         names)
        journals = [n for n in names if n.endswith(".journal")]
        self.assertEqual(len(journals), 1, names)
        self.assertEqual(journal_entries_end(
            os.path.join(d.data_dir, journals[0])), 4096)

    def test_journal_cut_short(self):
        # A kill in the middle of the journal's write leaves part of an
        # entry, never acknowledged: ignored, the rest replayed.
        d, journal, msgs = self.killed()
        end = journal_entries_end(journal)
        with open(journal, "r+b") as f:
            f.seek(end)
            f.write(b"\0\0\1\0\xde\xad")
        self.assert_all_there(d, msgs)
        self.assertRegex(d.log_text(), r"%s: \d+ entries replayed"
                         % re.escape(os.path.basename(journal)))

    def test_generation_being_written_damaged(self):
        # The generation being written when the kill came is thrown away:
        # whatever its state, the journal holds its messages.
        d, journal, msgs = self.killed(n=60, size=8000)
        parts = [n for n in os.listdir(d.data_dir) if n.endswith(".part")]
        self.assertEqual(len(parts), 1, os.listdir(d.data_dir))
        part = os.path.join(d.data_dir, parts[0])
        self.assertGreater(os.path.getsize(part), 256 * 1024,
                           "segments were sealed into it")
        with open(part, "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(size // 2)
            f.write(b"\xff" * (size // 4))
        self.assert_all_there(d, msgs)

    def test_killed_again_while_starting(self):
        # A second kill right after a start (the replayed journal closed
        # with END, a new one begun, the checkpoint maybe not yet durable):
        # the chain of journals still holds everything.
        d, journal, msgs = self.killed()
        d.start()
        with d.client() as c:
            c.expect(mqdtest.set_cmd("k", b"after a restart"),
                     b"STORED\r\n")
        d.kill9()
        self.assert_all_there(d, msgs + [b"after a restart"])


if __name__ == "__main__":
    mqdtest.main()
