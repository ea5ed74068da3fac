"""fsmodel: the data directory as the recorder's log says it changed, and
what a power cut or a kill at any moment would leave of it.

It knows nothing of mqd's files: only inodes, names and bytes.  Times are
places in the log (pclog.Record.time); "the state at cut C" holds what
records before C did.

Rules (ext4-like, and strict):
  - a file's bytes and size are what its writes, truncations and
    allocations made them (in the page cache: what a kill leaves);
  - a change is durable once an fsync or fdatasync of the file, or an
    msync(MS_SYNC) of a range holding it (writes only), began after the
    change returned, and returned itself with success (the first such sync
    to return: two may overlap); sync_file_range makes nothing durable;
  - a name (a creation, rename, unlink, mkdir) is durable once an fsync of
    its directory (of both, for a rename between two) began after it and
    returned with success;
  - inodes are apart from names: a rename moves an inode, an unlinked file
    that is still open keeps its bytes but has no name.
"""

import errno
import os

from powercut import pclog

INF = float("inf")
SECTOR = 512
O_CREAT, O_TRUNC = os.O_CREAT, os.O_TRUNC
MS_SYNC = 4
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE = 1, 2, 16
O = pclog.OP


class Unsupported(Exception):
    """The log holds something this model cannot follow: fix the model,
    never the check."""


class Inode:
    def __init__(self, is_dir, data=b"", entries=None):
        self.is_dir = is_dir
        self.base = bytes(data)          # what it held at the start
        self.entries = entries           # a directory's, at the start
        self.ops = []                    # ContentOp, in the order of calls
        self.unsynced = []               # those of ops not durable yet
        self.size = len(data)            # in the page cache, while replaying


