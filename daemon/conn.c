/* conn.c: client connections; see conn.h. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "command.h"
#include "conn.h"
#include "protocol.h"
#include "waiter.h"

#define CONN_READ_SIZE (64 * 1024)
/* Past this much unsent output a connection is not read from, so a client
 * that never reads its replies cannot make the daemon grow. */
#define CONN_OUT_HIGH (4 * 1024 * 1024)
/* Idle buffers larger than this are given back. */
#define CONN_BUFFER_KEEP (64 * 1024)

static GQueue open_conns = G_QUEUE_INIT;
static GQueue pending = G_QUEUE_INIT;   /* MqConn with output to send */
static GPtrArray *resumable;            /* paused conns whose output drained */
static GPtrArray *dead;                 /* closed, freed at the pass end */
static guint64 total_conns;
static guint64 synced;            /* sync requests done (conns_release) */
static guint64 sync_failed;       /* the last one that failed */
static gboolean stopping;         /* the daemon stops: reads stay open */
gboolean conn_log_commands;
static char read_buffer[CONN_READ_SIZE];

typedef struct {
  guint64 seq;
  gsize name_len;
  char name[];
} MqOpenRead;

static void conn_on_event (MqWatch *watch, guint32 events);

MqConn *
conn_new (GSocket *socket)
{
  MqConn *conn = g_new0 (MqConn, 1);

  if (resumable == NULL)
    {
      resumable = g_ptr_array_new ();
      dead = g_ptr_array_new ();
    }
  conn->socket = socket;
  conn->in = g_byte_array_new ();
  conn->out = g_string_new (NULL);
  conn->open_reads = g_ptr_array_new_with_free_func (g_free);
  session_init (&conn->session);
  conn->link.data = conn;
  g_queue_push_tail_link (&open_conns, &conn->link);
  total_conns++;
  loop_watch (&conn->watch, g_socket_get_fd (socket), EPOLLIN | EPOLLRDHUP,
              conn_on_event);
  return conn;
}

/* A reader that goes away gives its reliable reads back. */
static void
conn_abort_open_reads (MqConn *conn)
{
  for (guint i = 0; i < conn->open_reads->len; i++)
    {
      MqOpenRead *open = g_ptr_array_index (conn->open_reads, i);
      MqQueue *queue = queue_lookup (open->name, open->name_len);
      g_autoptr (GError) error = NULL;

      if (queue != NULL && !queue_abort_read (queue, open->seq, &error))
        g_warning ("cannot give back a read of %s: %s", queue->name,
                   error->message);
    }
  g_ptr_array_set_size (conn->open_reads, 0);
}

static void
conn_close (MqConn *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  if (conn->waiter != NULL)
    waiter_remove (g_steal_pointer (&conn->waiter));
  /* At a stop, open reads stay on disk and come back first at the next
   * start, without counting as a delivery that failed. */
  if (!stopping)
    conn_abort_open_reads (conn);
  while (resumable != NULL && g_ptr_array_remove_fast (resumable, conn))
    ;
  loop_unwatch (&conn->watch);
  g_queue_unlink (&open_conns, &conn->link);
  if (conn->pending)
    g_queue_remove (&pending, conn);
  g_ptr_array_add (dead, conn);
}

static void
conn_free (MqConn *conn)
{
  g_object_unref (conn->socket);
  g_byte_array_unref (conn->in);
  g_string_free (conn->out, TRUE);
  g_ptr_array_unref (conn->open_reads);
  g_free (conn->blocked_line);
  session_clear (&conn->session);
  g_free (conn);
}

static void
conn_mark_pending (MqConn *conn)
{
  if (conn->pending || conn->closed)
    return;
  conn->pending = TRUE;
  g_queue_push_tail (&pending, conn);
}

void
conn_reply (MqConn *conn, const char *line)
{
  if (!conn->noreply)
    protocol_append_line (conn->out, line);
}

void
conn_reply_value (MqConn *conn, const MqGetKey *key, const MqItem *item,
                  guint64 seq, gboolean with_cas)
{
  session_note_gift (&conn->session, key->name, key->name_len);
  /* Echo the key as sent: memcache clients match replies to their keys. */
  protocol_append_value (conn->out, key->name, key->key_len,
                         item->header.flags, item->data, item->len, with_cas,
                         seq);
}

