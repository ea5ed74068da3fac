/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* conn.c: a connection's life; see conn.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE               /* POLLRDHUP */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "io.h"
#include "request.h"

/* Large buffers of a big request or answer are not kept for ever. */
#define KEEP_BUFFER (4u << 20)

static mq_status
connect_failed (mq_client *c, int fd)
{
  mq_status st = errno == EAGAIN
    ? mqc_set_error (c, MQ_CONNECT, "cannot connect to %s: the daemon took "
                     "no new connection in %d ms", c->path, c->io_timeout_ms)
    : mqc_set_error (c, MQ_CONNECT, "cannot connect to %s: %s", c->path,
                     strerror (errno));

  close (fd);
  return st;
}

/* A connect waits while the daemon's queue of connections is full (a hung
 * daemon never empties it): with an I/O timeout, only that long, then it
 * fails with EAGAIN. */
static int
bound_connect (const mq_client *c, int fd)
{
  struct timeval tv = { .tv_sec = c->io_timeout_ms / 1000,
                        .tv_usec = c->io_timeout_ms % 1000 * 1000 };

  if (c->io_timeout_ms <= 0)
    return 0;
  return setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* A connected, non-blocking socket to c->path in *fd. */
static mq_status
socket_connect (mq_client *c, int *fd)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  size_t len = strlen (c->path);

  if (len == 0 || len >= sizeof addr.sun_path)
    return mqc_set_error (c, MQ_INVALID, "socket path \"%s\" is %s", c->path,
                          len == 0 ? "empty" : "too long for a Unix socket");
  memcpy (addr.sun_path, c->path, len + 1);
  *fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*fd < 0)
    return mqc_set_error (c, MQ_CONNECT, "cannot create a socket: %s",
                          strerror (errno));
  if (bound_connect (c, *fd) < 0)
    return connect_failed (c, *fd);
  /* A Unix-socket connect interrupted by a signal can simply be redone. */
  while (connect (*fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      if (errno == EISCONN)
        break;
      if (errno != EINTR)
        return connect_failed (c, *fd);
    }
  if (fcntl (*fd, F_SETFL, fcntl (*fd, F_GETFL) | O_NONBLOCK) < 0)
    return connect_failed (c, *fd);
  return MQ_OK;
}

/* Asks the daemon's version.  A refused connection gets one line and is
 * closed: it is read even when the greeting could not be written. */
static mq_status
greet (mq_client *c)
{
  int send_err = mqc_send_small (c, "version\r\n", 9);
  char *line = NULL;
  size_t line_len;
  mq_status st = mqc_read_line (c, &line, &line_len);

  if (st == MQ_OK && strncmp (line, "VERSION ", 8) == 0)
    return mqc_set_version (c, line + 8);
  if (st == MQ_OK && strncmp (line, "SERVER_ERROR ", 13) == 0)
    st = mqc_set_error (c, MQ_CONNECT, "the daemon at %s refused the "
                        "connection: %s", c->path, line + 13);
  else if (st == MQ_OK)
    st = mqc_set_error (c, MQ_CONNECT, "%s does not answer as mqd: "
                        "\"%.100s\"", c->path, line);
  else if (st == MQ_IO && send_err != 0)
    st = mqc_set_error (c, MQ_CONNECT, "cannot talk to %s: %s", c->path,
                        strerror (send_err));
  else
    st = mqc_prefix_error (c, MQ_CONNECT, "cannot talk to %s", c->path);
  mqc_conn_close (c);
  return st;
}

mq_status
mqc_conn_open (mq_client *c)
{
  mq_status st;
  int fd = -1;

  c->in_start = c->in_end = 0;
  st = socket_connect (c, &fd);
  if (st != MQ_OK)
    return st;
  c->fd = fd;
  return greet (c);
}

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

mq_status
mqc_call_begin (mq_client *c)
{
  c->err[0] = '\0';
  c->call_wait_ms = 0;
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
        mqc_conn_close (c);
    }
  if (c->fd < 0)
    c->in_start = c->in_end = 0;
  mqc_out_reset (c);
  trim_buffers (c);
  if (c->fd < 0)
    return mqc_conn_open (c);
  return MQ_OK;
}

mq_status
mqc_send_request (mq_client *c, int retry)
{
  mq_status st = mqc_out_send (c);

  if (st == MQ_IO && retry && c->out_sent == 0)
    {
      st = mqc_conn_open (c);
      if (st != MQ_OK)
        return st;
      mqc_out_rewind (c);
      st = mqc_out_send (c);
    }
  return st;
}

mq_status
mqc_call_send_text (mq_client *c, const char *what, const char *text,
                    size_t len)
{
  mq_status st = mqc_call_begin (c);

  if (st != MQ_OK)
    return mqc_prefix_error (c, st, "%s", what);
  st = mqc_out_text (c, text, len);
  if (st == MQ_OK)
    st = mqc_send_request (c, 1);
  if (st != MQ_OK && c->out_sent == 0)
    return mqc_prefix_error (c, st, "%s: not sent", what);
  return MQ_OK;
}

void
mqc_disconnect (mq_client *c)
{
  mqc_conn_close (c);
  c->in_start = c->in_end = 0;
}
