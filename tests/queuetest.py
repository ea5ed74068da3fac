"""queuetest: helpers shared by the queue-semantics tests (blocking gets,
reliable reads, expiry, limits, fanout, configuration files).

Everything here waits on something the daemon says: a reply, a stats value,
a line in its log.  The only waits that are not replies are bounded polls
(poll_stat, wait_log), each failing with what it saw last.
"""

import os
import time

import mqdtest


def write_config(text, tmp=None, name="mqd.conf"):
    """Writes a configuration file; returns its absolute path."""
    tmp = mqdtest.scratch_dir() if tmp is None else tmp
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def start_with_config(text, args=()):
    """Starts an mqd with -f <a file holding text>; returns (daemon, path)."""
    path = write_config(text)
    d = mqdtest.Daemon(["-f", path] + list(args)).start()
    return d, path


def stat(client, key):
    """One value of `stats` (a str), or None when the line is absent."""
    return client.stats().get(key)


def poll_stat(client, key, want, pace=None, seconds=mqdtest.TIMEOUT):
    """Bounded poll: asks `stats` until key has the value want (a str).

    Used where the daemon acts on something that it does not answer (another
    connection closing, its expiry timer).  pace, when given, is called
    between attempts to let time pass on the daemon's side (a blocking get's
    own timeout), never a sleep."""
    limit = mqdtest.deadline(seconds)
    seen = None
    while True:
        seen = stat(client, key)
        if seen == want:
            return
        if limit.expired():
            raise AssertionError("stats %s is %r, expected %r after %.0f s"
                                 % (key, seen, want, seconds))
        if pace is not None:
            pace()


def idle_ms(client, ms, queue="clock"):
    """Lets ms milliseconds pass by the daemon's own clock: a blocking get
    on a queue nobody writes to, answered END when its time is up."""
    client.expect(b"get %s/t=%d\r\n" % (queue.encode(), ms), b"END\r\n")


def wait_log(daemon, text, offset=0, client=None, seconds=mqdtest.TIMEOUT):
    """Bounded poll of the daemon's log for text (after offset).  The daemon
    answers nothing to a signal: its log line is what it says.  A client,
    when given, makes each attempt a round trip, so the loop turns at the
    daemon's pace."""
    limit = mqdtest.deadline(seconds)
    while True:
        log = daemon.log_text(offset)
        if text in log:
            return log
        if limit.expired():
            raise AssertionError("no %r in the log within %.0f s:\n%s"
                                 % (text, seconds, log))
        if client is not None:
            client.expect(b"version\r\n",
                          b"VERSION %s\r\n" % mqdtest.VERSION.encode())


def file_sizes(directory):
    """Every file's size by name.  The checkpoint thread makes, renames and
    removes files while we look: when one goes between the listing and its
    stat, look again (it may have come back under another name)."""
    while True:
        try:
            return {name: os.path.getsize(os.path.join(directory, name))
                    for name in os.listdir(directory)}
        except FileNotFoundError:
            continue


def data_bytes(daemon):
    """Bytes in the data directory's files."""
    return sum(file_sizes(daemon.data_dir).values())


def ms_since(t):
    """Milliseconds since t, a time.monotonic()."""
    return (time.monotonic() - t) * 1000


def log_size(daemon):
    try:
        return os.path.getsize(daemon.log_path)
    except FileNotFoundError:
        return 0


def cpu_seconds(pid):
    """utime + stime of pid from /proc/<pid>/stat, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the ")": state is field 3, so utime (14) and stime (15) are
    # at 11 and 12.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wall_clock_past(when):
    """Waits until time.time() > when, for a daemon that is stopped: with no
    daemon there is nothing to wait on, and time passing is what the test is
    about.  Bounded by TIMEOUT."""
    if when - time.time() > mqdtest.TIMEOUT:
        raise AssertionError("refusing to wait %.1f s" % (when - time.time()))
    while time.time() <= when:
        time.sleep(when - time.time() + 0.001)


class OneDaemonCase(mqdtest.MqdTestCase):
    """A daemon per test, self.c a client of it, self.client() for more
    (each closed after the test)."""

    def setUp(self):
        self.d = self.start_daemon()
        self.c = self.client()

    def client(self):
        c = self.d.client()
        self.addCleanup(c.close)
        return c
