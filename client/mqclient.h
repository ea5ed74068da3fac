/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqclient.h: libmqclient, the C client library of mqd.
 *
 * mqd is a local message-queue daemon on a Unix socket (see mqd(8)).  This
 * library speaks its protocol (the memcache text protocol with Kestrel's
 * queue options) so that a C program can push and pop messages in a few
 * lines:
 *
 *     mq_client *mq;
 *     mq_message *msg;
 *
 *     if (mq_connect (NULL, &mq) != MQ_OK)
 *       fprintf (stderr, "%s\n", mq_client_error (mq));
 *     mq_push (mq, "jobs", "resize 42.jpg", 13, 0, 0);
 *     if (mq_pop (mq, "jobs", 5000, &msg) == MQ_OK)
 *       {
 *         fwrite (msg->data, 1, msg->len, stdout);
 *         mq_message_free (msg);
 *       }
 *     mq_client_free (mq);
 *
 * Build with: cc prog.c $(pkg-config --cflags --libs libmqclient)
 * The full reference is libmqclient(3).
 *
 * Conventions
 * -----------
 * - Every call that talks to the daemon returns an mq_status.  MQ_OK is 0.
 *   mq_strerror() names a status; mq_client_error() gives the detailed
 *   message of the handle's last failed call, including the daemon's own
 *   text when the daemon refused something.
 * - Queue names are C strings of 1 to 250 bytes without whitespace, control
 *   characters, DEL or '/'.  Any other name is refused with MQ_INVALID
 *   before anything is sent.
 * - Timeouts are in milliseconds: MQ_NO_WAIT (0) answers at once,
 *   1 to 2147483647 waits up to that long for a message, MQ_WAIT_FOREVER
 *   waits until one comes.
 * - Delays and leases are in milliseconds too, int64_t: 0 to 315360000000
 *   (ten years; a lease at least 1), or MQ_QUEUE_RULE to leave them to the
 *   queue's rules (see "delays, leases and retries" below).
 * - Memory handed to the caller is released with the matching *_free()
 *   function of this library.
 *
 * Connections
 * -----------
 * A handle owns one connection.  When the connection breaks (the daemon
 * stopped, restarted, or closed it), the failing call reports it and the
 * next call connects again (a connection the daemon closed meanwhile is
 * noticed before anything is sent on it).  A call is never repeated once
 * any byte of it may have reached the daemon.  A call that failed before a
 * single byte was sent is repeated once on a new connection when it only
 * takes or reads (pop, peek, reliable pop, stats, version); the others
 * (push, delete, flush, ack, abort, shutdown) return MQ_IO and changed
 * nothing.  A push whose connection broke after it was sent and before the
 * daemon answered returns MQ_MAYBE_STORED: the message may or may not be in
 * the queue, and it is not sent again.
 *
 * Signals: calls restart system calls interrupted by a signal (EINTR) and
 * never raise SIGPIPE (sends use MSG_NOSIGNAL).
 *
 * Thread safety: a handle must be used by one thread at a time; the library
 * takes no locks.  Use one handle per thread.  Different handles are
 * independent, and mq_strerror(), mq_valid_queue_name() and
 * mq_library_version() may be called from any thread.
 *
 * Names: everything this library exports starts with "mq_" (types and
 * functions) or "MQ_" (constants).  None of them is a name of POSIX message
 * queues (<mqueue.h>), so both headers can be included together.
 */
#ifndef MQCLIENT_H
#define MQCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A connection to mqd.  Opaque. */
typedef struct mq_client mq_client;

/* What a call did.  The numbers are part of the ABI and never change. */
typedef enum mq_status {
  MQ_OK = 0,           /* done */
  MQ_EMPTY = 1,        /* no message: the queue is empty or the wait ended */
  MQ_NOT_STORED = 2,   /* push refused: the queue is full (a queue limit) */
  MQ_TOO_LARGE = 3,    /* push refused: larger than the daemon's limit */
  MQ_SERVER_ERROR = 4, /* the daemon failed (SERVER_ERROR): see
                          mq_client_error() for its text */
  MQ_PROTOCOL = 5,     /* the daemon's answer made no sense; the
                          connection was closed */
  MQ_CONNECT = 6,      /* cannot connect to the daemon's socket, or the
                          daemon refused the connection */
  MQ_IO = 7,           /* the connection broke; the request was not (or not
                          completely) carried out, see mq_client_error() */
  MQ_NOMEM = 8,        /* out of memory */
  MQ_INVALID = 9,      /* a bad argument (e.g. an invalid queue name), or a
                          request the daemon refused (CLIENT_ERROR, its text
                          kept) */
  MQ_NOT_FOUND = 10,   /* no such queue; or no reliable read to ack, abort
                          or touch */
  MQ_MAYBE_STORED = 11 /* the connection broke after a push was sent and
                          before the daemon answered: it may or may not be
                          stored.  Not sent again. */
} mq_status;

