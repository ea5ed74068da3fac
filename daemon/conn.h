/* conn.h: one client connection: its state, its buffers and its replies.
 *
 * Commands (command.c) act on a connection through this header: they append
 * replies, keep reliable reads, make a get wait.  dispatch.c reads the input
 * and runs the commands; the pass end sends the replies, after the group
 * commit that covers them, with one sendmsg per connection (a large
 * message's data from where its queue holds it).
 */
#pragma once

#include <gio/gio.h>

#include "loop.h"
#include "queue.h"
#include "session.h"
#include "window.h"

/* Idle buffers larger than this are given back. */
#define MQ_CONN_BUFFER_KEEP (64 * 1024)
/* A message this large is sent from where the queue holds it, not copied
 * into the replies: below it a copy costs less than the loan. */
#define MQ_CONN_LEND_MIN (16 * 1024)
/* Past this much unsent output a connection is not read from, and a get
 * takes no more messages: a client that never reads its replies cannot
 * make the daemon grow. */
#define MQ_CONN_OUT_HIGH (4 * 1024 * 1024)
/* A request being received gets a second more per this many bytes that
 * came, so a large message that keeps coming is never cut off. */
#define MQ_CONN_REQUEST_RATE (64 * 1024)

typedef struct _MqConn MqConn;
typedef struct _MqWaiter MqWaiter;

/* Limits on what a connection may hold and for how long (mqd(8)). */
typedef struct {
  guint idle_timeout;             /* seconds; 0: none */
  guint request_timeout;          /* seconds; 0: none */
  guint64 incoming_memory;        /* bytes of set data still arriving, over
                                     all connections */
} MqConnLimits;

/* The rest of a long reply (a stats of many queues), made a part at a time
 * as the client reads it: make appends the next part and returns FALSE
 * once it has made the last. */
typedef struct {
  gboolean (*make) (MqConn *conn, gpointer data);
  gpointer data;
  GDestroyNotify free;
} MqReplyRest;

/* What a connection is doing; exactly one at a time.
 *
 *   READING  its input is read and its commands run as they arrive.
 *   PAUSED   more than 4 MiB of replies unsent: not read, not parsed, until
 *            they drain.
 *   BLOCKED  a get waits for a message (waiter is set): the commands after
 *            it wait their turn; a little input is read ahead, and a client
 *            that leaves is noticed (RDHUP) and forgotten.
 *   CLOSING  the client is done (quit, the end of its input, a line too
 *            long): nothing more is read; closed once its replies are sent.
 *   CLOSED   off the loop, reliable reads given back; freed at the pass end.
 *
 * The legal moves, which conn_set_state() asserts:
 *
 *   READING -> PAUSED | BLOCKED | CLOSING | CLOSED
 *   PAUSED  -> READING (its output drained) | CLOSED
 *   BLOCKED -> READING (woken or timed out) | CLOSED
 *   CLOSING -> CLOSED
 *
 * Two marks go with any state but CLOSED, independently of it: held for a
 * sync (a reply depends on a change the journal has not synced yet:
 * hold_lsn is past the durable LSN, commit.h), which sends nothing until a
 * sync or a checkpoint makes it durable but goes on reading and running
 * commands; and
 * write_blocked (the socket was full), which waits for EPOLLOUT to send the
 * rest.  A connection back to READING with input buffered runs it at the
 * pass end (dispatch_resume). */
typedef enum {
  MQ_CONN_READING,
  MQ_CONN_PAUSED,
  MQ_CONN_BLOCKED,
  MQ_CONN_CLOSING,
  MQ_CONN_CLOSED,
} MqConnState;

struct _MqConn {
  MqWatch watch;
  GSocket *socket;
  MqConnState state;
  GList link;                     /* in the list of open connections */
  GByteArray *in;                 /* received bytes not yet parsed */
  gboolean in_large;              /* in grew past what an idle conn keeps */
  gsize in_want;                  /* bytes a request in `in` still lacks */
  GString *out;                   /* replies not yet sent */
  GArray *lent;                   /* ConnLoan: messages sent from where
                                     they are, each at its place in out */
  gsize lent_bytes;
  gsize out_sent;                 /* of out and lent, in the order sent */
  guint64 swallow;                /* bytes of a refused set still to skip */
  gboolean noreply;               /* the running command wants no reply */
  gboolean pending;               /* has output to send at the pass end */
  guint64 hold_lsn;               /* sends nothing before the journal is
                                     durable up to here (commit.h) */
  gboolean write_blocked;         /* the socket was full: wait for EPOLLOUT */
  const char *line;               /* the command line being run */
  gsize line_len;
  MqWaiter *waiter;               /* set exactly while BLOCKED */
  char *blocked_line;             /* that get, run again when woken */
  gsize blocked_len;
  gint64 retry_deadline;          /* its deadline while it runs again */
  MqWindows reads;                /* reliable reads not closed */
  MqSession session;              /* its protocol's state between requests */
  MqReplyRest rest;               /* make is set while a reply is unfinished:
                                     no other command runs meanwhile */
  guint64 active_tick;            /* conns_tick () when it last sent or
                                     received a byte */
  guint64 request_tick;           /* when its unfinished request began; 0:
                                     none */
  guint64 request_bytes;          /* bytes received since */
  gsize incoming;                 /* set data promised, still arriving */
};

