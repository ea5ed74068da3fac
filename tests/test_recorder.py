#!/usr/bin/python3
"""The power-cut recorder (tests/powercut/recorder.so) itself: what it logs
and the faults it injects, on a small Python program and under the real
daemon.  tests/powercut/recorder.c documents both."""

import errno
import json
import os
import subprocess
import sys

import mqdtest
from mqdtest import set_cmd
from powercut import pclog, shim

O = pclog.OP
CALL, RETURN, EVENT = pclog.CALL, pclog.RETURN, pclog.EVENT


def note(text):
    for line in text.split("\n"):
        print("# " + line, flush=True)


# ---- the shim on a small program -------------------------------------------

def run_subject(code, data_dir, log=None, faults=None):
    """Runs Python code under the shim watching data_dir; the code prints
    one JSON value, which is returned."""
    env = dict(os.environ, **shim.environment(data_dir, log, faults))
    out = subprocess.run([sys.executable, "-c", code], env=env,
                         capture_output=True, text=True,
                         timeout=mqdtest.TIMEOUT)
    if out.returncode != 0:
        raise AssertionError("the subject failed: %s" % out.stderr)
    return json.loads(out.stdout)


# Each call's errno (0: it worked), so faults show.
SUBJECT_PRELUDE = """
import json, mmap, os
d = %r
results = []
def attempt(fn, *args):
    try:
        fn(*args)
        results.append(0)
    except OSError as e:
        results.append(e.errno)
"""


def subject(data_dir, body):
    return SUBJECT_PRELUDE % data_dir + body + "\nprint(json.dumps(results))\n"


def shape(records):
    """What a test compares: per record (op, phase, name, name2, a, b, c,
    ret, err, data), ids and descriptors left out ("fd" for one)."""
    return [(pclog.OPS[r.op - 1], r.phase, r.name, r.name2, r.a, r.b, r.c,
             "fd" if r.op == O["OPEN"] and r.phase == RETURN and r.ret >= 0
             else r.ret, r.err,
             r.data) for r in records]


