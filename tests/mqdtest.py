"""mqdtest: the shared harness of mqd's integration tests.

Each tests/test_*.py holds unittest TestCases and ends with mqdtest.main(),
which runs them and prints TAP for automake's tap-driver:

    1..N
    ok 1 - Class.test_name
    not ok 2 - Class.test_name
    # traceback, then the log of every daemon the test started

A skipped test, an expected failure and an unexpected success are all
"not ok": a test that cannot run has not passed.

Environment (set by make check): MQD, the daemon to test; PHP, the PHP CLI;
PYTHONPATH, this directory.

Synchronisation is always on something the daemon says: its readiness
datagram on $NOTIFY_SOCKET, a reply on its socket, its exit (pidfd).  Every
wait is bounded by TIMEOUT and fails with what was seen so far.
"""

import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

TIMEOUT = 10.0
VERSION = "1.0.0"
VERSION_REPLY = b"VERSION %s\r\n" % VERSION.encode()
DEFAULT_MAX_MESSAGE = 1024 * 1024

# Daemons created by the test that is running; the runner shows their logs
# when it fails, then stops them and removes their directories.
_registry = []
# Directories of the running test that the runner removes after it.
_scratch = []


def mqd_path():
    path = os.environ.get("MQD", "")
    if not path:
        raise AssertionError("MQD is not set: run through make check, or set "
                             "MQD=/abs/path/to/_build/daemon/mqd")
    if not os.access(path, os.X_OK):
        raise AssertionError("MQD=%s is not an executable file" % path)
    return path


def make_tmpdir():
    # Short and under /tmp: sun_path holds at most 107 bytes.
    return tempfile.mkdtemp(prefix="mqd-", dir="/tmp")


def scratch_dir():
    """A temporary directory removed after the test."""
    path = make_tmpdir()
    _scratch.append(path)
    return path


def _read_text(path, offset=0):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _option_value(args, short, long):
    """The value of -x VALUE / --long VALUE / --long=VALUE in args, or None."""
    value = None
    for i, arg in enumerate(args):
        if arg in (short, long) and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(long + "="):
            value = arg[len(long) + 1:]
    return value


def run_mqd(args, env=None, timeout=TIMEOUT, **kwargs):
    """Runs mqd with exactly these arguments to its exit (-h, -V, -d, bad
    options).  Returns a CompletedProcess with text stdout and stderr."""
    full_env = dict(os.environ if env is None else env)
    full_env.pop("NOTIFY_SOCKET", None)
    return subprocess.run([mqd_path()] + list(args), env=full_env,
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=timeout,
                          **kwargs)


