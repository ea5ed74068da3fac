#!/usr/bin/python3
"""Faults around the daemon: a full disk, a file-size limit, a damaged or
foreign data file (and GDBM's recovery of it), and slow or hostile clients.

The disk-full tests put the data directory on a 32 MiB tmpfs, which needs
root (CI runs as root); they fail, saying so, where it cannot be mounted.
The recovery tests use gdbmtool (Debian package gdbmtool).

Memory is VmRSS from /proc/<pid>/status; CPU is utime + stime from
/proc/<pid>/stat.  Every wait is on a reply, an exit or a bounded poll.
"""

import hashlib
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import time

import mqdtest
import queuetest
from mqdtest import get_reply, set_cmd

VERSION = b"VERSION %s\r\n" % mqdtest.VERSION.encode()
TOO_LARGE = b"SERVER_ERROR object too large for cache\r\n"
TOO_MANY = b"SERVER_ERROR too many open connections\r\n"
GDBMTOOL = shutil.which("gdbmtool") or "/usr/bin/gdbmtool"

KIB = 1024
MIB = 1024 * KIB


def payload(i, size):
    """Message i: its number, then a pattern, size bytes in all."""
    head = b"message %06d " % i
    return (head + bytes((i + k) % 251 for k in range(256))
            * (size // 256 + 1))[:size]


def note(text):
    """A TAP comment: the numbers behind a passed bound, for the log."""
    print("# " + text, flush=True)


def file_fingerprint(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return (digest, st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode)


def drain(client, queue, size_hint=0):
    """Every message of queue, with plain gets, in order."""
    out = []
    key = queue.encode()
    while True:
        # A queue gives one message per line: 32 lines at once.
        client.send(b"get %s\r\n" % key * 32)
        n, ends = 0, 0
        while ends < 32:
            line = client.recv_line()
            if line == b"END\r\n":
                ends += 1
                continue
            parts = line.split(b" ")
            assert parts[:2] == [b"VALUE", key] and len(parts) == 4, line
            data = client.recv_exact(int(parts[3]) + 2)
            assert data.endswith(b"\r\n"), data[-10:]
            out.append(data[:-2])
            n += 1
        if n == 0:
            return out


def cpu_seconds(d):
    return queuetest.cpu_seconds(d.pid)


def assert_idle(test, d, client, ms=300):
    """The daemon uses (almost) no CPU while nothing happens: a blocking get
    on an empty queue lets ms pass by its own clock."""
    before = cpu_seconds(d)
    queuetest.idle_ms(client, ms)
    used = cpu_seconds(d) - before
    test.assertLess(used, 0.5 * ms / 1000,
                    "mqd used %.2f s of CPU in %d ms of idleness" % (used, ms))


def raise_own_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- a full disk ------------------------------------------------------------

FULL_SIZE = 16000                 # bytes per message while filling


class DiskFull(mqdtest.MqdTestCase):
    """The data directory on a 32 MiB tmpfs, with a 2 MiB filler file of
    ours beside it, filled with sets until one is refused, or by another
    program (dd) to the last block."""

    def setUp(self):
        tmp = mqdtest.scratch_dir()
        self.fs = os.path.join(tmp, "fs")
        os.mkdir(self.fs)
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o",
                                "size=32m,mode=0700", "tmpfs", self.fs],
                               capture_output=True, text=True)
        if mount.returncode != 0:
            self.fail("cannot mount a small tmpfs at %s (the disk-full tests "
                      "need root): %s" % (self.fs, mount.stderr.strip()))
        self.addCleanup(self.unmount)
        self.filler = os.path.join(self.fs, "filler")
        with open(self.filler, "wb") as f:
            f.write(b"\0" * (2048 * KIB))
        self.d = mqdtest.Daemon(["-H", os.path.join(self.fs, "data")])
        self.d.start()
        self.c = self.d.client()
        self.addCleanup(self.c.close)

    def unmount(self):
        # The daemon keeps its files open, so it stops first; a clean stop
        # on a full disk still exits 0 (stop asserts it).
        try:
            if self.d.running:
                self.d.stop()
        finally:
            self.d.kill9()
            if subprocess.run(["umount", self.fs]).returncode != 0:
                subprocess.run(["umount", "-l", self.fs])

    def fill(self, first=0, limit=4000):
        """Sets messages first, first+1, ... until one is not STORED.
        Returns (the numbers acknowledged, the refusal line)."""
        acked = []
        for i in range(first, first + limit):
            self.c.send(set_cmd("full", payload(i, FULL_SIZE)))
            line = self.c.recv_line()
            if line != b"STORED\r\n":
                return acked, line
            acked.append(i)
        self.fail("%d messages of %d bytes stored on a 32 MiB file system"
                  % (limit, FULL_SIZE))

    def fill_and_check_reason(self, first=0):
        acked, line = self.fill(first)
        self.assertRegex(line, rb"^SERVER_ERROR [^\r\n]*(?i:no space left "
                         rb"on device)[^\r\n]*\r\n$")
        return acked

    def assert_queue_is(self, numbers):
        got = drain(self.c, "full")
        self.assertEqual([g[:15] for g in got],
                         [payload(i, FULL_SIZE)[:15] for i in numbers])
        self.assertEqual(got, [payload(i, FULL_SIZE) for i in numbers])

    def test_set_refused_with_the_reason(self):
        acked = self.fill_and_check_reason()
        self.assertGreater(len(acked), 50)
        # The daemon itself is fine: it answers, and says so again.
        self.c.expect(b"version\r\n", VERSION)
        self.c.send(set_cmd("full", payload(9999, FULL_SIZE)))
        self.assertRegex(self.c.recv_line(), rb"^SERVER_ERROR [^\r\n]*"
                         rb"(?i:no space left on device)")
        self.c.expect(b"version\r\n", VERSION)

    def test_get_keeps_working(self):
        acked = self.fill_and_check_reason()
        for i in acked[:3]:
            self.c.expect(b"get full\r\n", get_reply(("full",
                                                     payload(i, FULL_SIZE))))
        self.c.expect(b"get nosuchqueue\r\n", b"END\r\n")
        stats = self.c.stats()
        self.assertEqual(stats["queue_full_items"], str(len(acked) - 3))

    def test_nothing_stored_before_is_lost(self):
        acked = self.fill_and_check_reason()
        # A clean stop on the full disk, a start, then every message that
        # was acknowledged, in order, and none that was refused.
        self.c.close()
        self.d.restart()
        self.c = self.d.client()
        self.assert_queue_is(acked)

    def test_start_after_kill9_on_a_full_disk(self):
        # Issue 10, item 9: a start replays the journal after the last
        # checkpoint and writes no more than that again, in the room the
        # removed unfinished generation leaves: it needs no free space.
        acked = self.fill_and_check_reason()
        self.c.close()
        self.d.kill9()
        st = os.statvfs(self.fs)
        note("%d messages of %d bytes stored; killed with %d KiB free"
             % (len(acked), FULL_SIZE, st.f_bavail * st.f_frsize // KIB))
        self.d.start()
        self.c = self.d.client()
        self.assert_queue_is(acked)

    def restart_with(self, args):
        """The daemon again on the same file system, with other options."""
        self.c.close()
        self.d.stop()
        self.d = mqdtest.Daemon(["-H", self.d.data_dir] + args)
        self.d.start()
        self.c = self.d.client()

    def fill_with_another_program(self):
        """A program of ours takes every free block of the file system."""
        hog = subprocess.run(["dd", "if=/dev/zero",
                              "of=%s" % os.path.join(self.fs, "hog"),
                              "bs=64k"], capture_output=True, text=True)
        self.assertIn("No space left on device", hog.stderr)
        self.assertEqual(os.statvfs(self.fs).f_bavail, 0)

    def gets_on_a_full_disk(self, args):
        # Issue 10, item 1: a get's journal entry goes into space the
        # journal wrote ahead, so a disk another program filled answers
        # every get, loses nothing and hands nothing out twice.  The
        # longest name makes the entries of 60 gets (about 16 KiB) more
        # than the journal's last page holds.
        self.restart_with(args)
        q = ("gets-on-a-full-disk-" * 13)[:250]
        stored = [payload(i, 100 + 37 * i) for i in range(300)]
        self.c.expect(b"".join(set_cmd(q, m) for m in stored),
                      b"STORED\r\n" * len(stored))
        self.fill_with_another_program()
        # 30 gets one after another, each on its own connection ...
        clients = [self.d.client() for _ in range(60)]
        for c in clients:
            self.addCleanup(c.close)
        for i, c in enumerate(clients[:30]):
            c.expect(b"get %s\r\n" % q.encode(), get_reply((q, stored[i])))
        # ... and 30 in the same passes.
        for c in clients[30:]:
            c.send(b"get %s\r\n" % q.encode())
        got = []
        for c in clients[30:]:
            line = c.recv_line()
            self.assertEqual(line.split()[:3],
                             [b"VALUE", q.encode(), b"0"])
            got.append(c.recv_exact(int(line.split()[3]) + 2)[:-2])
            c.expect_reply(b"END\r\n")
        self.assertEqual(sorted(got), sorted(stored[30:60]))
        self.c.expect(b"version\r\n", VERSION)
        # A kill, the disk given back, a start: the other 240 are there,
        # in order, and none of the 60 came back.
        self.d.kill9()
        os.unlink(os.path.join(self.fs, "hog"))
        self.d.start()
        self.c = self.d.client()
        got = drain(self.c, q)
        self.assertEqual(len(got), 240)
        self.assertEqual(got, stored[60:])

    def test_gets_on_a_disk_another_program_filled(self):
        self.gets_on_a_full_disk([])

    def test_gets_on_a_disk_another_program_filled_no_sync(self):
        self.gets_on_a_full_disk(["-N"])

    def test_writes_resume_after_draining(self):
        # A write GDBM cannot finish would leave its file needing recovery:
        # mqd refuses sets while the file system is nearly full, and gives
        # the space back once every queue is empty (its 1-second sweep cuts
        # a checkpoint, and the files that held the messages go).
        acked = self.fill_and_check_reason()
        offset = queuetest.log_size(self.d)
        self.assert_queue_is(acked)
        queuetest.wait_log(self.d, "gave the disk back", offset,
                           client=self.c)
        more = list(range(1000, 1005))
        for i in more:
            self.c.expect(set_cmd("full", payload(i, FULL_SIZE)),
                          b"STORED\r\n")
        self.assert_queue_is(more)

    def test_writes_resume_after_space_is_freed(self):
        acked = self.fill_and_check_reason()
        # 2 MiB more: room for 5 messages (a copy in the data file and one
        # in the journal each, and the safety margin), even when the sync
        # thread had just written a 1 MiB piece of the journal ahead of its
        # end, so that the refused set found 1.5 MiB less than it needed
        # (a CI run, with a filler of 256 KiB).
        os.unlink(self.filler)
        more = list(range(1000, 1005))
        for i in more:
            self.c.expect(set_cmd("full", payload(i, FULL_SIZE)),
                          b"STORED\r\n")
        # And full again, then everything is there.
        again = self.fill_and_check_reason(2000)
        self.assert_queue_is(acked + more + again)


class FileSizeLimit(mqdtest.MqdTestCase):
    """RLIMIT_FSIZE (ulimit -f, systemd's LimitFSIZE=) on the daemon: a write
    past it fails with EFBIG, and SIGXFSZ, whose default action ends the
    process, must not end mqd.  Checkpoints start new files long before
    the limit, so only a message too large for a file is refused."""

    def test_file_size_limit(self):
        d = self.start_daemon()
        c = d.client()
        self.addCleanup(c.close)
        limit = 1 * MIB
        # The soft limit only: lowering the hard one could not be undone.
        _, hard = resource.prlimit(d.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(d.pid, resource.RLIMIT_FSIZE, (limit, hard))
        # The daemon reads its limits every 100 ms: a round trip that
        # waits 300 ms on a blocking get lets it see the new one.
        queuetest.idle_ms(c, 300)
        n = 200
        for i in range(n):
            c.send(set_cmd("big", payload(i, FULL_SIZE)))
            try:
                line = c.recv_line()
            except AssertionError as e:
                code = d.wait_exit(expect=None)
                raise AssertionError(
                    "after %d sets under a %d-byte file size limit mqd "
                    "stopped answering (%s); exit status %s (-%d is SIGXFSZ)"
                    % (i, limit, e, code, int(signal.SIGXFSZ))) from None
            self.assertEqual(line, b"STORED\r\n", "set %d" % i)
        for name, size in queuetest.file_sizes(d.data_dir).items():
            self.assertLessEqual(size, limit, name)
        c.send(set_cmd("big", payload(n, limit // 3)))
        self.assertRegex(c.recv_line(),
                         rb"^SERVER_ERROR [^\r\n]*(?i:file too large)")
        c.expect(b"get big\r\n", get_reply(("big", payload(0, FULL_SIZE))))
        resource.prlimit(d.pid, resource.RLIMIT_FSIZE, (hard, hard))
        queuetest.idle_ms(c, 300)
        c.expect(set_cmd("big", payload(5000, limit)), b"STORED\r\n")
        got = drain(c, "big")
        self.assertEqual(got, [payload(i, FULL_SIZE) for i in range(1, n)]
                         + [payload(5000, limit)])


# ---- damaged and foreign data files -----------------------------------------

class DataFile(mqdtest.MqdTestCase):
    """mqd refuses a generation file that is not GDBM's or is damaged,
    names it, exits 1 and leaves it as it was; a damaged segment inside a
    good file costs that queue its gets (SERVER_ERROR naming the file) and
    no other queue anything; gdbmtool's recover salvages a damaged file."""

    def make_store(self, n, size=100, queues=("keep",)):
        """n messages in each of queues, stored, then a clean stop (a
        checkpoint: they are all in the newest generation file).  Returns
        (daemon, path of that file, messages)."""
        d = mqdtest.Daemon()
        d.start()
        msgs = [payload(i, size) for i in range(n)]
        with d.client() as c:
            for q in queues:
                for start in range(0, n, 100):
                    batch = msgs[start:start + 100]
                    c.expect(b"".join(set_cmd(q, m) for m in batch),
                             b"STORED\r\n" * len(batch))
        d.stop()
        return d, self.newest_generation(d), msgs

    def newest_generation(self, d):
        names = sorted((n for n in os.listdir(d.data_dir)
                        if re.fullmatch(r"mqd-\d+\.gdbm", n)),
                       key=lambda n: int(n[4:-5]))
        self.assertTrue(names, os.listdir(d.data_dir))
        return os.path.join(d.data_dir, names[-1])

    def assert_refused(self, d, path, *expect_in_log):
        before = file_fingerprint(path)
        listing = sorted(os.listdir(os.path.dirname(path)))
        code, log = d.start_expect_failure()
        self.assertEqual(code, 1, log)
        self.assertIn(path, log, "the message names the file")
        for text in expect_in_log:
            self.assertIn(text, log)
        self.assertEqual(file_fingerprint(path), before,
                         "the file was changed")
        after = sorted(os.listdir(os.path.dirname(path)))
        self.assertEqual([f for f in after if f not in listing
                          and f != "mqd.lock"], [],
                         "files left in the data directory")
        self.assertFalse(os.path.lexists(d.socket_path))
        return log

    def tool(self, name):
        path = shutil.which(name) or os.path.join("/usr/bin", name)
        if not os.access(path, os.X_OK):
            self.fail("%s not found: install Debian's package gdbmtool"
                      % name)
        return path

    def foreign_generation(self, content):
        d = mqdtest.Daemon()
        os.makedirs(d.data_dir, mode=0o700)
        path = os.path.join(d.data_dir, "mqd-000001.gdbm")
        with open(path, "wb") as f:
            f.write(content)
        return d, path

    def test_foreign_random_bytes_refused(self):
        rng = random.Random(5)
        d, path = self.foreign_generation(
            bytes(rng.randrange(256) for _ in range(64 * KIB)))
        self.assert_refused(d, path, "Bad magic number")

    def test_foreign_text_file_refused(self):
        d, path = self.foreign_generation(
            b"precious notes, not a GDBM file\n")
        self.assert_refused(d, path)

    def test_damaged_header_refused(self):
        d, path, _ = self.make_store(50)
        with open(path, "r+b") as f:
            f.seek(8)                   # the directory's offset (off_t)
            f.write(b"\xff" * 8)
        self.assert_refused(d, path)

    def test_damaged_segment_costs_its_queue_only(self):
        d, path, msgs = self.make_store(300, queues=("keep", "other"))
        with open(path, "r+b") as f:
            data = f.read()
            # The first copy of message 5 is in queue keep's first segment.
            at = data.index(msgs[5])
            f.seek(at)
            f.write(b"X")
        d.start()
        with d.client() as c:
            c.send(b"get keep\r\n")
            line = c.recv_line()
            self.assertRegex(line, rb"^SERVER_ERROR .*damaged segment: "
                             rb"checksum mismatch\r\n$")
            self.assertIn(os.path.basename(path).encode(), line)
            # The connection is in step, the other queue whole.
            c.expect(b"version\r\n", VERSION)
            self.assertEqual(drain(c, "other"), msgs)
            # Deleting the damaged queue frees its name.
            c.expect(b"delete keep\r\n", b"DELETED\r\n")
            c.expect(set_cmd("keep", b"anew") + b"get keep\r\n",
                     b"STORED\r\n" + get_reply(("keep", b"anew")))

    def test_damaged_carried_tail_refused(self):
        # Under 32 KiB, keep's young tail was carried over in its state,
        # not sealed: damaged, the states are lost, and with no segment to
        # salvage from the start is refused.
        d, path, msgs = self.make_store(20)
        self.flip_byte(path, msgs[5])
        self.assert_refused(d, path, "queue states (part 0): the young tail "
                            "of queue keep: damaged segment: checksum "
                            "mismatch")

    def test_damaged_carried_tail_salvaged(self):
        # With segments to salvage from (sealed's 400 messages, over
        # 32 KiB), the queues are rebuilt from them: keep's carried tail
        # is lost with the states, and the log says so.
        d = mqdtest.Daemon()
        d.start()
        small = [payload(i, 100) for i in range(20)]
        sealed = [payload(i, 100) for i in range(1000, 1400)]
        with d.client() as c:
            for q, msgs in (("keep", small), ("sealed", sealed)):
                c.expect(b"".join(set_cmd(q, m) for m in msgs),
                         b"STORED\r\n" * len(msgs))
        d.stop()
        path = self.newest_generation(d)
        self.flip_byte(path, small[5])
        offset = len(d.log_text())
        d.start()
        with d.client() as c:
            self.assertEqual(drain(c, "sealed"), sealed)
            c.expect(b"get keep\r\n", b"END\r\n")
        self.assertIn("the newest generation lost its queue states: 1 queues "
                      "and 400 messages salvaged", d.log_text(offset))

    def flip_byte(self, path, message):
        with open(path, "r+b") as f:
            data = f.read()
            self.assertEqual(data.count(message), 1)
            f.seek(data.index(message))
            f.write(b"X")

    def test_damaged_file_salvaged_by_gdbmtool_recover(self):
        # RECOVERY in mqd(8): gdbmtool's recover on a copy, keeping a
        # backup; the queues whose states it saved come back.
        d, path, msgs = self.make_store(2000, size=3000)
        buckets, bucket_size = self.bucket_addresses(path)
        self.assertGreater(len(buckets), 1, "the segments span buckets")
        with open(path, "r+b") as f:
            f.seek(buckets[-1] + 16)
            f.write(b"\xff" * 64)
        self.assert_refused(d, path)
        run = subprocess.run([self.tool("gdbmtool"), path, "recover",
                              "verbose", "summary", "backup"],
                             capture_output=True, text=True, timeout=60)
        out = run.stdout + run.stderr
        self.assertEqual(run.returncode, 0, out)
        self.assertIn("Recovery succeeded", out)
        os.rename(path + ".~1~", os.path.join(mqdtest.scratch_dir(),
                                              "damaged.gdbm"))
        d.start()
        with d.client() as c:
            got = drain(c, "keep")
        # A bucket's segments are gone (the catalog too, or not: then the
        # queues are salvaged from the segments); the rest come in order.
        self.assertGreater(len(got), 0)
        self.assertLess(len(got), len(msgs))
        index = {m: i for i, m in enumerate(msgs)}
        positions = [index.get(g) for g in got]
        self.assertNotIn(None, positions, "a message that was never sent")
        self.assertEqual(positions, sorted(positions), "FIFO order")

    def bucket_addresses(self, path):
        with open(path, "rb") as f:
            header = f.read(4096)
            magic, block_size, dir_off, dir_size = struct.unpack_from(
                "<IiqI", header, 0)
            f.seek(dir_off)
            directory = f.read(dir_size)
        return sorted(set(struct.unpack("<%dq" % (dir_size // 8),
                                        directory))), block_size


# ---- slow and hostile clients -----------------------------------------------

class HostileClients(mqdtest.MqdTestCase):
    def served_promptly(self, client, limit_s=2.0):
        start = time.monotonic()
        client.expect(b"version\r\n", VERSION)
        client.expect(set_cmd("ok", b"fine") + b"get ok\r\n",
                      b"STORED\r\n" + get_reply(("ok", b"fine")))
        took = time.monotonic() - start
        self.assertLess(took, limit_s, "a round trip took %.2f s" % took)

    def test_client_that_never_reads(self):
        d = self.start_daemon()
        other = d.client()
        self.addCleanup(other.close)
        big = payload(1, 256 * KIB)
        other.expect(set_cmd("peeked", big), b"STORED\r\n")
        base_kb = d.rss_kb()
        # Peeks of a 256 KiB message, sent without ever reading a reply,
        # until the socket takes no more.
        hostile = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(hostile.close)
        hostile.connect(d.socket_path)
        hostile.setblocking(False)
        request = b"get peeked/peek\r\n" * 256
        sent = 0
        for _ in range(20000):
            try:
                sent += hostile.send(request)
            except BlockingIOError:
                break
        else:
            self.fail("the daemon read %d bytes of requests without the "
                      "replies being read" % sent)
        self.assertGreater(sent, 100 * KIB)
        # What it asked for would be sent // 17 * 256 KiB of replies.
        asked_mb = sent // len(b"get peeked/peek\r\n") / 4
        for _ in range(3):
            self.served_promptly(other)
            rss_kb = d.rss_kb()
            self.assertLess(rss_kb - base_kb, 16 * KIB * d.memory_slack(),
                            "VmRSS grew from %d to %d kB while a client asked "
                            "for %.0f MB of replies without reading them"
                            % (base_kb, rss_kb, asked_mb))
        note("never-reading client: %d bytes of requests taken, VmRSS %d -> "
             "%d kB" % (sent, base_kb, d.rss_kb()))
        assert_idle(self, d, other)
        # It goes away without reading: the daemon forgets it.
        hostile.close()
        until = mqdtest.deadline()
        while other.stats()["curr_connections"] != "1":
            self.assertFalse(until.expired(), "the closed client is still "
                             "counted")
        self.served_promptly(other)
        other.expect(b"get peeked\r\n", get_reply(("peeked", big)))

    def test_huge_length_trickled(self):
        d = self.start_daemon()
        other = d.client()
        self.addCleanup(other.close)
        other.expect(set_cmd("small", b"s"), b"STORED\r\n")
        base_kb = d.rss_kb()
        c = d.client()
        self.addCleanup(c.close)
        # A 1 GiB set with the default -B 1M: refused at once; its data is
        # read and dropped as it comes, in pieces, while others are served.
        c.expect(b"set big 0 0 1073741824\r\n", TOO_LARGE)
        piece = b"\xa5" * MIB
        peak_kb = base_kb
        for mb in range(1024):
            c.send(piece)
            if mb % 64 == 63:
                peak_kb = max(peak_kb, d.rss_kb())
                self.served_promptly(other)
        # The data's end, then a command: the connection is still in step.
        c.expect(b"\r\nversion\r\n", VERSION)
        peak_kb = max(peak_kb, d.rss_kb())
        note("1 GiB refused set streamed through: VmRSS %d kB, at most %d kB"
             % (base_kb, peak_kb))
        self.assertLess(peak_kb - base_kb, 8 * KIB * d.memory_slack(),
                        "VmRSS grew from %d to %d kB while 1 GiB of a refused "
                        "set went by" % (base_kb, peak_kb))
        self.assertIn(b"STAT small 1/0\r\n", other.stats_queue())
        self.assertNotIn(b"STAT big ", other.stats_queue())
        c.expect(b"get big small\r\n", get_reply(("small", b"s")))

    def test_connections_up_to_the_limit_and_beyond(self):
        limit = 100
        d = self.start_daemon(["-c", str(limit)])
        clients = []
        for _ in range(limit):
            c = d.client()
            clients.append(c)
            self.addCleanup(c.close)
            c.expect(b"version\r\n", VERSION)
        for _ in range(20):
            with d.client() as extra:
                extra.expect_reply(TOO_MANY)
                extra.closed()
        self.assertEqual(clients[0].stats()["curr_connections"], str(limit))
        # Everyone inside is still served, and can talk to the others.
        for i, c in enumerate(clients):
            c.expect(set_cmd("round", b"%d" % i), b"STORED\r\n")
        for i, c in enumerate(reversed(clients)):
            c.expect(b"get round\r\n", get_reply(("round", b"%d" % i)))
        # A place that frees up is taken again.
        clients[5].send(b"quit\r\n")
        clients[5].closed()
        clients[5] = d.client()
        clients[5].expect(b"version\r\n", VERSION)
        with d.client() as extra:
            extra.expect_reply(TOO_MANY)
            extra.closed()
        assert_idle(self, d, clients[0])

    def test_default_limit_with_a_stock_fd_limit(self):
        # Debian's default soft RLIMIT_NOFILE is 1024, the same as the
        # default -c: every client beyond what fits must still be told
        # "too many open connections" (or be served), never left hanging
        # while the daemon spins on accept().
        raise_own_fd_limit(2500)
        d = self.start_daemon()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (1024, hard))
        log_before = queuetest.log_size(d)
        clients = []
        served = refused = 0
        for i in range(1100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            clients.append(s)
            self.addCleanup(s.close)
            s.connect(d.socket_path)
            try:
                s.sendall(b"version\r\n")
            except BrokenPipeError:
                pass                # refused at once: the reply is there
            reply = b""
            until = mqdtest.deadline()
            # poll, not select: these descriptors go past 1024.
            poller = select.poll()
            poller.register(s, select.POLLIN)
            while not reply.endswith(b"\r\n"):
                if poller.poll(50):
                    chunk = s.recv(100)
                    reply += chunk
                    if not chunk:
                        break
                    continue
                grown = queuetest.log_size(d) - log_before
                if until.expired() or grown > 1 * MIB:
                    d.kill9()
                    self.fail("connection %d (after %d served, %d refused) "
                              "got no reply within %.1f s; the daemon's log "
                              "grew by %d bytes meanwhile"
                              % (i + 1, served, refused,
                                 mqdtest.TIMEOUT - until.left(), grown))
            if reply == VERSION:
                served += 1
            elif reply == TOO_MANY:
                refused += 1
            else:
                self.fail("connection %d got %r" % (i + 1, reply))
        self.assertGreater(served, 900)
        self.assertEqual(served + refused, 1100)
        # One freed place, then the daemon serves a new client (a bounded
        # poll: the daemon says nothing when it sees a client leave).
        clients[0].close()
        until = mqdtest.deadline()
        while True:
            with d.client() as c:
                c.send(b"version\r\n")
                if c.recv_line() == VERSION:
                    break
            self.assertFalse(until.expired(), "no place freed up")
        self.assertLess(queuetest.log_size(d) - log_before, 256 * KIB,
                        "the log grew by %d bytes"
                        % (queuetest.log_size(d) - log_before))

    def test_thousand_idle_connections(self):
        raise_own_fd_limit(1200)
        d = self.start_daemon()
        other = d.client()
        self.addCleanup(other.close)
        base_kb = d.rss_kb()
        idle = []
        for _ in range(1000):
            c = d.client()
            idle.append(c)
            self.addCleanup(c.close)
            c.expect(b"version\r\n", VERSION)      # accepted and served
        self.assertEqual(other.stats()["curr_connections"], "1001")
        rss_kb = d.rss_kb()
        note("1,000 idle connections: VmRSS %d -> %d kB" % (base_kb, rss_kb))
        self.assertLess(rss_kb - base_kb, 16 * KIB * d.memory_slack(),
                        "VmRSS grew from %d to %d kB for 1,000 idle "
                        "connections" % (base_kb, rss_kb))
        self.served_promptly(other)
        assert_idle(self, d, other)
        # They are all still there and served.
        for c in idle[::97]:
            c.expect(b"version\r\n", VERSION)
        for c in idle:
            c.close()
        until = mqdtest.deadline()
        while other.stats()["curr_connections"] != "1":
            self.assertFalse(until.expired(), "closed connections still "
                             "counted")


if __name__ == "__main__":
    mqdtest.main()
