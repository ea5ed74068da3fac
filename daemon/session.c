/* session.c: see session.h. */
#include "config.h"

#include <string.h>

#include "protocol_binary.h"
#include "protocol_meta.h"
#include "protocol_text.h"
#include "session.h"

/* Idle buffers larger than this are given back (a long multi-get). */
#define SESSION_KEEP 4096

void
session_init (MqSession *session)
{
  session->gave = g_string_new (NULL);
}

void
session_clear (MqSession *session)
{
  g_string_free (g_steal_pointer (&session->gave), TRUE);
}

MqParseStatus
session_parse (MqSession *session, const char *buf, gsize len,
               MqCommand *cmd, gsize *consumed, const char **error)
{
  if (!session->chosen && len > 0)
    {
      session->chosen = TRUE;
      session->binary = (guchar) buf[0] == MQ_BINARY_REQUEST;
    }
  if (session->binary)
    return protocol_binary_parse (buf, len, cmd, consumed, error);
  return protocol_parse (buf, len, cmd, consumed, error);
}

/* ---- the multi-get ---- */

static gboolean
quiet_get (const MqCommand *cmd)
{
  return cmd->type == MQ_CMD_GET && cmd->form.quiet;
}

static void
forget_gifts (MqSession *session)
{
  if (session->gave->allocated_len > SESSION_KEEP)
    {
      g_string_free (session->gave, TRUE);
      session->gave = g_string_new (NULL);
    }
  g_string_truncate (session->gave, 0);
}

void
session_begin (MqSession *session, const MqCommand *cmd)
{
  session->form = cmd->form;
  if (!quiet_get (cmd))
    forget_gifts (session);
}

void
session_end (MqSession *session, const MqCommand *cmd)
{
  if (!quiet_get (cmd))
    forget_gifts (session);
}

/* A linear scan: a text multi-get names at most MQ_MAX_KEYS queues, and a
 * run of quiet gets that gave many is as many messages waiting in the
 * connection's output, which a client that does not read stops (its
 * connection is paused). */
gboolean
session_gave (const MqSession *session, const char *name, gsize len)
{
  const char *p = session->gave->str, *end = p + session->gave->len;

  while (p < end)
    {
      gsize n = (guchar) *p++;

      if (n == len && memcmp (p, name, len) == 0)
        return TRUE;
      p += n;
    }
  return FALSE;
}

static void
note_gift (MqSession *session, const char *name, gsize len)
{
  g_return_if_fail (len <= MQ_MAX_NAME);

  g_string_append_c (session->gave, (char) len);
  g_string_append_len (session->gave, name, (gssize) len);
}

/* ---- replies ---- */

void
session_reply (MqSession *session, GString *out, const char *line)
{
  switch (session->form.wire)
    {
    case MQ_WIRE_TEXT:
      protocol_append_line (out, line);
      break;
    case MQ_WIRE_BINARY:
      protocol_binary_append_line (out, &session->form, line);
      break;
    case MQ_WIRE_META:
      protocol_meta_append_line (out, &session->form, line);
      break;
    }
}

/* Seconds left, rounded up, or -1 for a message that never expires. */
static gint64
seconds_left (gint64 expires_ms)
{
  gint64 ms;

  if (expires_ms == 0)
    return -1;
  ms = expires_ms - g_get_real_time () / 1000;
  return ms > 0 ? (ms + 999) / 1000 : 0;
}

gsize
session_reply_value (MqSession *session, GString *out, const MqGetKey *key,
                     const MqGift *gift, gboolean with_cas)
{
  MqReplyForm *form = &session->form;
  guint32 flags = gift->flags;

  note_gift (session, key->name, key->name_len);
  /* The key as sent: memcache clients match replies to their keys. */
  switch (form->wire)
    {
    case MQ_WIRE_TEXT:
      return protocol_append_value (out, key->name, key->key_len, flags,
                                    gift->data, gift->len, with_cas,
                                    gift->seq, gift->id);
    case MQ_WIRE_BINARY:
      return protocol_binary_append_value (out, form, key->name,
                                           key->key_len, flags, gift->data,
                                           gift->len, gift->seq);
    case MQ_WIRE_META:
      return protocol_meta_append_value (out, form, flags, gift->data,
                                         gift->len, gift->seq,
                                         seconds_left (gift->expires_ms));
    }
  g_return_val_if_reached (MQ_NO_DATA);
}

void
session_reply_stats (MqSession *session, GString *out, const GString *lines)
{
  if (session->form.wire == MQ_WIRE_BINARY)
    protocol_binary_append_stats (out, &session->form, lines->str,
                                  lines->len);
  else
    g_string_append_len (out, lines->str, (gssize) lines->len);
}
