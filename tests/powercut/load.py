"""load: the traffic of a power-cut run, on several connections at once.

  - producers (one connection each): pipelined batches of 1 to 6 sets to
    the queues; every payload starts with a tag <pc QUEUE cPRODUCER nN>
    and is unique; sizes from 20 bytes to 24 KiB, bytes CR, LF and NUL
    included;
  - a plain consumer: pipelined gets of one queue, or one get of several;
  - a blocking consumer: get q/t=200 (a waiter, woken by a set), alone on
    its queue;
  - a reliable consumer: get q/open, then get q/close or q/close/open, now
    and then q/abort;
  - a deleter (one connection, a producer of its own): sets to a queue
    nobody reads (DROPPED), and now and then `delete` of that queue.
The plain and reliable consumers stay behind the producers (CONSUMED), so
the queues have a depth to lose; the blocking one takes what comes.

Every client keeps what it saw (STORED replies, VALUE blocks), so the test
can hold the log's account of the conversation against the clients'."""

import random
import socket
import threading

from powercut import wire

QUEUES = ("pcq0", "pcq1", "pcq2", "pcq3")
WAITED = QUEUES[3]      # only the blocking consumer reads it
DROPPED = "pcq4"        # only the deleter writes it, and deletes it
ALL_QUEUES = QUEUES + (DROPPED,)
TIMEOUT = 10.0
CONSUMED = 0.6          # the share of what is stored consumers keep below


