"""checker: rebuilds the data directory at cut points of a recorded run,
starts the real daemon on each state (its normal start), drains every queue
with plain gets and checks what comes out against what the log says the
clients were told.

A state holds for a range of cuts (the durable state changes only when a
sync returns, the page cache only when a change returns), so each daemon
run checks every cut of its range:
  - every message acknowledged (STORED sent) before the cut and not
    released before it (taken by a plain get, closed after an open read,
    or its queue deleted) is there exactly once;
  - no message whose queue's DELETED was sent before the cut is there;
  - nothing is there twice, nothing is there that was not sent, or damaged,
    or whose set the daemon read only after the cut;
  - FIFO: among the messages never handed out before the cut, each
    producer's come in the order it sent them, and a message acknowledged
    before another's set arrived comes before it.

Flavours of state (fsmodel has the rules):
  durable   only what was durable at the cut;
  torn      the same, plus a prefix (whole 512-byte sectors) of a write not
            yet durable;
  missing   what a kill leaves (the page cache), less one write that was
            not durable;
  kill      what a kill leaves.

deliveries() checks, from the log alone, that no message was handed out
(its VALUE's first byte sent) before a sync had made its payload durable in
a file that a durable name reached."""

import bisect
import os
import random
import shutil
import tempfile

import mqdtest
from powercut import fsmodel, pclog, wire

INF = float("inf")
# Said of a state where mqd does not start although no set had reached it:
# nothing can be lost there, but an operator has to step in.
FRESH = " (no set had been read yet)"


class Problem(Exception):
    """What was wrong with a state; daemon: the mqd that ran on it (its
    data directory and log are the evidence, see keep_evidence)."""

    def __init__(self, text, daemon):
        super().__init__(text)
        self.daemon = daemon


class Counts:
    def __init__(self):
        self.states = 0          # daemon runs
        self.cuts = 0            # cut points those states cover
        self.required = 0        # (cut range, message) pairs required
        self.drained = 0         # messages drained and checked


