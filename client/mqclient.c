/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqclient.c: libmqclient, see mqclient.h.
 *
 * Plain libc.  One handle = one non-blocking Unix stream socket, one input
 * buffer, one request under construction.  A request is a list of segments
 * (text built here, or the caller's payload when it is large) written with
 * sendmsg; while the socket does not take more, whatever the daemon has
 * already answered is read into the input buffer, so neither side can stall
 * on a full socket however many requests are pipelined.  Answers are then
 * parsed from the input buffer, reading more as needed.
 *
 * Only the functions of mqclient.h are exported (libtool's
 * -export-symbols-regex '^mq_'); everything else here is static.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE               /* POLLRDHUP, MSG_NOSIGNAL */
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "mqclient.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define MAX_NAME 250              /* longest queue name */
#define MAX_TIMEOUT 2147483647    /* the daemon's largest /t= */
#define MAX_REPLY_LINE 65536      /* longer answer lines are nonsense */
#define COPY_LIMIT 4096           /* smaller payloads are copied */
#define IOV_BATCH 64
#define READ_CHUNK 65536
#define ERR_SIZE 1024

/* An internal status: the socket has nothing to read just now. */
#define ST_AGAIN ((mq_status) 100)

/* A piece of the request: text in the handle's buffer (ext NULL, at off)
 * or the caller's bytes (ext). */
typedef struct {
  const char *ext;
  size_t off;
  size_t len;
} seg;

/* A reliable read opened on this handle; gen is the connection's. */
struct open_read {
  struct open_read *next;
  unsigned gen;
  char name[];
};

struct mq_client {
  char *path;
  int fd;                         /* -1: not connected */
  unsigned gen;                   /* grows each time a connection ends */

  char *in;                       /* answers read, [in_start, in_end) */
  size_t in_start, in_end, in_cap;

  char *obuf;                     /* request text */
  size_t olen, ocap;
  seg *segs;
  size_t nsegs, segcap;
  size_t out_total, out_sent;     /* bytes in the request, bytes written */
  size_t seg_idx, seg_off;        /* where writing resumes */

  char *version;
  struct open_read *open_reads;
  char err[ERR_SIZE];
};

/* ---- errors ------------------------------------------------------------ */

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

/* snprintf into a fixed buffer where cutting a long message is fine. */
static void
format_into (char *dst, size_t size, const char *format, ...)
  __attribute__ ((format (printf, 3, 4)));

static void
format_into (char *dst, size_t size, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vsnprintf (dst, size, format, args);
  va_end (args);
}

static mq_status
set_error (mq_client *c, mq_status status, const char *format, ...)
  __attribute__ ((format (printf, 3, 4)));

static mq_status
set_error (mq_client *c, mq_status status, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vsnprintf (c->err, sizeof c->err, format, args);
  va_end (args);
  return status;
}

/* Puts "<prefix>: " before the handle's current message. */
static mq_status
prefix_error (mq_client *c, mq_status status, const char *format, ...)
  __attribute__ ((format (printf, 3, 4)));

static mq_status
prefix_error (mq_client *c, mq_status status, const char *format, ...)
{
  char old[ERR_SIZE];
  char head[ERR_SIZE];
  va_list args;

  memcpy (old, c->err, sizeof old);
  va_start (args, format);
  vsnprintf (head, sizeof head, format, args);
  va_end (args);
  if (old[0] != '\0')
    format_into (c->err, sizeof c->err, "%s: %s", head, old);
  else
    format_into (c->err, sizeof c->err, "%s", head);
  return status;
}

const char *
mq_client_error (const mq_client *c)
{
  if (c == NULL)
    return "out of memory";
  return c->err;
}

/* ---- queue names and paths --------------------------------------------- */

int
mq_valid_queue_name (const char *name)
{
  size_t len;

  if (name == NULL)
    return 0;
  len = strlen (name);
  if (len == 0 || len > MAX_NAME)
    return 0;
  for (size_t i = 0; i < len; i++)
    {
      unsigned char ch = (unsigned char) name[i];

      if (ch <= 0x20 || ch == 0x7f || ch == '/')
        return 0;
    }
  return 1;
}

static mq_status
check_queue (mq_client *c, const char *queue)
{
  if (queue == NULL)
    return set_error (c, MQ_INVALID, "no queue name given");
  if (!mq_valid_queue_name (queue))
    return set_error (c, MQ_INVALID, "invalid queue name \"%.*s\": a name "
                      "is 1 to 250 bytes without spaces, control characters "
                      "or '/'", 60, queue);
  return MQ_OK;
}

size_t
mq_socket_path (char *buf, size_t size)
{
  const char *env = getenv ("MQD_SOCKET");
  const char *runtime = getenv ("XDG_RUNTIME_DIR");
  int n;

  if (env != NULL && *env != '\0')
    n = snprintf (buf, size, "%s", env);
  else if (getuid () == 0)
    n = snprintf (buf, size, "/run/mqd/mqd.sock");
  else if (runtime != NULL && *runtime != '\0')
    {
      size_t len = strlen (runtime);

      /* As g_build_filename: one separator between the parts. */
      while (len > 1 && runtime[len - 1] == '/')
        len--;
      n = snprintf (buf, size, "%.*s%smqd.sock", (int) len, runtime,
                    runtime[len - 1] == '/' ? "" : "/");
    }
  else
    n = snprintf (buf, size, "/tmp/mqd-%u/mqd.sock", (unsigned) getuid ());
  return n < 0 ? 0 : (size_t) n;
}

const char *
mq_library_version (void)
{
  return PACKAGE_VERSION;
}

const char *
mq_client_socket (const mq_client *c)
{
  return c != NULL ? c->path : NULL;
}

/* ---- the connection ---------------------------------------------------- */

static void
conn_close (mq_client *c)
{
  if (c->fd >= 0)
    {
      close (c->fd);
      c->fd = -1;
      c->gen++;
    }
}

/* The connection broke (err is an errno, 0 for end of file).  What was
 * already read stays in the input buffer for the caller to parse. */
static mq_status
conn_lost (mq_client *c, int err)
{
  if (err == 0 || err == ECONNRESET || err == EPIPE)
    set_error (c, MQ_IO, "the daemon at %s closed the connection", c->path);
  else
    set_error (c, MQ_IO, "connection to %s broke: %s", c->path,
               strerror (err));
  conn_close (c);
  return MQ_IO;
}

static mq_status
protocol_error (mq_client *c, const char *format, ...)
  __attribute__ ((format (printf, 2, 3)));

static mq_status
protocol_error (mq_client *c, const char *format, ...)
{
  char what[ERR_SIZE];
  va_list args;

  va_start (args, format);
  vsnprintf (what, sizeof what, format, args);
  va_end (args);
  set_error (c, MQ_PROTOCOL, "unexpected answer from the daemon at %s: %s",
             c->path, what);
  conn_close (c);
  return MQ_PROTOCOL;
}

/* Waits until fd is ready for events; restarts after signals. */
static int
wait_fd (int fd, short events, short *revents)
{
  struct pollfd p = { .fd = fd, .events = events };

  for (;;)
    {
      int r = poll (&p, 1, -1);

      if (r > 0)
        {
          *revents = p.revents;
          return 0;
        }
      if (r < 0 && errno != EINTR)
        return -1;
    }
}

static mq_status
in_reserve (mq_client *c, size_t want)
{
  size_t cap;
  char *bigger;

  if (c->in_start == c->in_end)
    c->in_start = c->in_end = 0;
  if (c->in_cap - c->in_end >= want)
    return MQ_OK;
  if (c->in_start > 0)
    {
      memmove (c->in, c->in + c->in_start, c->in_end - c->in_start);
      c->in_end -= c->in_start;
      c->in_start = 0;
      if (c->in_cap - c->in_end >= want)
        return MQ_OK;
    }
  cap = c->in_cap > 0 ? c->in_cap : READ_CHUNK;
  while (cap - c->in_end < want)
    {
      if (cap > SIZE_MAX / 2)
        return set_error (c, MQ_NOMEM, "out of memory for the answers");
      cap *= 2;
    }
  bigger = realloc (c->in, cap);
  if (bigger == NULL)
    return set_error (c, MQ_NOMEM, "out of memory for the answers");
  c->in = bigger;
  c->in_cap = cap;
  return MQ_OK;
}

/* Reads what the socket has into the input buffer.  block: wait for
 * something; else ST_AGAIN when there is nothing. */
static mq_status
in_recv (mq_client *c, int block)
{
  mq_status st;

  if (c->fd < 0)
    return MQ_IO;                 /* lost earlier: its message is set */
  st = in_reserve (c, READ_CHUNK);
  if (st != MQ_OK)
    {
      conn_close (c);
      return st;
    }
  for (;;)
    {
      ssize_t n = recv (c->fd, c->in + c->in_end, c->in_cap - c->in_end,
                        MSG_DONTWAIT);
      short revents;

      if (n > 0)
        {
          c->in_end += (size_t) n;
          return MQ_OK;
        }
      if (n == 0)
        return conn_lost (c, 0);
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return conn_lost (c, errno);
      if (!block)
        return ST_AGAIN;
      if (wait_fd (c->fd, POLLIN, &revents) < 0)
        return conn_lost (c, errno);
    }
}

/* The next answer line, without its "\r\n", NUL-terminated in place.  Valid
 * until the input buffer is read into again. */
static mq_status
read_line (mq_client *c, char **line, size_t *len)
{
  size_t searched = 0;

  for (;;)
    {
      size_t avail = c->in_end - c->in_start;
      size_t scan = avail < MAX_REPLY_LINE ? avail : MAX_REPLY_LINE;
      char *start = c->in + c->in_start;
      char *nl = scan > searched
        ? memchr (start + searched, '\n', scan - searched) : NULL;
      mq_status st;

      if (nl != NULL)
        {
          size_t n = (size_t) (nl - start);

          *nl = '\0';
          if (n > 0 && start[n - 1] == '\r')
            start[--n] = '\0';
          c->in_start += (size_t) (nl - start) + 1;
          *line = start;
          *len = n;
          return MQ_OK;
        }
      searched = scan;
      if (avail >= MAX_REPLY_LINE)
        return protocol_error (c, "an answer line longer than %d bytes",
                               MAX_REPLY_LINE);
      st = in_recv (c, 1);
      if (st != MQ_OK)
        return st;
    }
}

/* Exactly n bytes of the answer into dst. */
static mq_status
read_exact (mq_client *c, void *dst, size_t n)
{
  char *out = dst;
  size_t avail = c->in_end - c->in_start;
  size_t take = avail < n ? avail : n;

  memcpy (out, c->in + c->in_start, take);
  c->in_start += take;
  out += take;
  n -= take;
  while (n > 0)
    {
      ssize_t r;
      short revents;

      if (c->fd < 0)
        return MQ_IO;
      /* Large blocks go straight to their place, not through the buffer. */
      r = recv (c->fd, out, n, MSG_DONTWAIT);
      if (r > 0)
        {
          out += r;
          n -= (size_t) r;
          continue;
        }
      if (r == 0)
        return conn_lost (c, 0);
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return conn_lost (c, errno);
      if (wait_fd (c->fd, POLLIN, &revents) < 0)
        return conn_lost (c, errno);
    }
  return MQ_OK;
}

/* ---- the request ------------------------------------------------------- */

static void
out_reset (mq_client *c)
{
  c->olen = 0;
  c->nsegs = 0;
  c->out_total = 0;
  c->out_sent = 0;
  c->seg_idx = 0;
  c->seg_off = 0;
}

/* Back to the start of the same request, to send it on a new connection. */
static void
out_rewind (mq_client *c)
{
  c->out_sent = 0;
  c->seg_idx = 0;
  c->seg_off = 0;
}

static mq_status
seg_add (mq_client *c, const char *ext, size_t off, size_t len)
{
  if (c->nsegs == c->segcap)
    {
      size_t cap = c->segcap > 0 ? c->segcap * 2 : 16;
      seg *bigger = realloc (c->segs, cap * sizeof *bigger);

      if (bigger == NULL)
        return set_error (c, MQ_NOMEM, "out of memory for the request");
      c->segs = bigger;
      c->segcap = cap;
    }
  c->segs[c->nsegs++] = (seg) { ext, off, len };
  c->out_total += len;
  return MQ_OK;
}

static mq_status
out_text (mq_client *c, const void *text, size_t len)
{
  seg *last = c->nsegs > 0 ? &c->segs[c->nsegs - 1] : NULL;

  if (len == 0)
    return MQ_OK;
  if (c->ocap - c->olen < len)
    {
      size_t cap = c->ocap > 0 ? c->ocap : 4096;
      char *bigger;

      while (cap - c->olen < len)
        {
          if (cap > SIZE_MAX / 2)
            return set_error (c, MQ_NOMEM, "out of memory for the request");
          cap *= 2;
        }
      bigger = realloc (c->obuf, cap);
      if (bigger == NULL)
        return set_error (c, MQ_NOMEM, "out of memory for the request");
      c->obuf = bigger;
      c->ocap = cap;
    }
  memcpy (c->obuf + c->olen, text, len);
  if (last != NULL && last->ext == NULL && last->off + last->len == c->olen)
    {
      last->len += len;
      c->out_total += len;
    }
  else if (seg_add (c, NULL, c->olen, len) != MQ_OK)
    return MQ_NOMEM;
  c->olen += len;
  return MQ_OK;
}

static mq_status
out_printf (mq_client *c, const char *format, ...)
  __attribute__ ((format (printf, 2, 3)));

static mq_status
out_printf (mq_client *c, const char *format, ...)
{
  char line[512];
  va_list args;
  int n;

  va_start (args, format);
  n = vsnprintf (line, sizeof line, format, args);
  va_end (args);
  if (n < 0 || (size_t) n >= sizeof line)
    return set_error (c, MQ_INVALID, "request line too long");
  return out_text (c, line, (size_t) n);
}

/* A payload: copied when small, else written from the caller's memory. */
static mq_status
out_data (mq_client *c, const void *data, size_t len)
{
  if (len < COPY_LIMIT)
    return out_text (c, data, len);
  return seg_add (c, data, 0, len);
}

static void
out_advance (mq_client *c, size_t n)
{
  c->out_sent += n;
  while (n > 0)
    {
      size_t left = c->segs[c->seg_idx].len - c->seg_off;

      if (n < left)
        {
          c->seg_off += n;
          return;
        }
      n -= left;
      c->seg_idx++;
      c->seg_off = 0;
    }
}

/* Writes the request.  While the socket is full, reads answers into the
 * input buffer.  On failure the connection is closed, c->out_sent says how
 * much went out, and the answers read so far stay buffered. */
static mq_status
out_send (mq_client *c)
{
  while (c->out_sent < c->out_total)
    {
      struct iovec iov[IOV_BATCH];
      struct msghdr mh;
      size_t idx = c->seg_idx;
      size_t off = c->seg_off;
      int n = 0;
      ssize_t w;

      if (c->fd < 0)
        return MQ_IO;
      while (n < IOV_BATCH && idx < c->nsegs)
        {
          const seg *s = &c->segs[idx];
          const char *base = s->ext != NULL ? s->ext : c->obuf + s->off;

          iov[n].iov_base = (void *) (base + off);
          iov[n].iov_len = s->len - off;
          n++;
          idx++;
          off = 0;
        }
      memset (&mh, 0, sizeof mh);
      mh.msg_iov = iov;
      mh.msg_iovlen = (size_t) n;
      w = sendmsg (c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0)
        {
          out_advance (c, (size_t) w);
          continue;
        }
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          short revents;

          if (wait_fd (c->fd, POLLOUT | POLLIN, &revents) < 0)
            return conn_lost (c, errno);
          if (revents & (POLLIN | POLLHUP | POLLERR))
            {
              mq_status st = in_recv (c, 0);

              if (st != MQ_OK && st != ST_AGAIN)
                return st;
            }
          continue;
        }
      return conn_lost (c, w < 0 ? errno : 0);
    }
  return MQ_OK;
}

