"""systemd integration: readiness (Type=notify) and socket activation.

The harness already waits for READY=1 on $NOTIFY_SOCKET for every daemon;
here the listening socket comes from "systemd" (this test) through
LISTEN_FDS, as mqd.socket hands it over, and the daemon's own socket is the
other way round."""

import os
import socket
import stat
import unittest

import mqdtest


def activation_socket(path, mode):
    """A listening socket made the way systemd makes mqd.socket's."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o777 & ~mode)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    sock.listen(16)
    return sock


class SocketActivation(unittest.TestCase):
    def setUp(self):
        self.tmp = mqdtest.scratch_dir()
        self.path = os.path.join(self.tmp, "activated.sock")
        self.listener = activation_socket(self.path, 0o640)
        self.addCleanup(self.listener.close)

    def start(self, args=()):
        own = os.path.join(self.tmp, "own.sock")
        d = mqdtest.Daemon(["-s", own] + list(args), tmp=self.tmp,
                           listen_fd=self.listener.fileno())
        return d.start(), own

    def test_serves_the_handed_over_socket(self):
        d, own = self.start()
        with mqdtest.Client(self.path) as c:
            c.expect(b"set jobs 0 0 5\r\nhello\r\n", b"STORED\r\n")
            c.expect(b"get jobs\r\n", b"VALUE jobs 0 5\r\nhello\r\nEND\r\n")
        # Its own socket (-s) is not made: the unit's socket replaces it.
        self.assertFalse(os.path.lexists(own))
        d.stop()

    def test_unit_socket_mode_is_kept(self):
        d, _ = self.start(["-a", "0777"])
        # SocketMode= is the mask: mqd neither widens nor narrows it.
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o640)
        d.stop()
        # The socket belongs to systemd, which removes it (RemoveOnStop=).
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.path).st_mode))

    def test_connections_queued_before_start_are_served(self):
        # systemd starts mqd on the first connection: it waits in the
        # backlog until the daemon accepts it.
        early = mqdtest.Client(self.path)
        early.send(b"set early 0 0 2\r\nhi\r\n")
        d, _ = self.start()
        early.expect_reply(b"STORED\r\n")
        early.close()
        d.stop()

    def test_allow_lists_apply(self):
        d, _ = self.start(["--allow-uid", "12345"])
        # Refused at once, before it can send anything.
        with mqdtest.Client(self.path) as c:
            c.expect_reply(b"SERVER_ERROR access denied\r\n")
            c.closed()
        d.stop()

    def test_messages_survive_across_activations(self):
        d, _ = self.start()
        with mqdtest.Client(self.path) as c:
            c.expect(b"set q 0 0 3\r\nabc\r\n", b"STORED\r\n")
        d.stop()
        d.start()
        with mqdtest.Client(self.path) as c:
            c.expect(b"get q\r\n", b"VALUE q 0 3\r\nabc\r\nEND\r\n")
        d.stop()


class OwnSocket(unittest.TestCase):
    def test_own_socket_made_and_removed(self):
        d = mqdtest.Daemon(["-a", "0600"]).start()
        self.assertEqual(stat.S_IMODE(os.stat(d.socket_path).st_mode), 0o600)
        with mqdtest.Client(d.socket_path) as c:
            c.expect(b"version\r\n", b"VERSION %s\r\n" % mqdtest.VERSION.encode())
        d.stop()
        self.assertFalse(os.path.lexists(d.socket_path))


if __name__ == "__main__":
    mqdtest.main()
