#!/usr/bin/python3
"""A failed fdatasync, and the replies that wait for a sync (issue 10,
items 3 and 5), under tests/powercut/recorder.so: it injects the failures
(recorder.c documents MQD_FAULT_SYNC and MQD_FAULT_WHEN) and logs, in the
order they happened, the daemon's writes, syncs and renames and every byte
it sent, so a test can say what was durable when a reply went out.

  - one failed sync: the journal is no longer trusted (Linux may have
    dropped the pages it could not write and will not say so again); the
    replies that wait for it go out only once a checkpoint has written
    everything into a generation file that is durable under its name;
  - every sync failing: that checkpoint fails too, and the daemon stops
    with status 1 without acknowledging anything more; the next start has
    everything acknowledged before;
  - DELETED, and flush's and flush_all's OK, are sent only after an
    fdatasync that began after the write of their journal entry returned.
"""

import os

import mqdtest
from mqdtest import get_reply, set_cmd
from powercut import pclog, shim

O = pclog.OP
CALL, RETURN = pclog.CALL, pclog.RETURN
# Journal entry ops (daemon/entry.h).
ENTRY_FLUSH, ENTRY_DROP = 7, 8


def note(text):
    print("# " + text, flush=True)


def entry_bytes(op, queue):
    """The start of a journal entry's body: op, name length (2 bytes),
    name."""
    return bytes((op,)) + len(queue).to_bytes(2, "big") + queue.encode()


class Log:
    """The recorder's log of one daemon run, and questions about it."""

    def __init__(self, path):
        self.records = pclog.read(path)

    def calls(self, op):
        return [r for r in self.records if r.op == O[op] and r.phase == CALL]

    def reply_time(self, text):
        """When the send that carried reply text (a whole line) began."""
        sends = [r for r in self.calls("SEND") if r.result is not None
                 and text in r.result.data]
        assert len(sends) == 1, "%d sends carry %r" % (len(sends), text)
        return sends[0].time

    def write_of(self, data):
        """The first file write whose bytes hold data: (file id, when it
        returned)."""
        writes = [r for r in self.calls("WRITE") if data in r.data]
        assert writes, "no write holds %r" % data
        w = writes[0]
        assert w.result is not None and w.result.ret == len(w.data), w
        return w.id, w.result.time

    def synced_between(self, file_id, after, before):
        """Syncs of file_id that began after `after` and returned success
        before `before`."""
        return [r for r in self.calls("FSYNC") if r.id == file_id
                and r.time > after and r.result is not None
                and r.result.ret == 0 and r.result.time < before]

    def injected(self):
        return [r for r in self.records if r.flags & pclog.FLAG_INJECTED]

    def renames(self):
        """(name, new name, when it returned) of each rename that worked."""
        return [(r.name, r.name2, r.result.time) for r in self.calls("RENAME")
                if r.result is not None and r.result.ret == 0]

    def directory_syncs(self):
        """When each successful fsync of the data directory returned."""
        dirs = {r.result.id for r in self.calls("OPEN")
                if r.name == "" and r.result is not None
                and r.result.ret >= 0}
        return [r.result.time for r in self.calls("FSYNC") if r.id in dirs
                and r.result is not None and r.result.ret == 0]


