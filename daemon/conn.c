/* conn.c: client connections; see conn.h. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "commit.h"
#include "conn.h"
#include "protocol.h"
#include "waiter.h"

/* A waiting get's connection reads ahead only this far. */
#define CONN_READ_AHEAD (64 * 1024)
/* Pieces of output one sendmsg takes. */
#define CONN_IOV_MAX 64

/* A message's data sent from its queue's buffer: it goes at offset at of
 * the connection's out. */
typedef struct {
  gsize at;
  GBytes *data;
} ConnLoan;

/* Every connection, by what the pass end has to do with it. */
typedef struct {
  GQueue open;                    /* MqConn not CLOSED */
  GQueue pending;                 /* MqConn with output to send */
  GPtrArray *resumable;           /* back to READING with input buffered */
  GPtrArray *dead;                /* CLOSED, freed at the pass end */
  guint64 total;                  /* accepted since the start */
  guint64 synced;                 /* the journal is durable up to here */
  gboolean stopping;              /* the daemon stops: reads stay open */
  MqConnLimits limits;
  guint64 tick;                   /* seconds, counted by conns_tick */
  guint64 incoming;               /* reserved by conn_reserve_incoming */
} ConnTable;

static ConnTable conns;

#define MOVE(state) (1u << MQ_CONN_##state)

/* The moves conn.h lists: bit n of conn_moves[s] allows s -> n. */
static const guint conn_moves[] = {
  [MQ_CONN_READING] = MOVE (PAUSED) | MOVE (BLOCKED) | MOVE (CLOSING)
    | MOVE (CLOSED),
  [MQ_CONN_PAUSED] = MOVE (READING) | MOVE (CLOSED),
  [MQ_CONN_BLOCKED] = MOVE (READING) | MOVE (CLOSED),
  [MQ_CONN_CLOSING] = MOVE (CLOSED),
  [MQ_CONN_CLOSED] = 0,
};

static const char *const conn_state_names[] = {
  "READING", "PAUSED", "BLOCKED", "CLOSING", "CLOSED",
};

MqConn *
conn_new (GSocket *socket, MqWatchFunc on_event)
{
  MqConn *conn = g_new0 (MqConn, 1);

  if (conns.resumable == NULL)
    {
      conns.resumable = g_ptr_array_new ();
      conns.dead = g_ptr_array_new ();
    }
  conn->socket = socket;
  conn->state = MQ_CONN_READING;
  conn->in = g_byte_array_new ();
  conn->out = g_string_new (NULL);
  conn->lent = g_array_new (FALSE, FALSE, sizeof (ConnLoan));
  session_init (&conn->session);
  conn->active_tick = conns.tick;
  conn->link.data = conn;
  g_queue_push_tail_link (&conns.open, &conn->link);
  conns.total++;
  loop_watch (&conn->watch, g_socket_get_fd (socket), EPOLLIN | EPOLLRDHUP,
              on_event);
  return conn;
}

void
conn_set_state (MqConn *conn, MqConnState state)
{
  if (!(conn_moves[conn->state] & (1u << state)))
    g_error ("connection %d: no move from %s to %s", conn->watch.fd,
             conn_state_names[conn->state], conn_state_names[state]);
  /* A waiting get is what BLOCKED means. */
  g_assert ((state == MQ_CONN_BLOCKED) == (conn->waiter != NULL));
  conn->state = state;
}

void
conn_close (MqConn *conn)
{
  if (conn->state == MQ_CONN_CLOSED)
    return;
  if (conn->waiter != NULL)
    waiter_remove (g_steal_pointer (&conn->waiter));
  conn_set_state (conn, MQ_CONN_CLOSED);
  conn_release_incoming (conn);
  /* At a stop, open reads stay on disk and come back first at the next
   * start, without counting as a delivery that failed. */
  if (!conns.stopping)
    windows_give_back (&conn->reads);
  while (g_ptr_array_remove_fast (conns.resumable, conn))
    ;
  loop_unwatch (&conn->watch);
  g_queue_unlink (&conns.open, &conn->link);
  if (conn->pending)
    g_queue_remove (&conns.pending, conn);
  g_ptr_array_add (conns.dead, conn);
}