class Run:
    """A recorded run: its log and the directory it started from."""

    def __init__(self, log_path, snapshot_dir, queues, seed):
        records = pclog.read(log_path)
        self.model = fsmodel.Model(snapshot_dir)
        self.model.replay(records)
        self.talk = wire.Conversation(records)
        self.queues = queues
        self.rng = random.Random(seed)
        self.counts = {}
        self.end = self.model.end_time

    # ---- choosing states ----

    @staticmethod
    def _ranges(times, end):
        """The cut ranges [lo, hi] between consecutive change times."""
        bounds = [0] + list(times) + [end]
        return [(a + 1, b) for a, b in zip(bounds, bounds[1:]) if a < b]

    def _spread(self, items, n):
        """n of items, evenly spread, the last always in."""
        if len(items) <= n:
            return list(items)
        step = len(items) / n
        start = self.rng.random() * step
        picked = [items[int(start + i * step)] for i in range(n - 1)]
        return picked + [items[-1]]

    def states(self, flavour, n):
        """(flavour, lo, hi, tree, what) for n states of the flavour."""
        m = self.model
        if flavour in ("durable", "torn"):
            ranges = self._ranges(m.durable_times(), self.end)
        else:
            ranges = self._ranges(m.change_times(), self.end)
        if flavour == "durable":
            for lo, hi in self._spread(ranges, n):
                yield flavour, lo, hi, m.durable_state(lo), ""
        elif flavour == "kill":
            for lo, hi in self._spread(ranges, n):
                yield flavour, lo, hi, m.cache_state(lo), ""
        elif flavour == "torn":
            yield from self._torn(ranges, n)
        else:
            yield from self._missing(ranges, n)

    def _torn(self, ranges, n):
        # Writes to files a durable name reaches: a tear elsewhere changes
        # nothing.
        writes = [op for op in self.model.content_ops if op.sector_cuts()
                  and op.inode in self.model.linked(op.call + 1)]
        for w in self._spread(writes, n):
            lo = w.call + 1
            hi = min(next((h for l, h in ranges if l <= lo <= h), 0),
                     w.durable)
            if lo <= hi:
                length = self.rng.choice(w.sector_cuts())
                yield ("torn", lo, hi, self.model.durable_state(
                    lo, torn=(w, length)), "%d of %d bytes at %d" % (
                        length, len(w.data), w.offset))

    def _missing(self, ranges, n):
        unsynced = sorted((op for op in self.model.content_ops
                           if op.kind == "write" and op.end is not None
                           and op.durable > op.end
                           and op.inode in self.model.linked(op.end + 1,
                                                             False)),
                          key=lambda op: op.end)
        ends = [op.end for op in unsynced]
        # latest[i]: the longest any of the first i stays unsynced.
        latest = [0]
        for op in unsynced:
            latest.append(max(latest[-1], op.durable))
        chosen = [(lo, hi) for lo, hi in ranges
                  if latest[bisect.bisect_left(ends, lo)] >= hi]
        for lo, hi in self._spread(chosen, n):
            w = self.rng.choice([op for op in unsynced[
                :bisect.bisect_left(ends, lo)] if op.durable >= hi])
            yield ("missing", lo, hi, self.model.cache_state(lo, missing=w),
                   "%d bytes at %d" % (len(w.data), w.offset))

    # ---- running the daemon on a state ----

    def check(self, flavour, lo, hi, tree, what=""):
        """Runs mqd on the state and checks it for every cut in [lo, hi];
        raises Problem with the evidence."""
        d = mqdtest.Daemon()
        fsmodel.materialise(tree, d.data_dir)
        where = "%s state for cuts %d..%d%s [%s]" % (
            flavour, lo, hi, " (%s)" % what if what else "", ", ".join(
                "%s/" % path if data is None else "%s %d bytes"
                % (path, len(data)) for path, data in sorted(tree.items())))
        try:
            d.start()
        except AssertionError as e:
            early = lo <= min((m.received for m in self.talk.messages
                               .values()), default=INF)
            raise Problem("%s: mqd did not start%s: %s" % (
                where, FRESH if early else "", e), d) from None
        drained = self._drain(d)
        d.stop()
        problems = self.verify(drained, lo, hi)
        if problems:
            raise Problem("%s: %s" % (where, "\n".join(problems[:40])), d)
        c = self.counts.setdefault(flavour, Counts())
        c.states += 1
        c.cuts += hi - lo + 1
        c.drained += sum(len(v) for v in drained.values())
        c.required += self._required_count(lo, hi)
        d.cleanup()
        mqdtest._registry.remove(d)

    def _drain(self, d):
        drained = {}
        with d.client() as c:
            for q in self.queues:
                got = drained[q] = []
                while True:
                    c.send(b"get" + (b" " + q.encode()) * 64 + b"\r\n")
                    n = len(got)
                    while True:
                        line = c.recv_line()
                        if line == b"END\r\n":
                            break
                        words = line.split()
                        if words[:2] != [b"VALUE", q.encode()]:
                            raise Problem("drain of %s: %r" % (q, line), d)
                        got.append(c.recv_exact(int(words[3]) + 2)[:-2])
                    if len(got) == n:
                        break
            stats = c.stats()
        left = {k: stats[k] for q in self.queues
                for k in ("queue_%s_items" % q,
                          "queue_%s_open_transactions" % q)
                if stats.get(k, "0") != "0"}
        if left:
            raise Problem("after the drain: %s" % left, d)
        return drained

    # ---- checks ----

    @staticmethod
    def _required(m, lo, hi):
        return max(lo, m.acked + 1) <= min(hi, m.released)

    def _required_count(self, lo, hi):
        return sum(self._required(m, lo, hi)
                   for m in self.talk.messages.values())

    def verify(self, drained, lo, hi):
        problems, seen = [], set()
        for q, payloads in drained.items():
            for p in payloads:
                key = wire.tag(p)
                m = self.talk.messages.get(key)
                if m is None or m.payload != p or m.queue != q:
                    problems.append("in %s: %s, not a message sent there: %r"
                                    % (q, key, p[:60]))
                    continue
                if key in seen:
                    problems.append("%r is there twice" % m)
                seen.add(key)
                if m.received >= lo:
                    problems.append("%r is there although its set was read "
                                    "at %d" % (m, m.received))
                if m.erased < hi:
                    problems.append("%r is back although DELETED was sent "
                                    "at %d" % (m, m.erased))
        for m in self.talk.messages.values():
            if self._required(m, lo, hi) and m.key not in seen:
                problems.append(
                    "%r lost: STORED sent at %d, not released before %s"
                    % (m, m.acked, "the end" if m.released == INF
                       else m.released))
        return problems + self._fifo(drained, hi)

    def _fifo(self, drained, hi):
        problems = []
        for q, payloads in drained.items():
            untouched = [self.talk.messages[wire.tag(p)] for p in payloads]
            untouched = [m for m in untouched
                         if not any(t < hi for t, _ in m.deliveries)]
            last = {}
            latest = None               # the latest set read before m
            for m in untouched:
                producer, number = m.key[1:]
                if number < last.get(producer, 0):
                    problems.append("FIFO in %s: %r after number %d"
                                    % (q, m, last[producer]))
                last[producer] = number
                if latest is not None and m.acked < latest.received:
                    problems.append("FIFO in %s: %r (STORED at %d) after "
                                    "%r (read at %d)" % (
                                        q, m, m.acked, latest,
                                        latest.received))
                if latest is None or m.received > latest.received:
                    latest = m
        return problems

    def deliveries(self):
        """(checked, early): deliveries looked at, and those made before
        the payload was durable (message, time, kind, when it was)."""
        occurrences = self._occurrences()
        checked, early = 0, []
        for m in self.talk.messages.values():
            for time, kind in m.deliveries:
                checked += 1
                linked = self.model.linked(time)
                when = min((t for t, inode in occurrences.get(m.key, [])
                            if inode in linked), default=INF)
                if when >= time:
                    early.append((m, time, kind, when))
        return checked, early

    def _occurrences(self):
        """key -> [(time it became durable, inode)] for every place a
        payload was written whole (across consecutive writes too)."""
        ops = [op for op in self.model.content_ops if op.kind == "write"]
        at = {}
        for op in ops:
            at.setdefault((op.inode, op.offset), []).append(op)
        found = {}
        for op in ops:
            for match in wire.TAG.finditer(op.data):
                key = (match.group(1).decode(), int(match.group(2)),
                       int(match.group(3)))
                m = self.talk.messages.get(key)
                if m is None:
                    continue
                when = _durable_from(op, match.start(), m.payload, at)
                found.setdefault(key, []).append((when, op.inode))
        return found


def _durable_from(op, pos, payload, at):
    """When payload, starting at pos of op's bytes, was durable whole: it
    may go on in writes that continue op in the file."""
    piece = op.data[pos:pos + len(payload)]
    if not payload.startswith(piece):
        return INF
    if len(piece) == len(payload):
        return op.durable
    rest = payload[len(piece):]
    nexts = at.get((op.inode, op.offset + len(op.data)), [])
    return max(op.durable, min((_durable_from(n, 0, rest, at)
                                for n in nexts), default=INF))


def keep_evidence(d):
    """Copies the state of a Problem and mqd's log for the report; returns
    a line saying where."""
    dest = tempfile.mkdtemp(prefix="mqd-powercut-evidence-",
                            dir=os.environ.get("TMPDIR", "/tmp"))
    shutil.copytree(d.data_dir, os.path.join(dest, "data"),
                    dirs_exist_ok=True)
    if os.path.exists(d.log_path):
        shutil.copy(d.log_path, dest)
    return "\n(state and mqd's log kept in %s)" % dest