/* Sends a small request on a fresh connection: the greeting. */
static int
send_small (int fd, const char *text, size_t len)
{
  while (len > 0)
    {
      ssize_t w = send (fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      short revents;

      if (w > 0)
        {
          text += w;
          len -= (size_t) w;
          continue;
        }
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (wait_fd (fd, POLLOUT, &revents) < 0)
            return errno;
          continue;
        }
      return w < 0 ? errno : EPIPE;
    }
  return 0;
}

static mq_status
set_version (mq_client *c, const char *version)
{
  char *copy = strdup (version);

  if (copy == NULL)
    return set_error (c, MQ_NOMEM, "out of memory");
  free (c->version);
  c->version = copy;
  return MQ_OK;
}

/* Connects and asks the daemon's version: a daemon that refuses the
 * connection (too many, access denied) says so at once. */
static mq_status
conn_open (mq_client *c)
{
  struct sockaddr_un addr;
  size_t len = strlen (c->path);
  char *line = NULL;
  size_t line_len;
  int send_err;
  int fd;
  mq_status st;

  c->in_start = c->in_end = 0;
  if (len == 0 || len >= sizeof addr.sun_path)
    return set_error (c, MQ_INVALID, "socket path \"%s\" is %s", c->path,
                      len == 0 ? "empty" : "too long for a Unix socket");
  memset (&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy (addr.sun_path, c->path, len + 1);

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return set_error (c, MQ_CONNECT, "cannot create a socket: %s",
                      strerror (errno));
  /* A Unix-socket connect interrupted by a signal can simply be redone. */
  while (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      if (errno == EINTR)
        continue;
      if (errno == EISCONN)
        break;
      st = set_error (c, MQ_CONNECT, "cannot connect to %s: %s", c->path,
                      strerror (errno));
      close (fd);
      return st;
    }
  if (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK) < 0)
    {
      st = set_error (c, MQ_CONNECT, "cannot connect to %s: %s", c->path,
                      strerror (errno));
      close (fd);
      return st;
    }
  c->fd = fd;

  /* A refused connection gets one line and is closed: read it even when
   * the greeting could not be written. */
  send_err = send_small (fd, "version\r\n", 9);
  st = read_line (c, &line, &line_len);
  if (st == MQ_OK && strncmp (line, "VERSION ", 8) == 0)
    return set_version (c, line + 8);
  if (st == MQ_OK && strncmp (line, "SERVER_ERROR ", 13) == 0)
    st = set_error (c, MQ_CONNECT, "the daemon at %s refused the "
                    "connection: %s", c->path, line + 13);
  else if (st == MQ_OK)
    st = set_error (c, MQ_CONNECT, "%s does not answer as mqd: \"%.100s\"",
                    c->path, line);
  else if (st == MQ_IO && send_err != 0)
    st = set_error (c, MQ_CONNECT, "cannot talk to %s: %s", c->path,
                    strerror (send_err));
  else
    st = prefix_error (c, MQ_CONNECT, "cannot talk to %s", c->path);
  conn_close (c);
  return st;
}

