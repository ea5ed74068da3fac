/* conn.h: one client connection: its buffers and its non-blocking I/O.
 *
 * Input is parsed as it arrives and each command runs at once; replies are
 * gathered in the output buffer and sent at the end of the main loop's pass,
 * after the group commit that covers them, with one send per connection.
 */
#pragma once

#include <gio/gio.h>

#include "loop.h"

typedef struct _MqConn MqConn;

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
  gboolean paused;                /* too much unsent output: not reading */
  gboolean closing;               /* close once the output is sent */
  gboolean closed;
};

/* Takes ownership of socket, which is already accepted and allowed. */
MqConn *conn_new (GSocket *socket);
/* Appends a reply line ("\r\n" added) unless the command said noreply. */
void conn_reply (MqConn *conn, const char *line);
/* Closes once everything queued so far has been sent. */
void conn_close_after_reply (MqConn *conn);

/* The pass end: feeds connections that were paused, then, after the caller's
 * commit, sends every pending reply and frees closed connections. */
void conns_resume (void);
void conns_flush (void);
/* Last replies at shutdown, then every connection closed. */
void conns_close_all (void);
guint conns_count (void);
guint64 conns_total (void);
/* The commit failed: closes every connection with replies waiting, so none
 * of them is told STORED. */
void conns_drop_pending (void);
