/* session.h: a connection's protocol: which one it speaks, how the running
 * command's replies are framed, and what its multi-get already gave.
 *
 * The first byte chooses, as memcached does: 0x80 starts a binary request,
 * anything else a text line (whose meta commands are framed as meta
 * replies).  Commands reply in the text protocol's words (command.c); the
 * session frames them for the command's protocol.
 *
 * A multi-get gives at most one message per queue, however often it names
 * it: clients return a multi-get as a dictionary keyed by key, which would
 * keep one message and drop the others.  A text get line is a multi-get;
 * in binary and meta, so is a run of quiet gets (GETQ, GETKQ, mg ... q),
 * which the first other request ends (NOOP, mn, or anything else).
 */
#pragma once

#include <glib.h>

#include "protocol.h"

/* A message as a get gives it. */
typedef struct {
  guint32 flags;
  gint64 expires_ms;              /* wall clock; 0: never */
  const char *data;               /* NULL: sent from where it is */
  gsize len;
  guint64 seq;                    /* its sequence number: the CAS */
  const char *id;                 /* its stable id, when the get asked */
} MqGift;

typedef struct {
  gboolean chosen;                /* the first byte has come */
  gboolean binary;                /* it was 0x80 */
  MqReplyForm form;               /* the running command's replies */
  GString *gave;                  /* queues that gave a message in the
                                     running multi-get: a length byte, then
                                     the name, for each */
} MqSession;

void session_init (MqSession *session);
void session_clear (MqSession *session);

/* Parses the request at the start of buf in the session's protocol. */
MqParseStatus session_parse (MqSession *session, const char *buf, gsize len,
                             MqCommand *cmd, gsize *consumed,
                             const char **error);

/* Around each command, its parse errors included: its replies' framing;
 * a multi-get starts and ends with it. */
void session_begin (MqSession *session, const MqCommand *cmd);
void session_end (MqSession *session, const MqCommand *cmd);

/* The running command's replies, appended to out. */
void session_reply (MqSession *session, GString *out, const char *line);
/* Returns where in out the gift's data goes, or MQ_NO_DATA
 * (protocol_append_value). */
gsize session_reply_value (MqSession *session, GString *out,
                           const MqGetKey *key, const MqGift *gift,
                           gboolean with_cas);
/* stats: lines holds "STAT <name> <value>\r\n" lines. */
void session_reply_stats (MqSession *session, GString *out,
                          const GString *lines);

/* TRUE when the queue already gave a message in the running multi-get. */
gboolean session_gave (const MqSession *session, const char *name,
                       gsize len);