def payload(queue, producer, number, size):
    """A payload of the load: its tag, then size bytes of a pattern (CR,
    LF and NUL among them)."""
    head = b"<pc %s c%d n%d>" % (queue.encode(), producer, number)
    pattern = b"\r\n\0 " + bytes((number + k * 37) % 256 for k in range(60))
    return head + (pattern * (size // 64 + 1))[:size]


def payload_size(rng):
    r = rng.random()
    return rng.randrange(4096, 24576) if r < 0.05 else \
        rng.randrange(600, 3000) if r < 0.25 else rng.randrange(0, 300)


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buf = bytearray()

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        out = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return out

    def block(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        out = bytes(self.buf[:n])
        assert self.buf[n:n + 2] == b"\r\n", "a block not ended by CRLF"
        del self.buf[:n + 2]
        return out

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise AssertionError("mqd closed a connection of the load")
        self.buf += chunk

    def get_reply(self):
        """The payloads of one get's reply."""
        out = []
        while True:
            line = self.line()
            if line == b"END":
                return out
            words = line.split()
            assert words[0] == b"VALUE", line
            out.append(self.block(int(words[3])))

    def close(self):
        self.sock.close()


class Load:
    """Runs `messages` sets in all, with the consumers and the deleter, and
    keeps what the clients saw: acked (payload keys that got STORED;
    the deleter's in acked_dropped), received (payload keys of every VALUE,
    in order), erased (keys of the messages a DELETED took away), sent
    (sets in all, the deleter's included).  The producers are numbered from first_producer, the
    deleter after them."""

    def __init__(self, socket_path, seed, messages, first_producer=0,
                 producers=3):
        self.path = socket_path
        self.first_producer = first_producer
        self.rng = random.Random(seed)
        self.quota = [messages // producers] * producers
        self.quota[0] += messages - sum(self.quota)
        self.lock = threading.Condition()
        self.acked = set()
        self.received = []
        self.acked_dropped = set()
        self.erased = set()
        self.sent = messages
        self.failures = []
        self.done = threading.Event()
        self.numbers = [0] * producers

    def run(self):
        producers = [self._thread(self._produce, i)
                     for i in range(len(self.quota))]
        consumers = [self._thread(c) for c in (
            self._consume_plain, self._consume_blocking,
            self._consume_reliable, self._delete)]
        for t in producers:
            t.join()
        with self.lock:
            self.done.set()
            self.lock.notify_all()
        for t in consumers:
            t.join()
        if self.failures:
            raise AssertionError("the load failed: %s" % self.failures[0])

    def _thread(self, fn, *args):
        def guarded():
            try:
                fn(random.Random(self.rng.random()), *args)
            except Exception as e:  # noqa: BLE001 - reported by run()
                with self.lock:
                    self.failures.append("%s: %r" % (fn.__name__, e))
                    self.done.set()
                    self.lock.notify_all()
        t = threading.Thread(target=guarded, daemon=True)
        t.start()
        return t

    def _see(self, payloads):
        with self.lock:
            self.received += [wire.tag(p) for p in payloads]

    def _turn(self):
        """Waits until the consumers are behind: they take at most
        CONSUMED of what was acknowledged, so the queues keep a depth.
        False once the producers are done."""
        with self.lock:
            self.lock.wait_for(lambda: self.done.is_set() or len(
                self.received) < CONSUMED * len(self.acked))
            return not self.done.is_set()

    def _produce(self, rng, producer):
        c = Client(self.path)
        left = self.quota[producer]
        while left > 0 and not self.failures:
            batch = []
            for _ in range(min(left, rng.randrange(1, 7))):
                queue = rng.choice(QUEUES)
                number = self.numbers[producer] = self.numbers[producer] + 1
                batch.append(payload(queue, self.first_producer + producer,
                                     number, payload_size(rng)))
            c.sock.sendall(b"".join(
                b"set %s 0 0 %d\r\n%s\r\n" % (wire.tag(p)[0].encode(),
                                              len(p), p) for p in batch))
            for p in batch:
                line = c.line()
                assert line == b"STORED", line
                with self.lock:
                    self.acked.add(wire.tag(p))
                    self.lock.notify_all()
            left -= len(batch)
        c.close()

    def _delete(self, rng):
        c = Client(self.path)
        producer = self.first_producer + len(self.quota)
        number, stored = 0, []
        # At the producers' pace: its sets and deletes wait for syncs too.
        # Until one delete has erased something, however fast the
        # producers were: under -N a phase could end before it deleted.
        while not self.done.is_set() or not self.erased:
            batch = []
            for _ in range(rng.randrange(1, 4)):
                number += 1
                batch.append(payload(DROPPED, producer, number,
                                     payload_size(rng)))
            c.sock.sendall(b"".join(b"set %s 0 0 %d\r\n%s\r\n" % (
                DROPPED.encode(), len(p), p) for p in batch))
            for p in batch:
                line = c.line()
                assert line == b"STORED", line
                stored.append(wire.tag(p))
            with self.lock:
                self.sent += len(batch)
                self.acked_dropped.update(stored[-len(batch):])
            if rng.random() < 0.4:
                c.sock.sendall(b"delete %s\r\n" % DROPPED.encode())
                line = c.line()
                assert line == b"DELETED", line
                with self.lock:
                    self.erased.update(stored)
                stored = []
        c.close()

    def _consume_plain(self, rng):
        c = Client(self.path)
        while self._turn():
            if rng.random() < 0.3:
                c.sock.sendall(b"get %s\r\n" % " ".join(QUEUES[:3]).encode())
                self._see(c.get_reply())
                continue
            n = rng.randrange(1, 5)
            c.sock.sendall(b"get %s\r\n" % rng.choice(QUEUES[:3]).encode()
                           * n)
            for _ in range(n):
                self._see(c.get_reply())
        c.close()

    def _consume_blocking(self, rng):
        c = Client(self.path)
        # Not held back, on a queue of its own: nearly always waiting, it
        # takes a message in the pass that stored it.
        while not self.done.is_set():
            c.sock.sendall(b"get %s/t=200\r\n" % WAITED.encode())
            self._see(c.get_reply())
        c.close()

    def _consume_reliable(self, rng):
        c = Client(self.path)
        queue = QUEUES[1].encode()
        holding = False
        while self._turn():
            r = rng.random()
            if not holding:
                what = b"open"
            elif r < 0.1:
                what = b"abort"
            elif r < 0.5:
                what = b"close"
            else:
                what = b"close/open"
            c.sock.sendall(b"get %s/%s\r\n" % (queue, what))
            got = c.get_reply()
            self._see(got)
            holding = bool(got)
        # The last open read stays open: it goes back when the connection
        # closes.
        c.close()
