"""brokers: real RabbitMQ and NATS servers for the tests of mqd-forward.

Each server runs from Debian's packages, directly (no init system, no
service of the machine), in a directory of its own under the tmpdir it is
given, on free loopback ports, so a system RabbitMQ node or nats-server on
the machine is neither needed nor disturbed:

    with RabbitMQ(tmp) as rabbit:          # start() ... stop()
        rabbit.declare_queue("q", {"x-max-length": 10,
                                   "x-overflow": "reject-publish"})
        rabbit.publish("q", b"body", message_id="id-1")
        [m.body for m in rabbit.read_all("q")]

    with Nats(tmp) as nats:
        nats.create_stream("S", ["s.>"])
        nats.publish("s.x", b"body", msg_id="id-1")
        nats.read_all("S")                 # every message, with headers

start() returns once the server answers on its port (RabbitMQ: its node
said READY=1 and the AMQP port greets a client; NATS: JetStream answers an
API request).  stop() ends the server by PID, waits for it and removes its
directory unless told to keep it; kill() sends SIGKILL and keeps the data
for a later start(), as a crash would.

RabbitMQCluster(tmp) and NatsCluster(tmp) start three of either, joined
(rabbitmqctl join_cluster; NATS routes), for replicated queues and streams
(make check-cluster, bench/forward --cluster).

Measured here (2 cores shared with other work): a fresh RabbitMQ node is
READY in 5-10 s (4.0 s of CPU, 6.2 before its optional plugins were left
off the code path), a restart on its data in 6-8 s, a graceful stop in
about 1 s; a 3-node cluster forms in about 40 s, most of it rabbitmqctl's
own start, six times.  nats-server answers within 0.1 s, a 3-server
JetStream cluster within about 2.5 s.

A server started inside a test is registered with mqdtest's runner, which
stops it after the test and shows its log when the test fails.
"""

import base64
import collections
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import time

import mqdtest

# A node of RabbitMQ takes about 5 s to boot here (2 cores); a cluster
# node joining one takes longer.
START_TIMEOUT = 60.0
NATS_NO_PEERS = 10005               # JetStream's err_code
STOP_TIMEOUT = 60.0
RABBITMQ_SBIN = "/usr/lib/rabbitmq/bin"
RABBITMQ_HOME = os.path.realpath(os.path.join(RABBITMQ_SBIN, "rabbitmq-server",
                                              "..", ".."))

# A NATS message: payload and headers; an AMQP one: body and pika's
# BasicProperties (message_id, headers, delivery_mode...).
Message = collections.namedtuple("Message", "body headers")
Delivery = collections.namedtuple("Delivery", "body properties")