/* Starts a call: clears the error, and makes sure there is a connection.
 * A connection the daemon closed (it stopped or restarted) is noticed here
 * and replaced before anything is sent on it. */
/* Large buffers of a big request or answer are not kept for ever. */
#define KEEP_BUFFER (4u << 20)

static void
trim_buffers (mq_client *c)
{
  if (c->in_cap > KEEP_BUFFER && c->in_start == c->in_end)
    {
      free (c->in);
      c->in = NULL;
      c->in_cap = c->in_start = c->in_end = 0;
    }
  if (c->ocap > KEEP_BUFFER)
    {
      free (c->obuf);
      c->obuf = NULL;
      c->ocap = 0;
    }
  if (c->segcap * sizeof *c->segs > KEEP_BUFFER)
    {
      free (c->segs);
      c->segs = NULL;
      c->segcap = 0;
    }
}

static mq_status
call_begin (mq_client *c)
{
  c->err[0] = '\0';
  if (c->fd >= 0)
    {
      struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLRDHUP };
      int r;

      /* The daemon never speaks unasked: anything to read (its end of
       * file, or an answer nobody waited for) means the connection is
       * over or out of step. */
      do
        r = poll (&p, 1, 0);
      while (r < 0 && errno == EINTR);
      if (r != 0 || c->in_start != c->in_end)
        conn_close (c);
    }
  if (c->fd < 0)
    c->in_start = c->in_end = 0;
  out_reset (c);
  trim_buffers (c);
  if (c->fd < 0)
    return conn_open (c);
  return MQ_OK;
}