gboolean
conn_gave (MqConn *conn, const MqGetKey *key)
{
  return session_gave (&conn->session, key->name, key->name_len);
}

void
conn_close_after_reply (MqConn *conn)
{
  conn->closing = TRUE;
  conn_mark_pending (conn);
}

static gsize
conn_unsent (MqConn *conn)
{
  return conn->out->len - conn->out_sent;
}

/* Skips the data of a refused set as it arrives; nothing is buffered. */
static gsize
conn_skip (MqConn *conn, gsize len)
{
  gsize n = (gsize) MIN ((guint64) len, conn->swallow);

  conn->swallow -= n;
  return n;
}

static void
conn_execute (MqConn *conn, const MqCommand *cmd, const char *data)
{
  session_begin (&conn->session, cmd);
  command_execute (conn, cmd, data);
  if (conn->waiter == NULL)
    session_end (&conn->session, cmd);
}

/* A storage command with its data: runs it when the whole block is there.
 * Returns the bytes consumed, 0 when more must be read. */
static gsize
conn_run_set (MqConn *conn, const MqCommand *cmd, const char *buf, gsize len,
              gsize line_len)
{
  const char *refusal = command_refuse_set (cmd);
  const char *data = buf + line_len;
  gsize block = cmd->data_len + cmd->data_end;

  if (refusal != NULL)
    {
      conn_reply (conn, refusal);
      conn->swallow = block;
      return line_len;
    }
  if (len - line_len < block)
    return 0;
  if (cmd->data_end > 0 && (data[cmd->data_len] != '\r'
                            || data[cmd->data_len + 1] != '\n'))
    conn_reply (conn, "CLIENT_ERROR bad data chunk");
  else
    conn_execute (conn, cmd, data);
  return line_len + block;
}

/* Runs the complete commands at the start of buf; returns bytes consumed. */
static gsize
conn_process (MqConn *conn, const char *buf, gsize len)
{
  gsize done = 0;

  while (done < len && !conn->closing && conn->waiter == NULL)
    {
      MqCommand cmd;
      const char *error = NULL;
      gsize line_len = 0, used;

      if (conn->swallow > 0)
        {
          done += conn_skip (conn, len - done);
          continue;
        }
      if (conn_unsent (conn) > CONN_OUT_HIGH)
        {
          conn->paused = TRUE;
          break;
        }
      switch (protocol_parse (buf + done, len - done, &cmd, &line_len, &error))
        {
        case MQ_PARSE_INCOMPLETE:
          return done;
        case MQ_PARSE_LINE_TOO_LONG:
        case MQ_PARSE_BAD_MAGIC:
          /* Where the next request starts is lost. */
          g_info ("closing a connection: %s", error);
          conn->noreply = FALSE;
          conn_reply (conn, error);
          conn_close_after_reply (conn);
          return len;
        case MQ_PARSE_ERROR:
          g_info ("client error: %s", error);
          conn->noreply = FALSE;
          conn_reply (conn, error);
          conn->swallow = (guint64) cmd.data_len + cmd.data_end;
          done += line_len;
          continue;
        case MQ_PARSE_COMMAND:
          if (G_UNLIKELY (conn_log_commands))
            g_debug ("<%d %.*s", conn->watch.fd,
                     (int) (line_len - (line_len > 1
                                        && buf[done + line_len - 2] == '\r'
                                        ? 2 : 1)), buf + done);
          conn->noreply = cmd.noreply;
          conn->line = buf + done;
          conn->line_len = line_len;
          if (protocol_takes_data (&cmd))
            {
              used = conn_run_set (conn, &cmd, buf + done, len - done,
                                   line_len);
              if (used == 0)
                return done;
            }
          else
            {
              conn_execute (conn, &cmd, NULL);
              used = line_len;
            }
          conn->noreply = FALSE;
          done += used;
          continue;
        }
    }
  return done;
}

static void
conn_process_buffered (MqConn *conn)
{
  gsize used = conn_process (conn, (const char *) conn->in->data,
                             conn->in->len);

  g_byte_array_remove_range (conn->in, 0, used);
}