/* A static English description of a status ("queue is full", ...).
 * Unknown values give "unknown status". */
const char *mq_strerror (mq_status status);

/* ---- connecting ----------------------------------------------------- */

/* Connects to the daemon at socket_path, or, when socket_path is NULL, at
 * $MQD_SOCKET when that is set and not empty, else at the daemon's default:
 * /run/mqd/mqd.sock for root, else $XDG_RUNTIME_DIR/mqd.sock, else
 * /tmp/mqd-<uid>/mqd.sock.
 *
 * *client is set to a new handle whatever the outcome (except MQ_NOMEM, where
 * it is NULL), so that mq_client_error() can say what went wrong; free it
 * with mq_client_free().  On MQ_CONNECT the handle is usable: its next call
 * tries to connect again.  MQ_INVALID: the path is empty or too long for a
 * Unix socket address. */
mq_status mq_connect (const char *socket_path, mq_client **client);

/* The path the handle connects to. */
const char *mq_client_socket (const mq_client *client);

/* The detailed message of the last call on this handle that did not return
 * MQ_OK, e.g. "cannot connect to /run/mqd/mqd.sock: No such file or
 * directory" or "push to jobs: the server says: object too large for cache".
 * "" when the last call succeeded.  Valid until the next call on the handle.
 * client may be NULL (after mq_connect ran out of memory). */
const char *mq_client_error (const mq_client *client);

/* Sets the handle's I/O timeout: a call gives up on a daemon that neither
 * takes a byte of the request nor sends one of the answer for timeout_ms
 * milliseconds (1 to 2147483647) beyond the call's own wait, closes the
 * connection and returns MQ_IO ("no answer from the daemon at PATH in N
 * ms"), so that a hung daemon (stopped, stuck on its disk) cannot hang the
 * caller for ever.  A call that waits for a message (pop, peek, reliable
 * pop, mq_pop_many(), mq_open_many() with a timeout T) may get nothing for
 * T ms: its limit is T + timeout_ms.  MQ_WAIT_FOREVER calls are not bounded
 * by it.  Connecting counts too: a daemon that takes no new connection for
 * timeout_ms gives MQ_CONNECT.  The rules of "Connections" above hold: a
 * push that timed out after it was sent returns MQ_MAYBE_STORED, and the
 * next call connects again.  0 (the default): no limit, every call waits
 * as long as the daemon takes.  MQ_INVALID for a negative timeout_ms.
 * mq_connect()'s own handshake runs before a timeout can be set: use
 * mq_connect_timeout() to bound a handle's first connection too. */
mq_status mq_set_io_timeout (mq_client *client, int timeout_ms);

/* mq_connect(), with the handle's I/O timeout (mq_set_io_timeout) set
 * before it connects: a daemon that hangs bounds even the first
 * connection (MQ_CONNECT or MQ_IO after about timeout_ms). */
mq_status mq_connect_timeout (const char *socket_path, int timeout_ms,
                              mq_client **client);

/* Closes the connection now (reliable reads still open are given back to
 * their queues by the daemon).  The next call connects again. */
void mq_disconnect (mq_client *client);

/* Closes the connection and frees the handle.  NULL is allowed. */
void mq_client_free (mq_client *client);

/* Writes the path mq_connect (NULL, ...) would use into buf (at most size
 * bytes, NUL included) and returns its length, as snprintf does: a result
 * >= size means buf was too small. */
size_t mq_socket_path (char *buf, size_t size);

/* 1 when name is a valid queue name, else 0. */
int mq_valid_queue_name (const char *name);

/* The library's version, e.g. "0.1.0". */
const char *mq_library_version (void);

/* ---- pushing --------------------------------------------------------- */

