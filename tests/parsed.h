/* parsed.h: one parse of a private, exact-size copy of the input, for the
 * protocol unit tests: the sanitizers then catch any read past the bytes
 * the parser was given. */
#pragma once

#include <string.h>

#include "protocol.h"

typedef MqParseStatus (*ParseFunc) (const char *buf, gsize len,
                                    MqCommand *cmd, gsize *consumed,
                                    const char **error);

typedef struct {
  char *buf;
  gsize len;
  MqCommand cmd;
  MqParseStatus status;
  gsize consumed;
  const char *error;
} Parsed;

/* A key, and the error reply it must get. */
typedef struct {
  const char *key;
  const char *error;
} KeyError;

static inline void
parsed_free (Parsed *p)
{
  g_free (p->buf);
  g_free (p);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Parsed, parsed_free)

static inline Parsed *
parsed_new (ParseFunc parse, const void *data, gsize len)
{
  Parsed *p = g_new0 (Parsed, 1);

  p->buf = g_memdup2 (data, len);
  p->len = len;
  /* Garbage in the command shows any field the parser forgets to set. */
  memset (&p->cmd, 0xa5, sizeof p->cmd);
  p->status = parse (p->buf, len, &p->cmd, &p->consumed, &p->error);
  return p;
}
