"""wire: what each client asked and what mqd answered, read from the
recorder's log (the bytes the daemon read and sent, in the order it did),
turned into what happened to each message.

Only the commands the power-cut tests send are understood (set, get/gets
with Kestrel's options, delete, version); anything else is an error of the
test.
Times are log places (pclog.Record.time):
  - a request's time is that of the read that brought its last byte (the
    daemon cannot act on it earlier);
  - a reply's time is that of the send call that carried its first byte
    (a client may have it from then on).
"""

import bisect
import re

from powercut import pclog

INF = float("inf")
TAG = re.compile(rb"<pc ([a-z0-9]+) c(\d+) n(\d+)>")
O = pclog.OP


def tag(payload):
    """(queue, producer, number) of a load payload, or None."""
    m = TAG.match(payload)
    return m and (m.group(1).decode(), int(m.group(2)), int(m.group(3)))


class Message:
    def __init__(self, key, queue, payload, received):
        self.key = key                  # (queue, producer, number)
        self.queue = queue
        self.payload = payload
        self.received = received        # its set's time
        self.acked = INF                # STORED's time
        self.deliveries = []            # (time, "get" | "open" | "peek")
        self.released = INF             # taken for good (see Conversation)
        self.dropped = INF              # a delete of its queue arrived
        self.erased = INF               # DELETED sent for that delete

    def __repr__(self):
        return "<%s %d/%d>" % self.key


class Stream:
    """The bytes of one direction of one connection, and when each piece
    moved."""

    def __init__(self):
        self.data = bytearray()
        self.starts, self.times = [], []

    def add(self, data, time):
        if data:
            self.starts.append(len(self.data))
            self.times.append(time)
            self.data += data

    def time_at(self, offset):
        return self.times[bisect.bisect_right(self.starts, offset) - 1]


class Truncated(Exception):
    """The stream ends in the middle of something."""


class Reader:
    def __init__(self, stream):
        self.stream, self.pos = stream, 0

    def line(self):
        data = self.stream.data
        end = data.find(b"\r\n", self.pos)
        if end < 0:
            raise Truncated()
        start, self.pos = self.pos, end + 2
        return bytes(data[start:end]), start

    def block(self, n):
        data = self.stream.data
        if self.pos + n + 2 > len(data):
            raise Truncated()
        if data[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise ValueError("a data block not ended by CRLF at %d"
                             % self.pos)
        start, self.pos = self.pos, self.pos + n + 2
        return bytes(data[start:start + n])


class Conversation:
    """Everything the log says about the messages of the load.

    messages: key -> Message.  A message is released (taken for good, so a
    power cut may lose it) when a plain get that took it, the /close of
    the open read that held it, or a delete of its queue reached the
    daemon; never before its set did.  Once DELETED is sent (erased), it
    must never come back."""

    def __init__(self, records):
        self.messages = {}
        inputs, outputs = {}, {}
        for r in records:
            conn = (r.proc, r.id)
            if r.op == O["RECV"]:
                inputs.setdefault(conn, Stream()).add(r.data, r.time)
            elif r.op == O["SEND"] and r.phase == pclog.CALL \
                    and r.result is not None:
                outputs.setdefault(conn, Stream()).add(r.result.data,
                                                       r.time)
        talks = [list(self._exchanges(stream, outputs.get(conn, Stream())))
                 for conn, stream in inputs.items()]
        # Every set first: a get on one connection may take what a set on
        # another stored.
        for talk in talks:
            for kind, what, data, time, reply in talk:
                if kind == "set":
                    self._set(what, data, time, reply)
        for talk in talks:
            opened = {}                 # queue -> Message on an open read
            for kind, what, data, time, reply in talk:
                if kind == "get":
                    self._get(what, time, reply, opened)
                elif kind == "delete":
                    self._delete(what, time, reply)

    @staticmethod
    def _requests(stream):
        reader = Reader(stream)
        while True:
            try:
                line, _ = reader.line()
                words = line.split()
                if words[0] == b"set":
                    data = reader.block(int(words[4]))
                    time = stream.time_at(reader.pos - 1)
                    yield ("set", words[1].decode(), data, time)
                elif words[0] in (b"get", b"gets"):
                    keys = [w.decode() for w in words[1:]]
                    yield ("get", keys, None, stream.time_at(reader.pos - 1))
                elif words[0] == b"delete":
                    yield ("delete", words[1].decode(), None,
                           stream.time_at(reader.pos - 1))
                elif words == [b"version"]:
                    yield ("version", None, None, None)
                else:
                    raise ValueError("the load never sends %r" % line)
            except Truncated:
                return

    def _exchanges(self, requests, replies):
        """(kind, queue or keys, data, time, reply) per request answered:
        a set's or a delete's reply is (line, its time), a get's [(key,
        payload, time)]."""
        reader = Reader(replies)
        try:
            for kind, what, data, time in self._requests(requests):
                if kind == "get":
                    reply = self._values(reader)
                else:
                    line, start = reader.line()
                    reply = line, replies.time_at(start + len(line) + 1)
                yield kind, what, data, time, reply
        except Truncated:
            pass                         # the daemon stopped answering

    @staticmethod
    def _values(reader):
        values = []
        while True:
            line, start = reader.line()
            if line == b"END":
                return values
            words = line.split()
            if words[0] != b"VALUE":
                raise ValueError("%r where VALUE or END belongs" % line)
            values.append((words[1].decode(), reader.block(int(words[3])),
                           reader.stream.time_at(start)))

    def _set(self, queue, data, time, reply):
        key = tag(data)
        if key is None or key[0] != queue or key in self.messages:
            raise ValueError("not a payload of the load: %r" % data[:60])
        m = self.messages[key] = Message(key, queue, data, time)
        if reply[0] == b"STORED":
            m.acked = reply[1]

    def _delete(self, queue, time, reply):
        """Every message of the queue whose set came before: only the
        deleter writes to the queues it deletes, so that order is its."""
        for m in self.messages.values():
            if m.queue == queue and m.received < time and m.dropped == INF:
                m.dropped = time
                m.released = min(m.released, time)
                if reply[0] == b"DELETED":
                    m.erased = reply[1]

    def _get(self, keys, time, values, opened):
        waiting = list(keys)
        for key, payload, sent in values:
            # VALUE names the key as asked, options and all; keys that gave
            # nothing come before it.
            while waiting and waiting[0] != key:
                self._after(waiting.pop(0), time, opened)
            if not waiting:
                raise ValueError("VALUE %s: no such key asked" % key)
            queue, *options = waiting.pop(0).split("/")
            m = self.messages[tag(payload)]
            self._close(queue, options, time, opened)
            kind = "peek" if "peek" in options else \
                "open" if "open" in options else "get"
            m.deliveries.append((sent, kind))
            if kind == "get":
                m.released = min(m.released, max(time, m.received))
            elif kind == "open":
                opened[queue] = m
        for key in waiting:
            self._after(key, time, opened)

    def _after(self, key, time, opened):
        """A key of a get that gave nothing: its /close still closes."""
        queue, *options = key.split("/")
        self._close(queue, options, time, opened)

    @staticmethod
    def _close(queue, options, time, opened):
        m = opened.pop(queue, None) if "close" in options or \
            "abort" in options else None
        if m is not None and "close" in options:
            m.released = min(m.released, max(time, m.received))
