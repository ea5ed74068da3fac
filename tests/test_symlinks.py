#!/usr/bin/python3
"""A hostile -u user against the daemon that starts as root (issue 10,
item 7).  `-u nobody` hands the data directory to nobody, so whoever runs
as nobody may plant symbolic links in it between two starts, or while one
is under way, at every name the daemon creates: mqd.lock, mqd-N.gdbm,
mqd-N.gdbm.part, mqd-N.journal, mqd-N.journal.new, and the first format's
names.  A link's target must never be created, written, truncated or
handed to nobody; the daemon either refuses to start with a message that
names the file, or goes on without following the link.  And a data
directory that others may write to, or that belongs to someone else, is
refused.

These tests need root (CI runs as root) and the user nobody; they fail,
saying so, without them.
"""

import os
import collections
import pwd
import re
import stat

import mqdtest
from mqdtest import get_reply, set_cmd

NOBODY = "nobody"
SUFFIXES = (".gdbm", ".gdbm.part", ".journal", ".journal.new")
SCRATCH = (".gdbm.part", ".journal.new")
FIXED = ("mqd.lock", "mqd.gdbm", "mqd.journal", "mqd.gdbm.convert",
         "mqd.gdbm.rebuild", "mqd.gdbm.new", "mqd.journal.new")
# Generation and journal numbers the victims cover: far more than the
# checkpoints the tests make.
NUMBERS = 200
ROUNDS = 20
# What a start refused because of a link says.
REFUSAL = re.compile(r"cannot (open|create) (?:\S+/)?(mqd[-.][\w.-]+): (it is "
                     r"a symbolic link, and mqd follows none in its data "
                     r"directory|File exists)$", re.M)

def plant_until(data, victims, stop, fixed, suffixes):
    """The planter, run as nobody: until the stop file exists, a link at
    every name of the daemon's that is free (the fixed names, and each
    suffix after the numbers around the highest in use), pointing
    alternately at an existing victim and at a name that must never come to
    exist.  Returns how many it planted (as text)."""
    planted = 0
    while not os.path.exists(stop):
        try:
            names = os.listdir(data)
        except OSError:
            continue
        top = max([int(m.group(1)) for m in
                   (re.match(r"mqd-(\d{6})\.", n) for n in names) if m],
                  default=0)
        for name in list(fixed) + ["mqd-%06d%s" % (n, s)
                                   for n in range(max(0, top - 1), top + 4)
                                   for s in suffixes]:
            kind = "file-" if planted % 2 else "absent-"
            try:
                os.symlink(os.path.join(victims, kind + name),
                           os.path.join(data, name))
                planted += 1
            except OSError:
                pass
    return b"%d" % planted


def plant(data, name, target):
    """One link at name, replacing what is there."""
    path = os.path.join(data, name)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)
    return b""


def note(text):
    print("# " + text, flush=True)


def every_name():
    return list(FIXED) + ["mqd-%06d%s" % (n, s) for n in range(NUMBERS)
                          for s in SUFFIXES]


def fingerprint(path):
    st = os.lstat(path)
    with open(path, "rb") as f:
        data = f.read()
    return (data, st.st_size, st.st_mtime_ns, st.st_ino, st.st_uid,
            st.st_gid, stat.S_IMODE(st.st_mode))


