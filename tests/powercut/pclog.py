"""pclog: reads the log of tests/powercut/recorder.so (layout in
tests/powercut/recorder.h: keep the two alike).

Each record becomes a Record; `time` is its place in the whole log, which
orders the records of every process (processes sharing a log run one after
another, and each writes its records in order)."""

import struct

HEADER = struct.Struct("<IHHQQQqqqqiiiiIIII")

CALL, RETURN, EVENT = 1, 2, 3

OPS = ("START", "OPEN", "CLOSE", "WRITE", "MAPWRITE", "TRUNCATE",
       "FALLOCATE", "FSYNC", "SYNC_RANGE", "MSYNC", "RENAME", "UNLINK",
       "MKDIR", "MMAP", "ACCEPT", "RECV", "SEND")
OP = {name: number for number, name in enumerate(OPS, 1)}

FLAG_INJECTED = 1


class Record:
    __slots__ = ("time", "op", "phase", "seq", "call", "id", "a", "b", "c",
                 "ret", "err", "fd", "pid", "tid", "flags", "name", "name2",
                 "data", "proc", "result")

    def __repr__(self):
        what = "%s %s #%d" % (OPS[self.op - 1],
                              {CALL: "call", RETURN: "return",
                               EVENT: "event"}[self.phase], self.time)
        if self.name is not None:
            what += " %r" % self.name
        if self.name2 is not None:
            what += " -> %r" % self.name2
        return "<%s id=%d a=%d b=%d c=%d ret=%d err=%d %d bytes>" % (
            what, self.id, self.a, self.b, self.c, self.ret, self.err,
            len(self.data))


def _text(raw, present):
    return raw.decode("utf-8", "surrogateescape") if present else None


def read(path):
    """Every record of the log at path, in order.  A RETURN record's
    `result` is None; a CALL's `result` is its RETURN (None while the call
    never returned: the process died in it).  `proc` numbers the processes
    from 0 in the order they started (a child of fork has its parent's);
    (proc, id) names an open file or a connection."""
    with open(path, "rb") as f:
        raw = f.read()
    records, calls, procs = [], {}, {}
    pos = 0
    while pos < len(raw):
        if pos + HEADER.size > len(raw):
            raise ValueError("log cut short in a header at %d" % pos)
        (size, op, phase, seq, call, ident, a, b, c, ret, err, fd, pid, tid,
         name_len, name2_len, data_len, flags) = HEADER.unpack_from(raw, pos)
        if size != HEADER.size + name_len + name2_len + data_len \
                or pos + size > len(raw) or not 1 <= op <= len(OPS):
            raise ValueError("bad record at %d" % pos)
        r = Record()
        r.time = len(records)
        r.op, r.phase, r.seq, r.call, r.id = op, phase, seq, call, ident
        r.a, r.b, r.c, r.ret, r.err = a, b, c, ret, err
        r.fd, r.pid, r.tid, r.flags = fd, pid, tid, flags
        body = pos + HEADER.size
        r.name = _text(raw[body:body + name_len],
                       name_len or (op == OP["START"]) or _named(op, phase))
        body += name_len
        r.name2 = _text(raw[body:body + name2_len],
                        name2_len or (op == OP["RENAME"] and phase == CALL
                                      and not b & 2))
        body += name2_len
        r.data = raw[body:body + data_len]
        if op == OP["START"]:
            # A child of fork goes on with its parent's files and ids.
            procs[pid] = procs[a] if a in procs else len(set(procs.values()))
        r.proc = procs.get(pid, -1)
        r.result = None
        if phase == CALL:
            calls[(pid, seq)] = r
        elif phase == RETURN:
            calls.pop((pid, call)).result = r
        records.append(r)
        pos += size
    return records


def _named(op, phase):
    """Whether a record of op has a name even when it is "" (the watched
    directory itself)."""
    return phase == CALL and op in (OP["OPEN"], OP["UNLINK"], OP["MKDIR"])
