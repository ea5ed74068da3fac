#!/usr/bin/python3
"""mqctl in real shell pipelines against the real daemon, and libmqclient as
installed (make install DESTDIR=..., then pkg-config and examples/).

Environment: MQCTL, the mqctl to test (make check sets it), plus what
mqdtest needs (MQD, PYTHONPATH)."""

import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import mqdtest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)

# Every byte value, with the framings' own separators and the protocol's
# delimiters inside.
BINARY = (bytes(range(256)) + b"\r\nEND\r\n\n\n\x00\x00VALUE q 0 5\r\n"
          + bytes(range(255, -1, -1)))


def mqctl_path():
    path = os.environ.get("MQCTL", "")
    if not path:
        raise AssertionError("MQCTL is not set: run through make check, or "
                             "set MQCTL=/abs/path/to/_build/client/mqctl")
    if not os.access(path, os.X_OK):
        raise AssertionError("MQCTL=%s is not an executable file" % path)
    return path


def note(text):
    """A TAP comment: shows in the test log, changes no result."""
    sys.stdout.write("# %s\n" % text)
    sys.stdout.flush()


class MqctlCase(mqdtest.MqdTestCase):
    def setUp(self):
        self.mqctl = mqctl_path()

    def daemon(self, args=()):
        self.d = self.start_daemon(args)
        return self.d

    def env(self, **extra):
        env = dict(os.environ, MQCTL=self.mqctl,
                   MQD_SOCKET=self.d.socket_path)
        env.update(extra)
        return env

    def run_mqctl(self, *args, input=b"", socket=True, timeout=60, **kw):
        cmd = [self.mqctl] + (["-s", self.d.socket_path] if socket else [])
        return subprocess.run(cmd + list(args), input=input,
                              capture_output=True, timeout=timeout, **kw)

    def ok(self, *args, input=b""):
        r = self.run_mqctl(*args, input=input)
        self.assertEqual(r.returncode, 0, "mqctl %s: %r" % (args, r.stderr))
        return r.stdout

    def sh(self, script, input=None, timeout=120):
        """bash -c script, with $MQCTL and $MQD_SOCKET set."""
        return subprocess.run(["bash", "-c", "set -eo pipefail\n" + script],
                              input=input, capture_output=True,
                              env=self.env(), timeout=timeout)

    def stat(self, name):
        with self.d.client() as c:
            return c.stats().get(name)

    @contextlib.contextmanager
    def blocked_worker(self, seconds, *work_args):
        """mqctl work work_args... jobs, whose command takes its message,
        says so on a pipe and sleeps for seconds.  Yields the worker once
        the command runs; kills them both at the end."""
        started_r, started_w = os.pipe()
        cmd = 'cat > /dev/null; echo $$ >&%d; exec sleep %d' % (started_w,
                                                               seconds)
        # Its own process group, so that nothing outlives the test.
        worker = subprocess.Popen(
            [self.mqctl, "work"] + list(work_args)
            + ["jobs", "--", "sh", "-c", cmd], env=self.env(),
            pass_fds=[started_w], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        os.close(started_w)
        try:
            ready, _, _ = select.select([started_r], [], [], mqdtest.TIMEOUT)
            self.assertTrue(ready, "the command did not start")
            self.assertRegex(os.read(started_r, 100), rb"^[0-9]+\n$")
            yield worker
        finally:
            os.close(started_r)
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            worker.wait()
            worker.stderr.close()

    def poll_stat(self, name, want):
        limit = mqdtest.deadline()
        while True:
            seen = self.stat(name)
            if seen == want:
                return
            if limit.expired():
                raise AssertionError("stats %s is %r, expected %r"
                                     % (name, seen, want))
            time.sleep(0.002)


class Pipelines(MqctlCase):
    def test_seq_100000_lines_in_order_and_complete(self):
        self.daemon()
        expected = subprocess.run(["seq", "100000"], capture_output=True,
                                  check=True).stdout
        start = time.monotonic()
        r = self.sh('seq 100000 | "$MQCTL" push -l jobs')
        pushed = time.monotonic()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.stat("queue_jobs_items"), "100000")
        r = self.sh('"$MQCTL" pop -n 100000 -l jobs | cat')
        popped = time.monotonic()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, expected)
        note("push -l of 100000 lines: %.2f s; pop -n 100000: %.2f s"
             % (pushed - start, popped - pushed))
        r = self.sh('"$MQCTL" pop jobs || echo "exit $?"')
        self.assertEqual(r.stdout, b"exit 1\n")
        self.assertEqual(self.stat("queue_jobs_total_items"), "100000")

    def test_lines_keep_everything_but_the_newline(self):
        self.daemon()
        data = b"a\n\nb \r\n \tc\n\xff\xfe\nlast without newline"
        self.ok("push", "-l", "q", input=data)
        self.assertEqual(self.stat("queue_q_items"), "6")
        out = self.ok("pop", "-n", "10", "-0", "q")
        self.assertEqual(out, b"a\0\0b \r\0 \tc\0\xff\xfe\0"
                         b"last without newline\0")

    def test_binary_through_stdin_byte_exact(self):
        self.daemon()
        src = os.path.join(mqdtest.scratch_dir(), "in.bin")
        with open(src, "wb") as f:
            f.write(BINARY)
        r = self.sh('"$MQCTL" push bin < "$1"; "$MQCTL" pop bin > "$1.out"'
                    .replace("$1", src))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(src + ".out", "rb") as f:
            self.assertEqual(f.read(), BINARY)
        # Through pipes as well, and a large one.
        big = BINARY * 1000
        self.ok("push", "bin", input=big)
        r = self.sh('"$MQCTL" pop bin | cat')
        self.assertEqual(r.stdout, big)

    def test_null_framing(self):
        self.daemon()
        parts = [b"one", b"two\nlines", b"", b"\r\n", BINARY.replace(b"\0",
                                                                     b"")]
        self.ok("push", "-0", "z", input=b"\0".join(parts) + b"\0")
        self.assertEqual(self.stat("queue_z_items"), str(len(parts)))
        r = self.sh('"$MQCTL" pop -n 100 -0 z | xargs -0 -n 1 printf "<%s>"')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"".join(b"<%s>" % p for p in parts[:4])
                         + b"<%s>" % parts[4])

    def test_arguments_are_messages(self):
        self.daemon()
        self.ok("push", "q", "--", "first message", "", "-not an option")
        self.assertEqual(self.stat("queue_q_items"), "3")
        self.assertEqual(self.ok("pop", "q"), b"first message")
        self.assertEqual(self.ok("pop", "-n", "2", "q"),
                         b"\n-not an option\n")

    def test_flags_and_expiry(self):
        self.daemon()
        self.ok("push", "-F", "77", "q", "x")
        self.ok("push", "-e", "-1", "q", "expired")
        with self.d.client() as c:
            c.expect(b"get q\r\n", b"VALUE q 77 1\r\nx\r\nEND\r\n")
            c.expect(b"get q\r\n", b"END\r\n")

    def test_pop_wait_released_by_push(self):
        self.daemon()
        start = time.monotonic()
        r = self.run_mqctl("pop", "-w", "0.2", "q")
        self.assertEqual(r.returncode, 1)
        self.assertGreaterEqual(time.monotonic() - start, 0.15)
        waiter = subprocess.Popen([self.mqctl, "pop", "-w", "30", "q"],
                                  stdout=subprocess.PIPE, env=self.env())
        try:
            self.poll_stat("queue_q_waiters", "1")
            self.ok("push", "q", "here")
            out, _ = waiter.communicate(timeout=mqdtest.TIMEOUT)
        finally:
            waiter.kill()
            waiter.wait()
        self.assertEqual(waiter.returncode, 0)
        self.assertEqual(out, b"here")

    def test_follow_prints_as_messages_come(self):
        self.daemon()
        self.ok("push", "f", "before")
        follower = subprocess.Popen(
            ["bash", "-c", '"$MQCTL" pop -f f | while read -r m; do '
             'echo "got $m"; done'], stdout=subprocess.PIPE, env=self.env(),
            start_new_session=True)
        try:
            lines = []
            for i in range(3):
                if i > 0:
                    self.ok("push", "f", "m%d" % i)
                ready, _, _ = select.select([follower.stdout], [], [],
                                            mqdtest.TIMEOUT)
                self.assertTrue(ready, "no line from pop -f")
                lines.append(follower.stdout.readline())
            self.assertEqual(lines, [b"got before\n", b"got m1\n",
                                     b"got m2\n"])
        finally:
            os.killpg(follower.pid, signal.SIGTERM)
            follower.wait()
            follower.stdout.close()

    def test_peek_leaves_the_message(self):
        self.daemon()
        self.ok("push", "p", "head", "tail")
        self.assertEqual(self.ok("peek", "p"), b"head")
        self.assertEqual(self.ok("peek", "-l", "p"), b"head\n")
        self.assertEqual(self.stat("queue_p_items"), "2")
        self.assertEqual(self.ok("pop", "p"), b"head")
        self.assertEqual(self.run_mqctl("peek", "empty").returncode, 1)