def free_ports(n):
    """n distinct free TCP ports on the loopback interface.  All n sockets
    are bound at once, so the ports differ from each other."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class _Process:
    """One server process: its log file, start, stop and kill by PID, and
    registration with mqdtest's runner.  Subclasses give command() and
    start()."""

    name = "server"

    def __init__(self, tmpdir, dirname):
        self.tmp = os.path.join(tmpdir, dirname)
        os.makedirs(self.tmp, exist_ok=True)
        self.log_path = os.path.join(self.tmp, "%s.log" % self.name)
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self):
        return self.pid is not None

    def _spawn(self, env=None):
        assert self.proc is None, "%s is already running" % self.name
        with open(self.log_path, "ab") as log:
            log.write(("=== %s\n" % " ".join(self.command())).encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(), env=env, cwd=self.tmp,
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        if self not in mqdtest._registry:
            mqdtest._registry.append(self)

    def _not_ready(self, why):
        self.kill()
        raise AssertionError("%s %s:\n%s" % (self.name, why,
                                              self.log_text()[-4000:]))

    def _wait_port(self, port, deadline):
        """Polls port until it accepts a connection, waiting on the
        process's exit between attempts (the server sends no signal)."""
        pidfd = os.pidfd_open(self.proc.pid)
        try:
            while not connects(port):
                if select.select([pidfd], [], [], 0.05)[0]:
                    self._not_ready("exited with %s before it listened on %d"
                                    % (self.proc.wait(), port))
                if deadline.expired():
                    self._not_ready("did not listen on %d within %.0f s"
                                    % (port, START_TIMEOUT))
        finally:
            os.close(pidfd)

    def _signal_and_wait(self, sig):
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise AssertionError("%s did not exit within %.0f s of signal %d"
                                 % (self.name, STOP_TIMEOUT, sig))
        self.proc = None
        return code

    def kill(self):
        """SIGKILL, as a crash: the data stays for a later start()."""
        if self.proc is not None:
            self._signal_and_wait(signal.SIGKILL)

    def stop(self, keep=False):
        """SIGTERM by PID and wait for the exit; the server's data is
        removed unless keep.  Its log stays (mqdtest's runner shows it when
        the test failed) until cleanup()."""
        if self.proc is not None:
            self._signal_and_wait(signal.SIGTERM)
        if not keep:
            for name in os.listdir(self.tmp):
                path = os.path.join(self.tmp, name)
                if path == self.log_path:
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)

    def remove(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cleanup(self):
        """For mqdtest's runner, after stop(): nothing is left, log
        included."""
        self.kill()
        self.remove()

    def log_text(self, offset=0):
        return mqdtest._read_text(self.log_path, offset)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False


class Epmd(_Process):
    """Erlang's port mapper on its own loopback port, so that RabbitMQ
    nodes started here never meet the machine's (port 4369).  Nodes of one
    cluster share one."""

    name = "epmd"

    def __init__(self, tmpdir):
        self.port = free_ports(1)[0]
        super().__init__(tmpdir, "epmd-%d" % self.port)

    def command(self):
        return ["epmd", "-port", str(self.port), "-address", "127.0.0.1"]

    def start(self):
        self._spawn()
        self._wait_port(self.port, mqdtest.deadline(START_TIMEOUT))
        return self


class RabbitMQ(_Process):
    """One RabbitMQ node: node name unique to this run, its own epmd (or
    the one given, for a cluster), mnesia, logs, HOME (Erlang cookie) and
    configuration under tmpdir/rabbitmq-<name>, listeners on 127.0.0.1
    only, no plugins.  guest/guest may log in (over loopback only)."""

    name = "rabbitmq"

    def __init__(self, tmpdir, name="rabbit", epmd=None, cookie=None,
                 config=()):
        super().__init__(tmpdir, "rabbitmq-%s" % name)
        self.own_epmd = epmd is None
        self.epmd = Epmd(tmpdir) if epmd is None else epmd
        self.port, self.dist_port = free_ports(2)
        self.nodename = "mqdtest-%s-%d-%s@localhost" % (
            name, os.getpid(), secrets.token_hex(3))
        self.cookie = cookie or secrets.token_hex(16).upper()
        self.config = list(config)
        self.notify_path = os.path.join(self.tmp, "notify.sock")
        self._write_files()

    @property
    def url(self):
        return "amqp://guest:guest@127.0.0.1:%d/" % self.port

    def _write_files(self):
        cookie = os.path.join(self.tmp, ".erlang.cookie")
        if not os.path.exists(cookie):
            with open(os.open(cookie, os.O_WRONLY | os.O_CREAT, 0o400),
                      "w") as f:
                f.write(self.cookie)
        conf = ["listeners.tcp.1 = 127.0.0.1:%d" % self.port,
                "loopback_users = none",
                # Test directories live on small, shared disks.
                "disk_free_limit.absolute = 1MB"] + self.config
        self._write("rabbitmq.conf", "\n".join(conf) + "\n")
        self._write("enabled_plugins", "[].\n")
        self._write("rabbitmq-env.conf", "")
        self._slim_home()

    def _slim_home(self):
        """A RABBITMQ_HOME of links to the package's: the scripts, and the
        broker's libraries without its optional plugins.  The VM searches
        every library of its code path for each module it loads: with the
        40 plugins left out, a node boots on 4.0 s of CPU instead of 6.2
        (2 cores, a fresh node)."""
        home = os.path.join(self.tmp, "rabbitmq-home")
        if os.path.isdir(home):
            return
        for sub in ("sbin", "plugins"):
            os.makedirs(os.path.join(home, sub))
            real = os.path.join(RABBITMQ_HOME, sub)
            for name in os.listdir(real):
                if sub == "sbin" or not name.startswith("rabbitmq_") \
                        or name.startswith("rabbitmq_prelaunch-"):
                    os.symlink(os.path.join(real, name),
                               os.path.join(home, sub, name))
        os.symlink(os.path.join(RABBITMQ_HOME, "escript"),
                   os.path.join(home, "escript"))

    def _write(self, name, text):
        with open(os.path.join(self.tmp, name), "w") as f:
            f.write(text)

    def env(self):
        path = lambda name: os.path.join(self.tmp, name)
        return dict(
            os.environ,
            # rabbitmq-env takes RABBITMQ_HOME from the scripts' directory.
            RABBITMQ_SCRIPTS_DIR=path("rabbitmq-home/sbin"),
            HOME=self.tmp,
            ERL_EPMD_PORT=str(self.epmd.port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=path("mnesia"),
            RABBITMQ_LOG_BASE=path("log"),
            RABBITMQ_CONFIG_FILE=path("rabbitmq.conf"),
            RABBITMQ_CONF_ENV_FILE=path("rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=path("enabled_plugins"),
            RABBITMQ_PLUGINS_EXPAND_DIR=path("plugins-expand"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                "-kernel inet_dist_use_interface {127,0,0,1}"),
            # With NOTIFY_SOCKET set, the start script execs the VM (so
            # the PID is the node's) and the node reports READY=1.
            NOTIFY_SOCKET=self.notify_path)

    def command(self):
        return [os.path.join(RABBITMQ_SBIN, "rabbitmq-server")]

    def start(self):
        self.launch()
        return self.wait_ready()

    def launch(self):
        """Starts the node without waiting for it (nodes of a cluster boot
        side by side); wait_ready() then waits."""
        if self.own_epmd and not self.epmd.running:
            self.epmd.start()
        if os.path.lexists(self.notify_path):
            os.unlink(self.notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self._spawn(self.env())

    def wait_ready(self):
        deadline = mqdtest.deadline(START_TIMEOUT)
        try:
            self._wait_notify(deadline)
        finally:
            self.notify.close()
        self._wait_port(self.port, deadline)
        return self

    def _wait_notify(self, deadline):
        notify = self.notify
        pidfd = os.pidfd_open(self.proc.pid)
        try:
            while True:
                ready = select.select([notify, pidfd], [], [],
                                      deadline.left())[0]
                if not ready:
                    self._not_ready("sent no READY=1 within %.0f s"
                                    % START_TIMEOUT)
                if notify in ready:
                    if notify.recv(4096).startswith(b"READY=1"):
                        return
                else:
                    self._not_ready("exited with %s before READY=1"
                                    % self.proc.wait())
        finally:
            os.close(pidfd)

    def stop(self, keep=False):
        super().stop(keep=keep)
        if self.own_epmd and not keep:
            self.epmd.stop()

    def cleanup(self):
        super().cleanup()
        if self.own_epmd:
            self.epmd.cleanup()

    def ctl(self, *args, timeout=START_TIMEOUT):
        """rabbitmqctl against this node; returns its stdout, raises with
        its output when it fails."""
        r = subprocess.run([os.path.join(RABBITMQ_SBIN, "rabbitmqctl"),
                            "-n", self.nodename] + list(args),
                           env=self.env(), cwd=self.tmp,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("rabbitmqctl %s: exit %d\n%s%s"
                                 % (" ".join(args), r.returncode, r.stdout,
                                    r.stderr))
        return r.stdout

    # ---- AMQP through pika ----

    def connection(self):
        import pika
        return pika.BlockingConnection(pika.URLParameters(self.url))

    def declare_queue(self, queue, arguments=None, quorum=True):
        """A durable queue (quorum unless told otherwise) with these extra
        arguments, e.g. {"x-max-length": 10, "x-overflow":
        "reject-publish"}."""
        args = dict(arguments or {})
        if quorum:
            args["x-queue-type"] = "quorum"
        with self.connection() as conn:
            conn.channel().queue_declare(queue, durable=True, arguments=args)
        if quorum:
            self.wait_quorum_registered()

    def wait_quorum_registered(self):
        """Waits until every quorum queue member on this node is in Ra's
        directory on disk (names.dets), which the node saves some time
        after a declare: a kill -9 before that leaves the queue leaderless
        and its messages unreachable after the restart (Ra 2.2, fixed by
        syncing the file in rabbitmq/ra#443).  Polled: the node says
        nothing when it saves the file."""
        base = os.path.join(self.tmp, "mnesia", self.nodename, "quorum",
                            self.nodename)
        deadline = mqdtest.deadline(START_TIMEOUT)
        while True:
            uids = [d for d in os.listdir(base)
                    if os.path.isdir(os.path.join(base, d))]
            with open(os.path.join(base, "names.dets"), "rb") as f:
                saved = f.read()
            missing = [u for u in uids if u.encode() not in saved]
            if not missing:
                return
            if deadline.expired():
                raise AssertionError("quorum members %s not saved in %s "
                                     "within %.0f s" % (missing, base,
                                                        START_TIMEOUT))
            time.sleep(0.05)        # the poll interval

    def message_count(self, queue):
        with self.connection() as conn:
            ok = conn.channel().queue_declare(queue, passive=True)
            return ok.method.message_count

    def rpc(self, module, function, args="[]"):
        """module:function(args...) on the node through erl_call, Erlang's
        own client (17 ms where rabbitmqctl takes 1.4 s, 8-14 s on two
        loaded cores); returns the result as Erlang prints it."""
        call = "%s %s %s" % (module, function, args)
        r = subprocess.run(["erl_call", "-address",
                            "127.0.0.1:%d" % self.dist_port, "-c",
                            self.cookie, "-a", call],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=START_TIMEOUT)
        if r.returncode != 0 or r.stdout.startswith("{badrpc"):
            raise AssertionError("erl_call %s: exit %d\n%s%s"
                                 % (call, r.returncode, r.stdout, r.stderr))
        return r.stdout

    def unsettled(self, queue):
        """Messages of queue the broker has not seen acknowledged: ready
        (a passive declare) plus delivered and unacknowledged, asked of
        every channel of the node (a test's consumer is the only one).
        Both are live; list_queues' figures for a quorum queue are
        statistics the queue emits every few seconds (0 for 9 messages
        here)."""
        unacked = self.rpc("rabbit_channel", "info_all",
                           "[[messages_unacknowledged]]")
        return self.message_count(queue) + sum(
            int(n) for n in re.findall(r"[0-9]+", unacked))

    def publish(self, queue, body, message_id=None):
        """A persistent message to queue through the default exchange,
        confirmed by the broker (raises if it is refused)."""
        import pika
        props = pika.BasicProperties(delivery_mode=2, message_id=message_id)
        with self.connection() as conn:
            channel = conn.channel()
            channel.confirm_delivery()
            channel.basic_publish("", queue, body, props, mandatory=True)

    def read_all(self, queue):
        """Takes every message of queue, in order, as Delivery(body,
        properties)."""
        messages = []
        with self.connection() as conn:
            channel = conn.channel()
            while True:
                method, props, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    return messages
                messages.append(Delivery(body, props))


class NatsClient(mqdtest.Client):
    """NATS's text protocol over a socket, enough for the tests: requests,
    publishing with headers (HPUB), the JetStream API.  mqdtest.Client's
    bounded reads, on a TCP socket instead of mqd's."""

    def __init__(self, port, timeout=mqdtest.TIMEOUT):
        self.path = "127.0.0.1:%d" % port
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = bytearray()
        self.sid = 0
        self.inbox = "_INBOX.%s" % secrets.token_hex(8)
        self._expect_op(b"INFO")
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,'
                          b'"headers":true,"no_responders":true}\r\n'
                          b"SUB %s.* 1\r\nPING\r\n" % self.inbox.encode())
        self._expect_op(b"PONG")

    def _line(self):
        return self.read_until(b"\r\n")[:-2]

    def _exact(self, n):
        """n bytes of payload and the CR LF after them."""
        return self.recv_exact(n + 2)[:-2]

    def _expect_op(self, op):
        """Reads protocol lines up to op, answering the server's PINGs."""
        while True:
            line = self._line()
            if line.startswith(op):
                return line
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise AssertionError("nats-server: %s" % line.decode())

    def _message(self):
        """The next MSG or HMSG: (headers dict, payload)."""
        line = self._line()
        while not line.startswith((b"MSG ", b"HMSG ")):
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise AssertionError("nats-server: %s" % line.decode())
            line = self._line()
        fields = line.split()
        if fields[0] == b"MSG":
            return {}, self._exact(int(fields[-1]))
        header_len, total = int(fields[-2]), int(fields[-1])
        data = self._exact(total)
        return parse_headers(data[:header_len]), data[header_len:]

    def publish(self, subject, payload, headers=None, reply=None):
        reply = b" " + reply.encode() if reply else b""
        if headers:
            head = encode_headers(headers)
            self.sock.sendall(b"HPUB %s%s %d %d\r\n%s%s\r\n" % (
                subject.encode(), reply, len(head), len(head) + len(payload),
                head, payload))
        else:
            self.sock.sendall(b"PUB %s%s %d\r\n%s\r\n" % (
                subject.encode(), reply, len(payload), payload))

    def request(self, subject, payload=b"", headers=None):
        """Publishes and waits for the one reply: (headers, payload)."""
        self.sid += 1
        self.publish(subject, payload, headers,
                     reply="%s.%d" % (self.inbox, self.sid))
        return self._message()

    def api(self, subject, request=None):
        """A JetStream API call: the decoded JSON answer."""
        return self.jetstream(subject, b"" if request is None
                              else json.dumps(request).encode())

    def jetstream(self, subject, payload, headers=None):
        """A request JetStream answers in JSON (an API call, a publish):
        the decoded answer; raises NatsApiError on an error answer, or when
        nothing serves the subject (no stream, or none with a leader)."""
        status, body = self.request(subject, payload, headers)
        if status.get("Status") == "503":
            raise NatsApiError(subject, {"err_code": 503,
                                         "description": "no responders"})
        answer = json.loads(body)
        if "error" in answer:
            raise NatsApiError(subject, answer["error"])
        return answer


class NatsApiError(AssertionError):
    def __init__(self, subject, error):
        super().__init__("%s: %s" % (subject, error))
        self.code = error.get("err_code")


def encode_headers(headers):
    return b"NATS/1.0\r\n" + b"".join(
        b"%s: %s\r\n" % (k.encode(), v.encode())
        for k, v in headers.items()) + b"\r\n"


def parse_headers(block):
    """NATS/1.0 [status [text]] then Key: Value lines -> dict; the status
    code, when there is one, as "Status"."""
    lines = block.decode().split("\r\n")
    headers = {}
    status = lines[0].split(None, 2)
    if len(status) > 1:
        headers["Status"] = status[1]
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip()] = value.strip()
    return headers


class Nats(_Process):
    """nats-server with JetStream (file storage in tmpdir/nats-<name>),
    listening on 127.0.0.1 only, on a free port."""

    name = "nats-server"

    def __init__(self, tmpdir, name="nats", args=(), port=None):
        super().__init__(tmpdir, "nats-%s" % name)
        self.port = port or free_ports(1)[0]
        self.args = list(args)

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def command(self):
        return ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.port),
                "-sd", os.path.join(self.tmp, "jetstream"),
                "-n", "mqdtest-%s" % os.path.basename(self.tmp)] + self.args

    def start(self):
        self.launch()
        return self.wait_ready()

    def launch(self):
        self._spawn()

    def wait_ready(self):
        deadline = mqdtest.deadline(START_TIMEOUT)
        self._wait_port(self.port, deadline)
        # Clients are let in once JetStream has recovered its streams; a
        # cluster's JetStream answers once its servers chose a leader.
        while True:
            try:
                with NatsClient(self.port, timeout=2) as c:
                    return c.api("$JS.API.INFO") and self
            except (AssertionError, OSError) as e:  # an error, or no answer yet
                if deadline.expired():
                    self._not_ready("JetStream not ready within %.0f s: %s"
                                    % (START_TIMEOUT, e))
            time.sleep(0.05)        # the poll interval

    def client(self):
        return NatsClient(self.port)

    def create_stream(self, stream, subjects, **config):
        """A file-backed stream (R1 unless num_replicas is given) over
        subjects; config adds or overrides fields of StreamConfig.  A
        cluster whose servers have not all joined yet refuses a replicated
        stream ("no suitable peers for placement"): asked again until
        START_TIMEOUT."""
        request = dict(name=stream, subjects=list(subjects), storage="file",
                       num_replicas=1)
        request.update(config)
        deadline = mqdtest.deadline(START_TIMEOUT)
        while True:
            try:
                with self.client() as c:
                    return c.api("$JS.API.STREAM.CREATE.%s" % stream,
                                 request)
            except NatsApiError as e:
                if e.code != NATS_NO_PEERS or deadline.expired():
                    raise
            time.sleep(0.05)        # the poll interval

    def stream_info(self, stream):
        """The stream's state: messages, bytes, first_seq, last_seq..."""
        with self.client() as c:
            return c.api("$JS.API.STREAM.INFO.%s" % stream)["state"]

    def consumer_info(self, stream, durable):
        """A durable consumer's state: num_pending (not delivered yet),
        num_ack_pending (delivered, not acked), ack_floor, delivered..."""
        with self.client() as c:
            return c.api("$JS.API.CONSUMER.INFO.%s.%s" % (stream, durable))

    def publish(self, subject, payload, msg_id=None):
        """Publishes to JetStream and returns its ack (stream, seq and
        duplicate when the Nats-Msg-Id was seen within the window)."""
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        with self.client() as c:
            return c.jetstream(subject, payload, headers)

    def read_all(self, stream):
        """Every message stored in stream, in sequence order, as
        Message(body, headers); headers include "Nats-Msg-Id" when the
        publisher gave one.  Nothing is consumed."""
        messages = []
        with self.client() as c:
            state = c.api("$JS.API.STREAM.INFO.%s" % stream)["state"]
            for seq in range(state["first_seq"], state["last_seq"] + 1):
                try:
                    m = c.api("$JS.API.STREAM.MSG.GET.%s" % stream,
                              {"seq": seq})["message"]
                except NatsApiError as e:
                    if e.code == 10037:     # deleted: no message there
                        continue
                    raise
                headers = parse_headers(base64.b64decode(m["hdrs"])) \
                    if m.get("hdrs") else {}
                messages.append(Message(base64.b64decode(m.get("data", "")),
                                        headers))
        return messages


class _Cluster:
    """Several servers started side by side; stop() stops them all."""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def stop(self, keep=False):
        for server in self.nodes:
            server.stop(keep=keep)

    def _start_nodes(self):
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready()


class RabbitMQCluster(_Cluster):
    """size RabbitMQ nodes sharing an epmd and a cookie, the others joined
    to the first with rabbitmqctl join_cluster.  A quorum queue declared
    through declare_queue() has a member on every node."""

    def __init__(self, tmpdir, size=3):
        self.epmd = Epmd(tmpdir)
        cookie = secrets.token_hex(16).upper()
        self.nodes = [RabbitMQ(tmpdir, "node%d" % i, epmd=self.epmd,
                               cookie=cookie) for i in range(size)]

    @property
    def urls(self):
        return [n.url for n in self.nodes]

    def start(self):
        self.epmd.start()
        self._start_nodes()
        first = self.nodes[0].nodename
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first)
            node.ctl("start_app")
        running = self.nodes[0].ctl("eval", "rabbit_nodes:all_running().")
        missing = [n.nodename for n in self.nodes if n.nodename not in running]
        if missing:
            raise AssertionError("%s not running in the cluster: %s"
                                 % (missing, running))
        return self

    def stop(self, keep=False):
        super().stop(keep=keep)
        if not keep:
            self.epmd.stop()

    def declare_queue(self, queue, arguments=None):
        """A quorum queue with a member on each node, declared through the
        first running node; waits until every running node saved its
        member (see RabbitMQ.wait_quorum_registered)."""
        live = [n for n in self.nodes if n.running]
        live[0].declare_queue(queue, arguments)
        for node in live[1:]:
            node.wait_quorum_registered()


class NatsCluster(_Cluster):
    """size nats-servers with JetStream, routed to each other on loopback
    (a JetStream cluster: streams of up to size replicas)."""

    def __init__(self, tmpdir, size=3):
        ports = free_ports(2 * size)
        client_ports, route_ports = ports[:size], ports[size:]
        self.nodes = []
        for i in range(size):
            routes = ",".join("nats://127.0.0.1:%d" % p
                              for j, p in enumerate(route_ports) if j != i)
            self.nodes.append(Nats(tmpdir, "node%d" % i, port=client_ports[i],
                                   args=["--cluster_name", "mqdtest",
                                         "--cluster", "nats://127.0.0.1:%d"
                                         % route_ports[i],
                                         "--routes", routes]))

    @property
    def urls(self):
        return [n.url for n in self.nodes]

    def start(self):
        self._start_nodes()
        return self
