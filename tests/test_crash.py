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
    has been read.  gets gives the daemon's sequence number, for the report;
    `/id` (half the time) the message's stable id.
  - delayed producers, on queues of their own: as the producers, with
    `set q/delay=<0..500>` (some `/delay=0`, some with no option); each
    payload carries its earliest due time, the wall clock in ms read before
    the set was sent plus the delay (mqd's due time is the set's time,
    rounded up to the ms, plus the delay: never sooner).
  - lease readers of those queues: `get[s] q/open/lease=<50..300>/t=...`,
    then a close in time, a `/touch[/lease=]` then a close, a hang past the
    lease (a blocking get on a queue nobody writes, so mqd's own clock says
    when the lease ran out) then a close or touch that must be refused with
    the lease's error, or `get q/abort/delay=<0..200>`.  A refused close
    acknowledges nothing: the message went back to the queue.

Checks, after the drain:
  - a message that came with its stable id (/id) always came with the same
    one, through every kill, and no two messages came with the same one;
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
  - on the delayed queues, instead of FIFO: no receipt of a message before
    its earliest due time, nor of a message given back with /abort/delay=
    before that delay ran out; a message handed out again in the same round
    only once the lease of the read that held it could have run out (a
    read given back by /abort or a refused close excepted); a refused
    close or touch no sooner than the lease allows; every read whose lease
    ran out, or that was aborted, delivered again; a close or touch after
    a hang past the lease refused; and due order: a consumer (or the drain)
    that takes two delayed messages for the first time, neither handed to
    another reader, never takes first one that was due strictly later;
  - after the drain the daemon reports no items, no open reads and no
    delayed messages, also after one more clean restart.  The drain of a
    delayed queue ends only when a blocking get has waited longer than any
    delay with nothing coming due.

Each round lasts a random number of events (acknowledged sets, receipts,
acknowledged closes); now and then it also waits for a few outcomes of
lease reads, and every fifth round for a lease that ran out, so that the
leases' timescale is covered too.

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

import math
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

# Delayed producer i (producer id FIRST_DELAYED + i) writes to
# DELAYED_QUEUES[DELAYED_PRODUCER_QUEUES[i]], lease reader j reads
# DELAYED_QUEUES[LEASE_READER_QUEUES[j]]: "later0" gets two interleaved
# streams and two readers, so a lease that runs out hands the message to
# the other one.
DELAYED_QUEUES = ["later0", "later1"]
DELAYED_PRODUCER_QUEUES = [0, 1, 0]
LEASE_READER_QUEUES = [0, 1, 0]
FIRST_DELAYED = len(PRODUCER_QUEUES)
ALL_QUEUES = QUEUES + DELAYED_QUEUES
MAX_DELAY = 500             # ms, of a delayed set
MAX_RETRY_DELAY = 200       # ms, of an /abort/delay=
BACKLOG = 6                 # acknowledged, undelivered delayed messages
# A queue nobody writes to: a blocking get on it lets time pass by mqd's
# own clock.
CLOCK = b"clock"

TIMEOUT = mqdtest.TIMEOUT

HEADER = re.compile(rb"P(\d+) S(\d+) L(\d+) (?:D\d+ )?")


def note(text):
    """A TAP comment, on stdout between the test lines."""
    for line in text.split("\n"):
        print("# " + line, flush=True)


# ---- payloads ---------------------------------------------------------------