/* Sends the request.  retry: when not one byte went out, connect again and
 * send it once more (only for requests that may be repeated). */
static mq_status
send_request (mq_client *c, int retry)
{
  mq_status st = out_send (c);

  if (st == MQ_IO && retry && c->out_sent == 0)
    {
      st = conn_open (c);
      if (st != MQ_OK)
        return st;
      out_rewind (c);
      st = out_send (c);
    }
  return st;
}

/* Error answers: ERROR, CLIENT_ERROR <text>, SERVER_ERROR <text>.
 * MQ_OK when line is none of them. */
static mq_status
error_answer (mq_client *c, const char *line, const char *what)
{
  if (strcmp (line, "ERROR") == 0)
    {
      set_error (c, MQ_PROTOCOL, "%s: the daemon at %s does not know the "
                 "request (ERROR)", what, c->path);
      conn_close (c);
      return MQ_PROTOCOL;
    }
  if (strncmp (line, "CLIENT_ERROR ", 13) == 0)
    return set_error (c, MQ_INVALID, "%s: the daemon refused the request: "
                      "%s", what, line + 13);
  if (strcmp (line, "SERVER_ERROR object too large for cache") == 0)
    return set_error (c, MQ_TOO_LARGE, "%s: the daemon says: object too "
                      "large for cache", what);
  if (strncmp (line, "SERVER_ERROR ", 13) == 0)
    return set_error (c, MQ_SERVER_ERROR, "%s: the daemon says: %s", what,
                      line + 13);
  return MQ_OK;
}

/* ---- handles ----------------------------------------------------------- */

mq_status
mq_connect (const char *socket_path, mq_client **client)
{
  mq_client *c;

  if (client == NULL)
    return MQ_INVALID;
  *client = NULL;
  c = calloc (1, sizeof *c);
  if (c == NULL)
    return MQ_NOMEM;
  c->fd = -1;
  if (socket_path != NULL)
    c->path = strdup (socket_path);
  else
    {
      size_t n = mq_socket_path (NULL, 0);

      c->path = malloc (n + 1);
      if (c->path != NULL)
        mq_socket_path (c->path, n + 1);
    }
  if (c->path == NULL)
    {
      free (c);
      return MQ_NOMEM;
    }
  *client = c;
  return conn_open (c);
}

void
mq_disconnect (mq_client *c)
{
  if (c == NULL)
    return;
  conn_close (c);
  c->in_start = c->in_end = 0;
}

void
mq_client_free (mq_client *c)
{
  if (c == NULL)
    return;
  conn_close (c);
  while (c->open_reads != NULL)
    {
      struct open_read *next = c->open_reads->next;

      free (c->open_reads);
      c->open_reads = next;
    }
  free (c->path);
  free (c->in);
  free (c->obuf);
  free (c->segs);
  free (c->version);
  free (c);
}

/* ---- push -------------------------------------------------------------- */

/* The outcome of a push that got no answer: was all of it sent? */
static mq_status
push_unanswered (size_t end, size_t sent)
{
  return end <= sent ? MQ_MAYBE_STORED : MQ_IO;
}

static mq_status
push_answer (mq_client *c, const char *line, const char *what)
{
  mq_status st;

  if (strcmp (line, "STORED") == 0)
    return MQ_OK;
  if (strcmp (line, "NOT_STORED") == 0)
    return set_error (c, MQ_NOT_STORED, "%s: not stored: the queue is full",
                      what);
  st = error_answer (c, line, what);
  if (st != MQ_OK)
    return st;
  return protocol_error (c, "\"%.100s\" in answer to a set", line);
}

mq_status
mq_push_many (mq_client *c, const char *queue, const mq_buffer *messages,
              size_t count, uint32_t flags, int64_t exptime,
              mq_status *results, size_t *stored)
{
  char first_err[ERR_SIZE] = "";
  char lost_reason[ERR_SIZE] = "";
  mq_status first = MQ_OK;
  size_t *ends = NULL;
  size_t n_stored = 0;
  int lost = 0;
  char what[300];
  mq_status st;

  if (stored != NULL)
    *stored = 0;
  if (c == NULL)
    return MQ_INVALID;
  c->err[0] = '\0';
  st = check_queue (c, queue);
  if (st == MQ_OK && messages == NULL && count > 0)
    st = set_error (c, MQ_INVALID, "push: no messages given");
  for (size_t i = 0; st == MQ_OK && i < count; i++)
    if (messages[i].data == NULL && messages[i].len > 0)
      st = set_error (c, MQ_INVALID, "push: message %zu has no data", i);
  if (st == MQ_OK && count > 0)
    {
      ends = malloc (count * sizeof *ends);
      if (ends == NULL)
        st = set_error (c, MQ_NOMEM, "out of memory");
    }
  if (st == MQ_OK && count > 0)
    st = call_begin (c);
  if (st != MQ_OK || count == 0)
    {
      if (results != NULL)
        for (size_t i = 0; i < count; i++)
          results[i] = st;
      free (ends);
      return st;
    }

  format_into (what, sizeof what, "push to %s", queue);
  for (size_t i = 0; i < count && st == MQ_OK; i++)
    {
      st = out_printf (c, "set %s %" PRIu32 " %" PRId64 " %zu\r\n", queue,
                       flags, exptime, messages[i].len);
      if (st == MQ_OK)
        st = out_data (c, messages[i].data, messages[i].len);
      if (st == MQ_OK)
        st = out_text (c, "\r\n", 2);
      ends[i] = c->out_total;
    }
  if (st != MQ_OK)
    {
      if (results != NULL)
        for (size_t i = 0; i < count; i++)
          results[i] = st;
      free (ends);
      return st;
    }

  /* Not repeated on a new connection: see mqclient.h. */
  if (send_request (c, 0) != MQ_OK)
    {
      lost = 1;
      format_into (lost_reason, sizeof lost_reason, "%s", c->err);
    }
  for (size_t i = 0; i < count; i++)
    {
      mq_status r = MQ_IO;

      /* Answers read before the connection broke still count. */
      if (!lost || c->in_start != c->in_end)
        {
          char *line;
          size_t len;

          r = read_line (c, &line, &len);
          if (r == MQ_OK)
            r = push_answer (c, line, what);
          else if (!lost)
            {
              lost = 1;
              format_into (lost_reason, sizeof lost_reason, "%s", c->err);
            }
          if (c->fd < 0 && !lost)
            {
              /* A nonsense answer (or ERROR) closed the connection. */
              lost = 1;
              format_into (lost_reason, sizeof lost_reason, "the "
                           "connection was closed after an unexpected "
                           "answer");
            }
        }
      if (lost && (r == MQ_IO || r == MQ_NOMEM || r == MQ_PROTOCOL)
          && (c->fd < 0 || c->in_start == c->in_end))
        {
          r = push_unanswered (ends[i], c->out_sent);
          if (r == MQ_MAYBE_STORED)
            set_error (c, r, "%s: no answer after the message was sent, it "
                       "may or may not be stored (not sent again): %s",
                       what, lost_reason);
          else
            set_error (c, r, "%s: the message was not (completely) sent, "
                       "it is not stored: %s", what, lost_reason);
        }
      if (results != NULL)
        results[i] = r;
      if (r == MQ_OK)
        n_stored++;
      else if (first == MQ_OK)
        {
          first = r;
          if (count > 1)
            format_into (first_err, sizeof first_err,
                         "message %zu of %zu: %s", i + 1, count, c->err);
          else
            format_into (first_err, sizeof first_err, "%s", c->err);
        }
    }
  free (ends);
  if (lost)
    mq_disconnect (c);
  if (stored != NULL)
    *stored = n_stored;
  memcpy (c->err, first_err, sizeof c->err);
  return first;
}