/* The replies were sent: the loans go back. */
static void
conn_end_loans (MqConn *conn)
{
  for (guint i = 0; i < conn->lent->len; i++)
    g_bytes_unref (g_array_index (conn->lent, ConnLoan, i).data);
  g_array_set_size (conn->lent, 0);
  conn->lent_bytes = 0;
}

static void
conn_free (MqConn *conn)
{
  g_object_unref (conn->socket);
  g_byte_array_unref (conn->in);
  g_string_free (conn->out, TRUE);
  windows_clear (&conn->reads);
  conn_end_loans (conn);
  g_array_unref (conn->lent);
  g_free (conn->blocked_line);
  session_clear (&conn->session);
  if (conn->rest.free != NULL)
    conn->rest.free (conn->rest.data);
  g_free (conn);
}

void
conn_mark_pending (MqConn *conn)
{
  if (conn->pending || conn->state == MQ_CONN_CLOSED)
    return;
  conn->pending = TRUE;
  g_queue_push_tail (&conns.pending, conn);
}

void
conn_reply (MqConn *conn, const char *line)
{
  if (!conn->noreply)
    session_reply (&conn->session, conn->out, line);
}

void
conn_reply_value (MqConn *conn, const MqGetKey *key, const MqItem *item,
                  gboolean with_cas, const char *id)
{
  gboolean lend = item->len >= MQ_CONN_LEND_MIN && item->owned != NULL;
  MqGift gift = { item->header.flags, item->header.expires_ms,
                  lend ? NULL : item->data, item->len, item->seq, id };
  ConnLoan loan;

  loan.at = session_reply_value (&conn->session, conn->out, key, &gift,
                                 with_cas);
  if (!lend || loan.at == MQ_NO_DATA)
    return;
  loan.data = run_lend (item->owned, (const guint8 *) item->data, item->len);
  g_array_append_val (conn->lent, loan);
  conn->lent_bytes += item->len;
}

void
conn_reply_stats (MqConn *conn, const GString *lines)
{
  session_reply_stats (&conn->session, conn->out, lines);
}

gboolean
conn_gave (MqConn *conn, const MqGetKey *key)
{
  return session_gave (&conn->session, key->name, key->name_len);
}

void
conn_close_after_reply (MqConn *conn)
{
  conn_set_state (conn, MQ_CONN_CLOSING);
  conn_mark_pending (conn);
}

static gsize
conn_unsent (MqConn *conn)
{
  return conn->out->len + conn->lent_bytes - conn->out_sent;
}

gboolean
conn_output_full (MqConn *conn)
{
  return conn_unsent (conn) > MQ_CONN_OUT_HIGH;
}

void
conn_reply_later (MqConn *conn, const MqReplyRest *rest)
{
  g_assert (conn->rest.make == NULL);
  conn->rest = *rest;
}

gboolean
conn_reply_more (MqConn *conn)
{
  if (conn->rest.make == NULL)
    return FALSE;
  if (conn->rest.make (conn, conn->rest.data))
    return TRUE;
  if (conn->rest.free != NULL)
    conn->rest.free (conn->rest.data);
  memset (&conn->rest, 0, sizeof conn->rest);
  return FALSE;
}

void
conn_update_watch (MqConn *conn)
{
  gboolean full = conn->state == MQ_CONN_BLOCKED
    && conn->in->len >= CONN_READ_AHEAD;
  guint32 events = conn->state == MQ_CONN_PAUSED
    || conn->state == MQ_CONN_CLOSING || full ? EPOLLRDHUP
    : EPOLLIN | EPOLLRDHUP;

  /* Replies wait for the pass end, where they are sent at once: only a
   * full socket needs telling when it has room again, and only when its
   * replies are not waiting for a sync (the pass end sends them then). */
  if (conn->write_blocked && conn->hold_lsn <= conns.synced)
    events |= EPOLLOUT;
  loop_rewatch (&conn->watch, events);
}

/* Back to READING with input buffered or a reply to finish: it runs at
 * the pass end. */
static void
conn_resume_later (MqConn *conn)
{
  if (conn->in->len == 0 && conn->rest.make == NULL)
    return;
  g_ptr_array_add (conns.resumable, conn);
  loop_wake ();
}

