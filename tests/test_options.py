#!/usr/bin/python3
"""mqd's command line: refused network options, MemcacheQ's ignored tuning
options, -h/-V, bad arguments, -d with -P, -c and -B."""

import os
import signal
import subprocess

import mqdtest
from mqdtest import get_reply, set_cmd

VERSION = mqdtest.VERSION_REPLY
TOO_LARGE = b"SERVER_ERROR object too large for cache\r\n"
TUNING = ["-t", "4", "-m", "64", "-A", "4096", "-L", "1024", "-T", "30",
          "-S", "30", "-e", "60", "-E", "16384", "-D", "100", "-R"]


def pid_gone(pid):
    """True once pid has exited (a zombie waiting for init counts)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def ppid_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


class Options(mqdtest.MqdTestCase):
    def setUp(self):
        self.tmp = mqdtest.scratch_dir()
        self.sock = os.path.join(self.tmp, "o.sock")
        self.base = ["-s", self.sock, "-H", os.path.join(self.tmp, "data")]

    def run_refused(self, args, code=2):
        r = mqdtest.run_mqd(self.base + args)
        self.assertEqual(r.returncode, code, r.stderr)
        self.assertFalse(os.path.lexists(self.sock), "socket created")
        return r.stderr

    def test_network_options_refused(self):
        for args in (["-p", "22201"], ["-l", "127.0.0.1"], ["-U", "0"],
                     ["--port", "11211"], ["--listen=0.0.0.0"]):
            with self.subTest(args=args):
                err = self.run_refused(args)
                self.assertIn("only on a Unix socket", err)
                self.assertIn("mqd: %s: " % args[0].split("=")[0], err)

    def test_memcacheq_tuning_options_accepted(self):
        d = self.start_daemon(TUNING)
        with d.client() as c:
            c.expect(set_cmd("t", b"works") + b"get t\r\n",
                     b"STORED\r\n" + get_reply(("t", b"works")))
        lines = [l for l in d.log_text().splitlines()
                 if "ignoring MemcacheQ options" in l]
        self.assertEqual(len(lines), 1, d.log_text())
        named = set(lines[0].split(":")[-1].split())
        self.assertEqual(named, {"-t", "-m", "-A", "-L", "-T", "-S", "-e",
                                 "-E", "-D", "-R"}, lines[0])

    def test_help(self):
        for flag in ("-h", "--help"):
            with self.subTest(flag=flag):
                r = mqdtest.run_mqd([flag])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Usage:", r.stdout)
                self.assertIn("--socket", r.stdout)
                self.assertIn("--mask", r.stdout)

    def test_version(self):
        for flag in ("-V", "--version"):
            with self.subTest(flag=flag):
                r = mqdtest.run_mqd([flag])
                self.assertEqual((r.returncode, r.stdout, r.stderr),
                                 (0, "mqd %s\n" % mqdtest.VERSION, ""))

    def test_licence(self):
        r = mqdtest.run_mqd(["-i"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("mqd %s\n" % mqdtest.VERSION),
                        r.stdout)
        self.assertIn("GPL-3.0-or-later", r.stdout)

    def test_unexpected_argument(self):
        err = self.run_refused(["extra"])
        self.assertIn("unexpected argument 'extra'", err)

    def test_unknown_option(self):
        err = self.run_refused(["--no-such-option"])
        self.assertIn("--no-such-option", err)

    def test_zero_connections_refused(self):
        err = self.run_refused(["-c", "0"])
        self.assertIn("-c: at least one connection must be allowed", err)

    def test_max_message_suffix(self):
        for value, size in (("2K", 2048), ("2k", 2048), ("1M", 1 << 20),
                            ("3000", 3000)):
            with self.subTest(value=value):
                d = self.start_daemon(["-B", value])
                with d.client() as c:
                    self.assertEqual(c.stats()["max_message_size"], str(size))
                    c.expect(set_cmd("b", b"x" * size), b"STORED\r\n")
                    c.expect(set_cmd("b", b"x" * (size + 1)), TOO_LARGE)
                    c.expect(b"stats queue\r\n", b"STAT b 1/0\r\nEND\r\n")
                d.stop()

    def test_bad_max_message_refused(self):
        for value in ("2X", "K", "-1", "2G"):   # 2G: over the 1 GiB limit
            with self.subTest(value=value):
                err = self.run_refused(["-B", value])
                self.assertIn("-B:", err)


class Daemonize(mqdtest.MqdTestCase):
    def run_background(self, args, cwd=None):
        """Runs mqd -d; returns (its exit code, what it printed).  Output
        goes to a file: the daemon must not hold a pipe of ours open."""
        log = os.path.join(self.tmp, "start.log")
        with open(log, "wb") as out:
            p = subprocess.Popen([mqdtest.mqd_path()] + args,
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, cwd=cwd,
                                 env={k: v for k, v in os.environ.items()
                                      if k != "NOTIFY_SOCKET"})
            code = p.wait(mqdtest.TIMEOUT)
        with open(log, errors="replace") as f:
            return p.pid, code, f.read()

    def setUp(self):
        self.tmp = mqdtest.scratch_dir()
        self.sock = os.path.join(self.tmp, "bg.sock")
        self.pid_file = os.path.join(self.tmp, "mqd.pid")

    def kill_leftover(self, pid):
        if not pid_gone(pid):
            os.kill(pid, signal.SIGKILL)

    def test_daemon_with_pid_file(self):
        starter, code, out = self.run_background(
            ["-d", "-P", self.pid_file, "-s", self.sock,
             "-H", os.path.join(self.tmp, "data")])
        self.assertEqual(code, 0, out)
        # It returned only once ready: the socket answers now, no waiting.
        with mqdtest.Client(self.sock) as c:
            c.expect(b"version\r\n", VERSION)
            with open(self.pid_file) as f:
                text = f.read()
            self.assertRegex(text, r"^\d+\n$")
            pid = int(text)
            self.addCleanup(self.kill_leftover, pid)
            self.assertEqual(c.stats()["pid"], str(pid))
            c.expect(set_cmd("bg", b"x") + b"get bg\r\n",
                     b"STORED\r\n" + get_reply(("bg", b"x")))
        self.assertNotEqual(pid, starter)
        self.assertNotEqual(ppid_of(pid), os.getpid())
        self.assertEqual(os.readlink("/proc/%d/exe" % pid),
                         os.path.realpath(mqdtest.mqd_path()))
        os.kill(pid, signal.SIGTERM)
        # Not our child: nothing to wait on, and it has no notify socket.
        # Poll (bounded) for its pid file, socket and process to go.
        until = mqdtest.deadline()
        while not (pid_gone(pid) and not os.path.lexists(self.pid_file)):
            self.assertFalse(until.expired(), "mqd -d did not stop")
        self.assertFalse(os.path.lexists(self.sock))
        self.assertFalse(os.path.lexists(self.pid_file))

    def test_daemon_relative_paths(self):
        # -d changes directory to /; relative paths are the caller's.
        _, code, out = self.run_background(
            ["-d", "-P", "rel.pid", "-s", "rel.sock", "-H", "reldata"],
            cwd=self.tmp)
        self.assertEqual(code, 0, out)
        pid_file = os.path.join(self.tmp, "rel.pid")
        with open(pid_file) as f:
            pid = int(f.read())
        self.addCleanup(self.kill_leftover, pid)
        with mqdtest.Client(os.path.join(self.tmp, "rel.sock")) as c:
            c.expect(b"version\r\n", VERSION)
        self.assertTrue(os.path.isfile(os.path.join(self.tmp, "reldata",
                                                    "mqd.lock")))
        os.kill(pid, signal.SIGTERM)
        until = mqdtest.deadline()      # bounded poll: see above
        while not (pid_gone(pid) and not os.path.lexists(pid_file)):
            self.assertFalse(until.expired(), "mqd -d did not stop")

    def test_daemon_refused_start_fails(self):
        first = self.start_daemon()
        _, code, out = self.run_background(
            ["-d", "-P", self.pid_file, "-s", self.sock, "-H",
             first.data_dir])
        self.assertEqual(code, 1, out)     # the child gave up: exit 1
        self.assertIn("is in use", out)
        self.assertFalse(os.path.lexists(self.sock))
        self.assertFalse(os.path.lexists(self.pid_file))
        with first.client() as c:
            c.expect(b"version\r\n", VERSION)


def proc_ids(pid):
    """(real uid, real gid) of a process, from /proc."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid"):
                ids[key] = int(value.split()[0])
    return ids["Uid"], ids["Gid"]


