/* conn.h: one client connection: its buffers and its non-blocking I/O.
 *
 * Input is parsed as it arrives and each command runs at once; replies are
 * gathered in the output buffer and sent at the end of the main loop's pass,
 * after the group commit that covers them, with one send per connection.
 */
#pragma once

#include <gio/gio.h>

#include "loop.h"
#include "queue.h"
#include "session.h"

typedef struct _MqConn MqConn;
typedef struct _MqWaiter MqWaiter;

struct _MqConn {
  MqWatch watch;
  GSocket *socket;
  GList link;                     /* in the list of open connections */
  GByteArray *in;                 /* received bytes not yet parsed */
  gboolean in_large;              /* in grew past what an idle conn keeps */
  GString *out;                   /* replies not yet sent */
  gsize out_sent;
  guint64 swallow;                /* bytes of a refused set still to skip */
  gboolean noreply;               /* the running command wants no reply */
  gboolean pending;               /* has output to send at the pass end */
  gboolean stored;                /* answered STORED in this pass */
  guint64 hold_until;             /* sends nothing before this sync is done */
  gboolean paused;                /* too much unsent output: not reading */
  gboolean write_blocked;         /* the socket was full: wait for EPOLLOUT */
  gboolean closing;               /* close once the output is sent */
  gboolean closed;
  const char *line;               /* the command line being run */
  gsize line_len;
  MqWaiter *waiter;               /* set while a get waits: input waits too */
  char *blocked_line;             /* that get, run again when woken */
  gsize blocked_len;
  gint64 retry_deadline;          /* its deadline while it runs again */
  GPtrArray *open_reads;          /* MqOpenRead: reliable reads not closed */
  MqSession session;              /* its protocol's state between requests */
};

/* -vv: every command line is logged (formatting it costs, so not always). */
extern gboolean conn_log_commands;

/* Takes ownership of socket, which is already accepted and allowed. */
MqConn *conn_new (GSocket *socket);
/* Appends a reply line ("\r\n" added) unless the command said noreply. */
void conn_reply (MqConn *conn, const char *line);
/* A get's message, as the key asked for it. */
void conn_reply_value (MqConn *conn, const MqGetKey *key, const MqItem *item,
                       guint64 seq, gboolean with_cas);
/* TRUE when key's queue already gave a message in the running multi-get. */
gboolean conn_gave (MqConn *conn, const MqGetKey *key);
/* Closes once everything queued so far has been sent. */
void conn_close_after_reply (MqConn *conn);

/* The running get found nothing: it waits on queues until deadline. */
void conn_block (MqConn *conn, MqQueue *const *queues, guint n_queues,
                 gint64 deadline_us);
/* A waiting get's queue gained a message (retry) or its time is up. */
void conn_unblock (MqConn *conn, gboolean retry);

/* One reliable read per queue and connection; given back on close. */
gboolean conn_has_open_read (MqConn *conn, const char *name, gsize len);
void conn_add_open_read (MqConn *conn, const char *name, gsize len,
                         guint64 seq);
/* Removes the queue's open read; FALSE if there is none. */
gboolean conn_take_open_read (MqConn *conn, const char *name, gsize len,
                              guint64 *seq);

/* The pass end: feeds connections that were paused, then, after the caller's
 * commit, sends every pending reply and frees closed connections. */
void conns_resume (void);
/* A STORED was just answered: it waits for the pass's sync. */
void conn_wait_for_sync (MqConn *conn);
/* The connections that answered STORED in this pass send nothing more
 * until sync request number request is done; the others (gets, and the
 * rest) go out at once. */
void conns_hold (guint64 request);
/* Sync requests up to done are done; those up to failed failed (the
 * connections waiting on them are closed without their replies). */
void conns_release (guint64 done, guint64 failed);
void conns_flush (void);
/* Last replies at shutdown, then every connection closed. */
void conns_close_all (void);
guint conns_count (void);
guint64 conns_total (void);
/* The commit failed: closes every connection with replies waiting, so none
 * of them is told STORED. */
void conns_drop_pending (void);
