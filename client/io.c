/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* io.c: the socket's bytes; see io.h.
 *
 * The socket is non-blocking: while the daemon does not take more of a
 * request, whatever it has already answered is read into the input buffer,
 * so neither side can stall on a full socket however many requests are
 * pipelined.  Every system call is restarted after a signal (EINTR), and
 * sends never raise SIGPIPE.  With an I/O timeout, no wait for the daemon
 * lasts longer than that beyond the call's own wait (see io_limit).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE               /* MSG_NOSIGNAL */
#endif

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

#define MAX_REPLY_LINE 65536      /* longer answer lines are nonsense */
#define READ_CHUNK 65536
#define IOV_BATCH 64

/* An internal status: the socket has nothing to read just now. */
#define ST_AGAIN ((mq_status) 100)

void
mqc_conn_close (mq_client *c)
{
  if (c->fd >= 0)
    {
      close (c->fd);
      c->fd = -1;
      c->gen++;
    }
}

/* How long, in ms, the daemon may stay silent (neither take bytes nor send
 * any) before the call gives up on the connection: the handle's I/O
 * timeout plus the call's own wait, during which the daemon may rightly
 * say nothing; -1: no limit. */
static int
io_limit (const mq_client *c)
{
  if (c->io_timeout_ms <= 0)
    return -1;
  if (c->call_wait_ms > INT_MAX - c->io_timeout_ms)
    return INT_MAX;
  return c->io_timeout_ms + c->call_wait_ms;
}

/* The connection broke (err is an errno, 0 for end of file).  What was
 * already read stays in the input buffer for the caller to parse. */
static mq_status
conn_lost (mq_client *c, int err)
{
  if (err == 0 || err == ECONNRESET || err == EPIPE)
    mqc_set_error (c, MQ_IO, "the daemon at %s closed the connection",
                   c->path);
  else if (err == ETIMEDOUT)
    mqc_set_error (c, MQ_IO, "no answer from the daemon at %s in %d ms",
                   c->path, io_limit (c));
  else
    mqc_set_error (c, MQ_IO, "connection to %s broke: %s", c->path,
                   strerror (err));
  mqc_conn_close (c);
  return MQ_IO;
}

mq_status
mqc_protocol_error (mq_client *c, const char *format, ...)
{
  char what[MQC_ERR_SIZE];
  va_list args;

  va_start (args, format);
  vsnprintf (what, sizeof what, format, args);
  va_end (args);
  mqc_set_error (c, MQ_PROTOCOL, "unexpected answer from the daemon at %s: "
                 "%s", c->path, what);
  mqc_conn_close (c);
  return MQ_PROTOCOL;
}

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the handle's socket is ready for events, at most the
 * handle's I/O limit; restarts after signals with what is left.  0, or an
 * errno (ETIMEDOUT: the daemon stayed silent too long). */
static int
wait_fd (const mq_client *c, short events, short *revents)
{
  struct pollfd p = { .fd = c->fd, .events = events };
  int limit = io_limit (c);
  int64_t end = now_ms () + limit;
  int left = limit;

  for (;;)
    {
      int r = poll (&p, 1, left);

      if (r > 0)
        {
          *revents = p.revents;
          return 0;
        }
      if (r < 0 && errno != EINTR)
        return errno;
      if (limit >= 0)
        {
          int64_t rest = end - now_ms ();

          if (r == 0 || rest <= 0)
            return ETIMEDOUT;
          left = rest < INT_MAX ? (int) rest : INT_MAX;
        }
    }
}

/* ---- reading ----------------------------------------------------------- */

static mq_status
in_reserve (mq_client *c, size_t want)
{
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
  return mqc_buffer_grow (c, &c->in, &c->in_cap, READ_CHUNK, c->in_end, want,
                          "the answers");
}

/* One recv of up to n bytes into dst: how many came, or 0 with *st set
 * (the connection is lost, or ST_AGAIN when nothing is there and block is
 * 0; with block, waits for something). */