class Daemon:
    """One mqd in the foreground, in its own temporary directory.

    Socket <tmp>/mqd.sock and data <tmp>/data unless args give -s / -H;
    stdout and stderr go to <tmp>/mqd.log (mqd-N.log when several daemons
    share tmp)."""

    def __init__(self, args=(), tmp=None, listen_fd=None):
        # listen_fd: a listening socket handed over as systemd does
        # (fd 3, LISTEN_FDS=1, LISTEN_PID = the daemon's pid).
        self.listen_fd = listen_fd
        self.owns_tmp = tmp is None
        self.tmp = make_tmpdir() if tmp is None else tmp
        self._set_args(args)
        n = sum(1 for d in _registry if d.tmp == self.tmp)
        suffix = "" if n == 0 else "-%d" % (n + 1)
        self.log_path = os.path.join(self.tmp, "mqd%s.log" % suffix)
        self.notify_path = os.path.join(self.tmp, "notify%s.sock" % suffix)
        self.proc = None
        self.notify = None
        self.exit_codes = []
        _registry.append(self)

    def _set_args(self, args):
        self.args = list(args)
        self.socket_path = (_option_value(self.args, "-s", "--socket")
                            or os.path.join(self.tmp, "mqd.sock"))
        self.data_dir = (_option_value(self.args, "-H", "--home")
                         or os.path.join(self.tmp, "data"))

    # ---- process control ----

    def command(self):
        cmd = [mqd_path()]
        if _option_value(self.args, "-s", "--socket") is None:
            cmd += ["-s", self.socket_path]
        if _option_value(self.args, "-H", "--home") is None:
            cmd += ["-H", self.data_dir]
        return cmd + self.args

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self):
        return self.proc is not None

    def _spawn(self):
        assert self.proc is None, "mqd is already running"
        if self.notify is None:
            if os.path.lexists(self.notify_path):
                os.unlink(self.notify_path)
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify.bind(self.notify_path)
            # As systemd's: a daemon that dropped root (-u) still reports.
            os.chmod(self.notify_path, 0o777)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        command, extra = self.command(), {}
        if self.listen_fd is not None:
            # The shell's pid is the daemon's once it execs; the shell
            # also moves the socket to fd 3, where systemd puts it.
            fd = self.listen_fd
            move = "" if fd == 3 else " 3<&%d %d<&-" % (fd, fd)
            command = ["/bin/sh", "-c",
                       'LISTEN_PID=$$ exec "$0" "$@"' + move] + command
            env["LISTEN_FDS"] = "1"
            extra = dict(pass_fds=(fd,))
        offset = os.path.getsize(self.log_path) \
            if os.path.exists(self.log_path) else 0
        with open(self.log_path, "ab") as log:
            log.write(("=== %s\n" % " ".join(self.command())).encode())
            log.flush()
            self.proc = subprocess.Popen(command, env=env,
                                         stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         **extra)
        return offset

    def _wait_ready_or_exit(self):
        """Waits for READY=1 or the process's exit: returns None when ready,
        the exit code when it exited first."""
        expected = ("READY=1\nMAINPID=%d" % self.proc.pid).encode()
        pidfd = os.pidfd_open(self.proc.pid)
        try:
            deadline = _Deadline(TIMEOUT)
            while True:
                ready, _, _ = select.select([self.notify, pidfd], [], [],
                                            deadline.left())
                if not ready:
                    self.kill9()
                    raise AssertionError(
                        "mqd sent no READY=1 within %.0f s\n%s"
                        % (TIMEOUT, self.log_text()))
                if self.notify in ready:
                    msg = self.notify.recv(4096)
                    if msg.startswith(b"READY=1"):
                        if msg != expected:
                            self.kill9()
                            raise AssertionError(
                                "readiness datagram %r, expected %r"
                                % (msg, expected))
                        return None
                    continue        # STATUS= or the like: keep waiting
                return self._reap(self.proc.wait(TIMEOUT))
        finally:
            os.close(pidfd)

    def start(self):
        """Starts mqd and returns once it says READY=1 (it listens)."""
        self._spawn()
        code = self._wait_ready_or_exit()
        if code is not None:
            raise AssertionError("mqd exited with %d before READY=1:\n%s"
                                 % (code, self.log_text()))
        return self

    def try_start(self):
        """Starts mqd where it may or may not start: None once it says
        READY=1, its exit code when it exited first."""
        self._spawn()
        return self._wait_ready_or_exit()

    def start_expect_failure(self, args=None):
        """Runs a daemon that must refuse to start; returns (exit code, the
        log of this run).  args, when given, replace the daemon's args."""
        if args is not None:
            self._set_args(args)
        offset = self._spawn()
        code = self._wait_ready_or_exit()
        if code is None:
            self.stop()
            raise AssertionError("mqd started although it should have "
                                 "refused:\n%s" % self.log_text(offset))
        return code, self.log_text(offset)

    def _reap(self, code):
        self.proc = None
        self.exit_codes.append(code)
        if self.notify is not None:
            self.notify.close()
            self.notify = None
        return code

    def wait_exit(self, expect=0):
        """Waits (TIMEOUT) for the exit the test caused; asserts the code.
        A non-zero code also catches AddressSanitizer's leak report."""
        try:
            code = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError("mqd did not exit within %.0f s:\n%s"
                                 % (TIMEOUT, self.log_text()))
        self._reap(code)
        if expect is not None and code != expect:
            raise AssertionError("mqd exited with %d, expected %d:\n%s"
                                 % (code, expect, self.log_text()))
        return code

    def stop(self, sig=signal.SIGTERM):
        """Signals mqd (SIGTERM) and asserts it exits 0 within TIMEOUT."""
        assert self.proc is not None, "mqd is not running"
        self.proc.send_signal(sig)
        return self.wait_exit(0)

    def kill9(self):
        if self.proc is None:
            return
        self.proc.kill()
        self._reap(self.proc.wait(TIMEOUT))

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        self.kill9()
        if self.notify is not None:
            self.notify.close()
            self.notify = None
        if self.owns_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self.proc is not None:
            self.stop()
        return False

    # ---- looking at it ----

    def log_text(self, offset=0):
        return _read_text(self.log_path, offset)

    def client(self):
        return Client(self.socket_path)

    def proc_status(self, field):
        """A field of /proc/<pid>/status, e.g. VmRSS -> '1234 kB'."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == field:
                    return value.strip()
        raise AssertionError("no %s in /proc/%d/status" % (field, self.pid))

    def rss_kb(self):
        return int(self.proc_status("VmRSS").split()[0])

    def memory_slack(self):
        """A factor for memory bounds: under valgrind (tests/valgrind-check)
        or AddressSanitizer, freed blocks wait in a quarantine and every
        block has red zones."""
        with open("/proc/%d/maps" % self.pid) as f:
            maps = f.read()
        return 4 if ("libasan" in maps or "vgpreload" in maps
                     or os.environ.get("MQD_UNDER_VALGRIND")) else 1

    def socket_mode(self):
        st = os.stat(self.socket_path)
        assert stat.S_ISSOCK(st.st_mode), "%s is not a socket" % \
            self.socket_path
        return stat.S_IMODE(st.st_mode)


class _Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end


def deadline(seconds=TIMEOUT):
    """For the few bounded poll loops where mqd gives no signal."""
    return _Deadline(seconds)


class Client:
    """A raw memcache-protocol client on mqd's Unix socket.  Every read
    waits at most TIMEOUT; nothing ever sleeps."""

    def __init__(self, path, timeout=TIMEOUT):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = bytearray()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, what):
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise AssertionError("no reply within %.0f s waiting for %s; "
                                 "received so far: %r"
                                 % (self.sock.gettimeout(), what,
                                    bytes(self.buf)[:2000])) from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise AssertionError("connection closed while waiting for %s; "
                                 "received so far: %r"
                                 % (what, bytes(self.buf)[:2000]))
        self.buf += chunk

    def recv_exact(self, n):
        while len(self.buf) < n:
            self._fill("%d bytes" % n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, terminator):
        start = 0
        while True:
            i = self.buf.find(terminator, start)
            if i >= 0:
                out = bytes(self.buf[:i + len(terminator)])
                del self.buf[:i + len(terminator)]
                return out
            start = max(0, len(self.buf) - len(terminator) + 1)
            self._fill(repr(terminator))

    def recv_line(self):
        return self.read_until(b"\n")

    def call(self, data, terminator=b"\r\n"):
        """Sends data, returns the reply up to and including terminator."""
        self.send(data)
        return self.read_until(terminator)

    def expect_reply(self, reply):
        """Reads exactly reply; fails at the first differing byte."""
        got = bytearray()
        while len(got) < len(reply):
            if not self.buf:
                self._fill("%r" % reply[len(got):][:200])
            take = min(len(self.buf), len(reply) - len(got))
            got += self.buf[:take]
            del self.buf[:take]
            if not reply.startswith(bytes(got)):
                # Show the rest of the wrong line before failing.
                if b"\n" not in self.buf:
                    try:
                        self.sock.settimeout(1.0)
                        self._fill("the rest of a wrong reply")
                    except AssertionError:
                        pass
                    finally:
                        self.sock.settimeout(TIMEOUT)
                raise AssertionError("reply %r\n  expected %r" %
                                     (bytes(got + self.buf)[:2000],
                                      reply[:2000]))
        if self.buf:
            raise AssertionError("reply %r then unexpected %r" %
                                 (reply[:2000], bytes(self.buf)[:2000]))

    def expect(self, data, reply):
        """Sends data and asserts the reply is exactly these bytes."""
        self.send(data)
        self.expect_reply(reply)

    def closed(self):
        """Asserts the daemon closed the connection: nothing more, then EOF.
        A reset also counts: Linux reports ECONNRESET instead of EOF when
        the daemon closed with bytes of ours still unread."""
        if self.buf:
            raise AssertionError("unexpected bytes before close: %r"
                                 % bytes(self.buf)[:2000])
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError("connection still open after %.0f s"
                                 % self.sock.gettimeout()) from None
        except ConnectionResetError:
            return
        if chunk:
            raise AssertionError("unexpected bytes instead of close: %r"
                                 % chunk[:2000])

    # ---- conveniences ----

    def stats(self, group=None):
        """stats [group] as an ordered dict of name -> value (str)."""
        cmd = b"stats\r\n" if group is None else b"stats %s\r\n" % group
        raw = self.call(cmd, b"END\r\n")
        return parse_stats(raw)

    def stats_queue(self):
        return self.call(b"stats queue\r\n", b"END\r\n")


def parse_stats(raw):
    assert raw.endswith(b"END\r\n"), raw
    out = {}
    for line in raw[:-len(b"END\r\n")].split(b"\r\n")[:-1]:
        m = re.fullmatch(rb"STAT (\S+) (\S+)", line)
        assert m, "not a STAT line: %r in %r" % (line, raw)
        out[m.group(1).decode()] = m.group(2).decode()
    return out


def set_cmd(queue, data, flags=0, exptime=0, noreply=False):
    if isinstance(queue, str):
        queue = queue.encode()
    return (b"set %s %d %d %d%s\r\n" % (queue, flags, exptime, len(data),
                                        b" noreply" if noreply else b"")
            + data + b"\r\n")


def value(queue, data, flags=0):
    """The VALUE block of one item, as a get answers it."""
    if isinstance(queue, str):
        queue = queue.encode()
    return b"VALUE %s %d %d\r\n" % (queue, flags, len(data)) + data + b"\r\n"


def get_reply(*items):
    """get's whole answer: VALUE blocks of (queue, data[, flags]) then END."""
    return b"".join(value(*item) for item in items) + b"END\r\n"