# The worker script: fails the first time it sees a message, then succeeds;
# $STATE keeps what it saw.
FAIL_ONCE = r'''
m=$(cat)
seen="$STATE/seen-$m"
if [ ! -e "$seen" ]; then
    : > "$seen"
    exit 1
fi
printf '%s %s %s\n' "$m" "$MQCTL_QUEUE" "$MQCTL_FLAGS" >> "$STATE/done"
'''


class Work(MqctlCase):
    def test_command_failing_once_then_succeeding(self):
        self.daemon()
        state = mqdtest.scratch_dir()
        self.ok("push", "-F", "5", "jobs", "m1", "m2", "m3")
        r = subprocess.run([self.mqctl, "work", "-n", "3", "-d", "0", "jobs",
                            "--", "sh", "-c", FAIL_ONCE],
                           capture_output=True, timeout=60,
                           env=self.env(STATE=state))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(state, "done")) as f:
            self.assertEqual(f.read(), "m1 jobs 5\nm2 jobs 5\nm3 jobs 5\n")
        self.assertEqual(r.stderr.count(b"exited with status 1"), 3)
        self.assertEqual(self.stat("queue_jobs_items"), "0")
        self.assertEqual(self.stat("queue_jobs_open_transactions"), "0")
        self.assertEqual(self.stat("queue_jobs_total_items"), "3")

    def test_wait_ends_an_idle_worker(self):
        self.daemon()
        state = mqdtest.scratch_dir()
        self.ok("push", "jobs", "a", "b")
        r = subprocess.run([self.mqctl, "work", "-w", "0.3", "jobs", "--",
                            "sh", "-c", 'cat >> "$STATE/done"; echo >> '
                            '"$STATE/done"'], capture_output=True,
                           timeout=60, env=self.env(STATE=state))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(state, "done")) as f:
            self.assertEqual(f.read(), "a\nb\n")
        r = self.run_mqctl("work", "-w", "0", "jobs", "--", "true")
        self.assertEqual(r.returncode, 1)

    def test_killed_worker_leaves_the_message(self):
        self.daemon()
        self.ok("push", "jobs", "precious")
        with self.blocked_worker(100) as worker:
            self.assertEqual(self.stat("queue_jobs_open_transactions"), "1")
            self.assertEqual(self.stat("queue_jobs_items"), "0")
            # mqctl alone dies; its command still runs.
            worker.kill()
            worker.wait()
            # The daemon gives the open read back when it sees the close.
            self.poll_stat("queue_jobs_items", "1")
        self.assertEqual(self.stat("queue_jobs_open_transactions"), "0")
        self.assertEqual(self.ok("pop", "jobs"), b"precious")

    def test_binary_message_reaches_the_command_unchanged(self):
        self.daemon()
        out = os.path.join(mqdtest.scratch_dir(), "got")
        self.ok("push", "bin", input=BINARY)
        r = self.run_mqctl("work", "-n", "1", "bin", "--", "sh", "-c",
                           'cat > "$0"', out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), BINARY)

    def test_command_that_cannot_run(self):
        self.daemon()
        self.ok("push", "jobs", "keep me")
        r = self.run_mqctl("work", "jobs", "--", "/nonexistent/command")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"cannot run /nonexistent/command", r.stderr)
        self.assertEqual(self.ok("pop", "jobs"), b"keep me")