/* Appends a message to the tail of queue (created by its first message).
 * data may hold any bytes; len may be 0 (an empty message).  flags are
 * returned with the message; exptime follows memcache: 0 never expires,
 * 1 to 2592000 is seconds from now, larger is a Unix time, negative means
 * already expired.
 *
 * MQ_OK once the daemon has stored it (by default: synced to disk).
 * MQ_NOT_STORED (queue full), MQ_TOO_LARGE, MQ_SERVER_ERROR: not stored.
 * MQ_IO: the connection broke before the whole message was sent: not stored.
 * MQ_MAYBE_STORED: it broke after; the message may be in the queue. */
mq_status mq_push (mq_client *client, const char *queue, const void *data,
                   size_t len, uint32_t flags, int64_t exptime);

/* A message to push. */
typedef struct mq_buffer {
  const void *data;
  size_t len;
} mq_buffer;

/* Pushes count messages in one go: all requests are written at once and the
 * answers read as they come (pipelining), which is much faster than count
 * calls of mq_push().  Messages are stored in order.
 *
 * results, when not NULL, receives each message's outcome, as mq_push()
 * would return it; *stored, when stored is not NULL, the number of messages
 * stored (MQ_OK).  The return value is MQ_OK when all were stored, else the
 * outcome of the first message that was not (later ones may still have been
 * stored: check results). */
mq_status mq_push_many (mq_client *client, const char *queue,
                        const mq_buffer *messages, size_t count,
                        uint32_t flags, int64_t exptime,
                        mq_status *results, size_t *stored);

/* ---- popping --------------------------------------------------------- */

#define MQ_NO_WAIT 0
#define MQ_WAIT_FOREVER (-1)

/* Room for a message's stable id, its NUL included. */
#define MQ_ID_SIZE 64

/* A message handed out by the daemon.  data holds len bytes exactly as they
 * were pushed, followed by one NUL byte that is not part of the message (so
 * text messages can be used as C strings).  Free with mq_message_free().
 *
 * id is the message's stable id, a C string of printable ASCII without
 * spaces, at most 63 bytes: "<instance>.<incarnation>.<seq>", e.g.
 * "3f9a0c1d22e4b7a8.17.1042".  The same message delivered again (after an
 * abort, a disconnect, a crash or a restart of the daemon) has the same id;
 * two messages never share one.  Reliable reads (mq_pop_open(),
 * mq_open_many(), mq_get() with MQ_READ_OPEN) fill it; the other calls
 * leave it "". */
typedef struct mq_message {
  void *data;
  size_t len;
  uint32_t flags;
  char id[MQ_ID_SIZE];
} mq_message;

void mq_message_free (mq_message *message);

/* Takes the message at the head of queue.  timeout_ms: see the conventions
 * above.  MQ_OK and *message set; MQ_EMPTY when there was none (a queue that
 * does not exist is empty).  At most once: the daemon deletes the message
 * before it answers, so a connection that breaks while the answer is on its
 * way (MQ_IO) may lose it; use mq_pop_open() where that matters. */
mq_status mq_pop (mq_client *client, const char *queue, int timeout_ms,
                  mq_message **message);

/* Takes up to max messages of queue in one round trip (the requests are
 * pipelined).  The first request waits up to timeout_ms when the queue is
 * empty; the others take only what is there.  messages[0..*count) receive
 * the messages in queue order.
 *
 * Whatever the status, the first *count entries are messages that were
 * taken from the queue: use and free them.  MQ_OK when at least one came,
 * MQ_EMPTY when none did, or the first error met. */
mq_status mq_pop_many (mq_client *client, const char *queue, int timeout_ms,
                       mq_message **messages, size_t max, size_t *count);

/* Returns the head message of queue without removing it. */
mq_status mq_peek (mq_client *client, const char *queue, int timeout_ms,
                   mq_message **message);

/* Reliable read, first half: takes the head message of queue but the daemon
 * keeps it (on disk) until mq_ack() deletes it or mq_abort() gives it back
 * to the head of the queue.  If the connection closes first (the program
 * dies, mq_disconnect(), the daemon restarts), the message goes back to the
 * head of the queue: nothing is lost.
 *
 * A second mq_pop_open() of the same queue is refused by the daemon
 * (MQ_INVALID, with its text) while a read of it is open on the handle;
 * mq_open_many() opens many at once. */
mq_status mq_pop_open (mq_client *client, const char *queue, int timeout_ms,
                       mq_message **message);

