/* protocol_meta.h: memcached's meta commands (mg, ms, md, mn, me), which
 * share a text connection with the classic commands.
 *
 * Pure code: no I/O, no globals.  protocol_parse hands a line whose first
 * word is a meta command to its parser here, which fills the MqCommand the
 * classic command would give, and cmd->form with what the reply returns:
 *
 *   mg <key> <flags>*          a get of one key (with the get options); v
 *                              sends the value, and without v nothing is
 *                              taken: the head is peeked; k f s c t return
 *                              the key, flags, size, CAS and TTL, O<token>
 *                              an opaque; q leaves a miss (EN) unanswered
 *   ms <key> <datalen> <flags>* a set: F<flags>, T<ttl>, M<mode> (S sets;
 *                              E, A, P, R are refused as add and the like
 *                              are), q leaves HD unanswered, k, O<token>
 *   md <key> <flags>*          delete the queue: q, k, O<token>
 *   mn                         MN, the end of a pipeline of quiet commands
 *   me <key>                   refused: a queue keeps no metadata per item
 *
 * P and L tokens are ignored, as memcached ignores them (proxy hints).
 * Replies come from the command layer as text lines (STORED, DELETED, END,
 * ...) and are encoded here as HD, NS, NF, EN, MN with the flags asked
 * for; errors are sent as they are.
 */
#pragma once

#include <glib.h>

#include "protocol.h"

#define MQ_META_MAX_OPAQUE 32

const char *protocol_meta_parse_get (const MqTokens *t, MqCommand *cmd);
const char *protocol_meta_parse_set (const MqTokens *t, MqCommand *cmd);
const char *protocol_meta_parse_delete (const MqTokens *t, MqCommand *cmd);
const char *protocol_meta_parse_noop (const MqTokens *t, MqCommand *cmd);
const char *protocol_meta_parse_debug (const MqTokens *t, MqCommand *cmd);

/* The reply to a reply line of the command layer. */
void protocol_meta_append_line (GString *out, MqReplyForm *form,
                                const char *line);
/* mg's hit: VA <size> <flags>* and the value with v, else HD <flags>*;
 * ttl is the seconds the message has left, -1 when it never expires;
 * data and the value returned as protocol_append_value's. */
gsize protocol_meta_append_value (GString *out, MqReplyForm *form,
                                  guint32 flags, const char *data, gsize len,
                                  guint64 cas, gint64 ttl);