class Recorder(mqdtest.MqdTestCase):
    def setUp(self):
        self.tmp = mqdtest.scratch_dir()
        self.data = os.path.join(self.tmp, "data")
        os.mkdir(self.data)
        self.log = os.path.join(self.tmp, "log")

    def records(self):
        records = pclog.read(self.log)
        self.assertEqual([(r.op, r.phase, r.name) for r in records[:1]],
                         [(O["START"], EVENT, self.data)])
        return records[1:]

    def test_file_calls_in_order(self):
        outside = os.path.join(self.tmp, "outside")
        self.assertEqual(run_subject(subject(self.data, """
os.mkdir(d + "/sub", 0o700)
fd = os.open(d + "/sub/f", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o640)
os.write(fd, b"abc")
os.pwrite(fd, b"xy", 10)
os.writev(fd, [b"12", b"345"])
os.ftruncate(fd, 4)
os.posix_fallocate(fd, 0, 8192)
os.fdatasync(fd)
os.fsync(fd)
os.close(fd)
out = os.open(%r, os.O_CREAT | os.O_WRONLY, 0o600)
os.write(out, b"not recorded")
os.fsync(out)
os.close(out)
os.rename(d + "/sub/f", d + "/sub/g")
dfd = os.open(d + "/sub", os.O_RDONLY)
os.fsync(dfd)
os.close(dfd)
os.unlink(d + "/sub/g")
os.rmdir(d + "/sub")
""" % outside), self.data, self.log), [])
        # Python opens everything close-on-exec.
        flags = os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC
        self.assertEqual(shape(self.records()), [
            ("MKDIR", CALL, "sub", None, 0o700, 0, 0, 0, 0, b""),
            ("MKDIR", RETURN, None, None, 0, 0, 0, 0, 0, b""),
            ("OPEN", CALL, "sub/f", None, flags, 0o640, 0, 0, 0, b""),
            ("OPEN", RETURN, None, None, 0, 0, 0, "fd", 0, b""),
            ("WRITE", CALL, None, None, 0, 0, 0, 0, 0, b"abc"),
            ("WRITE", RETURN, None, None, 0, 0, 0, 3, 0, b""),
            ("WRITE", CALL, None, None, 10, 0, 0, 0, 0, b"xy"),
            ("WRITE", RETURN, None, None, 10, 0, 0, 2, 0, b""),
            ("WRITE", CALL, None, None, 3, 0, 0, 0, 0, b"12345"),
            ("WRITE", RETURN, None, None, 3, 0, 0, 5, 0, b""),
            ("TRUNCATE", CALL, None, None, 4, 0, 0, 0, 0, b""),
            ("TRUNCATE", RETURN, None, None, 4, 0, 0, 0, 0, b""),
            ("FALLOCATE", CALL, None, None, 0, 0, 8192, 0, 0, b""),
            ("FALLOCATE", RETURN, None, None, 0, 0, 8192, 0, 0, b""),
            ("FSYNC", CALL, None, None, 1, 0, 0, 0, 0, b""),
            ("FSYNC", RETURN, None, None, 1, 0, 0, 0, 0, b""),
            ("FSYNC", CALL, None, None, 0, 0, 0, 0, 0, b""),
            ("FSYNC", RETURN, None, None, 0, 0, 0, 0, 0, b""),
            ("CLOSE", EVENT, None, None, 0, 0, 0, 0, 0, b""),
            ("RENAME", CALL, "sub/f", "sub/g", 0, 0, 0, 0, 0, b""),
            ("RENAME", RETURN, None, None, 0, 0, 0, 0, 0, b""),
            ("OPEN", CALL, "sub", None, os.O_RDONLY | os.O_CLOEXEC, 0, 0, 0,
             0, b""),
            ("OPEN", RETURN, None, None, 0, 0, 1, "fd", 0, b""),
            ("FSYNC", CALL, None, None, 0, 0, 0, 0, 0, b""),
            ("FSYNC", RETURN, None, None, 0, 0, 0, 0, 0, b""),
            ("CLOSE", EVENT, None, None, 0, 0, 0, 0, 0, b""),
            ("UNLINK", CALL, "sub/g", None, 0, 0, 0, 0, 0, b""),
            ("UNLINK", RETURN, None, None, 0, 0, 0, 0, 0, b""),
            ("UNLINK", CALL, "sub", None, 1, 0, 0, 0, 0, b""),
            ("UNLINK", RETURN, None, None, 0, 0, 0, 0, 0, b""),
        ])
        with open(outside, "rb") as f:
            self.assertEqual(f.read(), b"not recorded")

    def test_shared_mapping_pages(self):
        # A store into a shared writable mapping makes no call: the page
        # it changed is logged before the msync that makes it durable.
        self.assertEqual(run_subject(subject(self.data, """
fd = os.open(d + "/m", os.O_CREAT | os.O_RDWR, 0o600)
os.ftruncate(fd, 8192)
m = mmap.mmap(fd, 8192)
m[5000:5003] = b"xyz"
m.flush()
m[100:101] = b"a"
m.close()
os.close(fd)
"""), self.data, self.log), [])
        page = bytearray(4096)
        page[5000 - 4096:5003 - 4096] = b"xyz"
        first = bytearray(4096)
        first[100] = ord("a")
        mapped = [r for r in self.records()
                  if r.op in (O["MMAP"], O["MAPWRITE"], O["MSYNC"])]
        prot_flags = (3 << 32) | 1             # read|write, MAP_SHARED
        self.assertEqual(shape(mapped), [
            ("MMAP", EVENT, None, None, 0, 8192, prot_flags, 0, 0, b""),
            ("MAPWRITE", EVENT, None, None, 4096, 0, 0, 0, 0, bytes(page)),
            ("MSYNC", CALL, None, None, 4, 0, 8192, 0, 0, b""),
            ("MSYNC", RETURN, None, None, 4, 0, 8192, 0, 0, b""),
            ("MAPWRITE", EVENT, None, None, 0, 0, 0, 0, 0, bytes(first)),
        ])

    def test_fork_child_goes_on(self):
        # A child of fork writes through the descriptors it inherited.
        self.assertEqual(run_subject(subject(self.data, """
fd = os.open(d + "/f", os.O_CREAT | os.O_WRONLY, 0o600)
pid = os.fork()
if pid == 0:
    os.write(fd, b"child")
    os._exit(0)
os.waitpid(pid, 0)
os.write(fd, b"parent")
"""), self.data, self.log), [])
        records = self.records()
        opened = [r.result.id for r in records
                  if r.op == O["OPEN"] and r.phase == CALL]
        starts = [r for r in records if r.op == O["START"]]
        self.assertEqual([(r.proc, r.a, r.name) for r in starts],
                         [(0, records[0].pid, self.data)])
        self.assertEqual([(r.proc, r.pid, r.id, r.a, r.data) for r in records
                          if r.op == O["WRITE"] and r.phase == CALL],
                         [(0, starts[0].pid, opened[0], 0, b"child"),
                          (0, records[0].pid, opened[0], 5, b"parent")])

    def test_sync_fault(self):
        body = """
fd = os.open(d + "/f", os.O_CREAT | os.O_WRONLY, 0o600)
dfd = os.open(d, os.O_RDONLY)
for _ in range(4):
    attempt(os.fsync, fd)
attempt(os.fsync, dfd)
attempt(os.fdatasync, fd)
"""
        # Directories are not counted, nor failed.
        self.assertEqual(run_subject(subject(self.data, body), self.data,
                                     self.log, {"MQD_FAULT_SYNC": "2"}),
                         [0, errno.EIO, 0, 0, 0, 0])
        self.assertEqual(run_subject(subject(self.data, body), self.data,
                                     None, {"MQD_FAULT_SYNC": "3+"}),
                         [0, 0, errno.EIO, errno.EIO, 0, errno.EIO])
        injected = [r for r in self.records() if r.flags]
        self.assertEqual([(r.op, r.phase, r.ret, r.err, r.flags)
                          for r in injected],
                         [(O["FSYNC"], RETURN, -1, errno.EIO,
                           pclog.FLAG_INJECTED)])

    def test_write_limit(self):
        self.assertEqual(run_subject(subject(self.data, """
fd = os.open(d + "/f", os.O_CREAT | os.O_WRONLY, 0o600)
attempt(os.write, fd, b"123456")
attempt(os.write, fd, b"123456")
attempt(os.posix_fallocate, fd, 0, 5)
attempt(os.write, fd, b"1234")
attempt(os.write, fd, b"")
attempt(os.write, fd, b"1")
"""), self.data, None, {"MQD_FAULT_WRITE_LIMIT": "10"}),
            [0, errno.ENOSPC, errno.ENOSPC, 0, 0, errno.ENOSPC])
        with open(os.path.join(self.data, "f"), "rb") as f:
            self.assertEqual(f.read(), b"1234561234")

    def test_faults_while_a_file_exists(self):
        control = os.path.join(self.tmp, "now")
        self.assertEqual(run_subject(subject(self.data, """
fd = os.open(d + "/f", os.O_CREAT | os.O_WRONLY, 0o600)
attempt(os.write, fd, b"a")
attempt(os.fsync, fd)
attempt(os.rename, d + "/f", d + "/g")
open(%r, "w").close()
attempt(os.write, fd, b"b")
attempt(os.fsync, fd)
attempt(os.rename, d + "/g", d + "/h")
os.unlink(%r)
attempt(os.write, fd, b"c")
attempt(os.fsync, fd)
attempt(os.rename, d + "/g", d + "/h")
""" % (control, control)), self.data, None, {
            "MQD_FAULT_WRITE_LIMIT": "0", "MQD_FAULT_SYNC": "1",
            "MQD_FAULT_RENAME": "1", "MQD_FAULT_WHEN": control}),
            [0, 0, 0, errno.ENOSPC, errno.EIO, errno.EIO, 0, 0, 0])
        self.assertEqual(os.listdir(self.data), ["h"])

    def test_rename_fault_only_inside(self):
        other = os.path.join(self.tmp, "other")
        self.assertEqual(run_subject(subject(self.data, """
open(d + "/a", "w").close()
open(%r, "w").close()
attempt(os.rename, %r, %r)
attempt(os.rename, d + "/a", d + "/b")
attempt(os.rename, d + "/a", d + "/b")
attempt(os.rename, d + "/a", d + "/b")
""" % (other, other, other + "2")), self.data, None, {
            "MQD_FAULT_RENAME": "1"}),
            [0, errno.EIO, 0, errno.ENOENT])


