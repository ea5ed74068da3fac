/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* get.c: taking, looking at and settling messages; see get.h.
 *
 * One round trip asks for up to max messages of a queue: max get lines,
 * the first with the options, sent together (the daemon gives at most one
 * message of a queue per line).  A message that left its queue is never
 * asked for again, so a request is repeated only when nothing of it was
 * sent.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "get.h"
#include "io.h"
#include "mqshared.h"
#include "openread.h"
#include "reply.h"
#include "request.h"

/* "/close/abort/open/id/peek/touch/delay=<ms>/lease=<ms>/t=<ms>" */
#define SUFFIX_SIZE 128

/* Ack, abort and touch settle a read open on the connection. */
#define SETTLES (MQ_READ_CLOSE | MQ_READ_ABORT | MQ_READ_TOUCH)

static const mqc_read plain_read = { 0, MQ_QUEUE_RULE, MQ_QUEUE_RULE };

int
mqc_get_hands_out (unsigned options)
{
  return (options & (MQ_READ_OPEN | MQ_READ_PEEK)) || !(options & SETTLES);
}

static void
option_suffix (char *buf, size_t size, const mqc_read *r, int timeout_ms)
{
  static const struct {
    unsigned option;
    const char *word;
  } words[] = {
    /* close/abort come first on the daemon's side whatever the order. */
    { MQ_READ_CLOSE, "/close" }, { MQ_READ_ABORT, "/abort" },
    { MQ_READ_OPEN, "/open" }, { MQ_READ_PEEK, "/peek" },
    { MQ_READ_TOUCH, "/touch" },
  };
  size_t n = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (r->options & words[i].option)
      n += (size_t) snprintf (buf + n, size - n, "%s", words[i].word);
  /* A reliable read comes with its message's stable id. */
  if ((r->options & (MQ_READ_OPEN | MQ_READ_PEEK)) == MQ_READ_OPEN)
    n += (size_t) snprintf (buf + n, size - n, "/id");
  if (r->delay_ms >= 0)
    n += (size_t) snprintf (buf + n, size - n, "/delay=%" PRId64,
                            r->delay_ms);
  if (r->lease_ms >= 0)
    n += (size_t) snprintf (buf + n, size - n, "/lease=%" PRId64,
                            r->lease_ms);
  if (timeout_ms > 0)
    snprintf (buf + n, size - n, "/t=%d", timeout_ms);
}

/* "get <queue><suffix>" */
static mq_status
get_line (mq_client *c, const char *queue, const char *suffix)
{
  mq_status st = mqc_out_text (c, "get ", 4);

  if (st == MQ_OK)
    st = mqc_out_text (c, queue, strlen (queue));
  if (st == MQ_OK)
    st = mqc_out_text (c, suffix, strlen (suffix));
  if (st == MQ_OK)
    st = mqc_out_text (c, "\r\n", 2);
  return st;
}

/* The get lines for max messages, one each; *lines says how many. */
static mq_status
get_request (mq_client *c, const char *queue, const char *suffix, size_t max,
             size_t *lines)
{
  *lines = max;
  for (size_t l = 0; l < max; l++)
    {
      mq_status st = get_line (c, queue, l == 0 ? suffix : "");

      if (st != MQ_OK)
        return st;
    }
  return MQ_OK;
}

/* The answers to lines get lines.  A failure that leaves the connection in
 * step (an error line) does not stop the reading: the later lines may have
 * taken messages. */
static mq_status
get_answers (mq_client *c, const char *queue, const char *what, size_t lines,
             mq_message **msgs, size_t max, size_t *count)
{
  mq_status first = MQ_OK;

  for (size_t l = 0; l < lines; l++)
    {
      mq_status st = MQ_IO;

      if (c->fd >= 0 || c->in_start != c->in_end)
        st = mqc_read_get_answer (c, queue, what, msgs, max, count);
      if (st == MQ_IO || st == MQ_PROTOCOL || st == MQ_NOMEM)
        return st;
      if (first == MQ_OK)
        first = st;
    }
  return first;
}

/* One round trip: up to max messages into msgs[*count..].  retry: repeat
 * on a new connection when nothing went out. */
static mq_status
get_round (mq_client *c, const char *queue, const mqc_read *r, int timeout_ms,
           int retry, const char *what, mq_message **msgs, size_t max,
           size_t *count)
{
  char suffix[SUFFIX_SIZE];
  size_t lines;
  mq_status st;

  option_suffix (suffix, sizeof suffix, r, timeout_ms);
  c->call_wait_ms = timeout_ms;
  st = get_request (c, queue, suffix, max, &lines);
  if (st != MQ_OK)
    return st;
  st = mqc_send_request (c, retry);
  if (st != MQ_OK && c->out_sent == 0)
    return mqc_prefix_error (c, st, "%s: not sent", what);
  /* Even when sending failed part way, what was answered is read: those
   * messages have left their queue. */
  st = get_answers (c, queue, what, lines, msgs, max, count);
  if (st == MQ_IO)
    {
      mqc_conn_close (c);
      return mqc_prefix_error (c, MQ_IO, "%s: the connection broke before "
                               "the whole answer came%s", what,
                               r->options & (MQ_READ_PEEK | MQ_READ_OPEN)
                               ? "" : " (a message taken meanwhile is lost)");
    }
  if (st != MQ_OK)
    return st;
  return *count > 0 ? MQ_OK : MQ_EMPTY;
}