static void
conn_shrink_buffers (MqConn *conn)
{
  if (conn->out->allocated_len > MQ_CONN_BUFFER_KEEP)
    {
      g_string_free (conn->out, TRUE);
      conn->out = g_string_new (NULL);
    }
  if (conn->in_large && conn->in->len == 0)
    {
      g_byte_array_unref (conn->in);
      conn->in = g_byte_array_new ();
      conn->in_large = FALSE;
    }
}

/* Adds base[0..len) to iov past the skip bytes already sent. */
static guint
iov_add (struct iovec *iov, guint n, const void *base, gsize len,
         gsize *skip)
{
  gsize sent = MIN (*skip, len);

  *skip -= sent;
  if (sent == len)
    return n;
  iov[n].iov_base = (guint8 *) base + sent;
  iov[n].iov_len = len - sent;
  return n + 1;
}

/* The unsent output, out's text and the loans between, in order. */
static guint
conn_gather (MqConn *conn, struct iovec *iov)
{
  gsize skip = conn->out_sent, from = 0;
  guint n = 0, i;

  for (i = 0; i < conn->lent->len && n + 2 <= CONN_IOV_MAX; i++)
    {
      ConnLoan *loan = &g_array_index (conn->lent, ConnLoan, i);
      gsize len;
      gconstpointer data = g_bytes_get_data (loan->data, &len);

      n = iov_add (iov, n, conn->out->str + from, loan->at - from, &skip);
      n = iov_add (iov, n, data, len, &skip);
      from = loan->at;
    }
  /* The text after the last loan, unless the loans filled iov. */
  if (i == conn->lent->len && n < CONN_IOV_MAX)
    n = iov_add (iov, n, conn->out->str + from, conn->out->len - from, &skip);
  return n;
}

/* Sends what it can; TRUE when everything went out. */
static gboolean
conn_send (MqConn *conn)
{
  while (conn_unsent (conn) > 0)
    {
      struct iovec iov[CONN_IOV_MAX];
      struct msghdr msg = { .msg_iov = iov,
                            .msg_iovlen = conn_gather (conn, iov) };
      ssize_t n = sendmsg (conn->watch.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          conn->write_blocked = TRUE;
          return FALSE;
        }
      if (n < 0)
        {
          g_info ("closing connection %d: %s", conn->watch.fd,
                  g_strerror (errno));
          conn_close (conn);
          return FALSE;
        }
      conn->out_sent += n;
      conn->active_tick = conns.tick;
    }
  g_string_truncate (conn->out, 0);
  conn_end_loans (conn);
  conn->out_sent = 0;
  conn->write_blocked = FALSE;
  conn_shrink_buffers (conn);
  return TRUE;
}

static void
conn_flush (MqConn *conn)
{
  gboolean drained = conn_send (conn);

  if (conn->state == MQ_CONN_CLOSED)
    return;
  if (drained && conn->state == MQ_CONN_CLOSING)
    {
      conn_close (conn);
      return;
    }
  if (drained && conn->state == MQ_CONN_PAUSED)
    {
      conn_set_state (conn, MQ_CONN_READING);
      conn_resume_later (conn);
    }
  conn_update_watch (conn);
}

GPtrArray *
conns_take_resumable (void)
{
  GPtrArray *taken;

  if (conns.resumable == NULL || conns.resumable->len == 0)
    return NULL;
  taken = g_steal_pointer (&conns.resumable);
  conns.resumable = g_ptr_array_new ();
  return taken;
}

void
conn_hold (MqConn *conn, guint64 lsn)
{
  conn->hold_lsn = MAX (conn->hold_lsn, lsn);
  commit_need (lsn);
}

void
conns_release (guint64 durable)
{
  conns.synced = durable;
}

void
conns_flush (void)
{
  GQueue held = G_QUEUE_INIT;
  MqConn *conn;

  while ((conn = g_queue_pop_head (&conns.pending)) != NULL)
    {
      conn->pending = FALSE;
      if (conn->hold_lsn > conns.synced)
        {
          conn_update_watch (conn);
          g_queue_push_tail (&held, conn);
          continue;
        }
      conn->hold_lsn = 0;
      conn_flush (conn);
    }
  while ((conn = g_queue_pop_head (&held)) != NULL)
    conn_mark_pending (conn);
  if (conns.dead == NULL)
    return;
  for (guint i = 0; i < conns.dead->len; i++)
    conn_free (g_ptr_array_index (conns.dead, i));
  g_ptr_array_set_size (conns.dead, 0);
}

