/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* reply.c: what the daemon's answers mean; see reply.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "reply.h"

mq_status
mqc_error_answer (mq_client *c, const char *line, const char *what)
{
  if (strcmp (line, "ERROR") == 0)
    {
      mqc_set_error (c, MQ_PROTOCOL, "%s: the daemon at %s does not know the "
                     "request (ERROR)", what, c->path);
      mqc_conn_close (c);
      return MQ_PROTOCOL;
    }
  if (strncmp (line, "CLIENT_ERROR ", 13) == 0)
    return mqc_set_error (c, MQ_INVALID, "%s: the daemon refused the "
                          "request: %s", what, line + 13);
  if (strcmp (line, "SERVER_ERROR object too large for cache") == 0)
    return mqc_set_error (c, MQ_TOO_LARGE, "%s: the daemon says: object too "
                          "large for cache", what);
  if (strncmp (line, "SERVER_ERROR ", 13) == 0)
    return mqc_set_error (c, MQ_SERVER_ERROR, "%s: the daemon says: %s", what,
                          line + 13);
  return MQ_OK;
}

mq_status
mqc_unexpected_answer (mq_client *c, const char *line, const char *what,
                       const char *request)
{
  mq_status st = mqc_error_answer (c, line, what);

  if (st != MQ_OK)
    return st;
  return mqc_protocol_error (c, "\"%.100s\" in answer to %s", line, request);
}

/* Decimal digits only (strtoull would take signs and spaces). */
static int
parse_u64 (const char *s, char **end, uint64_t *out)
{
  uint64_t v = 0;
  const char *p = s;

  for (; *p >= '0' && *p <= '9'; p++)
    {
      unsigned d = (unsigned) (*p - '0');

      if (v > (UINT64_MAX - d) / 10)
        return 0;
      v = v * 10 + d;
    }
  *end = (char *) p;
  *out = v;
  return p > s;
}

/* The stable id a VALUE line may end with: printable ASCII, no space,
 * shorter than MQ_ID_SIZE. */
static int
valid_id (const char *id)
{
  size_t len = strlen (id);

  if (len == 0 || len >= MQ_ID_SIZE)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (id[i] <= ' ' || id[i] > '~')
      return 0;
  return 1;
}

/* Checks "VALUE <key> <flags> <bytes>[ <id>]", a message of queue; *id
 * points to the id, or to "". */
static mq_status
parse_value_line (mq_client *c, char *line, const char *queue,
                  uint64_t *flags, uint64_t *bytes, const char **id)
{
  char *key = line + 6;
  char *space = strchr (key, ' ');
  size_t qlen = strlen (queue);
  char *end;

  if (space == NULL)
    return mqc_protocol_error (c, "\"%.100s\"", line);
  /* The daemon echoes the key as sent, options included. */
  if ((size_t) (space - key) < qlen || memcmp (key, queue, qlen) != 0
      || (key[qlen] != ' ' && key[qlen] != '/'))
    return mqc_protocol_error (c, "a message of another queue: \"%.100s\"",
                               line);
  if (!parse_u64 (space + 1, &end, flags) || *end != ' '
      || *flags > UINT32_MAX || !parse_u64 (end + 1, &end, bytes)
      || (*end != '\0' && *end != ' ')
      || *bytes > SIZE_MAX - sizeof (mq_message) - 1
      || (*end == ' ' && !valid_id (end + 1)))
    return mqc_protocol_error (c, "\"%.100s\"", line);
  *id = *end == ' ' ? end + 1 : "";
  return MQ_OK;
}

/* The VALUE line's message, with its data block read.  A message is one
 * block: mq_message_free() is free(). */
static mq_status
read_value (mq_client *c, char *line, const char *queue, const char *what,
            mq_message **out)
{
  uint64_t flags = 0, bytes = 0;
  const char *id = "";
  mq_message *m;
  char crlf[2];
  mq_status st = parse_value_line (c, line, queue, &flags, &bytes, &id);

  *out = NULL;
  if (st != MQ_OK)
    return st;
  m = malloc (sizeof *m + (size_t) bytes + 1);
  if (m == NULL)
    {
      /* The daemon already let go of it; the rest of the answer cannot be
       * skipped reliably without reading it, so drop the connection. */
      mqc_conn_close (c);
      return mqc_set_error (c, MQ_NOMEM, "%s: out of memory for a message "
                            "of %" PRIu64 " bytes: the message is lost", what,
                            bytes);
    }
  m->data = m + 1;
  m->len = (size_t) bytes;
  m->flags = (uint32_t) flags;
  /* The line is in the input buffer, which the data may move. */
  memcpy (m->id, id, strlen (id) + 1);
  st = mqc_read_exact (c, m->data, m->len);
  if (st == MQ_OK)
    st = mqc_read_exact (c, crlf, 2);
  if (st == MQ_OK && (crlf[0] != '\r' || crlf[1] != '\n'))
    st = mqc_protocol_error (c, "a data block not followed by \\r\\n");
  if (st != MQ_OK)
    {
      free (m);
      return st;
    }
  ((char *) m->data)[m->len] = '\0';
  *out = m;
  return MQ_OK;
}

mq_status
mqc_read_get_answer (mq_client *c, const char *queue, const char *what,
                     mq_message **msgs, size_t max, size_t *count)
{
  for (;;)
    {
      char *line;
      size_t len;
      mq_message *m;
      mq_status st = mqc_read_line (c, &line, &len);

      if (st != MQ_OK)
        return st;
      if (strcmp (line, "END") == 0)
        return MQ_OK;
      /* An error ends the answer: no END follows. */
      if (strncmp (line, "VALUE ", 6) != 0)
        return mqc_unexpected_answer (c, line, what, "a get");
      if (*count >= max)
        return mqc_protocol_error (c, "more messages than asked for");
      st = read_value (c, line, queue, what, &m);
      if (st != MQ_OK)
        return st;
      msgs[(*count)++] = m;
    }
}