class FailedSync(mqdtest.MqdTestCase):
    def fault_daemon(self, sync_fault, log=None):
        """A daemon under the shim whose syncs fail as sync_fault says once
        arm() has been called."""
        tmp = mqdtest.scratch_dir()
        self.control = os.path.join(tmp, "fail-now")
        self.log_path = log and os.path.join(tmp, "log")
        d = shim.Daemon(log=self.log_path, faults={
            "MQD_FAULT_SYNC": sync_fault, "MQD_FAULT_WHEN": self.control})
        d.start()
        self.wait_journal_made_ahead(d)
        return d

    def wait_journal_made_ahead(self, d):
        """The sync thread makes the next checkpoint's journal after the
        start's checkpoint; the tests count syncs from after that one."""
        until = mqdtest.deadline()
        with d.client() as c:
            while True:
                names = os.listdir(d.data_dir)
                if sum(n.endswith(".journal") for n in names) == 2 and \
                        not any(n.endswith(".new") for n in names):
                    return
                self.assertFalse(until.expired(), names)
                c.expect(b"version\r\n", mqdtest.VERSION_REPLY)

    def arm(self):
        open(self.control, "w").close()

    def restart_without_faults(self, d):
        """The same data directory under a daemon without the shim."""
        return mqdtest.Daemon(["-H", d.data_dir]).start()

    def test_one_failed_sync_repaired_by_a_checkpoint(self):
        d = self.fault_daemon("1", log=True)
        c = d.client()
        self.addCleanup(c.close)
        c.expect(set_cmd("q", b"before"), b"STORED\r\n")
        self.arm()
        # Its sync fails: STORED waits for the checkpoint that follows.
        c.expect(set_cmd("q", b"during"), b"STORED\r\n")
        os.unlink(self.control)
        c.expect(set_cmd("q", b"after"), b"STORED\r\n")
        log = d.log_text()
        self.assertIn("a sync of the journal failed", log)
        self.assertIn("the checkpoint after the failed sync is durable", log)
        d.stop()
        rec = Log(self.log_path)
        failed = rec.injected()
        self.assertEqual([(r.op, r.err) for r in failed],
                         [(O["FSYNC"], 5)])            # EIO
        # Between the failure and the STORED: a generation made durable
        # under its final name (synced, renamed, the directory synced).
        stored = [r.time for r in rec.calls("SEND")
                  if r.result is not None
                  and r.result.data == b"STORED\r\n"]
        self.assertEqual(len(stored), 3)
        fail_at, acked_at = failed[0].time, stored[1]
        renamed = [t for name, new, t in rec.renames()
                   if name.endswith(".gdbm.part") and new.endswith(".gdbm")
                   and fail_at < t < acked_at]
        self.assertTrue(renamed, "no generation renamed between the failed "
                        "sync (%d) and the STORED (%d)" % (fail_at, acked_at))
        self.assertTrue([t for t in rec.directory_syncs()
                         if renamed[0] < t < acked_at])
        # A kill now, a start without the shim: all three are there.
        d2 = self.restart_without_faults(d)
        with d2.client() as c2:
            c2.expect(b"get q\r\n" * 4,
                      b"".join(get_reply(("q", m))
                               for m in (b"before", b"during", b"after"))
                      + b"END\r\n")

    def test_every_sync_failing_stops_the_daemon(self):
        d = self.fault_daemon("1+")
        setter, deleter, flusher = (d.client() for _ in range(3))
        for c in (setter, deleter, flusher):
            self.addCleanup(c.close)
        setter.expect(set_cmd("q", b"a") + set_cmd("q", b"b")
                      + set_cmd("gone", b"g") + set_cmd("empty", b"e"),
                      b"STORED\r\n" * 4)
        self.arm()
        # None of these is acknowledged: the daemon stops first, at the
        # first one's sync, and may be gone before the others are sent.
        for c, request in ((setter, set_cmd("q", b"c")),
                           (deleter, b"delete gone\r\n"),
                           (flusher, b"flush empty\r\n")):
            try:
                c.send(request)
            except (BrokenPipeError, ConnectionResetError):
                pass
        for c in (setter, deleter, flusher):
            c.closed()
        d.wait_exit(expect=1)
        log = d.log_text()
        self.assertIn("a sync of the journal failed", log)
        # The checkpoint after the failure could not be made durable (its
        # generation, its journal or the journal it replaces: whichever
        # sync came first).
        self.assertRegex(log, r"CRITICAL \*\*: [^\n]*(checkpoint \d+ failed"
                         r"|cannot create mqd-\d+\.journal)[^\n]*: stopping\n")
        # What was acknowledged is there after a start without faults; the
        # rest may or may not be (it was written, never synced).
        d2 = self.restart_without_faults(d)
        with d2.client() as c:
            c.send(b"get q\r\n" * 4)
            got = b"".join(c.read_until(b"END\r\n") for _ in range(4))
            a_b = get_reply(("q", b"a")) + get_reply(("q", b"b"))
            self.assertIn(got, (a_b + b"END\r\n" * 2,
                                a_b + get_reply(("q", b"c")) + b"END\r\n"))
            c.expect(set_cmd("q", b"new"), b"STORED\r\n")

    def test_deleted_and_ok_wait_for_their_sync(self):
        # No faults, only the log: each reply went out after a sync of the
        # journal that began once its entry was written.
        d = self.fault_daemon("", log=True)
        deleted, flushed = "deleted-by-the-test", "flushed-by-the-test"
        with d.client() as c:
            c.expect(set_cmd(deleted, b"x") + set_cmd(flushed, b"y")
                     + set_cmd("other", b"z"), b"STORED\r\n" * 3)
            c.expect(b"delete %s\r\n" % deleted.encode(), b"DELETED\r\n")
            c.expect(b"flush %s\r\n" % flushed.encode(), b"OK\r\n")
            c.expect(b"flush_all\r\n", b"OK\r\n")
        d.stop()
        rec = Log(self.log_path)
        cases = [("DELETED", entry_bytes(ENTRY_DROP, deleted)),
                 ("OK to flush", entry_bytes(ENTRY_FLUSH, flushed)),
                 ("OK to flush_all", entry_bytes(ENTRY_FLUSH, "other"))]
        replies = [rec.reply_time(b"DELETED\r\n")] + sorted(
            r.time for r in rec.calls("SEND") if r.result is not None
            and r.result.data == b"OK\r\n")
        self.assertEqual(len(replies), 3)
        for (what, entry), reply_at in zip(cases, replies):
            file_id, written_at = rec.write_of(entry)
            self.assertLess(written_at, reply_at, what)
            self.assertTrue(rec.synced_between(file_id, written_at,
                                               reply_at),
                            "%s sent at %d with no sync of the journal "
                            "between its entry's write (%d) and then"
                            % (what, reply_at, written_at))


if __name__ == "__main__":
    mqdtest.main()
