/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* manage.c: requests answered by one line; see manage.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "conn.h"
#include "io.h"
#include "manage.h"
#include "reply.h"
#include "request.h"

/* Sends the request built and reads its one-line answer. */
static mq_status
one_line (mq_client *c, int retry, const char *what, char **line)
{
  size_t len;
  mq_status st = mqc_send_request (c, retry);

  if (st != MQ_OK)
    {
      if (c->out_sent == 0)
        return mqc_prefix_error (c, st, "%s: not sent", what);
      if (c->in_start == c->in_end)
        return mqc_prefix_error (c, st, "%s: no answer came, it may or may "
                                 "not have been done", what);
    }
  st = mqc_read_line (c, line, &len);
  if (st == MQ_IO)
    return mqc_prefix_error (c, st, "%s: no answer came, it may or may not "
                             "have been done", what);
  return st;
}

mq_status
mqc_line_command (mq_client *c, const char *what, const char *command,
                  const char *ok)
{
  char *line = NULL;
  /* The request is the call's name: "delete jobs". */
  mq_status st = mqc_out_printf (c, "%s\r\n", what);

  if (st == MQ_OK)
    st = one_line (c, 0, what, &line);
  if (st != MQ_OK)
    return st;
  if (strcmp (line, ok) == 0)
    return MQ_OK;
  if (strcmp (line, "NOT_FOUND") == 0)
    return mqc_set_error (c, MQ_NOT_FOUND, "%s: no such queue", what);
  return mqc_unexpected_answer (c, line, what, command);
}

mq_status
mqc_simple_command (mq_client *c, const char *command, const char *queue,
                    const char *ok)
{
  char what[MQC_WHAT_SIZE];
  mq_status st = mqc_call_begin (c);

  if (queue != NULL)
    mqc_format_into (what, sizeof what, "%s %s", command, queue);
  else
    mqc_format_into (what, sizeof what, "%s", command);
  if (st != MQ_OK)
    return mqc_prefix_error (c, st, "%s", what);
  return mqc_line_command (c, what, command, ok);
}

mq_status
mqc_version (mq_client *c, const char **version)
{
  char *line = NULL;
  mq_status st = mqc_call_begin (c);

  if (st != MQ_OK)
    return mqc_prefix_error (c, st, "version");
  st = mqc_out_text (c, "version\r\n", 9);
  if (st == MQ_OK)
    st = one_line (c, 1, "version", &line);
  if (st != MQ_OK)
    return st;
  if (strncmp (line, "VERSION ", 8) != 0)
    return mqc_unexpected_answer (c, line, "version", "version");
  st = mqc_set_version (c, line + 8);
  if (st == MQ_OK)
    *version = c->version;
  return st;
}