class DelaysAndLeases(MqctlCase):
    """What push -D, work -L and -R send (in the daemon's -vv log), their
    usage errors, and the outcomes that hold whatever the daemon does with
    the delays (0 is no delay).  tests/test_mqctl_delay.py has the rest."""

    def sent(self, line):
        """How often the daemon was sent the command line."""
        return len(re.findall(r": <[0-9]+ %s$" % re.escape(line),
                              self.d.log_text(), re.M))

    def test_push_delay_goes_in_the_key(self):
        self.daemon(["-vv"])
        self.ok("push", "-D", "0", "q", "now")
        self.assertEqual(self.ok("pop", "q"), b"now")
        self.ok("push", "--delay=1500ms", "-l", "later", input=b"a\nb\n")
        self.ok("push", "-F", "3", "-D", "2h", "later", "xyz")
        self.ok("push", "-D", "45", "later", "x")
        self.ok("push", "later", "plain")
        self.assertEqual(self.sent("set q/delay=0 0 0 3"), 1)
        self.assertEqual(self.sent("set later/delay=1500 0 0 1"), 2)
        self.assertEqual(self.sent("set later/delay=7200000 3 0 3"), 1)
        self.assertEqual(self.sent("set later/delay=45000 0 0 1"), 1)
        self.assertEqual(self.sent("set later 0 0 5"), 1)
        self.assertEqual(self.stat("queue_later_total_items"), "5")

    def test_durations_are_checked_before_connecting(self):
        self.daemon()
        for args, option, value, least in (
                (["push", "-D", "x", "q", "m"], "-D", "x", ""),
                (["push", "--delay=", "q", "m"], "-D", "", ""),
                (["push", "-D", "-1s", "q", "m"], "-D", "-1s", ""),
                (["push", "-D", "1.5s", "q", "m"], "-D", "1.5s", ""),
                (["push", "-D", "5d", "q", "m"], "-D", "5d", ""),
                (["push", "-D", "87601h", "q", "m"], "-D", "87601h", ""),
                (["work", "-R", "10x", "q", "--", "true"], "-R", "10x", ""),
                (["work", "--lease=1 s", "q", "--", "true"], "-L", "1 s",
                 " above 0,"),
                (["work", "-L", "315360000001ms", "q", "--", "true"], "-L",
                 "315360000001ms", " above 0,")):
            r = self.run_mqctl(*args)
            self.assertEqual(
                (r.returncode, r.stderr),
                (2, b"mqctl: %s wants a duration%s such as 500ms, 30s, 5m or "
                 b"2h (up to 315360000000ms), not '%s'\nTry 'mqctl %s "
                 b"--help'.\n" % (option.encode(), least.encode(),
                                  value.encode(), args[0].encode())), args)
        r = self.run_mqctl("work", "-L", "0ms", "q", "--", "true")
        self.assertEqual((r.returncode, r.stderr),
                         (2, b"mqctl: -L wants a duration above 0, not '0ms'"
                          b"\nTry 'mqctl work --help'.\n"))
        self.assertEqual(self.stat("total_connections"), "1")

    def test_work_opens_with_the_lease_and_retries_with_the_delay(self):
        self.daemon(["-vv"])
        state = mqdtest.scratch_dir()
        self.ok("push", "jobs", "m1")
        r = subprocess.run([self.mqctl, "work", "-n", "1", "-w", "10",
                            "--lease=30s", "-R", "0", "jobs", "--", "sh",
                            "-c", FAIL_ONCE], capture_output=True,
                           timeout=60, env=self.env(STATE=state))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(state, "done")) as f:
            self.assertEqual(f.read(), "m1 jobs 0\n")
        self.assertEqual(r.stderr, b"mqctl: sh exited with status 1: the "
                         b"message was given back to jobs\n")
        self.assertEqual(self.sent("get jobs/open/id/lease=30000/t=10000"), 2)
        self.assertEqual(self.sent("get jobs/abort/delay=0"), 1)
        self.assertEqual(self.sent("get jobs/close"), 1)
        self.assertEqual(self.stat("queue_jobs_items"), "0")
        self.assertEqual(self.stat("queue_jobs_open_transactions"), "0")

    def test_work_without_options_leaves_it_to_the_queue(self):
        self.daemon(["-vv"])
        state = mqdtest.scratch_dir()
        self.ok("push", "jobs", "m1")
        r = subprocess.run([self.mqctl, "work", "-n", "1", "-d", "0", "-w",
                            "10", "jobs", "--", "sh", "-c", FAIL_ONCE],
                           capture_output=True, timeout=60,
                           env=self.env(STATE=state))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.sent("get jobs/open/id/t=10000"), 2)
        self.assertEqual(self.sent("get jobs/abort"), 1)
        self.assertNotIn("lease=", self.d.log_text())
        self.assertNotIn("delay=", self.d.log_text())