mq_status
mq_push (mq_client *c, const char *queue, const void *data, size_t len,
         uint32_t flags, int64_t exptime)
{
  mq_buffer one = { data, len };

  return mq_push_many (c, queue, &one, 1, flags, exptime, NULL, NULL);
}

/* ---- get --------------------------------------------------------------- */

void
mq_message_free (mq_message *message)
{
  free (message);
}

static struct open_read **
open_read_find (mq_client *c, const char *queue)
{
  struct open_read **p;

  for (p = &c->open_reads; *p != NULL; p = &(*p)->next)
    if (strcmp ((*p)->name, queue) == 0)
      return p;
  return NULL;
}

static void
open_read_forget (mq_client *c, const char *queue)
{
  struct open_read **p = open_read_find (c, queue);

  if (p != NULL)
    {
      struct open_read *gone = *p;

      *p = gone->next;
      free (gone);
    }
}

static mq_status
open_read_add (mq_client *c, const char *queue)
{
  size_t len = strlen (queue);
  struct open_read *r;

  open_read_forget (c, queue);
  r = malloc (sizeof *r + len + 1);
  if (r == NULL)
    return set_error (c, MQ_NOMEM, "out of memory");
  r->gen = c->gen;
  memcpy (r->name, queue, len + 1);
  r->next = c->open_reads;
  c->open_reads = r;
  return MQ_OK;
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

/* Parses "VALUE <key> <flags> <bytes>[ <cas>]" and reads its block. */
static mq_status
read_value (mq_client *c, char *line, const char *queue, const char *what,
            mq_message **out)
{
  char *key = line + 6;
  char *space = strchr (key, ' ');
  size_t qlen = strlen (queue);
  uint64_t flags, bytes;
  char *end;
  mq_message *m;
  char crlf[2];
  mq_status st;

  *out = NULL;
  if (space == NULL)
    return protocol_error (c, "\"%.100s\"", line);
  /* The daemon echoes the key as sent, options included. */
  if ((size_t) (space - key) < qlen || memcmp (key, queue, qlen) != 0
      || (key[qlen] != ' ' && key[qlen] != '/'))
    return protocol_error (c, "a message of another queue: \"%.100s\"", line);
  if (!parse_u64 (space + 1, &end, &flags) || *end != ' '
      || flags > UINT32_MAX || !parse_u64 (end + 1, &end, &bytes)
      || (*end != '\0' && *end != ' ')
      || bytes > SIZE_MAX - sizeof *m - 1)
    return protocol_error (c, "\"%.100s\"", line);

  m = malloc (sizeof *m + (size_t) bytes + 1);
  if (m == NULL)
    {
      /* The daemon already let go of it; the rest of the answer cannot be
       * skipped reliably without reading it, so drop the connection. */
      conn_close (c);
      return set_error (c, MQ_NOMEM, "%s: out of memory for a message of "
                        "%" PRIu64 " bytes: the message is lost", what,
                        bytes);
    }
  m->data = m + 1;
  m->len = (size_t) bytes;
  m->flags = (uint32_t) flags;
  st = read_exact (c, m->data, m->len);
  if (st == MQ_OK)
    st = read_exact (c, crlf, 2);
  if (st != MQ_OK)
    {
      free (m);
      return st;
    }
  if (crlf[0] != '\r' || crlf[1] != '\n')
    {
      free (m);
      return protocol_error (c, "a data block not followed by \\r\\n");
    }
  ((char *) m->data)[m->len] = '\0';
  *out = m;
  return MQ_OK;
}

/* The answer to one get line: VALUE blocks then END, or an error line. */
static mq_status
read_get_answer (mq_client *c, const char *queue, const char *what,
                 mq_message **msgs, size_t max, size_t *count)
{
  for (;;)
    {
      char *line;
      size_t len;
      mq_status st = read_line (c, &line, &len);

      if (st != MQ_OK)
        return st;
      if (strcmp (line, "END") == 0)
        return MQ_OK;
      if (strncmp (line, "VALUE ", 6) == 0)
        {
          mq_message *m;

          if (*count >= max)
            return protocol_error (c, "more messages than asked for");
          st = read_value (c, line, queue, what, &m);
          if (st != MQ_OK)
            return st;
          msgs[(*count)++] = m;
          continue;
        }
      st = error_answer (c, line, what);
      if (st != MQ_OK)
        return st;                /* an error ends the answer: no END */
      return protocol_error (c, "\"%.100s\" in answer to a get", line);
    }
}

static size_t
option_suffix (char *buf, size_t size, unsigned options, int timeout_ms)
{
  size_t n = 0;

  buf[0] = '\0';
  /* close/abort come first on the daemon's side whatever the order. */
  if (options & MQ_READ_CLOSE)
    n += (size_t) snprintf (buf + n, size - n, "/close");
  if (options & MQ_READ_ABORT)
    n += (size_t) snprintf (buf + n, size - n, "/abort");
  if (options & MQ_READ_OPEN)
    n += (size_t) snprintf (buf + n, size - n, "/open");
  if (options & MQ_READ_PEEK)
    n += (size_t) snprintf (buf + n, size - n, "/peek");
  if (timeout_ms > 0)
    n += (size_t) snprintf (buf + n, size - n, "/t=%d", timeout_ms);
  return n;
}

/* One round trip of gets: max get lines of queue, the first with the
 * options.  One line per message, since the daemon gives at most one
 * message of a queue per line; the lines go out together.  Nothing is
 * repeated once sent; retry: repeat when nothing went out. */
static mq_status
get_round (mq_client *c, const char *queue, unsigned options, int timeout_ms,
           int retry, const char *what, mq_message **msgs, size_t max,
           size_t *count)
{
  char suffix[64];
  size_t qlen = strlen (queue);
  size_t suffix_len = option_suffix (suffix, sizeof suffix, options,
                                     timeout_ms);
  mq_status first = MQ_OK;
  mq_status st = MQ_OK;

  for (size_t l = 0; st == MQ_OK && l < max; l++)
    {
      st = out_text (c, "get ", 4);
      if (st == MQ_OK)
        st = out_text (c, queue, qlen);
      if (st == MQ_OK && l == 0)
        st = out_text (c, suffix, suffix_len);
      if (st == MQ_OK)
        st = out_text (c, "\r\n", 2);
    }
  if (st != MQ_OK)
    return st;

  st = send_request (c, retry);
  if (st != MQ_OK && c->out_sent == 0)
    return prefix_error (c, st == MQ_IO ? MQ_IO : st, "%s: not sent", what);
  /* Even when sending failed part way, what was answered is read: those
   * messages have left their queue. */
  for (size_t l = 0; l < max; l++)
    {
      if (c->fd < 0 && c->in_start == c->in_end)
        {
          st = MQ_IO;
          break;
        }
      st = read_get_answer (c, queue, what, msgs, max, count);
      if (st == MQ_IO || st == MQ_PROTOCOL || st == MQ_NOMEM)
        break;
      if (st != MQ_OK && first == MQ_OK)
        first = st;               /* the connection is still in step */
    }
  if (st == MQ_IO)
    {
      if (c->fd >= 0)
        conn_close (c);
      return prefix_error (c, MQ_IO, "%s: the connection broke before the "
                           "whole answer came%s", what,
                           options & (MQ_READ_PEEK | MQ_READ_OPEN)
                           ? "" : " (a message taken meanwhile is lost)");
    }
  if (st == MQ_PROTOCOL || st == MQ_NOMEM)
    return st;
  if (first != MQ_OK)
    return first;
  return *count > 0 ? MQ_OK : MQ_EMPTY;
}

static mq_status
check_timeout (mq_client *c, int timeout_ms)
{
  if (timeout_ms < MQ_WAIT_FOREVER)
    return set_error (c, MQ_INVALID, "invalid timeout %d ms", timeout_ms);
  return MQ_OK;
}

mq_status
mq_get (mq_client *c, const char *queue, unsigned options, int timeout_ms,
        mq_message **message)
{
  unsigned ends = options & (MQ_READ_CLOSE | MQ_READ_ABORT);
  int hands_out = (options & (MQ_READ_OPEN | MQ_READ_PEEK)) || ends == 0;
  const char *verb;
  char what[300];
  mq_status st;

  if (message != NULL)
    *message = NULL;
  if (c == NULL)
    return MQ_INVALID;
  c->err[0] = '\0';
  st = check_queue (c, queue);
  if (st != MQ_OK)
    return st;
  if (options & ~(MQ_READ_OPEN | MQ_READ_CLOSE | MQ_READ_ABORT
                  | MQ_READ_PEEK))
    return set_error (c, MQ_INVALID, "unknown get options 0x%x", options);
  if (ends == (MQ_READ_CLOSE | MQ_READ_ABORT))
    return set_error (c, MQ_INVALID, "a read cannot be both acked and "
                      "aborted");
  if (hands_out && message == NULL)
    return set_error (c, MQ_INVALID, "no place for the message given");
  st = check_timeout (c, timeout_ms);
  if (st != MQ_OK)
    return st;

  verb = options & MQ_READ_CLOSE ? "ack of"
    : options & MQ_READ_ABORT ? "abort of"
    : options & MQ_READ_PEEK ? "peek at"
    : options & MQ_READ_OPEN ? "reliable pop from" : "pop from";
  format_into (what, sizeof what, "%s %s", verb, queue);
  st = call_begin (c);
  if (st != MQ_OK)
    return prefix_error (c, st, "%s", what);
  if (ends)
    {
      struct open_read **p = open_read_find (c, queue);

      if (p == NULL)
        return set_error (c, MQ_NOT_FOUND, "%s: no reliable read of %s is "
                          "open on this connection", what, queue);
      if ((*p)->gen != c->gen)
        {
          open_read_forget (c, queue);
          return set_error (c, MQ_NOT_FOUND, "%s: the connection to the "
                            "daemon ended since the read was opened: the "
                            "daemon gave the message back to the queue, and "
                            "it will be delivered again", what);
        }
    }

  for (;;)
    {
      int forever = timeout_ms == MQ_WAIT_FOREVER && hands_out;
      int wait = forever ? MAX_TIMEOUT : timeout_ms;
      mq_message *m = NULL;
      size_t got = 0;

      /* A broken connection has given the open read back: it cannot be
       * acked on a new one, so an ack is not repeated. */
      st = get_round (c, queue, options, hands_out ? wait : 0, !ends, what,
                      &m, 1, &got);
      if (ends)
        open_read_forget (c, queue);
      if (got > 0 && !hands_out)
        {
          /* A message nobody asked for: the daemon is out of step. */
          mq_message_free (m);
          return protocol_error (c, "a message in answer to an ack/abort");
        }
      if (got > 0)
        {
          if (options & MQ_READ_OPEN && !(options & MQ_READ_PEEK)
              && open_read_add (c, queue) != MQ_OK)
            {
              mq_message_free (m);
              return MQ_NOMEM;
            }
          *message = m;
          return st;
        }
      if (!hands_out && st == MQ_EMPTY)
        return MQ_OK;
      if (st != MQ_EMPTY || !forever)
        return st;
      /* Waiting on: the read, if any, is already closed. */
      options &= ~(MQ_READ_CLOSE | MQ_READ_ABORT);
      ends = 0;
      st = call_begin (c);
      if (st != MQ_OK)
        return prefix_error (c, st, "%s", what);
    }
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
mq_pop_many (mq_client *c, const char *queue, int timeout_ms,
             mq_message **messages, size_t max, size_t *count)
{
  char what[300];
  mq_status st;

  if (count != NULL)
    *count = 0;
  if (c == NULL)
    return MQ_INVALID;
  c->err[0] = '\0';
  st = check_queue (c, queue);
  if (st != MQ_OK)
    return st;
  if (count == NULL || (messages == NULL && max > 0))
    return set_error (c, MQ_INVALID, "no place for the messages given");
  st = check_timeout (c, timeout_ms);
  if (st != MQ_OK)
    return st;
  if (max == 0)
    return MQ_EMPTY;
  format_into (what, sizeof what, "pop from %s", queue);
  for (;;)
    {
      st = call_begin (c);
      if (st != MQ_OK)
        return prefix_error (c, st, "%s", what);
      st = get_round (c, queue, 0, timeout_ms == MQ_WAIT_FOREVER
                      ? MAX_TIMEOUT : timeout_ms, 1, what, messages, max,
                      count);
      if (st != MQ_EMPTY || timeout_ms != MQ_WAIT_FOREVER)
        return st;
    }
}

/* ---- simple commands --------------------------------------------------- */

/* Sends the request built and reads its one-line answer. */
static mq_status
one_line (mq_client *c, int retry, const char *what, char **line)
{
  size_t len;
  mq_status st = send_request (c, retry);

  if (st != MQ_OK)
    {
      if (c->out_sent == 0)
        return prefix_error (c, st, "%s: not sent", what);
      if (c->in_start == c->in_end)
        return prefix_error (c, st, "%s: no answer came, it may or may not "
                             "have been done", what);
    }
  st = read_line (c, line, &len);
  if (st == MQ_IO)
    return prefix_error (c, st, "%s: no answer came, it may or may not have "
                         "been done", what);
  return st;
}

static mq_status
simple_command (mq_client *c, const char *queue, const char *command,
                const char *ok, const char *what, int retry)
{
  char *line = NULL;
  mq_status st;

  if (c == NULL)
    return MQ_INVALID;
  c->err[0] = '\0';
  if (queue != NULL)
    {
      st = check_queue (c, queue);
      if (st != MQ_OK)
        return st;
    }
  st = call_begin (c);
  if (st != MQ_OK)
    return prefix_error (c, st, "%s", what);
  st = queue != NULL ? out_printf (c, "%s %s\r\n", command, queue)
    : out_printf (c, "%s\r\n", command);
  if (st != MQ_OK)
    return st;
  st = one_line (c, retry, what, &line);
  if (st != MQ_OK)
    return st;
  if (strcmp (line, ok) == 0)
    return MQ_OK;
  if (strcmp (line, "NOT_FOUND") == 0)
    return set_error (c, MQ_NOT_FOUND, "%s: no such queue", what);
  st = error_answer (c, line, what);
  if (st != MQ_OK)
    return st;
  return protocol_error (c, "\"%.100s\" in answer to %s", line, command);
}

mq_status
mq_delete (mq_client *c, const char *queue)
{
  char what[300];

  format_into (what, sizeof what, "delete %s", queue ? queue : "(null)");
  return simple_command (c, queue != NULL ? queue : "", "delete", "DELETED",
                         what, 0);
}

mq_status
mq_flush (mq_client *c, const char *queue)
{
  char what[300];

  format_into (what, sizeof what, "flush %s", queue ? queue : "(null)");
  return simple_command (c, queue != NULL ? queue : "", "flush", "OK", what,
                         0);
}

mq_status
mq_flush_all (mq_client *c)
{
  return simple_command (c, NULL, "flush_all", "OK", "flush_all", 0);
}

mq_status
mq_server_shutdown (mq_client *c)
{
  mq_status st = simple_command (c, NULL, "shutdown", "OK", "shutdown", 0);

  if (st == MQ_OK)
    mq_disconnect (c);            /* the daemon closes it anyway */
  return st;
}

mq_status
mq_version (mq_client *c, const char **version)
{
  char *line = NULL;
  mq_status st;

  if (version != NULL)
    *version = NULL;
  if (c == NULL)
    return MQ_INVALID;
  c->err[0] = '\0';
  if (version == NULL)
    return set_error (c, MQ_INVALID, "no place for the version given");
  st = call_begin (c);
  if (st != MQ_OK)
    return prefix_error (c, st, "version");
  st = out_text (c, "version\r\n", 9);
  if (st == MQ_OK)
    st = one_line (c, 1, "version", &line);
  if (st != MQ_OK)
    return st;
  if (strncmp (line, "VERSION ", 8) != 0)
    {
      st = error_answer (c, line, "version");
      return st != MQ_OK ? st
        : protocol_error (c, "\"%.100s\" in answer to version", line);
    }
  st = set_version (c, line + 8);
  if (st == MQ_OK)
    *version = c->version;
  return st;
}

/* ---- stats ------------------------------------------------------------- */

void
mq_stats_free (mq_stat *stats, size_t count)
{
  if (stats == NULL)
    return;
  for (size_t i = 0; i < count; i++)
    {
      free (stats[i].name);
      free (stats[i].value);
    }
  free (stats);
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

/* STAT <name> <value> lines up to END. */
static mq_status
read_stats (mq_client *c, const char *what, mq_stat **out, size_t *count)
{
  mq_stat *stats = NULL;
  size_t n = 0, cap = 0;
  mq_status st;

  *out = NULL;
  *count = 0;
  for (;;)
    {
      char *line = NULL, *name, *space;
      size_t len;

      st = read_line (c, &line, &len);
      if (st != MQ_OK)
        break;
      if (strcmp (line, "END") == 0)
        {
          *out = stats;
          *count = n;
          return MQ_OK;
        }
      if (strncmp (line, "STAT ", 5) != 0)
        {
          st = error_answer (c, line, what);
          if (st == MQ_OK)
            st = protocol_error (c, "\"%.100s\" in answer to stats", line);
          break;
        }
      name = line + 5;
      space = strchr (name, ' ');
      if (space == NULL || space == name)
        {
          st = protocol_error (c, "\"%.100s\" in answer to stats", line);
          break;
        }
      if (n == cap)
        {
          size_t bigger_cap = cap > 0 ? cap * 2 : 64;
          mq_stat *bigger = realloc (stats, bigger_cap * sizeof *bigger);

          if (bigger == NULL)
            {
              st = set_error (c, MQ_NOMEM, "out of memory");
              conn_close (c);
              break;
            }
          stats = bigger;
          cap = bigger_cap;
        }
      stats[n].name = strndup (name, (size_t) (space - name));
      stats[n].value = strdup (space + 1);
      n++;
      if (stats[n - 1].name == NULL || stats[n - 1].value == NULL)
        {
          st = set_error (c, MQ_NOMEM, "out of memory");
          conn_close (c);
          break;
        }
    }
  mq_stats_free (stats, n);
  if (st == MQ_IO)
    return prefix_error (c, st, "%s: the connection broke before the whole "
                         "answer came", what);
  return st;
}

/* Starts a call whose request is text.  A request sent in part is not an
 * error here: what the daemon answered is read all the same. */
static mq_status
call_send_text (mq_client *c, const char *what, const char *text, size_t len)
{
  mq_status st = call_begin (c);

  if (st != MQ_OK)
    return prefix_error (c, st, "%s", what);
  st = out_text (c, text, len);
  if (st == MQ_OK)
    st = send_request (c, 1);
  if (st != MQ_OK && c->out_sent == 0)
    return prefix_error (c, st, "%s: not sent", what);
  return MQ_OK;
}

mq_status
mq_stats (mq_client *c, mq_stat **stats, size_t *count)
{
  mq_status st;

  if (stats != NULL)
    *stats = NULL;
  if (count != NULL)
    *count = 0;
  if (c == NULL)
    return MQ_INVALID;
  c->err[0] = '\0';
  if (stats == NULL || count == NULL)
    return set_error (c, MQ_INVALID, "no place for the stats given");
  st = call_send_text (c, "stats", "stats\r\n", 7);
  if (st != MQ_OK)
    return st;
  return read_stats (c, "stats", stats, count);
}

/* Per-queue stats are "queue_<name>_<what>", which is ambiguous when names
 * hold '_' ("queue_a_total_items": total_items of a, or items of a_total).
 * A queue's lines come together, one of each what, so: among the runs of
 * consecutive lines that start with "queue_<name>_", cut wherever a what
 * repeats, and take the first run that has both "items" and "bytes". */
static const char *const queue_whats[] = {
  "items", "bytes", "total_items", "dequeued", "open_transactions",
  "waiters", "expired_items", "discarded", "age",
};
#define N_WHATS (sizeof queue_whats / sizeof queue_whats[0])

static void
queue_info_set (mq_queue_info *info, size_t what, uint64_t v)
{
  uint64_t *fields[N_WHATS] = {
    &info->items, &info->bytes, &info->total_items, &info->dequeued,
    &info->open_transactions, &info->waiters, &info->expired,
    &info->discarded, &info->age_ms,
  };

  *fields[what] = v;
}

static int
find_queue_stats (const mq_stat *stats, size_t count, const char *queue,
                  mq_queue_info *info)
{
  size_t qlen = strlen (queue);
  uint64_t values[N_WHATS];
  unsigned seen = 0;

  for (size_t i = 0; i <= count; i++)
    {
      const char *name = i < count ? stats[i].name : "";
      int matches = strncmp (name, "queue_", 6) == 0
        && strncmp (name + 6, queue, qlen) == 0 && name[6 + qlen] == '_';
      size_t what = N_WHATS;

      if (matches)
        for (what = 0; what < N_WHATS; what++)
          if (strcmp (name + 7 + qlen, queue_whats[what]) == 0)
            break;
      /* The run ends: a line of something else, or a what seen again. */
      if (!matches || (what < N_WHATS && (seen & (1u << what))))
        {
          if ((seen & 3u) == 3u)
            {
              memset (info, 0, sizeof *info);
              for (size_t w = 0; w < N_WHATS; w++)
                if (seen & (1u << w))
                  queue_info_set (info, w, values[w]);
              return 1;
            }
          seen = 0;
        }
      if (matches && what < N_WHATS)
        {
          char *end;

          errno = 0;
          values[what] = strtoull (stats[i].value, &end, 10);
          if (errno == 0 && *end == '\0')
            seen |= 1u << what;
        }
    }
  return 0;
}

mq_status
mq_queue_stats (mq_client *c, const char *queue, mq_queue_info *info)
{
  mq_stat *stats;
  size_t count;
  mq_status st;

  if (c == NULL)
    return MQ_INVALID;
  c->err[0] = '\0';
  st = check_queue (c, queue);
  if (st != MQ_OK)
    return st;
  if (info == NULL)
    return set_error (c, MQ_INVALID, "no place for the stats given");
  st = mq_stats (c, &stats, &count);
  if (st != MQ_OK)
    return st;
  st = find_queue_stats (stats, count, queue, info)
    ? MQ_OK : set_error (c, MQ_NOT_FOUND, "stats of %s: no such queue",
                         queue);
  mq_stats_free (stats, count);
  return st;
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

mq_status
mq_list_queues (mq_client *c, mq_queue_info **queues, size_t *count)
{
  mq_stat *list = NULL, *stats = NULL;
  size_t n_list = 0, n_stats = 0;
  mq_queue_info *out = NULL;
  mq_status st;

  if (queues != NULL)
    *queues = NULL;
  if (count != NULL)
    *count = 0;
  if (c == NULL)
    return MQ_INVALID;
  c->err[0] = '\0';
  if (queues == NULL || count == NULL)
    return set_error (c, MQ_INVALID, "no place for the queues given");
  /* Both in one write: the daemon answers them in the same pass. */
  st = call_send_text (c, "list of queues", "stats queue\r\nstats\r\n", 20);
  if (st != MQ_OK)
    return st;
  st = read_stats (c, "stats queue", &list, &n_list);
  if (st == MQ_OK)
    st = read_stats (c, "stats", &stats, &n_stats);
  if (st == MQ_OK && n_list > 0)
    {
      out = calloc (n_list, sizeof *out);
      if (out == NULL)
        st = set_error (c, MQ_NOMEM, "out of memory");
    }
  for (size_t i = 0; st == MQ_OK && i < n_list; i++)
    {
      mq_queue_info *q = &out[i];
      unsigned long long enq, deq;
      int used = 0;

      if (!find_queue_stats (stats, n_stats, list[i].name, q)
          && sscanf (list[i].value, "%llu/%llu%n", &enq, &deq, &used) == 2
          && list[i].value[used] == '\0')
        {
          q->total_items = enq;
          q->dequeued = deq;
        }
      /* The name is taken over from the list. */
      q->name = list[i].name;
      list[i].name = NULL;
    }
  mq_stats_free (list, n_list);
  mq_stats_free (stats, n_stats);
  if (st != MQ_OK)
    {
      mq_queue_list_free (out, n_list);
      return st;
    }
  *queues = out;
  *count = n_list;
  return MQ_OK;
}
