/* session.c: see session.h. */
#include "config.h"

#include <string.h>

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

static void
session_forget_gifts (MqSession *session)
{
  if (session->gave->allocated_len > SESSION_KEEP)
    {
      g_string_free (session->gave, TRUE);
      session->gave = g_string_new (NULL);
    }
  g_string_truncate (session->gave, 0);
}

void
session_begin (MqSession *session, G_GNUC_UNUSED const MqCommand *cmd)
{
  session_forget_gifts (session);
}

void
session_end (MqSession *session, G_GNUC_UNUSED const MqCommand *cmd)
{
  session_forget_gifts (session);
}

/* A linear scan: a multi-get names at most MQ_MAX_KEYS queues. */
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

void
session_note_gift (MqSession *session, const char *name, gsize len)
{
  g_return_if_fail (len <= MQ_MAX_NAME);

  g_string_append_c (session->gave, (char) len);
  g_string_append_len (session->gave, name, (gssize) len);
}