def make_payload(rng, producer, seq, deep=False, due=None):
    """due: the earliest due time (ms) of a delayed message, in its header
    (D<ms>) for whoever reads the kept data directory."""
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
    if due is not None:
        head += b"D%d " % due
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
    __slots__ = ("order", "who", "round", "state", "seq", "wall", "mono",
                 "free_from", "due_again")

    def __init__(self, order, who, rnd, state, seq):
        self.order = order        # global order of receipts
        self.who = who            # "C<j>", "L<j>" or "drain"
        self.round = rnd
        self.seq = seq            # the daemon's sequence number (gets)
        # "open": close never sent; "close-sent": sent, its END not read;
        # "closed": acknowledged; "drain": taken by the final plain get;
        # lease reads also "aborted": /abort sent; "expired": a close or
        # touch refused because the lease ran out.
        self.state = state
        # When it was read in full: it was handed out before.
        self.wall = time.time()
        self.mono = time.monotonic()
        # A lease read: its message cannot be given back (its lease run
        # out, or an /abort sent) before this moment (monotonic, the clock
        # of mqd's leases); else None.
        self.free_from = None
        # Given back by an /abort/delay= that surely came before the lease
        # ran out: due again no sooner than this (wall clock, ms).
        self.due_again = None


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
        # Stable ids (get .../id): (producer, seq) -> the id it came with,
        # and id -> (producer, seq); one each way, across every round.
        self.ids = {}
        self.id_owners = {}
        self.first = {}           # who -> list of (producer, seq) first seen
        self.order = 0
        self.counts = dict(startup_kills=0, kills=0,
                           closes=0, touches=0, aborts=0,
                           refused_close=0, refused_touch=0,
                           late_refusals=0)
        # Delayed messages: (producer, seq) -> [earliest due, delay, latest
        # due or None before its STORED was read], in wall-clock ms.
        self.due = {}
        self.waiting = {}         # producer -> those acknowledged, undelivered
        self.problems = []        # what lease readers and the drain saw
        self.lease_outcomes = 0   # answered closes, touches, aborts
        self.expiries_told = 0    # closes and touches refused
        # Draws of the rounds' lease goals, apart from the rounds' own.
        self.lease_rng = random.Random(seed * 100 + 99)

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

    def record_sent(self, producer, seq, payload, due=None, delay=None):
        with self.cond:
            self.sent[(producer, seq)] = [zlib.crc32(payload), len(payload),
                                          False]
            if due is not None:
                self.due[(producer, seq)] = [due, delay, None]

    def undelivered(self, producer):
        with self.cond:
            return len(self.waiting.get(producer, ()))

    def record_latest_due(self, key, stored_by):
        """The STORED of a delayed set was read by stored_by (ms, rounded
        up): mqd's due time is at most that plus the delay."""
        with self.cond:
            self.due[key][2] = stored_by + self.due[key][1]

    def record_acked(self, ids):
        with self.cond:
            for key in ids:
                self.sent[key][2] = True
                if key in self.due and key not in self.receipts:
                    self.waiting.setdefault(key[0], set()).add(key)
            self.events += len(ids)
            self.cond.notify_all()

    def record_receipt(self, who, rnd, data, flags, state, seq=None,
                       msg_id=None):
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
            if msg_id is not None:
                self.check_id(decoded, msg_id, where)
            self.order += 1
            receipt = Receipt(self.order, who, rnd, state, seq)
            previous = self.receipts.setdefault(decoded, [])
            if not previous:
                self.first.setdefault(who, []).append(decoded)
                self.waiting.get(decoded[0], set()).discard(decoded)
            previous.append(receipt)
            self.events += 1
            self.cond.notify_all()
            return decoded, receipt

    def check_id(self, decoded, msg_id, where):
        """The same message always comes with the same stable id, and two
        messages never share one, through kills and restarts (under the
        lock)."""
        known = self.ids.setdefault(decoded, msg_id)
        owner = self.id_owners.setdefault(msg_id, decoded)
        if known != msg_id:
            self.problems.append("id: %s received P%d S%d with id %s, "
                                 "before with %s" % ((where,) + decoded
                                                     + (msg_id, known)))
        if owner != decoded:
            self.problems.append("id: %s received P%d S%d with id %s, the "
                                 "id of P%d S%d" % ((where,) + decoded
                                                    + (msg_id,) + owner))

    def set_free_from(self, receipt, mono):
        if isinstance(receipt, Receipt):
            with self.cond:
                receipt.free_from = mono

    def set_due_again(self, receipt, wall_ms):
        if isinstance(receipt, Receipt):
            with self.cond:
                receipt.due_again = wall_ms

    def lease_outcome(self, what):
        """A lease reader's close, touch or abort was answered."""
        with self.cond:
            self.counts[what] += 1
            self.lease_outcomes += 1
            self.events += 1
            self.cond.notify_all()

    def problem(self, text):
        """Something mqd did wrong, recorded: the run goes on, and the check
        reports it with the evidence."""
        with self.cond:
            self.problems.append(text)

    def lease_refused(self, who, receipt, expires, what, hung):
        """A close or touch of who's read was refused with the lease's
        error; expires: the lease could not run out before (monotonic)."""
        now = time.monotonic()
        if now < expires:
            self.problem("lease: %s's %s was refused %.1f ms before its "
                         "lease could run out"
                         % (who, what, (expires - now) * 1000))
        with self.cond:
            if isinstance(receipt, Receipt):
                receipt.state = "expired"
            self.counts["late_refusals"] += not hung
            self.expiries_told += 1
        self.lease_outcome("refused_" + what)

    def set_state(self, receipt, state):
        if not isinstance(receipt, Receipt):
            return                  # a damaged message, already reported
        with self.cond:
            receipt.state = state
            if state == "closed":
                self.events += 1
                self.cond.notify_all()