static void
conn_read (MqConn *conn)
{
  ssize_t n = recv (conn->watch.fd, read_buffer, sizeof read_buffer,
                    MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      if (n < 0)
        {
          g_info ("closing connection %d: %s", conn->watch.fd,
                  g_strerror (errno));
          conn_close (conn);
        }
      else
        conn_close_after_reply (conn);    /* the peer may still read */
      return;
    }
  if (conn->in->len == 0)
    {
      /* The common case: parse straight from the read buffer, keep only
       * an unfinished command. */
      gsize used = conn_process (conn, read_buffer, n);

      g_byte_array_append (conn->in, (const guint8 *) read_buffer + used,
                           n - used);
    }
  else
    {
      g_byte_array_append (conn->in, (const guint8 *) read_buffer, n);
      conn_process_buffered (conn);
    }
  conn->in_large |= conn->in->len > CONN_BUFFER_KEEP;
}

static void
conn_update_watch (MqConn *conn)
{
  /* A waiting get's connection reads ahead only so far; RDHUP still tells
   * when its client goes away. */
  gboolean full = conn->waiter != NULL && conn->in->len >= CONN_READ_SIZE;
  guint32 events = conn->paused || conn->closing || full ? EPOLLRDHUP
    : EPOLLIN | EPOLLRDHUP;

  /* Replies wait for the pass end, where they are sent at once: only a
   * full socket needs telling when it has room again, and only when its
   * replies are not waiting for a sync (the pass end sends them then). */
  if (conn->write_blocked && conn->hold_until <= synced)
    events |= EPOLLOUT;
  loop_rewatch (&conn->watch, events);
}

static void
conn_on_event (MqWatch *watch, guint32 events)
{
  MqConn *conn = (MqConn *) watch;

  if (conn->closed)
    return;
  if ((events & EPOLLRDHUP) && conn->waiter != NULL)
    {
      conn_close (conn);          /* a waiting client that left is forgotten */
      return;
    }
  if (events & EPOLLOUT)
    conn_mark_pending (conn);
  if (events & (EPOLLHUP | EPOLLERR))
    conn_mark_pending (conn);     /* the next send tells what happened */
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !conn->paused
      && !conn->closing)
    conn_read (conn);
  if (!conn->closed && conn->out->len > 0)
    conn_mark_pending (conn);
  if (!conn->closed)
    conn_update_watch (conn);
}