static void
get_what (char *what, unsigned options, const char *queue)
{
  const char *verb = options & MQ_READ_CLOSE ? "ack of"
    : options & MQ_READ_ABORT ? "abort of"
    : options & MQ_READ_TOUCH ? "touch of"
    : options & MQ_READ_PEEK ? "peek at"
    : options & MQ_READ_OPEN ? "reliable pop from" : "pop from";

  mqc_format_into (what, MQC_WHAT_SIZE, "%s %s", verb, queue);
}

/* A message came: an opened read is remembered, to be acked. */
static mq_status
get_taken (mq_client *c, const char *queue, unsigned options, mq_message *m,
           mq_message **message, mq_status st)
{
  if (options & MQ_READ_OPEN && !(options & MQ_READ_PEEK)
      && mqc_open_read_add (c, queue, 1) != MQ_OK)
    {
      free (m);
      return MQ_NOMEM;
    }
  *message = m;
  return st;
}

/* One get; MQ_EMPTY with *waited set when it waited as long as the daemon
 * allows and found nothing: the caller asks again. */
static mq_status
get_once (mq_client *c, const char *queue, const mqc_read *r, int timeout_ms,
          const char *what, mq_message **message, int *waited)
{
  unsigned options = r->options;
  int hands_out = mqc_get_hands_out (options);
  int forever = timeout_ms == MQ_WAIT_FOREVER && hands_out;
  int wait_ms = forever ? MQ_MAX_TIMEOUT_MS : timeout_ms;
  mq_message *m = NULL;
  size_t got = 0;
  /* A broken connection has given the open read back: it cannot be
   * settled on a new one, so a settling get is not repeated. */
  mq_status st = get_round (c, queue, r, hands_out ? wait_ms : 0,
                            !(options & SETTLES), what, &m, 1, &got);

  *waited = 0;
  /* An ack ends the oldest read of the queue, an abort all of them. */
  if (options & MQ_READ_CLOSE)
    mqc_open_read_drop (c, queue, 1);
  if (options & MQ_READ_ABORT)
    mqc_open_read_forget (c, queue);
  if (got > 0 && !hands_out)
    {
      /* A message nobody asked for: the daemon is out of step. */
      free (m);
      return mqc_protocol_error (c, "a message in answer to an ack, abort "
                                 "or touch");
    }
  if (got > 0)
    return get_taken (c, queue, options, m, message, st);
  if (!hands_out && st == MQ_EMPTY)
    return MQ_OK;
  *waited = st == MQ_EMPTY && forever;
  return st;
}

mq_status
mqc_get (mq_client *c, const char *queue, const mqc_read *read,
         int timeout_ms, mq_message **message)
{
  mqc_read r = *read;
  char what[MQC_WHAT_SIZE];
  int waited;
  mq_status st;

  get_what (what, r.options, queue);
  st = mqc_call_begin (c);
  if (st != MQ_OK)
    return mqc_prefix_error (c, st, "%s", what);
  if (r.options & SETTLES)
    {
      st = mqc_open_read_check (c, queue, 1, what);
      if (st != MQ_OK)
        return st;
    }
  for (;;)
    {
      st = get_once (c, queue, &r, timeout_ms, what, message, &waited);
      if (!waited)
        return st;
      /* Waiting on: the read, if any, is already closed. */
      r.options &= ~(MQ_READ_CLOSE | MQ_READ_ABORT);
      r.delay_ms = MQ_QUEUE_RULE;
      st = mqc_call_begin (c);
      if (st != MQ_OK)
        return mqc_prefix_error (c, st, "%s", what);
    }
}

mq_status
mqc_rounds (mq_client *c, const char *queue, int timeout_ms,
            const char *what, mqc_round round, mq_message **messages,
            size_t max, size_t *count)
{
  int wait_ms = timeout_ms == MQ_WAIT_FOREVER ? MQ_MAX_TIMEOUT_MS
    : timeout_ms;
  mq_status st;

  for (;;)
    {
      st = mqc_call_begin (c);
      if (st != MQ_OK)
        return mqc_prefix_error (c, st, "%s", what);
      st = round (c, queue, wait_ms, what, messages, max, count);
      if (st != MQ_EMPTY || timeout_ms != MQ_WAIT_FOREVER)
        return st;
    }
}

static mq_status
pop_round (mq_client *c, const char *queue, int wait_ms, const char *what,
           mq_message **messages, size_t max, size_t *count)
{
  return get_round (c, queue, &plain_read, wait_ms, 1, what, messages, max,
                    count);
}

mq_status
mqc_get_many (mq_client *c, const char *queue, int timeout_ms,
              mq_message **messages, size_t max, size_t *count)
{
  char what[MQC_WHAT_SIZE];

  mqc_format_into (what, sizeof what, "pop from %s", queue);
  return mqc_rounds (c, queue, timeout_ms, what, pop_round, messages, max,
                     count);
}
