/* session.h: what a connection's protocol keeps between its requests.
 *
 * A multi-get gives at most one message per queue, however often it names
 * it: clients return a multi-get as a dictionary keyed by queue, which
 * would keep one message and drop the others.  On a text line the
 * multi-get is the line.
 */
#pragma once

#include <glib.h>

#include "protocol.h"

typedef struct {
  GString *gave;                  /* queues that gave a message in the
                                     running multi-get: a length byte, then
                                     the name, for each */
} MqSession;

void session_init (MqSession *session);
void session_clear (MqSession *session);

/* Around each command: a multi-get starts and ends with it. */
void session_begin (MqSession *session, const MqCommand *cmd);
void session_end (MqSession *session, const MqCommand *cmd);

/* TRUE when the queue already gave a message in the running multi-get. */
gboolean session_gave (const MqSession *session, const char *name,
                       gsize len);
void session_note_gift (MqSession *session, const char *name, gsize len);
