/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* push.c: messages pushed pipelined; see push.h.
 *
 * Every set is written before any answer is read.  Answers read before a
 * connection broke still count; for the others, what was sent tells the
 * outcome: a message sent whole may be stored (MQ_MAYBE_STORED), one not
 * sent whole is not (MQ_IO).  Nothing is sent again.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "io.h"
#include "push.h"
#include "reply.h"
#include "request.h"

/* A push under way. */
typedef struct {
  char what[MQC_WHAT_SIZE];
  size_t count;
  size_t *ends;                   /* where each message's request ends */
  int lost;                       /* the connection broke, because: */
  char lost_reason[MQC_ERR_SIZE];
  mq_status first;                /* the first outcome that is not MQ_OK */
  char first_err[MQC_ERR_SIZE];
  size_t stored;
} push_run;

void
mqc_push_fail_all (mq_status *results, size_t count, mq_status st)
{
  if (results != NULL)
    for (size_t i = 0; i < count; i++)
      results[i] = st;
}

static mq_status
push_build (mq_client *c, push_run *p, const char *queue,
            const mq_buffer *messages, uint32_t flags, int64_t exptime,
            int64_t delay_ms)
{
  char option[32] = "";
  mq_status st = MQ_OK;

  if (delay_ms >= 0)
    snprintf (option, sizeof option, "/delay=%" PRId64, delay_ms);
  for (size_t i = 0; i < p->count && st == MQ_OK; i++)
    {
      st = mqc_out_printf (c, "set %s%s %" PRIu32 " %" PRId64 " %zu\r\n",
                           queue, option, flags, exptime, messages[i].len);
      if (st == MQ_OK)
        st = mqc_out_data (c, messages[i].data, messages[i].len);
      if (st == MQ_OK)
        st = mqc_out_text (c, "\r\n", 2);
      p->ends[i] = c->out_total;
    }
  return st;
}

static void
push_lose (push_run *p, const char *reason)
{
  p->lost = 1;
  mqc_format_into (p->lost_reason, sizeof p->lost_reason, "%s", reason);
}

static mq_status
push_answer (mq_client *c, const char *line, const char *what)
{
  if (strcmp (line, "STORED") == 0)
    return MQ_OK;
  if (strcmp (line, "NOT_STORED") == 0)
    return mqc_set_error (c, MQ_NOT_STORED, "%s: not stored: the queue is "
                          "full", what);
  return mqc_unexpected_answer (c, line, what, "a set");
}

static mq_status
push_read_answer (mq_client *c, push_run *p)
{
  char *line;
  size_t len;
  mq_status r = mqc_read_line (c, &line, &len);

  if (r == MQ_OK)
    r = push_answer (c, line, p->what);
  else if (!p->lost)
    push_lose (p, c->err);
  /* A nonsense answer (or ERROR) closed the connection. */
  if (c->fd < 0 && !p->lost)
    push_lose (p, "the connection was closed after an unexpected answer");
  return r;
}

/* Message i got no answer: was all of it sent? */
static mq_status
push_unanswered (mq_client *c, const push_run *p, size_t i)
{
  if (p->ends[i] <= c->out_sent)
    return mqc_set_error (c, MQ_MAYBE_STORED, "%s: no answer after the "
                          "message was sent, it may or may not be stored "
                          "(not sent again): %s", p->what, p->lost_reason);
  return mqc_set_error (c, MQ_IO, "%s: the message was not (completely) "
                        "sent, it is not stored: %s", p->what,
                        p->lost_reason);
}

static mq_status
push_outcome (mq_client *c, push_run *p, size_t i)
{
  mq_status r = MQ_IO;

  /* Answers read before the connection broke still count. */
  if (!p->lost || c->in_start != c->in_end)
    r = push_read_answer (c, p);
  if (p->lost && (r == MQ_IO || r == MQ_NOMEM || r == MQ_PROTOCOL)
      && (c->fd < 0 || c->in_start == c->in_end))
    r = push_unanswered (c, p, i);
  return r;
}

/* Counts message i's outcome; the call's message is the first failure's. */
static void
push_count (const mq_client *c, push_run *p, size_t i, mq_status r)
{
  if (r == MQ_OK)
    p->stored++;
  else if (p->first == MQ_OK)
    {
      p->first = r;
      if (p->count > 1)
        mqc_format_into (p->first_err, sizeof p->first_err,
                         "message %zu of %zu: %s", i + 1, p->count, c->err);
      else
        mqc_format_into (p->first_err, sizeof p->first_err, "%s", c->err);
    }
}

mq_status
mqc_push_many (mq_client *c, const char *queue, const mq_buffer *messages,
               size_t count, uint32_t flags, int64_t exptime,
               int64_t delay_ms, mq_status *results, size_t *stored)
{
  push_run p = { .count = count, .first = MQ_OK };
  mq_status st;

  p.ends = malloc (count * sizeof *p.ends);
  st = p.ends != NULL ? mqc_call_begin (c)
    : mqc_set_error (c, MQ_NOMEM, "out of memory");
  mqc_format_into (p.what, sizeof p.what, "push to %s", queue);
  if (st == MQ_OK)
    st = push_build (c, &p, queue, messages, flags, exptime, delay_ms);
  if (st != MQ_OK)
    {
      mqc_push_fail_all (results, count, st);
      free (p.ends);
      return st;
    }
  /* Not repeated on a new connection: see mqclient.h. */
  if (mqc_send_request (c, 0) != MQ_OK)
    push_lose (&p, c->err);
  for (size_t i = 0; i < count; i++)
    {
      mq_status r = push_outcome (c, &p, i);

      if (results != NULL)
        results[i] = r;
      push_count (c, &p, i, r);
    }
  free (p.ends);
  if (p.lost)
    mqc_disconnect (c);
  if (stored != NULL)
    *stored = p.stored;
  memcpy (c->err, p.first_err, sizeof c->err);
  return p.first;
}
