/* dispatch.c: a connection's input, parsed and run; see dispatch.h. */
#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "command.h"
#include "dispatch.h"
#include "protocol.h"
#include "waiter.h"

#define DISPATCH_READ_SIZE (64 * 1024)

gboolean conn_log_commands;
/* Every read lands here first: most are parsed in place, and only an
 * unfinished command is kept (conn_keep_unparsed). */
static GByteArray *read_buffer;

static void dispatch_wake (MqConn *conn, gboolean retry);

/* Skips the data of a refused set as it arrives; nothing is buffered. */
static gsize
conn_skip (MqConn *conn, gsize len)
{
  gsize n = (gsize) MIN ((guint64) len, conn->swallow);

  conn->swallow -= n;
  return n;
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
    {
      /* Its data is kept until it has all come: within a budget shared by
       * every connection, or skipped as it comes. */
      if (conn_reserve_incoming (conn, line_len + block))
        {
          conn->in_want = line_len + block - len;
          return 0;
        }
      g_info ("refusing a set of %" G_GSIZE_FORMAT " bytes: the data still "
              "arriving on other connections fills the incoming memory",
              cmd->data_len);
      conn_reply (conn, "SERVER_ERROR out of memory storing object");
      conn->swallow = block;
      return line_len;
    }
  conn_release_incoming (conn);
  if (cmd->data_end > 0 && (data[cmd->data_len] != '\r'
                            || data[cmd->data_len + 1] != '\n'))
    conn_reply (conn, "CLIENT_ERROR bad data chunk");
  else
    command_execute (conn, cmd, data);
  return line_len + block;
}

/* -vv: the command line, or a binary request's opcode and key. */
static void
conn_log (MqConn *conn, const MqCommand *cmd, const char *buf, gsize len)
{
  if (cmd->form.wire == MQ_WIRE_BINARY)
    g_debug ("<%d binary 0x%02x %.*s", conn->watch.fd, cmd->form.opcode,
             (int) cmd->form.key_len, cmd->form.key);
  else
    g_debug ("<%d %.*s", conn->watch.fd,
             (int) (len - (len > 1 && buf[len - 2] == '\r' ? 2 : 1)), buf);
}

/* Runs one parsed command; returns the bytes consumed, 0 when its data
 * must be read first.  The gets it woke run once it has returned. */
static gsize
conn_run (MqConn *conn, const MqCommand *cmd, const char *buf, gsize len,
          gsize line_len)
{
  gsize used = line_len;

  if (G_UNLIKELY (conn_log_commands))
    conn_log (conn, cmd, buf, line_len);
  conn->noreply = cmd->noreply;
  conn->line = buf;
  conn->line_len = line_len;
  session_begin (&conn->session, cmd);
  if (protocol_takes_data (cmd))
    used = conn_run_set (conn, cmd, buf, len, line_len);
  else
    command_execute (conn, cmd, NULL);
  if (conn->state != MQ_CONN_BLOCKED)
    session_end (&conn->session, cmd);
  conn->noreply = FALSE;
  waiters_serve (dispatch_wake);
  return used;
}

/* A request the parser refused: answered as its protocol answers, even
 * when it said noreply. */
static void
conn_refuse (MqConn *conn, const MqCommand *cmd, const char *error)
{
  conn->noreply = FALSE;
  session_begin (&conn->session, cmd);
  conn_reply (conn, error);
  session_end (&conn->session, cmd);
}

/* A request (with its data, even skipped) has all come: the next one is
 * timed from its own first byte. */
static void
conn_request_done (MqConn *conn)
{
  if (conn->swallow == 0)
    conn->request_tick = 0;
}

/* Runs the complete commands at the start of buf, after the rest of an
 * unfinished reply; returns bytes consumed. */