void
conns_close_all (void)
{
  GList *link;

  conns.stopping = TRUE;
  conns_flush ();
  while ((link = g_queue_peek_head_link (&conns.open)) != NULL)
    conn_close (link->data);
  conns_flush ();
  g_clear_pointer (&conns.resumable, g_ptr_array_unref);
  g_clear_pointer (&conns.dead, g_ptr_array_unref);
  memset (&conns, 0, sizeof conns);
}

guint
conns_count (void)
{
  return conns.open.length;
}

guint64
conns_total (void)
{
  return conns.total;
}

void
conns_drop_pending (void)
{
  MqConn *conn;

  while ((conn = g_queue_pop_head (&conns.pending)) != NULL)
    {
      conn->pending = FALSE;
      conn_close (conn);
    }
}

void
conns_set_limits (const MqConnLimits *limits)
{
  conns.limits = *limits;
  conns.tick = MAX (conns.tick, 1);
}

void
conn_note_read (MqConn *conn, gsize n)
{
  conn->active_tick = conns.tick;
  if (conn->in->len == 0 && conn->swallow == 0)
    conn->request_tick = 0;
  else if (conn->request_tick == 0)
    {
      conn->request_tick = conns.tick;
      conn->request_bytes = n;
    }
  else
    conn->request_bytes += n;
}

/* A request may take the timeout, and a second more for every
 * MQ_CONN_REQUEST_RATE bytes of it that came: a client that trickles its
 * requests cannot keep a place for long. */
static gboolean
conn_request_late (MqConn *conn)
{
  guint64 timeout = conns.limits.request_timeout;

  return timeout > 0 && conn->request_tick != 0
    && conn->state == MQ_CONN_READING
    && conns.tick - conn->request_tick
       > timeout + conn->request_bytes / MQ_CONN_REQUEST_RATE;
}

/* Waiting in a get and holding a reliable read are what a connection is
 * for, however long they last. */
static gboolean
conn_idle_too_long (MqConn *conn)
{
  guint64 timeout = conns.limits.idle_timeout;

  return timeout > 0 && conn->state != MQ_CONN_BLOCKED
    && windows_count (&conn->reads) == 0
    && conns.tick - conn->active_tick > timeout;
}

void
conns_tick (void)
{
  GList *link = conns.open.head;

  conns.tick++;
  while (link != NULL)
    {
      MqConn *conn = link->data;

      link = link->next;
      if (conn_request_late (conn))
        g_info ("closing connection %d: a request unfinished after %"
                G_GUINT64_FORMAT " s", conn->watch.fd,
                conns.tick - conn->request_tick);
      else if (conn_idle_too_long (conn))
        g_info ("closing connection %d: idle for %u s", conn->watch.fd,
                conns.limits.idle_timeout);
      else
        continue;
      conn_close (conn);
      loop_wake ();
    }
}

gboolean
conn_reserve_incoming (MqConn *conn, gsize bytes)
{
  guint64 limit = conns.limits.incoming_memory;

  if (conn->incoming > 0)
    return TRUE;
  if (limit > 0 && conns.incoming > 0 && conns.incoming + bytes > limit)
    return FALSE;
  conn->incoming = bytes;
  conns.incoming += bytes;
  return TRUE;
}

void
conn_release_incoming (MqConn *conn)
{
  conns.incoming -= conn->incoming;
  conn->incoming = 0;
}

void
conn_block (MqConn *conn, MqQueue *const *queues, guint n_queues,
            gint64 deadline_us)
{
  if (conn->blocked_line == NULL)
    {
      conn->blocked_line = g_memdup2 (conn->line, conn->line_len);
      conn->blocked_len = conn->line_len;
    }
  conn->waiter = waiter_add (conn, queues, n_queues, deadline_us);
  conn->retry_deadline = deadline_us;
  conn_set_state (conn, MQ_CONN_BLOCKED);
}

void
conn_wait_done (MqConn *conn)
{
  g_clear_pointer (&conn->blocked_line, g_free);
  conn->retry_deadline = 0;
  conn_mark_pending (conn);
  conn_resume_later (conn);
  conn_update_watch (conn);
}