class ExitCodes(MqctlCase):
    def test_empty_is_1(self):
        self.daemon()
        self.assertEqual(self.run_mqctl("pop", "nothing").returncode, 1)
        self.assertEqual(self.run_mqctl("pop", "-n", "5", "nothing")
                         .returncode, 1)
        r = self.run_mqctl("delete", "nothing")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no such queue", r.stderr)
        self.assertEqual(self.run_mqctl("stats", "nothing").returncode, 1)

    def test_usage_is_2(self):
        self.daemon()
        for args in ([], ["pop"], ["bogus"], ["pop", "-x", "q"],
                     ["pop", "-n", "zero", "q"], ["pop", "-n", "0", "q"],
                     ["pop", "-w", "-1", "q"], ["push", "bad name", "x"],
                     ["push", "a/b", "x"], ["push", "-l", "q", "arg"],
                     ["work", "q"], ["pop", "q", "extra"],
                     ["flush"], ["flush", "--all", "q"], ["-s"]):
            r = self.run_mqctl(*args)
            self.assertEqual(r.returncode, 2, "mqctl %s: %r" % (args, r))
            self.assertIn(b"mqctl", r.stderr)
        self.assertEqual(self.stat("cmd_set"), "0")

    def test_no_daemon_is_3(self):
        tmp = mqdtest.scratch_dir()
        r = subprocess.run([self.mqctl, "-s", os.path.join(tmp, "none.sock"),
                            "ping"], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"cannot connect", r.stderr)
        for args in (["push", "q", "x"], ["pop", "q"], ["stats"]):
            r = subprocess.run([self.mqctl, "-s", os.path.join(tmp, "x.sock")]
                               + args, capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 3, args)

    def test_refused_message_is_4(self):
        self.daemon(["-B", "10"])
        r = self.run_mqctl("push", "q", "01234567890")
        self.assertEqual(r.returncode, 4)
        self.assertIn(b"object too large for cache", r.stderr)
        r = self.run_mqctl("push", "-l", "q",
                           input=b"fits\n" + b"x" * 11 + b"\nfits too\n")
        self.assertEqual(r.returncode, 4)
        self.assertIn(b"message 2 of 3", r.stderr)
        self.assertEqual(self.stat("queue_q_items"), "2")

    def test_full_queue_is_4(self):
        tmp = mqdtest.scratch_dir()
        conf = os.path.join(tmp, "mqd.conf")
        with open(conf, "w") as f:
            f.write("[q]\nmax_items = 1\n")
        self.daemon(["-f", conf])
        self.ok("push", "q", "one")
        r = self.run_mqctl("push", "q", "two")
        self.assertEqual(r.returncode, 4)
        self.assertIn(b"full", r.stderr)