static void
conn_shrink_buffers (MqConn *conn)
{
  if (conn->out->allocated_len > CONN_BUFFER_KEEP)
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

/* Sends what it can; TRUE when everything went out. */
static gboolean
conn_send (MqConn *conn)
{
  while (conn_unsent (conn) > 0)
    {
      ssize_t n = send (conn->watch.fd, conn->out->str + conn->out_sent,
                        conn_unsent (conn), MSG_DONTWAIT | MSG_NOSIGNAL);

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
    }
  g_string_truncate (conn->out, 0);
  conn->out_sent = 0;
  conn->write_blocked = FALSE;
  conn_shrink_buffers (conn);
  return TRUE;
}

static void
conn_flush (MqConn *conn)
{
  gboolean drained = conn_send (conn);

  if (conn->closed)
    return;
  if (drained && conn->closing)
    {
      conn_close (conn);
      return;
    }
  if (drained && conn->paused)
    {
      conn->paused = FALSE;
      if (conn->in->len > 0)
        {
          g_ptr_array_add (resumable, conn);
          loop_wake ();
        }
    }
  conn_update_watch (conn);
}

void
conns_resume (void)
{
  g_autoptr (GPtrArray) ready = NULL;

  if (resumable == NULL || resumable->len == 0)
    return;
  ready = g_steal_pointer (&resumable);
  resumable = g_ptr_array_new ();
  for (guint i = 0; i < ready->len; i++)
    {
      MqConn *conn = g_ptr_array_index (ready, i);

      if (conn->closed)
        continue;
      conn_process_buffered (conn);
      if (conn->out->len > 0)
        conn_mark_pending (conn);
      conn_update_watch (conn);
    }
}

void
conn_wait_for_sync (MqConn *conn)
{
  conn->stored = TRUE;
}

void
conns_hold (guint64 request)
{
  for (GList *l = pending.head; l != NULL; l = l->next)
    {
      MqConn *conn = l->data;

      if (conn->stored)
        conn->hold_until = request;
      conn->stored = FALSE;
    }
}

void
conns_release (guint64 done, guint64 failed)
{
  synced = done;
  sync_failed = failed;
}

void
conns_flush (void)
{
  GQueue held = G_QUEUE_INIT;
  MqConn *conn;

  while ((conn = g_queue_pop_head (&pending)) != NULL)
    {
      conn->pending = FALSE;
      if (conn->hold_until > 0 && conn->hold_until <= sync_failed)
        {
          conn_close (conn);      /* its STOREDs may not be on disk */
          continue;
        }
      if (conn->hold_until > synced)
        {
          conn_update_watch (conn);
          g_queue_push_tail (&held, conn);
          continue;
        }
      conn->hold_until = 0;
      conn_flush (conn);
    }
  while ((conn = g_queue_pop_head (&held)) != NULL)
    conn_mark_pending (conn);
  if (dead == NULL)
    return;
  for (guint i = 0; i < dead->len; i++)
    conn_free (g_ptr_array_index (dead, i));
  g_ptr_array_set_size (dead, 0);
}

void
conns_close_all (void)
{
  GList *link;

  stopping = TRUE;
  conns_flush ();
  while ((link = g_queue_peek_head_link (&open_conns)) != NULL)
    conn_close (link->data);
  conns_flush ();
  g_clear_pointer (&resumable, g_ptr_array_unref);
  g_clear_pointer (&dead, g_ptr_array_unref);
}

guint
conns_count (void)
{
  return open_conns.length;
}

guint64
conns_total (void)
{
  return total_conns;
}

void
conns_drop_pending (void)
{
  MqConn *conn;

  while ((conn = g_queue_pop_head (&pending)) != NULL)
    {
      conn->pending = FALSE;
      conn_close (conn);
    }
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
}

/* A waiting get runs again (retry) or its time is up.  Its line parsed
 * once already, so it parses again the same way, which also gives its
 * reply's framing back. */
static void
conn_wake (MqConn *conn, gboolean retry)
{
  MqCommand cmd;
  const char *error = NULL;
  gsize used;

  if (protocol_parse (conn->blocked_line, conn->blocked_len, &cmd, &used,
                      &error) != MQ_PARSE_COMMAND)
    g_assert_not_reached ();
  conn->line = conn->blocked_line;
  conn->line_len = conn->blocked_len;
  if (retry)
    command_execute (conn, &cmd, NULL);
  else
    conn_reply (conn, "END");
  if (conn->waiter == NULL)
    session_end (&conn->session, &cmd);
}

void
conn_unblock (MqConn *conn, gboolean retry)
{
  conn->waiter = NULL;
  conn_wake (conn, retry);
  if (conn->waiter != NULL)
    return;                       /* nothing after all: waits again */
  g_clear_pointer (&conn->blocked_line, g_free);
  conn->retry_deadline = 0;
  conn_mark_pending (conn);
  if (conn->in->len > 0)
    {
      g_ptr_array_add (resumable, conn);
      loop_wake ();
    }
  conn_update_watch (conn);
}

static gint
conn_find_open_read (MqConn *conn, const char *name, gsize len)
{
  for (guint i = 0; i < conn->open_reads->len; i++)
    {
      MqOpenRead *open = g_ptr_array_index (conn->open_reads, i);

      if (open->name_len == len && memcmp (open->name, name, len) == 0)
        return (gint) i;
    }
  return -1;
}

gboolean
conn_has_open_read (MqConn *conn, const char *name, gsize len)
{
  return conn_find_open_read (conn, name, len) >= 0;
}

void
conn_add_open_read (MqConn *conn, const char *name, gsize len, guint64 seq)
{
  MqOpenRead *open = g_malloc (sizeof *open + len);

  open->seq = seq;
  open->name_len = len;
  memcpy (open->name, name, len);
  g_ptr_array_add (conn->open_reads, open);
}

gboolean
conn_take_open_read (MqConn *conn, const char *name, gsize len, guint64 *seq)
{
  gint i = conn_find_open_read (conn, name, len);

  if (i < 0)
    return FALSE;
  *seq = ((MqOpenRead *) g_ptr_array_index (conn->open_reads, i))->seq;
  g_ptr_array_remove_index_fast (conn->open_reads, i);
  return TRUE;
}