class DropPrivileges(mqdtest.MqdTestCase):
    NOBODY = 65534

    def test_user_option_runs_as_that_user(self):
        tmp = mqdtest.scratch_dir()
        os.chmod(tmp, 0o755)        # nobody must reach its own files
        # A socket directory mqd makes is handed over with the rest.
        d = mqdtest.Daemon(["-u", "nobody", "-a", "0777", "-s",
                            os.path.join(tmp, "run", "mqd.sock")], tmp=tmp)
        d.start()
        self.assertEqual(proc_ids(d.pid)[0], self.NOBODY)
        # What it keeps using is handed to the user, so it can start again
        # as that user and remove its socket when it stops.
        files = [os.path.join(d.data_dir, name)
                 for name in os.listdir(d.data_dir)]
        self.assertIn(os.path.join(d.data_dir, "mqd.lock"), files)
        for path in [d.socket_path, os.path.dirname(d.socket_path),
                     d.data_dir] + files:
            self.assertEqual(os.stat(path).st_uid, self.NOBODY, path)
        with d.client() as c:
            c.expect(set_cmd("q", b"kept"), b"STORED\r\n")
        d.stop()
        self.assertFalse(os.path.lexists(d.socket_path))
        d.start()
        with d.client() as c:
            c.expect(b"get q\r\n", get_reply(("q", b"kept")))
        d.stop()

    def test_unknown_user_refused(self):
        tmp = mqdtest.scratch_dir()
        r = mqdtest.run_mqd(["-s", os.path.join(tmp, "s.sock"), "-H",
                             os.path.join(tmp, "data"), "-u", "no-such-user"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("mqd: -u: no such user: 'no-such-user'\n", r.stderr)
        self.assertFalse(os.path.lexists(os.path.join(tmp, "s.sock")))


if __name__ == "__main__":
    mqdtest.main()
