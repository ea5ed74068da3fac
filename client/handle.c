/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* handle.c: a handle's life and its message; see handle.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "io.h"
#include "mqshared.h"
#include "openread.h"

size_t
mqc_socket_path (char *buf, size_t size)
{
  const char *env = getenv ("MQD_SOCKET");
  int n;

  if (env == NULL || *env == '\0')
    return mq_shared_default_socket (buf, size);
  n = snprintf (buf, size, "%s", env);
  return n < 0 ? 0 : (size_t) n;
}

static char *
default_path (void)
{
  size_t n = mqc_socket_path (NULL, 0);
  char *path = malloc (n + 1);

  if (path != NULL)
    mqc_socket_path (path, n + 1);
  return path;
}

mq_client *
mqc_handle_new (const char *socket_path)
{
  mq_client *c = calloc (1, sizeof *c);

  if (c == NULL)
    return NULL;
  c->fd = -1;
  c->path = socket_path != NULL ? strdup (socket_path) : default_path ();
  if (c->path == NULL)
    {
      free (c);
      return NULL;
    }
  return c;
}

void
mqc_handle_free (mq_client *c)
{
  mqc_conn_close (c);
  mqc_open_reads_free (c);
  free (c->path);
  free (c->in);
  free (c->obuf);
  free (c->segs);
  free (c->version);
  free (c);
}

mq_status
mqc_buffer_grow (mq_client *c, char **buf, size_t *cap, size_t first,
                 size_t used, size_t want, const char *what)
{
  size_t size = *cap > 0 ? *cap : first;
  char *bigger;

  while (size - used < want)
    {
      if (size > SIZE_MAX / 2)
        return mqc_set_error (c, MQ_NOMEM, "out of memory for %s", what);
      size *= 2;
    }
  bigger = realloc (*buf, size);
  if (bigger == NULL)
    return mqc_set_error (c, MQ_NOMEM, "out of memory for %s", what);
  *buf = bigger;
  *cap = size;
  return MQ_OK;
}

mq_status
mqc_set_version (mq_client *c, const char *version)
{
  char *copy = strdup (version);

  if (copy == NULL)
    return mqc_set_error (c, MQ_NOMEM, "out of memory");
  free (c->version);
  c->version = copy;
  return MQ_OK;
}

void
mqc_format_into (char *dst, size_t size, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vsnprintf (dst, size, format, args);
  va_end (args);
}

mq_status
mqc_set_error (mq_client *c, mq_status status, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vsnprintf (c->err, sizeof c->err, format, args);
  va_end (args);
  return status;
}

mq_status
mqc_prefix_error (mq_client *c, mq_status status, const char *format, ...)
{
  char old[MQC_ERR_SIZE];
  char head[MQC_ERR_SIZE];
  va_list args;

  memcpy (old, c->err, sizeof old);
  va_start (args, format);
  vsnprintf (head, sizeof head, format, args);
  va_end (args);
  if (old[0] != '\0')
    mqc_format_into (c->err, sizeof c->err, "%s: %s", head, old);
  else
    mqc_format_into (c->err, sizeof c->err, "%s", head);
  return status;
}