/* Deletes the message of the (oldest) read open on queue.  MQ_NOT_FOUND,
 * sending nothing, when no read of queue is open on this handle's current
 * connection; in particular after the connection broke, since the daemon
 * then gave the message back (it will be delivered again). */
mq_status mq_ack (mq_client *client, const char *queue);

/* Gives the messages of the reads open on queue back to the head of the
 * queue, in order.  MQ_NOT_FOUND as mq_ack(). */
mq_status mq_abort (mq_client *client, const char *queue);

/* ---- windows of reliable reads --------------------------------------- */

/* A handle may hold many reliable reads of a queue at once, its window on
 * the queue, kept in the order they were handed out.  Acks and aborts end
 * the oldest ones; a forwarder keeps a window in flight and confirms it as
 * its destination acknowledges, in order.  mq_ack() ends the oldest read of
 * the queue, mq_abort() gives all of them back (head first, in order), and
 * so does the daemon when the connection closes.  mq_pop_open() is refused
 * while a read of the queue is open, as before. */

/* Opens up to max reliable reads of queue in one round trip (Kestrel's
 * monitor): waits up to timeout_ms for the first, then takes only what is
 * there.  messages[0..*count) receive them in queue order, each with its
 * id; free each with mq_message_free().  Reads already open on the queue
 * stay open, before these.  max: 1 to 65536 (all reads open on a
 * connection count towards 65536).  MQ_OK (*count >= 1), MQ_EMPTY (none),
 * MQ_IO when the connection broke: the daemon gave back what it handed
 * out, and *count is 0. */
mq_status mq_open_many (mq_client *client, const char *queue, int timeout_ms,
                        size_t max, mq_message **messages, size_t *count);

/* Acks (deletes) the oldest n reads of queue open on this handle's
 * connection, in one line.  MQ_NOT_FOUND, sending nothing, when fewer than
 * n are open on it (after a broken connection, none are: the daemon gave
 * them back).  MQ_INVALID, with the daemon's words, when the lease of one
 * of them ran out (they are all ended all the same).  n = 0 does
 * nothing. */
mq_status mq_confirm (mq_client *client, const char *queue, size_t n);

/* Gives the oldest n reads of queue back to the queue, in order, e.g.
 * messages their destination refused: each counts as a failed delivery, so
 * the queue's max_deliveries and dead_letter rules apply.  MQ_NOT_FOUND as
 * mq_confirm(). */
mq_status mq_abort_oldest (mq_client *client, const char *queue, size_t n);

/* Options of mq_get(), combined with |; they are Kestrel's get options,
 * and mqd's touch. */
#define MQ_READ_OPEN 0x1u   /* open a reliable read (mq_pop_open) */
#define MQ_READ_CLOSE 0x2u  /* first ack the read open on the queue */
#define MQ_READ_ABORT 0x4u  /* first give back the read open on the queue */
#define MQ_READ_PEEK 0x8u   /* return the head without removing it */
#define MQ_READ_TOUCH 0x10u /* extend the lease of the read open on the
                               queue (mq_touch); goes alone */

/* The general form of the calls above: one get of queue with options.
 * MQ_READ_CLOSE | MQ_READ_OPEN acks the open read and opens the next one in
 * one round trip.  With only MQ_READ_CLOSE, MQ_READ_ABORT or MQ_READ_TOUCH
 * nothing is handed out: message may be NULL and MQ_OK is returned.
 * MQ_NOT_FOUND, as mq_ack(), when CLOSE, ABORT or TOUCH names no open
 * read. */
mq_status mq_get (mq_client *client, const char *queue, unsigned options,
                  int timeout_ms, mq_message **message);

/* ---- delays, leases and retries ------------------------------------- */

/* For a delay or a lease: none of the call's own, the queue's rule
 * (default_delay, lease, retry_delay in mqd(8)) applies, or nothing. */
#define MQ_QUEUE_RULE (-1)

/* mq_push(), but the message is held back: it is stored (MQ_OK means the
 * same) but no get, peek or item count sees it until delay_ms milliseconds
 * have passed; then it joins the tail of the queue.  0 stores it for at
 * once, whatever the queue's default_delay; MQ_QUEUE_RULE leaves it to
 * default_delay, as mq_push() does.  MQ_INVALID, sending nothing, for a
 * delay out of range. */
mq_status mq_push_delayed (mq_client *client, const char *queue,
                           const void *data, size_t len, uint32_t flags,
                           int64_t exptime, int64_t delay_ms);