static gsize
conn_process (MqConn *conn, const char *buf, gsize len)
{
  gsize done = 0;

  while (conn->state == MQ_CONN_READING)
    {
      MqCommand cmd;
      const char *error = NULL;
      gsize line_len = 0, used;

      if (conn->swallow > 0 && done < len)
        {
          done += conn_skip (conn, len - done);
          conn_request_done (conn);
          continue;
        }
      if (conn_output_full (conn))
        {
          conn_set_state (conn, MQ_CONN_PAUSED);
          break;
        }
      if (conn_reply_more (conn))
        continue;
      if (done == len)
        break;
      switch (session_parse (&conn->session, buf + done, len - done, &cmd,
                             &line_len, &error))
        {
        case MQ_PARSE_INCOMPLETE:
          return done;
        case MQ_PARSE_LINE_TOO_LONG:
        case MQ_PARSE_BAD_MAGIC:
          /* Where the next request starts is lost. */
          g_info ("closing a connection: %s", error);
          conn_refuse (conn, &cmd, error);
          conn_close_after_reply (conn);
          return len;
        case MQ_PARSE_ERROR:
          g_info ("client error: %s", error);
          conn_refuse (conn, &cmd, error);
          conn->swallow = (guint64) cmd.data_len + cmd.data_end;
          done += line_len;
          conn_request_done (conn);
          continue;
        case MQ_PARSE_COMMAND:
          used = conn_run (conn, &cmd, buf + done, len - done, line_len);
          if (used == 0)
            return done;
          done += used;
          conn_request_done (conn);
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

/* The client sent its last byte: a waiting get is forgotten with its
 * connection, anything else is answered first. */
static void
conn_peer_done (MqConn *conn)
{
  if (conn->state == MQ_CONN_BLOCKED)
    conn_close (conn);
  else
    conn_close_after_reply (conn);    /* the peer may still read */
}

/* The rest of a large request goes straight where it is parsed from: a
 * read sized for what its header announced, no copy through the read
 * buffer. */
static ssize_t
conn_read_rest (MqConn *conn)
{
  gsize have = conn->in->len;
  ssize_t n;

  g_byte_array_set_size (conn->in, have + conn->in_want);
  n = recv (conn->watch.fd, conn->in->data + have, conn->in_want,
            MSG_DONTWAIT);
  g_byte_array_set_size (conn->in, have + MAX (n, 0));
  return n;
}

static ssize_t
conn_read_fresh (MqConn *conn)
{
  if (read_buffer == NULL)
    read_buffer = g_byte_array_sized_new (DISPATCH_READ_SIZE);
  g_byte_array_set_size (read_buffer, DISPATCH_READ_SIZE);
  return recv (conn->watch.fd, read_buffer->data, DISPATCH_READ_SIZE,
               MSG_DONTWAIT);
}

/* What conn_process left of the n bytes read goes to the connection's
 * buffer.  A large request begun at the read buffer's start takes the
 * read buffer itself, and the connection's empty one takes its place: its
 * payload is not copied. */
static void
conn_keep_unparsed (MqConn *conn, gsize used, gsize n)
{
  GByteArray *empty = conn->in;

  if (used > 0 || n <= DISPATCH_READ_SIZE / 2)
    {
      g_byte_array_append (conn->in, read_buffer->data + used, n - used);
      return;
    }
  g_byte_array_set_size (read_buffer, n);
  conn->in = read_buffer;
  read_buffer = empty;
}

static void
conn_read (MqConn *conn)
{
  gboolean rest = conn->in_want > DISPATCH_READ_SIZE / 2;
  ssize_t n = rest ? conn_read_rest (conn) : conn_read_fresh (conn);

  conn->in_want = 0;
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
        conn_peer_done (conn);
      return;
    }
  if (rest)
    conn_process_buffered (conn);
  else if (conn->in->len == 0)
    {
      /* The common case: parse straight from the read buffer, keep only
       * an unfinished command. */
      gsize used = conn_process (conn, (const char *) read_buffer->data, n);

      conn_keep_unparsed (conn, used, n);
    }
  else
    {
      g_byte_array_append (conn->in, read_buffer->data, n);
      conn_process_buffered (conn);
    }
  conn->in_large |= conn->in->len > MQ_CONN_BUFFER_KEEP;
  conn_note_read (conn, (gsize) n);
}

static void
conn_on_event (MqWatch *watch, guint32 events)
{
  MqConn *conn = (MqConn *) watch;

  if (conn->state == MQ_CONN_CLOSED)
    return;
  if ((events & EPOLLRDHUP) && conn->state == MQ_CONN_BLOCKED)
    {
      conn_close (conn);          /* a waiting client that left is forgotten */
      return;
    }
  if (events & EPOLLOUT)
    conn_mark_pending (conn);
  if (events & (EPOLLHUP | EPOLLERR))
    conn_mark_pending (conn);     /* the next send tells what happened */
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR))
      && (conn->state == MQ_CONN_READING || conn->state == MQ_CONN_BLOCKED))
    conn_read (conn);
  if (conn->state != MQ_CONN_CLOSED && conn->out->len > 0)
    conn_mark_pending (conn);
  if (conn->state != MQ_CONN_CLOSED)
    conn_update_watch (conn);
}

MqConn *
dispatch_accept (GSocket *socket)
{
  return conn_new (socket, conn_on_event);
}

/* waiter.c's MqWakeFunc: conn's waiter is gone.  The get it waits with
 * runs again (retry) from its kept line, or its time is up.  The line
 * parsed once already, so it parses again the same way, which also gives
 * its reply's framing back. */
static void
dispatch_wake (MqConn *conn, gboolean retry)
{
  MqCommand cmd;
  const char *error = NULL;
  gsize used;

  conn->waiter = NULL;
  conn_set_state (conn, MQ_CONN_READING);
  if (session_parse (&conn->session, conn->blocked_line, conn->blocked_len,
                     &cmd, &used, &error) != MQ_PARSE_COMMAND)
    g_assert_not_reached ();
  conn->line = conn->blocked_line;
  conn->line_len = conn->blocked_len;
  session_begin (&conn->session, &cmd);
  if (retry)
    command_execute (conn, &cmd, NULL);
  else
    conn_reply (conn, "END");
  if (conn->state == MQ_CONN_BLOCKED)
    return;                       /* nothing after all: waits again */
  session_end (&conn->session, &cmd);
  conn_wait_done (conn);
}

void
dispatch_serve_ready (void)
{
  waiters_serve (dispatch_wake);
}

void
dispatch_expire (gint64 now_us)
{
  waiters_expire (now_us, dispatch_wake);
}

void
dispatch_resume (void)
{
  g_autoptr (GPtrArray) resumed = conns_take_resumable ();

  for (guint i = 0; resumed != NULL && i < resumed->len; i++)
    {
      MqConn *conn = g_ptr_array_index (resumed, i);

      if (conn->state == MQ_CONN_CLOSED)
        continue;
      conn_process_buffered (conn);
      if (conn->out->len > 0)
        conn_mark_pending (conn);
      conn_update_watch (conn);
    }
}
