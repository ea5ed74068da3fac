/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* window.c: windows of reliable reads; see window.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "conn.h"
#include "get.h"
#include "io.h"
#include "manage.h"
#include "openread.h"
#include "reply.h"
#include "request.h"
#include "window.h"

/* Reads on a connection that ended were given back by the daemon: the
 * caller must not take them for open, nor ack them. */
static void
drop_messages (mq_message **messages, size_t *count)
{
  for (size_t i = 0; i < *count; i++)
    free (messages[i]);
  *count = 0;
}

/* One monitor line and its answer; retried on a new connection when
 * nothing went out. */
static mq_status
monitor_round (mq_client *c, const char *queue, int wait_ms,
               const char *what, mq_message **messages, size_t max,
               size_t *count)
{
  mq_status st = mqc_out_printf (c, "monitor %s %d %zu\r\n", queue, wait_ms,
                                 max);

  c->call_wait_ms = wait_ms;
  if (st == MQ_OK)
    st = mqc_send_request (c, 1);
  if (st != MQ_OK && c->out_sent == 0)
    return mqc_prefix_error (c, st, "%s: not sent", what);
  st = MQ_IO;
  if (c->fd >= 0 || c->in_start != c->in_end)
    st = mqc_read_get_answer (c, queue, what, messages, max, count);
  if (st == MQ_IO)
    mqc_conn_close (c);
  if (c->fd < 0)
    {
      drop_messages (messages, count);
      return st != MQ_IO ? st
        : mqc_prefix_error (c, MQ_IO, "%s: the connection broke before the "
                            "whole answer came (the daemon gave back what "
                            "it handed out)", what);
    }
  if (*count > 0 && mqc_open_read_add (c, queue, *count) != MQ_OK)
    {
      /* Forgotten here, they could never be acked: give them back. */
      mqc_conn_close (c);
      drop_messages (messages, count);
      return MQ_NOMEM;
    }
  if (st != MQ_OK)
    return st;
  return *count > 0 ? MQ_OK : MQ_EMPTY;
}

mq_status
mqc_open_many (mq_client *c, const char *queue, int timeout_ms, size_t max,
               mq_message **messages, size_t *count)
{
  char what[MQC_WHAT_SIZE];

  mqc_format_into (what, sizeof what, "reliable pop from %s", queue);
  return mqc_rounds (c, queue, timeout_ms, what, monitor_round, messages,
                     max, count);
}

mq_status
mqc_window_end (mq_client *c, const char *command, const char *queue,
                size_t n)
{
  char what[MQC_WHAT_SIZE];
  mq_status st = mqc_call_begin (c);

  mqc_format_into (what, sizeof what, "%s %s %zu", command, queue, n);
  if (st != MQ_OK)
    return mqc_prefix_error (c, st, "%s", what);
  st = mqc_open_read_check (c, queue, n, what);
  if (st != MQ_OK)
    return st;
  /* Whatever the answer, the daemon ends them (an expired lease is an
   * error about reads it ended), or the connection broke and it gave them
   * back. */
  mqc_open_read_drop (c, queue, n);
  return mqc_line_command (c, what, command, "END");
}
