#!/usr/bin/python3
"""The power-cut checker's model of the file system (tests/powercut/
fsmodel.py), on logs made up here: what it calls durable decides which
states a power cut may leave."""

import os

import mqdtest
from powercut import fsmodel, pclog

O = pclog.OP


class Log:
    """Records as pclog.read makes them, one call at a time."""

    def __init__(self):
        self.records = []

    def call(self, op, tid, **fields):
        r = self._record(op, pclog.CALL, tid, fields)
        r.result = None
        return r

    def returns(self, call, ret=0, **fields):
        r = self._record(pclog.OPS[call.op - 1], pclog.RETURN, call.tid,
                         fields)
        r.ret = ret
        call.result = r
        return r

    def _record(self, op, phase, tid, fields):
        r = pclog.Record()
        r.time, r.op, r.phase, r.tid, r.proc = len(self.records), O[op], \
            phase, tid, 0
        for key in ("seq", "call", "id", "a", "b", "c", "ret", "err", "fd",
                    "pid", "flags"):
            setattr(r, key, fields.get(key, 0))
        r.name, r.name2 = fields.get("name"), fields.get("name2")
        r.data = fields.get("data", b"")
        self.records.append(r)
        return r


    def created(self, name, ident):
        """name made in the directory (id 3) and its name synced; its file
        open as ident."""
        made = self.call("OPEN", 1, name=name, a=os.O_CREAT | os.O_RDWR)
        self.returns(made, id=ident)
        opened = self.call("OPEN", 1, name="", a=os.O_RDONLY)
        self.returns(opened, id=3, c=1)
        self.returns(self.call("FSYNC", 1, id=3))


class Durability(mqdtest.MqdTestCase):
    def setUp(self):
        self.snapshot = mqdtest.scratch_dir()

    def test_overlapping_syncs_the_first_to_return(self):
        # Thread 2 begins an fdatasync, then thread 1 writes nothing more
        # and begins its own, which returns first: the write is durable
        # from that return on, not from the slower sync's.
        log = Log()
        log.created("f", 7)
        write = log.call("WRITE", 1, id=7, a=0, data=b"acknowledged")
        log.returns(write, ret=12)
        slow = log.call("FSYNC", 2, id=7, a=1)
        fast = log.call("FSYNC", 1, id=7, a=1)
        fast_end = log.returns(fast)
        log.returns(slow)
        model = fsmodel.Model(self.snapshot)
        model.replay(log.records)
        self.assertEqual(model.durable_state(fast_end.time + 1),
                         {"f": b"acknowledged"})
        self.assertEqual(model.durable_state(fast_end.time), {"f": b""})

    def test_sync_before_the_write_ended_does_not_count(self):
        log = Log()
        log.created("f", 7)
        write = log.call("WRITE", 1, id=7, a=0, data=b"late")
        early = log.call("FSYNC", 2, id=7, a=1)
        log.returns(write, ret=4)
        early_end = log.returns(early)
        model = fsmodel.Model(self.snapshot)
        model.replay(log.records)
        self.assertEqual(model.durable_state(early_end.time + 1), {"f": b""})


if __name__ == "__main__":
    mqdtest.main()
