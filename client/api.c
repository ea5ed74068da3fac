/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* api.c: libmqclient's functions, the ones mqclient.h declares.
 *
 * Each checks its arguments (a bad one is refused with MQ_INVALID before
 * anything is sent), clears the handle's message, and calls the internal
 * function that acts: push.c, get.c, manage.c (one-line requests) and
 * stats.c, which build on conn.c (a connection's life), request.c and
 * io.c (the request out), reply.c and io.c (the answers in), openread.c
 * (reliable reads) and handle.c (the handle and its message).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "get.h"
#include "handle.h"
#include "manage.h"
#include "mqclient.h"
#include "mqshared.h"
#include "push.h"
#include "stats.h"
#include "window.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* ---- arguments ---------------------------------------------------------- */

/* The start of every call on a handle. */
static mq_status
enter (mq_client *c)
{
  if (c == NULL)
    return MQ_INVALID;
  c->err[0] = '\0';
  return MQ_OK;
}

/* The start of a call that names a queue. */
static mq_status
enter_queue (mq_client *c, const char *queue)
{
  mq_status st = enter (c);

  if (st != MQ_OK)
    return st;
  if (queue == NULL)
    return mqc_set_error (c, MQ_INVALID, "no queue name given");
  if (!mq_valid_queue_name (queue))
    return mqc_set_error (c, MQ_INVALID, "invalid queue name \"%.*s\": a "
                          "name is " MQ_NAME_RULE, 60, queue);
  return MQ_OK;
}

/* A call with results refuses to run when the caller gave no place for
 * them (given is 0). */
static mq_status
check_place (mq_client *c, mq_status st, int given, const char *what)
{
  if (st == MQ_OK && !given)
    return mqc_set_error (c, MQ_INVALID, "no place for the %s given", what);
  return st;
}

/* The start of a call that hands back a list and its length (the list
 * given says whether there is a place for it). */
static mq_status
enter_list (mq_client *c, int list_given, size_t *count, const char *what)
{
  if (count != NULL)
    *count = 0;
  return check_place (c, enter (c), list_given && count != NULL, what);
}

static mq_status
check_timeout (mq_client *c, int timeout_ms)
{
  if (timeout_ms < MQ_WAIT_FOREVER)
    return mqc_set_error (c, MQ_INVALID, "invalid timeout %d ms", timeout_ms);
  return MQ_OK;
}

/* A delay (min 0) or a lease (min 1), or MQ_QUEUE_RULE. */
static mq_status
check_ms (mq_client *c, int64_t ms, int64_t min, const char *what)
{
  if (ms != MQ_QUEUE_RULE && (ms < min || ms > MQ_MAX_DELAY_MS))
    return mqc_set_error (c, MQ_INVALID, "invalid %s %" PRId64 " ms: %"
                          PRId64 " to " MQ_SHARED_STR (MQ_MAX_DELAY_MS)
                          ", or MQ_QUEUE_RULE", what, ms, min);
  return MQ_OK;
}

/* ---- names, statuses, versions ----------------------------------------- */

const char *
mq_strerror (mq_status status)
{
  switch (status)
    {
    case MQ_OK:
      return "success";
    case MQ_EMPTY:
      return "no message (queue empty or wait timed out)";
    case MQ_NOT_STORED:
      return "not stored: the queue is full";
    case MQ_TOO_LARGE:
      return "message too large for the daemon";
    case MQ_SERVER_ERROR:
      return "server error";
    case MQ_PROTOCOL:
      return "protocol error: unexpected answer from the daemon";
    case MQ_CONNECT:
      return "cannot connect to the daemon";
    case MQ_IO:
      return "connection to the daemon lost";
    case MQ_NOMEM:
      return "out of memory";
    case MQ_INVALID:
      return "invalid argument or request";
    case MQ_NOT_FOUND:
      return "not found";
    case MQ_MAYBE_STORED:
      return "connection lost after the message was sent: it may or may "
             "not be stored";
    }
  return "unknown status";
}

int
mq_valid_queue_name (const char *name)
{
  return name != NULL && mq_shared_valid_name (name, strlen (name));
}

size_t
mq_socket_path (char *buf, size_t size)
{
  return mqc_socket_path (buf, size);
}

const char *
mq_library_version (void)
{
  return PACKAGE_VERSION;
}

/* ---- handles ------------------------------------------------------------ */

mq_status
mq_connect (const char *socket_path, mq_client **client)
{
  return mq_connect_timeout (socket_path, 0, client);
}

mq_status
mq_connect_timeout (const char *socket_path, int timeout_ms,
                    mq_client **client)
{
  mq_status st;

  if (client == NULL)
    return MQ_INVALID;
  *client = mqc_handle_new (socket_path);
  if (*client == NULL)
    return MQ_NOMEM;
  st = mq_set_io_timeout (*client, timeout_ms);
  return st != MQ_OK ? st : mqc_conn_open (*client);
}

const char *
mq_client_socket (const mq_client *c)
{
  return c != NULL ? c->path : NULL;
}

const char *
mq_client_error (const mq_client *c)
{
  return c != NULL ? c->err : "out of memory";
}

mq_status
mq_set_io_timeout (mq_client *c, int timeout_ms)
{
  mq_status st = enter (c);

  if (st != MQ_OK)
    return st;
  if (timeout_ms < 0)
    return mqc_set_error (c, MQ_INVALID, "invalid I/O timeout %d ms: 0 "
                          "(none) to 2147483647", timeout_ms);
  c->io_timeout_ms = timeout_ms;
  return MQ_OK;
}

void
mq_disconnect (mq_client *c)
{
  if (c != NULL)
    mqc_disconnect (c);
}

void
mq_client_free (mq_client *c)
{
  if (c != NULL)
    mqc_handle_free (c);
}

/* ---- push --------------------------------------------------------------- */

static mq_status
check_messages (mq_client *c, const mq_buffer *messages, size_t count)
{
  if (messages == NULL && count > 0)
    return mqc_set_error (c, MQ_INVALID, "push: no messages given");
  for (size_t i = 0; i < count; i++)
    if (messages[i].data == NULL && messages[i].len > 0)
      return mqc_set_error (c, MQ_INVALID, "push: message %zu has no data",
                            i);
  return MQ_OK;
}

mq_status
mq_push_many_delayed (mq_client *c, const char *queue,
                      const mq_buffer *messages, size_t count, uint32_t flags,
                      int64_t exptime, int64_t delay_ms, mq_status *results,
                      size_t *stored)
{
  mq_status st;

  if (stored != NULL)
    *stored = 0;
  if (c == NULL)
    return MQ_INVALID;
  st = enter_queue (c, queue);
  if (st == MQ_OK)
    st = check_messages (c, messages, count);
  if (st == MQ_OK)
    st = check_ms (c, delay_ms, 0, "delay");
  if (st != MQ_OK || count == 0)
    {
      mqc_push_fail_all (results, count, st);
      return st;
    }
  return mqc_push_many (c, queue, messages, count, flags, exptime, delay_ms,
                        results, stored);
}

mq_status
mq_push_many (mq_client *c, const char *queue, const mq_buffer *messages,
              size_t count, uint32_t flags, int64_t exptime,
              mq_status *results, size_t *stored)
{
  return mq_push_many_delayed (c, queue, messages, count, flags, exptime,
                               MQ_QUEUE_RULE, results, stored);
}

mq_status
mq_push_delayed (mq_client *c, const char *queue, const void *data,
                 size_t len, uint32_t flags, int64_t exptime,
                 int64_t delay_ms)
{
  mq_buffer one = { data, len };

  return mq_push_many_delayed (c, queue, &one, 1, flags, exptime, delay_ms,
                               NULL, NULL);
}

mq_status
mq_push (mq_client *c, const char *queue, const void *data, size_t len,
         uint32_t flags, int64_t exptime)
{
  return mq_push_delayed (c, queue, data, len, flags, exptime,
                          MQ_QUEUE_RULE);
}

/* ---- get ---------------------------------------------------------------- */

void
mq_message_free (mq_message *message)
{
  free (message);
}

static mq_status
check_read (mq_client *c, const mqc_read *r)
{
  if (r->options & ~(MQ_READ_OPEN | MQ_READ_CLOSE | MQ_READ_ABORT
                     | MQ_READ_PEEK | MQ_READ_TOUCH))
    return mqc_set_error (c, MQ_INVALID, "unknown get options 0x%x",
                          r->options);
  if ((r->options & MQ_READ_CLOSE) && (r->options & MQ_READ_ABORT))
    return mqc_set_error (c, MQ_INVALID, "a read cannot be both acked and "
                          "aborted");
  if ((r->options & MQ_READ_TOUCH) && r->options != MQ_READ_TOUCH)
    return mqc_set_error (c, MQ_INVALID, "a touch goes with no other "
                          "option");
  if (check_ms (c, r->lease_ms, 1, "lease") != MQ_OK)
    return MQ_INVALID;
  return check_ms (c, r->delay_ms, 0, "delay");
}

/* Every get: its arguments checked, then sent. */
static mq_status
get_checked (mq_client *c, const char *queue, const mqc_read *r,
             int timeout_ms, mq_message **message)
{
  mq_status st;

  if (message != NULL)
    *message = NULL;
  st = enter_queue (c, queue);
  if (st == MQ_OK)
    st = check_read (c, r);
  st = check_place (c, st, message != NULL || !mqc_get_hands_out (r->options),
                    "message");
  if (st == MQ_OK)
    st = check_timeout (c, timeout_ms);
  if (st != MQ_OK)
    return st;
  return mqc_get (c, queue, r, timeout_ms, message);
}

mq_status
mq_get (mq_client *c, const char *queue, unsigned options, int timeout_ms,
        mq_message **message)
{
  mqc_read r = { options, MQ_QUEUE_RULE, MQ_QUEUE_RULE };

  return get_checked (c, queue, &r, timeout_ms, message);
}

mq_status
mq_pop (mq_client *c, const char *queue, int timeout_ms, mq_message **message)
{
  return mq_get (c, queue, 0, timeout_ms, message);
}

mq_status
mq_peek (mq_client *c, const char *queue, int timeout_ms,
         mq_message **message)
{
  return mq_get (c, queue, MQ_READ_PEEK, timeout_ms, message);
}

mq_status
mq_pop_open (mq_client *c, const char *queue, int timeout_ms,
             mq_message **message)
{
  return mq_get (c, queue, MQ_READ_OPEN, timeout_ms, message);
}

mq_status
mq_ack (mq_client *c, const char *queue)
{
  return mq_get (c, queue, MQ_READ_CLOSE, 0, NULL);
}

mq_status
mq_abort (mq_client *c, const char *queue)
{
  return mq_get (c, queue, MQ_READ_ABORT, 0, NULL);
}

mq_status
mq_pop_open_lease (mq_client *c, const char *queue, int timeout_ms,
                   int64_t lease_ms, mq_message **message)
{
  mqc_read r = { MQ_READ_OPEN, lease_ms, MQ_QUEUE_RULE };

  return get_checked (c, queue, &r, timeout_ms, message);
}

mq_status
mq_touch (mq_client *c, const char *queue, int64_t lease_ms)
{
  mqc_read r = { MQ_READ_TOUCH, lease_ms, MQ_QUEUE_RULE };

  return get_checked (c, queue, &r, 0, NULL);
}

mq_status
mq_abort_delayed (mq_client *c, const char *queue, int64_t delay_ms)
{
  mqc_read r = { MQ_READ_ABORT, MQ_QUEUE_RULE, delay_ms };

  return get_checked (c, queue, &r, 0, NULL);
}

mq_status
mq_pop_many (mq_client *c, const char *queue, int timeout_ms,
             mq_message **messages, size_t max, size_t *count)
{
  mq_status st;

  if (count != NULL)
    *count = 0;
  st = check_place (c, enter_queue (c, queue),
                    count != NULL && (messages != NULL || max == 0),
                    "messages");
  if (st == MQ_OK)
    st = check_timeout (c, timeout_ms);
  if (st != MQ_OK)
    return st;
  if (max == 0)
    return MQ_EMPTY;
  return mqc_get_many (c, queue, timeout_ms, messages, max, count);
}

/* ---- windows of reliable reads ------------------------------------------ */

mq_status
mq_open_many (mq_client *c, const char *queue, int timeout_ms, size_t max,
              mq_message **messages, size_t *count)
{
  mq_status st;

  if (count != NULL)
    *count = 0;
  st = check_place (c, enter_queue (c, queue),
                    count != NULL && messages != NULL, "messages");
  if (st == MQ_OK)
    st = check_timeout (c, timeout_ms);
  if (st == MQ_OK && (max == 0 || max > MQ_MAX_OPEN_READS))
    st = mqc_set_error (c, MQ_INVALID, "invalid window of %zu messages: 1 "
                        "to " MQ_SHARED_STR (MQ_MAX_OPEN_READS), max);
  if (st != MQ_OK)
    return st;
  return mqc_open_many (c, queue, timeout_ms, max, messages, count);
}

static mq_status
window_end (mq_client *c, const char *command, const char *queue, size_t n)
{
  mq_status st = enter_queue (c, queue);

  if (st != MQ_OK || n == 0)
    return st;
  return mqc_window_end (c, command, queue, n);
}

mq_status
mq_confirm (mq_client *c, const char *queue, size_t n)
{
  return window_end (c, "confirm", queue, n);
}

mq_status
mq_abort_oldest (mq_client *c, const char *queue, size_t n)
{
  return window_end (c, "abort", queue, n);
}

/* ---- managing queues ---------------------------------------------------- */

/* delete and flush refuse a NULL queue as the empty name. */
static mq_status
queue_command (mq_client *c, const char *command, const char *queue,
               const char *ok)
{
  mq_status st = enter_queue (c, queue != NULL ? queue : "");

  if (st != MQ_OK)
    return st;
  return mqc_simple_command (c, command, queue, ok);
}

mq_status
mq_delete (mq_client *c, const char *queue)
{
  return queue_command (c, "delete", queue, "DELETED");
}

mq_status
mq_flush (mq_client *c, const char *queue)
{
  return queue_command (c, "flush", queue, "OK");
}

mq_status
mq_flush_all (mq_client *c)
{
  mq_status st = enter (c);

  if (st != MQ_OK)
    return st;
  return mqc_simple_command (c, "flush_all", NULL, "OK");
}

mq_status
mq_server_shutdown (mq_client *c)
{
  mq_status st = enter (c);

  if (st == MQ_OK)
    st = mqc_simple_command (c, "shutdown", NULL, "OK");
  if (st == MQ_OK)
    mqc_disconnect (c);           /* the daemon closes it anyway */
  return st;
}

mq_status
mq_version (mq_client *c, const char **version)
{
  mq_status st;

  if (version != NULL)
    *version = NULL;
  st = check_place (c, enter (c), version != NULL, "version");
  return st != MQ_OK ? st : mqc_version (c, version);
}

/* ---- stats -------------------------------------------------------------- */

mq_status
mq_stats (mq_client *c, mq_stat **stats, size_t *count)
{
  mq_status st;

  if (stats != NULL)
    *stats = NULL;
  st = enter_list (c, stats != NULL, count, "stats");
  return st != MQ_OK ? st : mqc_stats (c, stats, count);
}

const char *
mq_stats_find (const mq_stat *stats, size_t count, const char *name)
{
  if (stats == NULL || name == NULL)
    return NULL;
  for (size_t i = 0; i < count; i++)
    if (strcmp (stats[i].name, name) == 0)
      return stats[i].value;
  return NULL;
}

void
mq_stats_free (mq_stat *stats, size_t count)
{
  if (stats != NULL)
    mqc_stats_free (stats, count);
}

mq_status
mq_queue_stats (mq_client *c, const char *queue, mq_queue_info *info)
{
  mq_status st = check_place (c, enter_queue (c, queue), info != NULL,
                              "stats");

  return st != MQ_OK ? st : mqc_queue_stats (c, queue, info);
}

mq_status
mq_list_queues (mq_client *c, mq_queue_info **queues, size_t *count)
{
  mq_status st;

  if (queues != NULL)
    *queues = NULL;
  st = enter_list (c, queues != NULL, count, "queues");
  return st != MQ_OK ? st : mqc_list_queues (c, queues, count);
}

void
mq_queue_list_free (mq_queue_info *queues, size_t count)
{
  if (queues == NULL)
    return;
  for (size_t i = 0; i < count; i++)
    free (queues[i].name);
  free (queues);
}