/* mq_push_many(), with every message held back as mq_push_delayed()
 * says. */
mq_status mq_push_many_delayed (mq_client *client, const char *queue,
                                const mq_buffer *messages, size_t count,
                                uint32_t flags, int64_t exptime,
                                int64_t delay_ms, mq_status *results,
                                size_t *stored);

/* mq_pop_open() with a lease: a read not acked within lease_ms
 * milliseconds (1 to 315360000000; MQ_QUEUE_RULE: the queue's lease rule,
 * if any) is given back by the daemon, counted as a failed delivery, and
 * may go to another reader; an mq_ack() after that is refused (MQ_INVALID,
 * with the daemon's words).  mq_touch() extends a lease. */
mq_status mq_pop_open_lease (mq_client *client, const char *queue,
                             int timeout_ms, int64_t lease_ms,
                             mq_message **message);

/* Extends the lease of the read open on queue: lease_ms milliseconds from
 * now (1 to 315360000000), or, with MQ_QUEUE_RULE, as the daemon renews a
 * lease it gave.  MQ_NOT_FOUND, sending nothing, as mq_ack(); MQ_INVALID,
 * with the daemon's words, when the lease had already run out. */
mq_status mq_touch (mq_client *client, const char *queue, int64_t lease_ms);

/* mq_abort(), but the message comes back only after delay_ms milliseconds:
 * a retry that backs off.  0 gives it back at once, whatever the queue's
 * retry_delay; MQ_QUEUE_RULE leaves it to retry_delay, as mq_abort()
 * does. */
mq_status mq_abort_delayed (mq_client *client, const char *queue,
                            int64_t delay_ms);

/* ---- managing queues ------------------------------------------------- */

/* Drops the queue, its messages and its counters.  MQ_NOT_FOUND when there
 * is no such queue. */
mq_status mq_delete (mq_client *client, const char *queue);

/* Removes every message of queue, keeping the queue and its counters.
 * A queue that does not exist is not an error. */
mq_status mq_flush (mq_client *client, const char *queue);

/* mq_flush() of every queue. */
mq_status mq_flush_all (mq_client *client);

/* The daemon's version, e.g. "0.1.0".  *version stays valid until the next
 * call on the handle. */
mq_status mq_version (mq_client *client, const char **version);

/* Asks the daemon to stop, as SIGTERM does: what it received is answered
 * and synced, then it exits.  Any client allowed to connect may do this. */
mq_status mq_server_shutdown (mq_client *client);

/* ---- statistics ------------------------------------------------------ */

/* One line of the daemon's stats: "pid", "uptime", "curr_items", ... and
 * the per-queue lines "queue_<name>_<what>".  See mqd's protocol
 * reference. */
typedef struct mq_stat {
  char *name;
  char *value;
} mq_stat;

/* The daemon's stats, in the daemon's order.  Free with mq_stats_free(). */
mq_status mq_stats (mq_client *client, mq_stat **stats, size_t *count);

/* The value of the stat called name, or NULL. */
const char *mq_stats_find (const mq_stat *stats, size_t count,
                           const char *name);

void mq_stats_free (mq_stat *stats, size_t count);

/* One queue's numbers. */
typedef struct mq_queue_info {
  char *name;                 /* set by mq_list_queues(); NULL otherwise */
  uint64_t items;             /* messages waiting */
  uint64_t bytes;             /* their payload bytes */
  uint64_t total_items;       /* messages ever stored */
  uint64_t dequeued;          /* messages delivered */
  uint64_t open_transactions; /* reliable reads open */
  uint64_t waiters;           /* clients blocked in a get */
  uint64_t expired;           /* messages dropped because they expired */
  uint64_t discarded;         /* messages dropped by a queue limit */
  uint64_t age_ms;            /* age of the head message; 0 when empty */
  uint64_t reserved[7];       /* later numbers; 0 for now */
} mq_queue_info;

/* The numbers of one queue.  MQ_NOT_FOUND when there is no such queue.
 * info->name is set to NULL. */
mq_status mq_queue_stats (mq_client *client, const char *queue,
                          mq_queue_info *info);

/* Every queue, sorted by name, with its numbers (one round trip).  Free
 * with mq_queue_list_free(). */
mq_status mq_list_queues (mq_client *client, mq_queue_info **queues,
                          size_t *count);

void mq_queue_list_free (mq_queue_info *queues, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* MQCLIENT_H */