class Victims:
    """Files of root's outside the data directory, one per name the daemon
    uses (file-<name>), and names that must never exist (absent-<name>)."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "victims")
        os.mkdir(self.dir, 0o755)
        for name in every_name():
            path = os.path.join(self.dir, "file-" + name)
            with open(path, "wb") as f:
                f.write(b"root's own %s\n" % name.encode())
            os.chmod(path, 0o644)
        self.before = self.state()

    def state(self):
        return {name: fingerprint(os.path.join(self.dir, name))
                for name in os.listdir(self.dir)}

    def check(self, test):
        """Nothing created, written, truncated, renamed or chowned."""
        after = self.state()
        test.assertEqual(sorted(after), sorted(self.before),
                         "names appeared or went in %s" % self.dir)
        changed = [n for n in after if after[n] != self.before[n]]
        test.assertEqual(changed, [], "victims changed")


def require_root(test):
    if os.geteuid() != 0:
        test.fail("the symlink tests start the daemon as root with -u "
                  "nobody: run them as root")
    try:
        return pwd.getpwnam(NOBODY)
    except KeyError:
        test.fail("no user %s" % NOBODY)


def remove_links(data):
    for name in os.listdir(data):
        if os.path.islink(os.path.join(data, name)):
            os.unlink(os.path.join(data, name))


class Links(mqdtest.MqdTestCase):
    def setUp(self):
        self.nobody = require_root(self)
        self.tmp = mqdtest.scratch_dir()
        os.chmod(self.tmp, 0o755)           # nobody reaches its directory
        self.victims = Victims(self.tmp)
        # The socket in a directory mqd makes, and so hands to nobody.
        self.d = mqdtest.Daemon(["-u", NOBODY, "-s", os.path.join(
            self.tmp, "run", "mqd.sock")], tmp=self.tmp)
        self.data = self.d.data_dir
        # A first start makes the directory and hands it to nobody.
        self.d.start()
        with self.d.client() as c:
            c.expect(set_cmd("kept", b"from before"), b"STORED\r\n")
        self.d.stop()
        self.assertEqual(os.stat(self.data).st_uid, self.nobody.pw_uid)

    def as_nobody(self, fn, *args):
        return mqdtest.AsUser(self.nobody.pw_uid, self.nobody.pw_gid, fn,
                              *args)

    def plant(self, name, kind):
        """A link at name (replacing what is there), made as nobody."""
        self.as_nobody(plant, self.data, name,
                       os.path.join(self.victims.dir, kind + name)).result()

    def assert_refused_for(self, name):
        code, log = self.d.start_expect_failure()
        self.assertEqual(code, 1, log)
        path = os.path.join(self.data, name) if name == "mqd.lock" else name
        self.assertIn("mqd: cannot open %s: it is a symbolic link, and mqd "
                      "follows none in its data directory\n" % path, log)

    def assert_kept(self):
        remove_links(self.data)
        self.d.start()
        with self.d.client() as c:
            c.expect(b"get kept\r\n", get_reply(("kept", b"from before")))
        self.d.stop()

    def test_link_at_the_lock_file(self):
        # The lock is opened with O_CREAT and handed to nobody: through a
        # link, that would create the target or give it away.
        for kind in ("file-", "absent-"):
            self.plant("mqd.lock", kind)
            self.assert_refused_for("mqd.lock")
            self.victims.check(self)
        self.assert_kept()

    def test_link_instead_of_a_journal_or_a_generation(self):
        names = [n for n in sorted(os.listdir(self.data))
                 if n.endswith((".journal", ".gdbm"))]
        self.assertTrue(names)
        for name in names:
            for kind in ("file-", "absent-"):
                saved = os.path.join(self.tmp, "saved")
                os.rename(os.path.join(self.data, name), saved)
                self.plant(name, kind)
                self.assert_refused_for(name)
                self.victims.check(self)
                os.unlink(os.path.join(self.data, name))
                os.rename(saved, os.path.join(self.data, name))
        self.assert_kept()

    def test_hard_link_not_handed_over(self):
        # Where fs.protected_hardlinks is off, nobody may link any file of
        # the same file system into its directory (root does it here, as
        # it may anywhere); -u hands the directory's files to nobody, and
        # must not hand over that one.
        victim = os.path.join(self.victims.dir, "file-mqd.lock")
        os.link(victim, os.path.join(self.data, "mqd-000099.journal.new"))
        os.link(victim, os.path.join(self.data, "unknown"))
        self.d.start()
        with self.d.client() as c:
            c.expect(b"get kept\r\n", get_reply(("kept", b"from before")))
        self.d.stop()
        self.victims.check(self)
        self.assertIn("not handing %s/unknown over: it has 2 names, so it "
                      "may not be the daemon's" % self.data,
                      self.d.log_text())

    def test_links_planted_while_it_starts(self):
        # Each round: the links of the last one cleared (as an operator
        # would), then nobody plants links in a loop while the daemon
        # starts, takes a set and stops: at every free name of the
        # daemon's, or (every other round) only at the scratch names it
        # removes and then creates, the race of the issue.
        outcomes = collections.Counter()
        planted, acked = 0, []
        for r in range(ROUNDS):
            remove_links(self.data)
            stop = os.path.join(self.tmp, "stop-planting")
            names = (FIXED, SUFFIXES) if r % 2 else ((), SCRATCH)
            planter = self.as_nobody(plant_until, self.data,
                                     self.victims.dir, stop, *names)
            try:
                outcome = self.one_start(r, acked)
            finally:
                open(stop, "w").close()
                planted += int(planter.result())
                os.unlink(stop)
            outcomes.update(outcome)
            self.victims.check(self)
        note("%d rounds, %d links planted: %s" % (ROUNDS, planted, ", ".join(
            "%s %d" % item for item in sorted(outcomes.items()))))
        self.assertGreater(planted, ROUNDS)
        # Every message acknowledged in a round is there, in order.
        remove_links(self.data)
        self.d.start()
        with self.d.client() as c:
            c.expect(b"get kept\r\n", get_reply(("kept", b"from before")))
            for m in acked:
                c.expect(b"get rounds\r\n", get_reply(("rounds", m)))
            c.expect(b"get rounds\r\n", b"END\r\n")
        self.d.stop()

    def refusal(self, offset):
        """What the daemon said it refused, by kind of name."""
        log = self.d.log_text(offset)
        found = REFUSAL.search(log)
        self.assertIsNotNone(found, log)
        return "%s %s" % (found.group(1), re.sub(r"\d+", "N", found.group(2)))

    def one_start(self, r, acked):
        """One start among the links; what came of it."""
        offset = len(self.d.log_text())
        code = self.d.try_start()
        if code is not None:
            self.assertEqual(code, 1, self.d.log_text(offset))
            return ["refused: " + self.refusal(offset)]
        m = b"round %d" % r
        with self.d.client() as c:
            c.send(set_cmd("rounds", m))
            if c.recv_line() == b"STORED\r\n":
                acked.append(m)
        self.d.proc.terminate()
        code = self.d.wait_exit(expect=None)
        if code == 0:
            return ["served"]
        self.assertEqual(code, 1, self.d.log_text(offset))
        return ["served", "stopped with status 1: " + self.refusal(offset)]


class Directory(mqdtest.MqdTestCase):
    def setUp(self):
        self.nobody = require_root(self)

    def refused(self, args, mode, owner, reason):
        d = mqdtest.Daemon(args)
        os.mkdir(d.data_dir, mode)
        os.chmod(d.data_dir, mode)          # past the umask
        os.chown(d.data_dir, owner, owner)
        code, log = d.start_expect_failure()
        self.assertEqual(code, 1, log)
        self.assertIn(reason % d.data_dir, log)
        self.assertEqual(os.listdir(d.data_dir), [])
        self.assertFalse(os.path.lexists(d.socket_path))

    def test_group_writable_refused(self):
        self.refused([], 0o770, 0, "data directory %s is writable by its "
                     "group or by others (mode 0770)")

    def test_world_writable_refused(self):
        self.refused([], 0o703, 0, "data directory %s is writable by its "
                     "group or by others (mode 0703)")

    def test_sticky_world_writable_refused(self):
        self.refused(["-u", NOBODY], 0o1777, self.nobody.pw_uid,
                     "data directory %s is writable by its group or by "
                     "others (mode 1777)")

    def test_someone_elses_refused(self):
        self.refused([], 0o700, 12345, "data directory %s belongs to uid "
                     "12345, not to the daemon's user: refusing to use it")

    def test_the_users_without_u_refused(self):
        # nobody's directory, but the daemon was not told to be nobody.
        self.refused([], 0o700, self.nobody.pw_uid,
                     "data directory %%s belongs to uid %d, not to the "
                     "daemon's user" % self.nobody.pw_uid)

    def test_the_users_with_u_accepted(self):
        d = mqdtest.Daemon(["-u", NOBODY])
        os.chmod(d.tmp, 0o755)
        os.mkdir(d.data_dir, 0o700)
        os.chown(d.data_dir, self.nobody.pw_uid, self.nobody.pw_gid)
        d.start()
        with d.client() as c:
            c.expect(set_cmd("q", b"x"), b"STORED\r\n")


if __name__ == "__main__":
    mqdtest.main()