def get_lines(queue, n):
    """n pipelined get lines of one queue: a queue gives at most one message
    per line, so taking several takes a line each."""
    if isinstance(queue, str):
        queue = queue.encode()
    return b"get %s\r\n" % queue * n


def lines_reply(n, *items):
    """The answers to n get lines whose first ones gave items, one each."""
    return (b"".join(get_reply(item) for item in items)
            + b"END\r\n" * (n - len(items)))


# ---- the TAP runner ----

class _Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.problems = []

    def _add(self, kind, test, err):
        # TestResult's own formatting leaves unittest's frames out.
        self.problems.append("%s in %s:\n%s" % (
            kind, test, self._exc_info_to_string(err, test)))

    def addError(self, test, err):
        super().addError(test, err)
        self._add("error", test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._add("failure", test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._add("failure", subtest, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.problems.append("skipped (%s): a test that cannot run fails"
                             % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._add("expected failure (not allowed)", test, err)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.problems.append("unexpected success (not allowed)")


def _flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item


def _tap_comment(text):
    return "".join("# %s\n" % line for line in text.rstrip("\n").split("\n"))


def _finish_daemons(problems):
    """Stops what a test left running (exit 0 asserted, so leaks show) and
    removes the directories; on failure, appends the daemons' logs."""
    for d in list(_registry):
        if d.running:
            try:
                d.stop()
            except Exception as e:  # report, and carry on cleaning
                problems.append("daemon left running did not stop "
                                "cleanly: %s" % e)
    if problems:
        shown = "\n".join(problems)
        for d in _registry:
            log = d.log_text()
            if not log.strip() or log.strip() in shown:
                continue                # never ran, or already in a message
            lines = log.rstrip("\n").split("\n")
            problems.append("log of mqd in %s (%s), last %d lines:\n%s"
                            % (d.tmp, os.path.basename(d.log_path),
                               min(len(lines), 80), "\n".join(lines[-80:])))
    for d in _registry:
        d.cleanup()
    del _registry[:]
    for path in _scratch:
        shutil.rmtree(path, ignore_errors=True)
    del _scratch[:]


def main(module="__main__"):
    """Runs the module's TestCases, one TAP line each; exits 0 only if all
    passed."""
    suite = unittest.TestLoader().loadTestsFromModule(sys.modules[module])
    tests = list(_flatten(suite))
    print("1..%d" % len(tests), flush=True)
    failed = 0
    for number, test in enumerate(tests, 1):
        result = _Result()
        del _registry[:]
        # A suite of one runs the class and module fixtures around it.
        unittest.TestSuite([test]).run(result)
        problems = result.problems
        _finish_daemons(problems)
        name = test.id().split(".", 1)[-1] if test.id().startswith(
            module + ".") else test.id()
        if problems or not result.wasSuccessful():
            failed += 1
            print("not ok %d - %s" % (number, name))
            print(_tap_comment("\n".join(problems)), end="", flush=True)
        else:
            print("ok %d - %s" % (number, name), flush=True)
    sys.exit(1 if failed or not tests else 0)


class AsUser:
    """fn(*args), which returns bytes, in a forked child running as
    uid:gid, while the test goes on; result() waits for it and returns
    those bytes, or raises with what went wrong in the child."""

    def __init__(self, uid, gid, fn, *args):
        self.uid = uid
        r, w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            status = 1
            try:
                os.close(r)
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                os.write(w, b"OK " + fn(*args))
                status = 0
            except BaseException as e:     # the parent reports it
                os.write(w, ("EXC %s: %s" % (type(e).__name__, e)).encode())
            finally:
                os._exit(status)
        os.close(w)
        self.out = os.fdopen(r, "rb")

    def result(self):
        with self.out:
            out = self.out.read()
        _, status = os.waitpid(self.pid, 0)
        if not out.startswith(b"OK ") or status != 0:
            raise AssertionError("child as uid %d: %r (wait status %d)"
                                 % (self.uid, out, status))
        return out[3:]


def small_asan_quarantine(test):
    """Daemons the test starts keep freed memory in a quarantine of 4 MiB,
    not AddressSanitizer's 256 MiB, so that what a memory bound measures is
    the daemon's."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = asan + ":quarantine_size_mb=4"
    test.addCleanup(os.environ.__setitem__, "ASAN_OPTIONS", asan)


class MqdTestCase(unittest.TestCase):
    """Base class: start_daemon() starts one the runner will stop (exit 0
    asserted) after the test."""

    maxDiff = None

    def start_daemon(self, args=(), tmp=None):
        return Daemon(args, tmp=tmp).start()