class Commands(MqctlCase):
    def test_stats_json(self):
        self.daemon()
        self.ok("push", "a", "1", "22", "333")
        self.ok("push", "b", "x")
        self.ok("push", 'we"ird\\\xe9', "y")
        self.assertEqual(self.ok("pop", "a"), b"1")
        doc = json.loads(self.ok("stats", "--json"))
        self.assertEqual(doc["server"]["curr_items"], 4)
        self.assertEqual(doc["server"]["pid"], self.d.pid)
        self.assertEqual(doc["server"]["version"], mqdtest.VERSION)
        self.assertIsInstance(doc["server"]["rusage_user"], float)
        self.assertEqual(set(doc["queues"]), {"a", "b", 'we"ird\\\xe9'})
        a = doc["queues"]["a"]
        self.assertEqual((a["items"], a["bytes"], a["total_items"],
                          a["dequeued"], a["open_transactions"]),
                         (2, 5, 3, 1, 0))
        self.assertEqual(doc["queues"]["b"]["items"], 1)
        one = json.loads(self.ok("stats", "--json", "a"))
        del one["age_ms"], a["age_ms"]          # it grows meanwhile
        self.assertEqual(one, dict(a, name="a"))
        table = self.ok("stats").decode()
        self.assertRegex(table, r"(?m)^curr_items +4$")
        self.assertRegex(table, r"(?m)^QUEUE +ITEMS +BYTES +TOTAL")
        self.assertRegex(table, r"(?m)^a +2 +5 +3 +1 ")
        self.assertRegex(self.ok("stats", "b").decode(), r"(?m)^items +1$")

    def test_queues_delete_flush(self):
        self.daemon()
        self.ok("push", "b", "x", "y")
        self.ok("push", "a", "x")
        self.ok("push", "c", "x")
        self.assertEqual(self.ok("queues"), b"a\nb\nc\n")
        self.ok("flush", "b")
        self.assertEqual(self.stat("queue_b_items"), "0")
        self.assertEqual(self.stat("queue_a_items"), "1")
        self.ok("flush", "--all")
        self.assertEqual(self.stat("curr_items"), "0")
        self.ok("delete", "a", "c")
        self.assertEqual(self.ok("queues"), b"b\n")

    def test_ping_and_version(self):
        self.daemon()
        self.assertEqual(self.ok("version"),
                         mqdtest.VERSION.encode() + b"\n")
        self.assertRegex(self.ok("ping").decode(),
                         r"^mqd %s at %s answered in [0-9.]+ ms\n$"
                         % (re.escape(mqdtest.VERSION),
                            re.escape(self.d.socket_path)))
        r = subprocess.run([self.mqctl, "--version"], capture_output=True)
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith(b"mqctl "))

    def test_socket_from_environment(self):
        self.daemon()
        r = self.run_mqctl("push", "e", "via env", socket=False,
                           env=self.env())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.stat("queue_e_items"), "1")

    def test_help_for_each_command(self):
        r = subprocess.run([self.mqctl, "--help"], capture_output=True)
        self.assertEqual(r.returncode, 0)
        commands = ["push", "pop", "peek", "work", "stats", "queues",
                    "delete", "flush", "ping", "version", "help"]
        for name in commands:
            self.assertIn(("  %s " % name).encode(), r.stdout)
            for args in ([name, "--help"], [name, "-h"], ["help", name]):
                h = subprocess.run([self.mqctl] + args, capture_output=True)
                self.assertEqual(h.returncode, 0, args)
                self.assertTrue(h.stdout.startswith(
                    b"Usage: mqctl [-s SOCKET] " + name.encode()), args)
                self.assertEqual(h.stderr, b"")