static size_t
recv_some (mq_client *c, void *dst, size_t n, int block, mq_status *st)
{
  for (;;)
    {
      ssize_t r = recv (c->fd, dst, n, MSG_DONTWAIT);
      short revents;
      int err;

      if (r > 0)
        return (size_t) r;
      if (r == 0)
        *st = conn_lost (c, 0);
      else if (errno == EINTR)
        continue;
      else if (errno != EAGAIN && errno != EWOULDBLOCK)
        *st = conn_lost (c, errno);
      else if (!block)
        *st = ST_AGAIN;
      else if ((err = wait_fd (c, POLLIN, &revents)) == 0)
        continue;
      else
        *st = conn_lost (c, err);
      return 0;
    }
}

/* Reads what the socket has into the input buffer.  block: wait for
 * something; else ST_AGAIN when there is nothing. */
static mq_status
in_recv (mq_client *c, int block)
{
  mq_status st;
  size_t n;

  if (c->fd < 0)
    return MQ_IO;                 /* lost earlier: its message is set */
  st = in_reserve (c, READ_CHUNK);
  if (st != MQ_OK)
    {
      mqc_conn_close (c);
      return st;
    }
  n = recv_some (c, c->in + c->in_end, c->in_cap - c->in_end, block, &st);
  c->in_end += n;
  return n > 0 ? MQ_OK : st;
}

mq_status
mqc_read_line (mq_client *c, char **line, size_t *len)
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
        return mqc_protocol_error (c, "an answer line longer than %d bytes",
                                   MAX_REPLY_LINE);
      st = in_recv (c, 1);
      if (st != MQ_OK)
        return st;
    }
}

mq_status
mqc_read_exact (mq_client *c, void *dst, size_t n)
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
      mq_status st;
      size_t got;

      if (c->fd < 0)
        return MQ_IO;
      /* Large blocks go straight to their place, not through the buffer. */
      got = recv_some (c, out, n, 1, &st);
      if (got == 0)
        return st;
      out += got;
      n -= got;
    }
  return MQ_OK;
}

/* ---- writing ----------------------------------------------------------- */

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

/* Up to IOV_BATCH pieces of what is left to write. */
static size_t
out_iov (const mq_client *c, struct iovec *iov)
{
  size_t idx = c->seg_idx;
  size_t off = c->seg_off;
  size_t n = 0;

  while (n < IOV_BATCH && idx < c->nsegs)
    {
      const mqc_seg *s = &c->segs[idx];
      const char *base = s->ext != NULL ? s->ext : c->obuf + s->off;

      iov[n].iov_base = (void *) (base + off);
      iov[n].iov_len = s->len - off;
      n++;
      idx++;
      off = 0;
    }
  return n;
}

/* The socket is full: waits, reading what the daemon answered meanwhile,
 * so that it never waits for us to read. */
static mq_status
out_wait (mq_client *c)
{
  short revents;
  int err = wait_fd (c, POLLOUT | POLLIN, &revents);

  if (err != 0)
    return conn_lost (c, err);
  if (revents & (POLLIN | POLLHUP | POLLERR))
    {
      mq_status st = in_recv (c, 0);

      if (st != MQ_OK && st != ST_AGAIN)
        return st;
    }
  return MQ_OK;
}

mq_status
mqc_out_send (mq_client *c)
{
  while (c->out_sent < c->out_total)
    {
      struct iovec iov[IOV_BATCH];
      struct msghdr mh = { .msg_iov = iov };
      ssize_t w;
      mq_status st;

      if (c->fd < 0)
        return MQ_IO;
      mh.msg_iovlen = out_iov (c, iov);
      w = sendmsg (c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0)
        {
          out_advance (c, (size_t) w);
          continue;
        }
      if (w < 0 && errno == EINTR)
        continue;
      if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
        return conn_lost (c, w < 0 ? errno : 0);
      st = out_wait (c);
      if (st != MQ_OK)
        return st;
    }
  return MQ_OK;
}

int
mqc_send_small (mq_client *c, const char *text, size_t len)
{
  while (len > 0)
    {
      ssize_t w = send (c->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      short revents;
      int err;

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
          err = wait_fd (c, POLLOUT, &revents);
          if (err != 0)
            return err;
          continue;
        }
      return w < 0 ? errno : EPIPE;
    }
  return 0;
}