REFUSED = "refused"


def read_get_reply(conn, harness, who, rnd, key, state, gets=False,
                   refusal=None):
    """Reads a get's (or gets') reply: at most one VALUE block, then END.
    Returns (id, receipt) or None; (None, None) for a message too damaged
    to tell which it was; REFUSED when the reply is the line refusal."""
    line = conn.line()
    if refusal is not None and line == refusal:
        return REFUSED
    got = None
    with_id = b"id" in key.split(b"/")[1:]
    if line.startswith(b"VALUE "):
        parts = line.split(b" ")
        if len(parts) != 4 + gets + with_id or parts[1] != key:
            raise ProtocolViolation("%s: bad VALUE line %r" % (who, line))
        flags, size = int(parts[2]), int(parts[3])
        seq = int(parts[4]) if gets else None
        msg_id = parts[-1].decode() if with_id else None
        data = conn.exact(size + 2)
        if data[-2:] != b"\r\n":
            raise ProtocolViolation("%s: data block of %d bytes not ended by "
                                    "CRLF" % (who, size))
        # A message too damaged to tell which it was is still open.
        got = harness.record_receipt(who, rnd, data[:-2], flags, state,
                                     seq, msg_id) or (None, None)
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


class DelayedProducer(Producer):
    """Sets into a delayed queue: most with /delay=<1..500>, some with
    /delay=0, some with no option (due at once).  Only a few of its
    acknowledged messages wait for their first reader at a time, so that
    the queue runs dry and the readers take messages as they come due,
    where one handed out early would show."""

    def session(self, conn, gen):
        while True:
            while self.h.undelivered(self.index) >= BACKLOG:
                idle(conn, self.rng.randrange(20, 101))
            self.send_batch(conn)

    def set_command(self, seq):
        r = self.rng.random()
        delay = 0 if r < 0.25 else self.rng.randrange(1, MAX_DELAY + 1)
        key = self.queue + (b"" if r < 0.1 else b"/delay=%d" % delay)
        # Read before the set is sent: mqd's own reading comes later.
        due = int(time.time() * 1000) + delay
        payload = make_payload(self.rng, self.index, seq, due=due)
        self.h.record_sent(self.index, seq, payload, due, delay)
        return self.set_line(key, seq, payload)

    def acked(self, key):
        stored_by = math.ceil(time.time() * 1000)
        self.h.record_acked([key])
        self.h.record_latest_due(key, stored_by)


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
            # gets tells the sequence number, which the report shows; /id
            # the stable id, which must not change across kills.
            gets = self.rng.random() < 0.5
            if self.rng.random() < 0.5:
                suffix = b"/id" + suffix
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


def idle(conn, ms):
    """Lets ms milliseconds pass by mqd's own clock: a blocking get on a
    queue nobody writes to."""
    key = CLOCK + b"/t=%d" % ms
    conn.send(b"get %s\r\n" % key)
    reply = conn.line()
    if reply != b"END":
        raise ProtocolViolation("get %r answered %r" % (key, reply))


