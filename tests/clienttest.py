"""clienttest: running the real clients' test programs (PHP, Ruby, the
libmemcached tools) against a daemon.

A program prints one line per step.  When one prints "waiting", it is about
to block on a read of a queue: the runner waits until the daemon has a get
waiting on that queue (its stats say so), then stores the message that
wakes it.  Nothing sleeps; every wait is bounded.
"""

import os
import queue
import subprocess
import threading

import mqdtest
import queuetest


def php():
    """The PHP CLI make check found (configure's PHP)."""
    path = os.environ.get("PHP", "")
    if not path:
        raise AssertionError("PHP is not set: configure found no php, or "
                             "run with PHP=php (Debian: php-cli, "
                             "php-memcache, php-memcached)")
    return path


def _pump(stream, lines):
    for line in stream:
        lines.put(line)
    lines.put(None)


def run_client(argv, daemon, wake_queue=None, wake_data=b"",
               seconds=2 * mqdtest.TIMEOUT):
    """Runs argv to its exit; returns (exit code, stdout lines, stderr)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = queue.Queue()
    errors = []
    threads = [threading.Thread(target=_pump, args=(proc.stdout, lines)),
               threading.Thread(target=lambda: errors.append(
                   proc.stderr.read()))]
    for t in threads:
        t.start()
    out = []
    limit = mqdtest.deadline(seconds)
    try:
        while True:
            try:
                line = lines.get(timeout=limit.left())
            except queue.Empty:
                raise AssertionError("%s still running after %.0f s; its "
                                     "output so far:\n%s"
                                     % (argv[0], seconds, "\n".join(out)))
            if line is None:
                break
            out.append(line.decode("utf-8", "replace").rstrip("\n"))
            if out[-1] == "waiting" and wake_queue is not None:
                wake(daemon, wake_queue, wake_data)
        code = proc.wait(mqdtest.TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in threads:
            t.join(mqdtest.TIMEOUT)
    return code, out, b"".join(errors).decode("utf-8", "replace")


def wake(daemon, queue_name, data):
    """Once a get waits on queue_name, stores data there to wake it."""
    with daemon.client() as c:
        queuetest.poll_stat(c, "queue_%s_waiters" % queue_name, "1")
        c.expect(mqdtest.set_cmd(queue_name, data), b"STORED\r\n")


def queues_taken(client, counts):
    """stats queue, once the client scripts ran: every queue in counts
    ({name: n}, n stored and n taken) and no other, but "idle", named only
    by a get that waited in vain, which the 1-second sweep may have
    forgotten already."""
    raw = client.call(b"stats queue\r\n", b"END\r\n")
    return raw.replace(b"STAT idle 0/0\r\n", b"") == b"".join(
        b"STAT %s %d/%d\r\n" % (name.encode(), n, n)
        for name, n in sorted(counts.items())) + b"END\r\n", raw