/* Takes ownership of socket, which is already accepted and allowed;
 * on_event handles its events. */
MqConn *conn_new (GSocket *socket, MqWatchFunc on_event);
/* Moves to state; a move conn.h does not list is a bug and aborts. */
void conn_set_state (MqConn *conn, MqConnState state);

/* ---- for commands ---- */

/* Appends a reply unless the command said noreply: a text protocol line
 * ("\r\n" added), framed as the command's protocol frames it. */
void conn_reply (MqConn *conn, const char *line);
/* A get's message, as the key asked for it; id: its stable id, or NULL. */
void conn_reply_value (MqConn *conn, const MqGetKey *key, const MqItem *item,
                       gboolean with_cas, const char *id);
/* stats: lines holds "STAT <name> <value>\r\n" lines. */
void conn_reply_stats (MqConn *conn, const GString *lines);
/* TRUE when key's queue already gave a message in the running multi-get. */
gboolean conn_gave (MqConn *conn, const MqGetKey *key);
/* Closes once everything queued so far has been sent. */
void conn_close_after_reply (MqConn *conn);
/* TRUE once its unsent replies pass MQ_CONN_OUT_HIGH. */
gboolean conn_output_full (MqConn *conn);
/* The reply goes on with rest->make, called as the client reads, before
 * the next command runs. */
void conn_reply_later (MqConn *conn, const MqReplyRest *rest);
/* The running get found nothing: it waits on queues until deadline. */
void conn_block (MqConn *conn, MqQueue *const *queues, guint n_queues,
                 gint64 deadline_us);
/* The replies so far wait until the journal is durable up to lsn: a
 * STORED, a DELETED, a message whose set is not synced yet. */
void conn_hold (MqConn *conn, guint64 lsn);

guint conns_count (void);
guint64 conns_total (void);

void conns_set_limits (const MqConnLimits *limits);
/* Once a second: closes the connections idle for longer than the idle
 * timeout (but for those waiting in a get or holding a reliable read) and
 * those whose request is late (mqd(8) has the rules). */
void conns_tick (void);

/* ---- for dispatch.c, which drives connections through the loop ---- */

/* Gives its reliable reads back and takes it off the loop, at once. */
void conn_close (MqConn *conn);
/* It has output to send at the pass end. */
void conn_mark_pending (MqConn *conn);
/* Watches the socket for what its state and buffers call for. */
void conn_update_watch (MqConn *conn);
/* Its waiting get was answered: the reply goes out at the pass end, and the
 * input that waited behind it runs. */
void conn_wait_done (MqConn *conn);
/* n bytes were read: it is active, and a request it has not finished is
 * timed from the read that began it. */
void conn_note_read (MqConn *conn, gsize n);
/* Makes the next part of an unfinished reply; FALSE when there is none
 * left. */
gboolean conn_reply_more (MqConn *conn);
/* A set whose data has not all come holds bytes of it in memory: FALSE
 * when that would take all connections past the incoming memory (unless it
 * is the only one); the reservation lasts until the release or the
 * close. */
gboolean conn_reserve_incoming (MqConn *conn, gsize bytes);
void conn_release_incoming (MqConn *conn);
/* The connections back to READING with input buffered since the last call,
 * or NULL. */
GPtrArray *conns_take_resumable (void);

/* ---- for the pass end ---- */

/* The journal is durable up to durable: replies that waited for it go out
 * at the next conns_flush. */
void conns_release (guint64 durable);
/* Sends every reply not held, and frees the connections closed since. */
void conns_flush (void);
/* Last replies at shutdown, then every connection closed. */
void conns_close_all (void);
/* The commit failed: closes every connection with replies waiting, so none
 * of them is told STORED. */
void conns_drop_pending (void);
