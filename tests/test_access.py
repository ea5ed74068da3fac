#!/usr/bin/python3
"""Who may talk to mqd: the socket's mode (-a) and the peer-credential
allow-lists (--allow-uid, --allow-gid), also from another user's process.
The tests run as root; "another user" is nobody (65534)."""

import os

import mqdtest

VERSION = mqdtest.VERSION_REPLY
DENIED = b"SERVER_ERROR access denied\r\n"
NOBODY = 65534


def talk(path):
    """Connects, sends version and quit, returns every byte until the daemon
    closes.  The daemon may close a refused peer before our send: EPIPE."""
    with mqdtest.Client(path) as c:
        try:
            c.send(b"version\r\nquit\r\n")
        except BrokenPipeError:
            pass
        out = bytearray()
        while True:
            try:
                chunk = c.sock.recv(65536)
            except ConnectionResetError:   # closed with our bytes unread
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)


def talk_as(uid, gid, path):
    """talk() from a forked child running as uid:gid."""
    return mqdtest.AsUser(uid, gid, talk, path).result()


class SocketMode(mqdtest.MqdTestCase):
    def check_mode(self, args, mode):
        d = self.start_daemon(args)
        self.assertEqual(oct(d.socket_mode()), oct(mode))   # right after READY
        self.assertEqual(talk(d.socket_path), VERSION)

    def test_default_mode_0700(self):
        self.check_mode([], 0o700)

    def test_mode_0660(self):
        self.check_mode(["-a", "0660"], 0o660)

    def test_mode_0777(self):
        self.check_mode(["-a", "0777"], 0o777)

    def test_mode_600_without_leading_zero(self):
        self.check_mode(["-a", "600"], 0o600)

    def test_mode_ignores_umask(self):
        # The mode is -a exactly, whatever umask mqd was started with.
        old = os.umask(0o077)
        try:
            self.check_mode(["-a", "0775"], 0o775)
        finally:
            os.umask(old)

    def test_bad_mask_refused(self):
        tmp = mqdtest.scratch_dir()
        for value in ("999", "abc", "1777", "-1", ""):
            with self.subTest(value=value):
                r = mqdtest.run_mqd(["-s", os.path.join(tmp, "m.sock"),
                                     "-H", os.path.join(tmp, "data"),
                                     "-a", value])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("mqd: -a: '%s' is not an octal mode from 0 "
                              "to 0777\n" % value, r.stderr)
                self.assertFalse(os.path.lexists(os.path.join(tmp, "m.sock")))

    def test_bad_mask_message_states_octal_range(self):
        # "from 0 to 511 in octal" is wrong: 511 is 0777 in decimal; the
        # bound must be written the way the user writes a mode.
        r = mqdtest.run_mqd(["-s", "/nonexistent/m.sock", "-a", "999"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r"\b0?777\b")
        self.assertNotIn("511", r.stderr)


class AllowLists(mqdtest.MqdTestCase):
    def check(self, args, reply):
        d = self.start_daemon(args)
        self.assertEqual(talk(d.socket_path), reply)
        return d

    def test_allow_uid_other_denied(self):
        d = self.check(["--allow-uid", "12345"], DENIED)
        # Denied at every attempt, and the daemon stays up.
        with d.client() as c:
            c.expect_reply(DENIED)
            c.closed()
        self.assertEqual(talk(d.socket_path), DENIED)

    def test_allow_uid_own(self):
        self.check(["--allow-uid", str(os.getuid())], VERSION)

    def test_allow_uid_by_name_and_list(self):
        self.check(["--allow-uid", "12345,root"], VERSION)

    def test_allow_gid_own(self):
        self.check(["--allow-gid", str(os.getgid())], VERSION)

    def test_allow_gid_other_denied(self):
        self.check(["--allow-gid", "12345"], DENIED)

    def test_either_list_admits(self):
        self.check(["--allow-uid", "12345", "--allow-gid",
                    str(os.getgid())], VERSION)

    def test_unknown_user_refused(self):
        r = mqdtest.run_mqd(["-s", "/nonexistent/x.sock",
                             "--allow-uid", "no-such-user-mqd"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no such user: 'no-such-user-mqd'", r.stderr)


class OtherUser(mqdtest.MqdTestCase):
    def daemon_for_nobody(self, args):
        d = mqdtest.Daemon(args)
        os.chmod(d.tmp, 0o755)    # nobody must reach the socket inside
        return d.start()

    def test_nobody_denied_by_allow_uid(self):
        d = self.daemon_for_nobody(["-a", "0777", "--allow-uid", "0"])
        self.assertEqual(talk_as(NOBODY, NOBODY, d.socket_path), DENIED)
        self.assertEqual(talk(d.socket_path), VERSION)      # root still in

    def test_nobody_allowed_by_allow_uid(self):
        d = self.daemon_for_nobody(["-a", "0777", "--allow-uid",
                                    str(NOBODY)])
        self.assertEqual(talk_as(NOBODY, NOBODY, d.socket_path), VERSION)
        self.assertEqual(talk(d.socket_path), DENIED)       # root is not

    def test_nobody_allowed_by_allow_gid(self):
        d = self.daemon_for_nobody(["-a", "0777", "--allow-gid",
                                    str(NOBODY)])
        self.assertEqual(talk_as(NOBODY, NOBODY, d.socket_path), VERSION)

    def test_nobody_kept_out_by_mode(self):
        # Default 0700: connect(2) itself fails for another user.
        d = self.daemon_for_nobody([])
        with self.assertRaisesRegex(AssertionError, "PermissionError"):
            talk_as(NOBODY, NOBODY, d.socket_path)


if __name__ == "__main__":
    mqdtest.main()