def exported_symbols(path, scope="-D"):
    """The symbols a shared library exports (scope -D), or the global ones
    of a static archive (scope -g), as nm lists them."""
    nm = subprocess.run(["nm", scope, "--defined-only", path],
                        capture_output=True, text=True, check=True)
    exported = set()
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVW":
            exported.add(parts[2])
    return exported


def find_file(root, name):
    for dirpath, _, files in os.walk(root):
        if name in files:
            return os.path.join(dirpath, name)
    raise AssertionError("no %s under %s" % (name, root))


class Library(MqctlCase):
    def builddir(self):
        return os.path.dirname(os.path.dirname(self.mqctl))

    def test_exports_only_the_documented_api(self):
        so = os.path.join(self.builddir(), "client", ".libs",
                          "libmqclient.so")
        self.assertTrue(os.path.exists(so), "%s not built" % so)
        exported = exported_symbols(so)
        with open(os.path.join(SRCDIR, "client", "mqclient.h")) as f:
            declared = set(re.findall(r"^(?:[a-z_ ]+[ *])?(mq_\w+) \(",
                                      f.read(), re.M))
        self.assertEqual(exported, declared)
        needed = subprocess.run(["readelf", "-d", so], capture_output=True,
                                text=True, check=True).stdout
        self.assertNotIn("glib", needed)
        self.assertNotIn("gdbm", needed)
        self.assertIn("libmqclient.so.0", needed)      # the soname

    def test_exports_exactly_the_committed_symbol_list(self):
        """client/libmqclient.sym is the ABI: a symbol that appears or
        disappears in the built library fails here until the list says so."""
        with open(os.path.join(SRCDIR, "client", "libmqclient.sym")) as f:
            listed = f.read().split("\n")
        self.assertEqual(listed[-1], "")                # ends with a newline
        listed = listed[:-1]
        self.assertEqual(listed, sorted(set(listed)))   # sorted, once each
        so = os.path.join(self.builddir(), "client", ".libs",
                          "libmqclient.so")
        self.assertEqual(exported_symbols(so), set(listed))

    def test_static_archive_keeps_to_its_prefixes(self):
        """An application linking libmqclient.a gets its insides too: they
        are named mqc_ (the library's files) or mq_shared_ (common/), never
        a name an application might use."""
        with open(os.path.join(self.builddir(), "client",
                               "libmqclient.la")) as f:
            archive = re.search(r"^old_library='(.*)'$", f.read(), re.M)[1]
        if not archive:
            note("built without a static library: nothing to check")
            return
        with open(os.path.join(SRCDIR, "client", "libmqclient.sym")) as f:
            listed = set(f.read().split())
        found = exported_symbols(os.path.join(
            self.builddir(), "client", ".libs", archive), "-g")
        self.assertLessEqual(listed, found)
        self.assertEqual({s for s in found - listed
                          if not s.startswith(("mqc_", "mq_shared_"))},
                         set())

    def test_example_builds_against_the_installed_library(self):
        self.daemon()
        destdir = mqdtest.scratch_dir()
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        r = subprocess.run(["make", "-C", self.builddir(), "install",
                            "DESTDIR=" + destdir], capture_output=True,
                           env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        pc = find_file(destdir, "libmqclient.pc")
        header = find_file(destdir, "mqclient.h")
        lib = find_file(destdir, "libmqclient.so")
        find_file(destdir, "mqctl.1")
        find_file(destdir, "libmqclient.3")
        find_file(destdir, "mqctl")
        with open(os.path.join(SRCDIR, "client", "mqclient.h"), "rb") as a, \
                open(header, "rb") as b:
            self.assertEqual(a.read(), b.read())

        work = os.path.join(mqdtest.scratch_dir(), "example")
        shutil.copytree(os.path.join(SRCDIR, "examples"), work)
        env.update(PKG_CONFIG_PATH=os.path.dirname(pc),
                   PKG_CONFIG_SYSROOT_DIR=destdir,
                   PKG_CONFIG_LIBDIR=os.path.dirname(pc))
        r = subprocess.run(["make", "-C", work], capture_output=True,
                           env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        env.update(LD_LIBRARY_PATH=os.path.dirname(lib),
                   MQD_SOCKET=self.d.socket_path,
                   # A sanitizer build's library brings its runtime along.
                   ASAN_OPTIONS="verify_asan_link_order=0:"
                   + os.environ.get("ASAN_OPTIONS", ""))
        ldd = subprocess.run(["ldd", os.path.join(work, "push_pop")],
                             capture_output=True, text=True, env=env)
        self.assertIn(os.path.dirname(lib), ldd.stdout)
        r = subprocess.run([os.path.join(work, "push_pop"), "hello",
                            "example"], capture_output=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"popped: hello\npopped: example\n")
        self.assertEqual(self.stat("queue_example_total_items"), "2")
        self.assertEqual(self.stat("queue_example_items"), "0")


if __name__ == "__main__":
    mqdtest.main()