# ---- faults under the real daemon -------------------------------------------

class DaemonFaults(mqdtest.MqdTestCase):
    """The faults reach the daemon, its sync thread included.  What the
    daemon then does is tested in test_failed_sync.py and test_faults.py:
    here only that nothing is acknowledged that was not stored, and the
    daemon is killed at the end whatever it chose to do."""

    def fault_daemon(self, faults):
        tmp = mqdtest.scratch_dir()
        control = os.path.join(tmp, "fail-now")
        log = os.path.join(tmp, "log")
        faults = dict(faults, MQD_FAULT_WHEN=control)
        d = shim.Daemon(log=log, faults=faults).start()
        self.addCleanup(d.kill9)
        with d.client() as c:
            c.expect(set_cmd("q", b"before"), b"STORED\r\n")
        open(control, "w").close()
        with d.client() as c:
            c.send(set_cmd("q", b"during"))
            try:
                reply = c.recv_line()
            except AssertionError:        # closed: not acknowledged either
                reply = None
        self.assertNotEqual(reply, b"STORED\r\n")
        return pclog.read(log), reply

    def test_failed_sync_never_acknowledged(self):
        records, reply = self.fault_daemon({"MQD_FAULT_SYNC": "1+"})
        failed = [r for r in records if r.flags & pclog.FLAG_INJECTED]
        self.assertEqual({(r.op, r.err) for r in failed},
                         {(O["FSYNC"], errno.EIO)})
        note("a set whose fdatasync failed: %r" % reply)

    def test_full_disk_never_acknowledged(self):
        records, reply = self.fault_daemon({"MQD_FAULT_WRITE_LIMIT": "0"})
        failed = [r for r in records if r.flags & pclog.FLAG_INJECTED]
        self.assertTrue(failed)
        self.assertEqual({r.err for r in failed}, {errno.ENOSPC})
        note("a set whose write failed: %r" % reply)



if __name__ == "__main__":
    mqdtest.main()