class LeaseReader(Worker):
    """Reliable reads with leases of a delayed queue.  It knows when the
    lease of its read can run out at the soonest (self.expires, on the
    monotonic clock that mqd's leases use): from the moment it sent the
    open, or the touch mqd answered, plus the lease."""

    def __init__(self, harness, socket_path, index, queue):
        super().__init__(harness, socket_path, "L%d" % index)
        self.queue = queue.encode()
        self.rng = random.Random(harness.seed * 100 + 70 + index)
        self.refusal = (b"CLIENT_ERROR the lease of the reliable read of %s "
                        b"ran out: its message went back to the queue"
                        % self.queue)
        self.open = None          # Receipt of the open read, if any
        self.message = None       # its message, for reports
        self.lease_ms = 0         # its lease
        self.expires = 0.0        # it cannot run out before (monotonic)

    def after_kill(self):
        self.open = None          # the daemon gave it back when it died

    def session(self, conn, gen):
        self.open = None
        while True:
            if self.open is None:
                self.open_one(conn, gen)
                continue
            r = self.rng.random()
            if r < 0.35:
                self.close(conn, gen)
            elif r < 0.55:
                if self.touch(conn, gen):
                    self.close(conn, gen)
            elif r < 0.75:
                self.hang(conn, gen)
            else:
                self.abort(conn, gen)

    def get(self, conn, gen, key, gets=False):
        conn.send((b"gets " if gets else b"get ") + key + b"\r\n")
        return read_get_reply(conn, self.h, self.name, gen, key, "open",
                              gets, self.refusal)

    def get_nothing(self, conn, gen, key):
        """A get that hands nothing out: END, or the lease's error."""
        got = self.get(conn, gen, key)
        if got is not None and got is not REFUSED:
            raise ProtocolViolation("get %r handed out a message" % key)
        return got

    def renewed(self, asked, lease_ms):
        self.lease_ms = lease_ms
        self.expires = asked + lease_ms / 1000
        self.h.set_free_from(self.open, self.expires)

    def open_one(self, conn, gen):
        lease = self.rng.randrange(50, 301)
        wait = self.rng.choice((0, 50, 200, 600))
        key = self.queue + b"/open/lease=%d" % lease
        key += b"/t=%d" % wait if wait else b""
        asked = time.monotonic()
        got = self.get(conn, gen, key, self.rng.random() < 0.5)
        if got is REFUSED:
            raise ProtocolViolation("get %r answered %r" % (key, got))
        if got is not None:
            self.open = got[1] or "damaged"
            self.message = "P%d S%d" % got[0] if got[0] else "a message"
            self.renewed(asked, lease)

    def close(self, conn, gen, hung=False):
        """Closes the read; False when refused (the lease ran out)."""
        receipt, self.open = self.open, None
        self.h.set_state(receipt, "close-sent")
        if self.get_nothing(conn, gen, self.queue + b"/close") is REFUSED:
            self.h.lease_refused(self.name, receipt, self.expires, "close",
                                 hung)
            return False
        self.h.set_state(receipt, "closed")
        if not hung:
            self.h.lease_outcome("closes")
        return True

    def touch(self, conn, gen, hung=False):
        """Renews the lease (now and then with a new length), sometimes
        halfway through it; False when refused (the lease ran out)."""
        if not hung and self.rng.random() < 0.5:
            idle(conn, self.lease_ms // 2)
        new = self.rng.choice((0, self.rng.randrange(50, 301)))
        lease = new or self.lease_ms
        key = self.queue + b"/touch" + (b"/lease=%d" % new if new else b"")
        asked = time.monotonic()
        # Until the answer, either lease may hold: the sooner counts.
        self.h.set_free_from(self.open,
                             min(self.expires, asked + lease / 1000))
        if self.get_nothing(conn, gen, key) is REFUSED:
            receipt, self.open = self.open, None
            self.h.lease_refused(self.name, receipt, self.expires, "touch",
                                 hung)
            return False
        self.renewed(asked, lease)
        if not hung:
            self.h.lease_outcome("touches")
        return True

    def hang(self, conn, gen):
        """Waits, by mqd's clock, past the lease: the close or touch that
        follows must be refused."""
        idle(conn, self.lease_ms + self.rng.randrange(50, 151))
        what = "close" if self.rng.random() < 0.8 else "touch"
        message = self.message
        if (self.close(conn, gen, hung=True) if what == "close"
                else self.touch(conn, gen, hung=True)):
            self.h.problem(
                "lease: %s's %s of %s in round %d was answered END though "
                "mqd's own clock had passed the end of its %d ms lease"
                % (self.name, what, message, gen, self.lease_ms))

    def abort(self, conn, gen):
        delay = self.rng.randrange(0, MAX_RETRY_DELAY + 1)
        receipt, self.open = self.open, None
        self.h.set_state(receipt, "aborted")
        self.h.set_free_from(receipt, min(self.expires, time.monotonic()))
        asked = time.time()
        if self.get_nothing(conn, gen, self.queue + b"/abort/delay=%d"
                            % delay) is REFUSED:
            raise ProtocolViolation("an abort answered the lease's error")
        if time.monotonic() < self.expires:
            # Answered before the lease could run out: this abort gave the
            # message back, due no sooner than the delay after it was sent.
            self.h.set_due_again(receipt, int(asked * 1000) + delay)
        self.h.lease_outcome("aborts")


def redelivery_problem(name, earlier, later):
    """What is wrong with later's receipt of the message after earlier's,
    or None."""
    if earlier.state not in ("open", "close-sent", "aborted", "expired"):
        return ("%s: delivered again (to %s in round %d) after %s took it "
                "in round %d and its read ended %s"
                % (name, later.who, later.round, earlier.who, earlier.round,
                   earlier.state))
    if earlier.due_again is not None and later.wall * 1000 < \
            earlier.due_again:
        return ("%s: delivered to %s %.1f ms before the delay of %s's "
                "/abort/delay= ran out" % (
                    name, later.who, earlier.due_again - later.wall * 1000,
                    earlier.who))
    if later.round > earlier.round or (earlier.free_from is not None
                                       and later.mono >= earlier.free_from):
        return None
    return ("%s: delivered to %s in round %d while the open read of %s "
            "(same round) was not given back%s"
            % (name, later.who, later.round, earlier.who,
               "" if earlier.free_from is None else
               " (%.1f ms before its lease could run out)"
               % ((earlier.free_from - later.mono) * 1000)))


def in_mqd_order(name, receipts):
    """A message's receipts in the order mqd handed them out, as far as
    it can be told.  They are in the order they were recorded, each once
    read in full: a lease reader held up between its read and its record
    longer than its lease may come after a reader that took the message
    later, once the lease ran out.  Such neighbours are swapped when only
    the swapped order is one mqd may have given."""
    out = list(receipts)
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        if (a.round == b.round and b.free_from is not None
                and b.free_from < a.mono
                and redelivery_problem(name, a, b)
                and not redelivery_problem(name, b, a)):
            out[i], out[i + 1] = b, a
    return out


def due_order_problems(h):
    """Delayed messages join their queue in due order.  When a reader (or
    the drain) took a message for the first time, every message of that
    queue due strictly sooner, and not yet handed out, was ahead of it.  So
    of two messages with a delay that only this reader (and the drain)
    ever had, the one surely due sooner comes first: its latest possible
    due time (the STORED read, rounded up, plus the delay) before the
    other's earliest."""
    problems = []
    for who, firsts in sorted(h.first.items()):
        ahead = {}          # queue -> (earliest due, id) of the latest due
        for key in firsts:
            timing = h.due.get(key)
            if timing is None or timing[1] == 0 or any(
                    r.who not in (who, "drain") for r in h.receipts[key]):
                continue
            earliest, delay, latest = timing
            queue = DELAYED_PRODUCER_QUEUES[key[0] - FIRST_DELAYED]
            before = ahead.get(queue)
            if before is not None and latest is not None \
                    and latest < before[0]:
                problems.append("due order: %s took P%d S%d (due by %d) "
                                "after P%d S%d (due no sooner than %d)"
                                % ((who,) + key + (latest,) + before[1]
                                   + (before[0],)))
            if before is None or earliest > before[0]:
                ahead[queue] = (earliest, key)
    return problems


def mix_counts(h, delayed):
    """What happened to the messages of the plain queues, or of the
    delayed ones, for the report."""
    keys = [key for key in h.sent if (key[0] >= FIRST_DELAYED) == delayed]
    lists = [h.receipts.get(key, []) for key in keys]
    receipts = [r for rs in lists for r in rs]
    return dict(sent=len(keys), acked=sum(h.sent[key][2] for key in keys),
                delivered=sum(1 for rs in lists if rs),
                receipts=len(receipts),
                redelivered=len(receipts) - sum(1 for rs in lists if rs),
                opens=sum(r.who != "drain" for r in receipts),
                closed=sum(r.state == "closed" for r in receipts),
                drained=sum(1 for rs in lists if rs and rs[0].who == "drain"))


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
                      for j in range(len(CONSUMER_QUEUES))]
                   + [DelayedProducer(h, d.socket_path, FIRST_DELAYED + i,
                                      DELAYED_QUEUES[q])
                      for i, q in enumerate(DELAYED_PRODUCER_QUEUES)]
                   + [LeaseReader(h, d.socket_path, j, DELAYED_QUEUES[q])
                      for j, q in enumerate(LEASE_READER_QUEUES)])
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
            for q in ALL_QUEUES:
                self.assertEqual(stats.get("queue_%s_items" % q, "0"), "0")
                self.assertEqual(stats.get("queue_%s_delayed" % q, "0"), "0")
            for q in ALL_QUEUES:
                c.expect(b"get %s\r\n" % q.encode(), b"END\r\n")
        d.stop()
        plain, delayed = mix_counts(h, False), mix_counts(h, True)
        note("%s: %d rounds (%d kills while starting) in %.1f s: %d sets "
             "sent, %d acknowledged, %d messages delivered, %d opens, %d "
             "closes acknowledged, %d redeliveries after a kill, %d drained"
             % (" ".join(args) or "default mode", ROUNDS,
                h.counts["startup_kills"], time.monotonic() - started,
                plain["sent"], plain["acked"], plain["delivered"],
                plain["opens"], plain["closed"], plain["redelivered"],
                plain["drained"]))
        note("delayed queues: %d sets sent, %d acknowledged, %d messages "
             "delivered (%d receipts), %d lease reads, %d closes "
             "acknowledged, %d touches, %d aborts with a delay, %d leases "
             "that ran out told: %d refused closes and %d refused touches "
             "(%d after no hang), %d drained"
             % (delayed["sent"], delayed["acked"], delayed["delivered"],
                delayed["receipts"], delayed["opens"], h.counts["closes"],
                h.counts["touches"], h.counts["aborts"], h.expiries_told,
                h.counts["refused_close"], h.counts["refused_touch"],
                h.counts["late_refusals"], delayed["drained"]))
        self.assertGreater(plain["acked"], ROUNDS * 10)
        self.assertGreater(plain["closed"], ROUNDS * 5)
        self.assertGreater(delayed["acked"], ROUNDS * 2)
        self.assertGreater(h.counts["closes"], ROUNDS)
        # Every fifth round waits for a lease that ran out.
        self.assertGreaterEqual(h.expiries_told, ROUNDS // 5)

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
        # Leases last 50 to 300 ms, longer than most rounds: some rounds
        # also wait for a few of their outcomes, every fifth for one that
        # ran out.
        lease_target = h.lease_rng.choice((0, 0, 1, 2, 3))
        told_target = int(rnd % 5 == 0)
        with h.cond:
            h.generation += 1
            h.up = True
            goal = h.events + target
            lease_goal = h.lease_outcomes + lease_target
            told_goal = h.expiries_told + told_target
            h.cond.notify_all()
            limit = mqdtest.deadline(TIMEOUT)
            while ((h.events < goal or h.lease_outcomes < lease_goal
                    or h.expiries_told < told_goal) and not h.failures):
                if d.proc.poll() is not None:
                    break
                self.assertFalse(limit.expired(), "round %d: no progress for "
                                 "%.0f s (%d of %d events, %d of %d lease "
                                 "outcomes, %d of %d leases that ran out "
                                 "told)\n%s"
                                 % (rnd, TIMEOUT, h.events - goal + target,
                                    target, h.lease_outcomes - lease_goal
                                    + lease_target, lease_target,
                                    h.expiries_told - told_goal + told_target,
                                    told_target, d.log_text()[-3000:]))
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
            for q in ALL_QUEUES:
                key = q.encode()
                while True:
                    # A queue gives one message per line: 64 lines at once.
                    n = self.drain_lines(c, h, key, 64)
                    if n == 0 and q in DELAYED_QUEUES:
                        # Some may not be due yet: the wait ends when one
                        # is, or after longer than any delay.
                        n = self.drain_lines(c, h, key + b"/t=%d"
                                             % (MAX_DELAY + 100), 1)
                    if n == 0:
                        break
            stats = c.stats()
            for q in ALL_QUEUES:
                self.assertEqual(stats.get("queue_%s_items" % q, "0"), "0")
                self.assertEqual(
                    stats.get("queue_%s_open_transactions" % q, "0"), "0")
                # Reported with the evidence, by the check.
                delayed = stats.get("queue_%s_delayed" % q, "0")
                if delayed != "0":
                    h.problem("%s: %s delayed messages after a wait longer "
                              "than any delay, with nothing coming due"
                              % (q, delayed))

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
            due = h.due.get(key, [None])[0]
            if due is not None:
                receipts = in_mqd_order(name, receipts)
                problems += ["%s: delivered to %s in round %d %.1f ms before "
                             "its earliest due time" % (
                                 name, r.who, r.round, due - r.wall * 1000)
                             for r in receipts if r.wall * 1000 < due]
            problems += filter(None, (
                redelivery_problem(name, earlier, later)
                for earlier, later in zip(receipts, receipts[1:])))
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
            elif last.state in ("aborted", "expired"):
                problems.append("%s: %s's read of round %d ended %s, but the "
                                "message never came back"
                                % (name, last.who, last.round, last.state))
        # FIFO of first deliveries, per producer stream.
        drained_from = {}
        highest = {}
        for who, firsts in sorted(h.first.items()):
            seen = {}
            for producer, seq in firsts:
                if producer >= FIRST_DELAYED:
                    continue        # due order, checked below
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
        problems += due_order_problems(h) + h.problems
        if problems:
            kinds = [("refused to start after a kill", "refused to start"),
                     ("damaged deliveries", "corrupt: "),
                     ("acknowledged messages lost", "never delivered"),
                     ("open reads that never came back", "never came back"),
                     ("duplicate deliveries", "delivered again"),
                     ("duplicates within one run of mqd", "not given back"),
                     ("FIFO violations", "FIFO"),
                     ("early deliveries", "before its earliest due"),
                     ("early retries", "before the delay of"),
                     ("due order violations", "due order"),
                     ("wrong answers about leases", "lease: "),
                     ("delayed messages stuck", "nothing coming due")]
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


def crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


CRC32C_TABLE = crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def journal_entries_end(path):
    """The offset just past the last whole entry of a journal (its logical
    end: what follows is zeros written ahead, an old journal's entries in a
    file written over, or what a kill cut short).  An entry's CRC-32C
    starts from the journal's number and the entry's offset (journal.h)."""
    with open(path, "rb") as f:
        data = f.read()
    number = data[8:16]
    at = 4096
    while at + 8 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        body = data[at + 8:at + 8 + length]
        if length == 0 or len(body) < length:
            break
        where = number + at.to_bytes(8, "big")
        if crc32c(body, crc32c(where)) != int.from_bytes(data[at + 4:at + 8],
                                                         "big"):
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
        # The start's own first generation may still be a part too, when
        # the sync thread had not completed it yet (a loaded machine), and
        # the next one is made ahead, empty: the one being written is the
        # newest that holds segments.
        d, journal, msgs = self.killed(n=60, size=8000)
        parts = sorted((os.path.join(d.data_dir, n)
                        for n in os.listdir(d.data_dir)
                        if n.endswith(".gdbm.part")),
                       key=lambda path: int(path[-16:-10]))
        self.assertIn(len(parts), (1, 2, 3), os.listdir(d.data_dir))
        written = [p for p in parts if os.path.getsize(p) > 256 * 1024]
        self.assertTrue(written, "segments were sealed into a part: %s"
                        % [(p, os.path.getsize(p)) for p in parts])
        part = written[-1]
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