class ContentOp:
    """A change to one file's bytes: "write" (offset, data), "size" (the
    file becomes size bytes long), "zero" (offset, size bytes of zeros)."""
    __slots__ = ("inode", "kind", "offset", "data", "size", "call", "end",
                 "durable")

    def __init__(self, inode, kind, call, end, offset=0, data=b"", size=0):
        self.inode, self.kind, self.call, self.end = inode, kind, call, end
        self.offset, self.data, self.size = offset, data, size
        self.durable = INF

    def apply(self, buf, data=None):
        if self.kind == "size":
            del buf[self.size:]
            buf.extend(bytes(self.size - len(buf)))
            return
        data = self.data if data is None else data
        if self.kind == "zero":
            data = bytes(self.size)
        end = self.offset + len(data)
        if len(buf) < self.offset:
            buf.extend(bytes(self.offset - len(buf)))
        buf[self.offset:end] = data

    def sector_cuts(self):
        """The prefix lengths a power cut can leave of this write: the
        sector boundaries strictly inside it."""
        if self.kind != "write":
            return []
        first = (self.offset // SECTOR + 1) * SECTOR
        return [b - self.offset for b in range(first, self.offset +
                                                len(self.data), SECTOR)]


class NameOp:
    """A change to names: "link" (dir, name, inode), "unlink" (dir, name),
    "rename" (dir, name -> dir2, name2)."""
    __slots__ = ("kind", "dir", "name", "dir2", "name2", "inode", "end",
                 "covered", "durable")

    def __init__(self, kind, end, dir, name, inode=None, dir2=None,
                 name2=None):
        self.kind, self.end, self.dir, self.name = kind, end, dir, name
        self.inode, self.dir2, self.name2 = inode, dir2, name2
        self.covered = {d: INF for d in {dir, dir2} if d is not None}
        self.durable = INF

    def apply(self, names):
        src = names.setdefault(self.dir, {})
        if self.kind == "link":
            src[self.name] = self.inode
        elif self.name in src:           # else: its creation is not there
            inode = src.pop(self.name)
            if self.kind == "rename":
                names.setdefault(self.dir2, {})[self.name2] = inode


class Model:
    def __init__(self, snapshot_dir):
        self.inodes = []
        self.root = self._load(snapshot_dir)
        self.content_ops = []
        self.name_ops = []
        self.names = {i: dict(i.entries) for i in self.inodes if i.is_dir}
        self.handles = {}              # (proc, id) -> Inode
        self.end_time = 0

    # ---- the start ----

    def _new(self, is_dir, data=b"", entries=None):
        inode = Inode(is_dir, data, entries)
        self.inodes.append(inode)
        return inode

    def _load(self, path):
        if os.path.isdir(path):
            entries = {name: self._load(os.path.join(path, name))
                       for name in sorted(os.listdir(path))}
            return self._new(True, entries=entries)
        with open(path, "rb") as f:
            return self._new(False, f.read())

    # ---- replaying the log ----

    def _lookup(self, rel):
        """(directory inode, last name) of rel in the names of now."""
        parts = rel.split("/") if rel else []
        d = self.root
        for part in parts[:-1]:
            d = self.names.get(d, {}).get(part)
            if d is None or not d.is_dir:
                raise Unsupported("%r: a directory on the way is missing"
                                  % rel)
        return d, (parts[-1] if parts else None)

    def _name(self, kind, ret, rel, inode=None, rel2=None):
        d, name = self._lookup(rel)
        d2, name2 = self._lookup(rel2) if rel2 is not None else (None, None)
        op = NameOp(kind, ret.time, d, name, inode, d2, name2)
        op.apply(self.names)
        self.name_ops.append(op)

    def _content(self, inode, kind, call, end, **fields):
        op = ContentOp(inode, kind, call.time, end, **fields)
        inode.ops.append(op)
        inode.unsynced.append(op)
        self.content_ops.append(op)
        if end is not None:
            if kind == "write":
                inode.size = max(inode.size, op.offset + len(op.data))
            elif kind == "size":
                inode.size = op.size
            elif kind == "zero":
                inode.size = max(inode.size, op.offset + op.size)
        return op

    def _open(self, call):
        ret = call.result
        if ret is None or ret.ret < 0:
            return
        d, name = self._lookup(call.name)
        inode = self.names.get(d, {}).get(name) if name is not None \
            else self.root
        if inode is None:
            if not call.a & O_CREAT:
                raise Unsupported("%r opened without O_CREAT, but it is not "
                                  "there" % call.name)
            inode = self._new(bool(ret.c))
            self._name("link", ret, call.name, inode)
        elif call.a & O_TRUNC and not inode.is_dir:
            self._content(inode, "size", call, ret.time, size=0)
        self.handles[(call.proc, ret.id)] = inode

    def _write(self, call):
        inode = self.handles[(call.proc, call.id)]
        ret = call.result
        data = call.data
        if ret is not None:
            if ret.ret <= 0:
                return               # failed, or wrote nothing
            data = data[:ret.ret]
        offset = inode.size if call.a < 0 else call.a
        self._content(inode, "write", call, ret and ret.time, offset=offset,
                      data=data)

    def _allocate(self, call):
        inode = self.handles[(call.proc, call.id)]
        ret = call.result
        if ret is not None and ret.ret < 0:
            return
        mode, offset, length = call.a, call.b, call.c
        end = ret and ret.time
        if mode & FALLOC_FL_PUNCH_HOLE or mode & FALLOC_FL_ZERO_RANGE:
            self._content(inode, "zero", call, end, offset=offset,
                          size=length)
        elif mode & ~FALLOC_FL_KEEP_SIZE:
            raise Unsupported("fallocate mode %#x" % mode)
        if not mode & FALLOC_FL_KEEP_SIZE \
                and offset + length > inode.size:
            self._content(inode, "size", call, end, size=offset + length)

    def _sync(self, call, inode, first=0, length=INF, writes_only=False):
        ret = call.result
        if ret is None or ret.ret != 0:
            return
        if inode.is_dir:
            for op in self.name_ops:
                if inode in op.covered and op.end < call.time:
                    op.covered[inode] = min(op.covered[inode], ret.time)
                    op.durable = max(op.covered.values())
            return
        # Syncs of one file overlap (the loop's and the sync thread's), and
        # one that began later may return first: a change is durable at the
        # earliest return of a sync that began after it.  Calls come in the
        # order they began, so a change durable before this one began is
        # settled.
        left = []
        for op in inode.unsynced:
            if op.durable <= call.time:
                continue
            if not (op.end is None or op.end >= call.time or writes_only and (
                    op.kind != "write" or op.offset < first
                    or op.offset + len(op.data) > first + length)):
                op.durable = min(op.durable, ret.time)
            left.append(op)
        inode.unsynced = left

    def replay(self, records):
        """Follows every record, in order."""
        for r in records:
            self.end_time = r.time + 1
            if r.op == O["MAPWRITE"]:
                inode = self.handles[(r.proc, r.id)]
                self._content(inode, "write", r, r.time, offset=r.a,
                              data=r.data)
            if r.phase != pclog.CALL:
                continue
            ret = r.result
            ok = ret is not None and ret.ret >= 0
            if r.op == O["OPEN"]:
                self._open(r)
            elif r.op == O["WRITE"]:
                self._write(r)
            elif r.op == O["TRUNCATE"] and ret is not None and ok:
                self._content(self.handles[(r.proc, r.id)], "size", r,
                              ret.time, size=r.a)
            elif r.op == O["FALLOCATE"]:
                self._allocate(r)
            elif r.op == O["FSYNC"]:
                self._sync(r, self.handles[(r.proc, r.id)])
            elif r.op == O["MSYNC"] and r.a & MS_SYNC:
                self._sync(r, self.handles[(r.proc, r.id)], r.b, r.c, True)
            elif r.op == O["RENAME"] and ok:
                if r.b:
                    raise Unsupported("a rename across the directory's "
                                      "edge: %r" % r)
                self._name("rename", ret, r.name, rel2=r.name2)
            elif r.op == O["UNLINK"] and ok:
                self._name("unlink", ret, r.name)
            elif r.op == O["MKDIR"] and ok and r.name:
                self._name("link", ret, r.name, self._new(True, entries={}))
            elif r.op == O["MKDIR"] and not ok and ret is not None \
                    and ret.err not in (errno.EEXIST, errno.ENOENT):
                raise Unsupported("mkdir failed: %r" % ret)

    # ---- states ----

    def durable_times(self):
        """The moments the durable state changes: a cut at t + 1 is the
        first to see what became durable at t."""
        return sorted({op.durable for op in self.content_ops + self.name_ops
                       if op.durable < INF})

    def change_times(self):
        """The moments the state a kill leaves changes."""
        return sorted({op.end for op in self.content_ops + self.name_ops
                       if op.end is not None})

    def _tree(self, names, contents):
        """{relative path: bytes, or None for a directory} reachable from
        the root."""
        out = {}

        def walk(d, prefix):
            for name, inode in sorted(names.get(d, {}).items()):
                path = prefix + name
                if inode.is_dir:
                    out[path] = None
                    walk(inode, path + "/")
                else:
                    out[path] = bytes(contents(inode))
        walk(self.root, "")
        return out

    def _names_at(self, cut, durable):
        names = {i: dict(i.entries) for i in self.inodes
                 if i.is_dir and i.entries is not None}
        for op in self.name_ops:
            if (op.durable if durable else op.end) < cut:
                op.apply(names)
        return names

    def cache_state(self, cut, missing=None):
        """What a kill at cut leaves: every change that returned before it;
        without the write `missing` when given."""
        def contents(inode):
            buf = bytearray(inode.base)
            for op in inode.ops:
                if op.end is not None and op.end < cut and op is not missing:
                    op.apply(buf)
            return buf
        return self._tree(self._names_at(cut, False), contents)

    def durable_state(self, cut, torn=None):
        """What a power cut at cut leaves: only what was durable; torn =
        (write, length): that write's first length bytes reached the disk
        too."""
        def contents(inode):
            buf = bytearray(inode.base)
            for op in inode.ops:
                if op.durable < cut:
                    op.apply(buf)
                elif torn is not None and op is torn[0]:
                    op.apply(buf, op.data[:torn[1]])
            return buf
        return self._tree(self._names_at(cut, True), contents)

    def linked(self, cut, durable=True):
        """The inodes a name reaches at cut: a durable name, or any."""
        names = self._names_at(cut, durable)
        seen, todo = set(), [self.root]
        while todo:
            d = todo.pop()
            for inode in names.get(d, {}).values():
                if inode not in seen:
                    seen.add(inode)
                    if inode.is_dir:
                        todo.append(inode)
        return seen


def materialise(tree, path):
    """Writes a state (as cache_state and durable_state give it) under
    path, which must not exist."""
    os.mkdir(path, 0o700)
    for rel, data in sorted(tree.items()):
        full = os.path.join(path, rel)
        if data is None:
            os.mkdir(full, 0o700)
        else:
            with open(full, "wb") as f:
                f.write(data)
            os.chmod(full, 0o600)
