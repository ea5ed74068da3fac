/* conn.h: one client connection: its state, its buffers and its replies.
 *
 * Commands (command.c) act on a connection through this header: they append
 * replies, keep reliable reads, make a get wait.  dispatch.c reads the input
 * and runs the commands; the pass end sends the replies, after the group
 * commit that covers them, with one send per connection.
 */
#pragma once

#include <gio/gio.h>

#include "loop.h"
#include "queue.h"
#include "session.h"

/* Idle buffers larger than this are given back. */
#define MQ_CONN_BUFFER_KEEP (64 * 1024)

typedef struct _MqConn MqConn;
typedef struct _MqWaiter MqWaiter;

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
  GString *out;                   /* replies not yet sent */
  gsize out_sent;
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
  GPtrArray *open_reads;          /* MqOpenRead: reliable reads not closed */
  MqSession session;              /* its protocol's state between requests */
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
/* A get's message, as the key asked for it. */
void conn_reply_value (MqConn *conn, const MqGetKey *key, const MqItem *item,
                       gboolean with_cas);
/* stats: lines holds "STAT <name> <value>\r\n" lines. */
void conn_reply_stats (MqConn *conn, const GString *lines);
/* TRUE when key's queue already gave a message in the running multi-get. */
gboolean conn_gave (MqConn *conn, const MqGetKey *key);
/* Closes once everything queued so far has been sent. */
void conn_close_after_reply (MqConn *conn);
/* The running get found nothing: it waits on queues until deadline. */
void conn_block (MqConn *conn, MqQueue *const *queues, guint n_queues,
                 gint64 deadline_us);
/* The replies so far wait until the journal is durable up to lsn: a
 * STORED, a DELETED, a message whose set is not synced yet. */
void conn_hold (MqConn *conn, guint64 lsn);

/* One reliable read per queue and connection; given back on close. */
gboolean conn_has_open_read (MqConn *conn, const char *name, gsize len);
void conn_add_open_read (MqConn *conn, const char *name, gsize len,
                         guint64 seq);
/* Removes the queue's open read; FALSE if there is none. */
gboolean conn_take_open_read (MqConn *conn, const char *name, gsize len,
                              guint64 *seq);

guint conns_count (void);
guint64 conns_total (void);

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
