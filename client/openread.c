/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* openread.c: the reliable reads open on a handle; see openread.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "openread.h"

/* The reliable reads of a queue opened on the handle; gen is the
 * connection's. */
struct mqc_open_read {
  struct mqc_open_read *next;
  unsigned gen;
  size_t n;
  char name[];
};

static struct mqc_open_read **
open_read_find (mq_client *c, const char *queue)
{
  struct mqc_open_read **p;

  for (p = &c->open_reads; *p != NULL; p = &(*p)->next)
    if (strcmp ((*p)->name, queue) == 0)
      return p;
  return NULL;
}

void
mqc_open_read_forget (mq_client *c, const char *queue)
{
  struct mqc_open_read **p = open_read_find (c, queue);

  if (p != NULL)
    {
      struct mqc_open_read *gone = *p;

      *p = gone->next;
      free (gone);
    }
}

mq_status
mqc_open_read_add (mq_client *c, const char *queue, size_t n)
{
  struct mqc_open_read **p = open_read_find (c, queue);
  size_t len = strlen (queue);
  struct mqc_open_read *r;

  if (p != NULL && (*p)->gen == c->gen)
    {
      (*p)->n += n;
      return MQ_OK;
    }
  mqc_open_read_forget (c, queue);
  r = malloc (sizeof *r + len + 1);
  if (r == NULL)
    return mqc_set_error (c, MQ_NOMEM, "out of memory");
  r->gen = c->gen;
  r->n = n;
  memcpy (r->name, queue, len + 1);
  r->next = c->open_reads;
  c->open_reads = r;
  return MQ_OK;
}

void
mqc_open_read_drop (mq_client *c, const char *queue, size_t n)
{
  struct mqc_open_read **p = open_read_find (c, queue);

  if (p != NULL && (*p)->n > n)
    (*p)->n -= n;
  else
    mqc_open_read_forget (c, queue);
}

mq_status
mqc_open_read_check (mq_client *c, const char *queue, size_t n,
                     const char *what)
{
  struct mqc_open_read **p = open_read_find (c, queue);

  if (p == NULL)
    return mqc_set_error (c, MQ_NOT_FOUND, "%s: no reliable read of %s is "
                          "open on this connection", what, queue);
  if ((*p)->gen != c->gen)
    {
      mqc_open_read_forget (c, queue);
      return mqc_set_error (c, MQ_NOT_FOUND, "%s: the connection to the "
                            "daemon ended since the read was opened: the "
                            "daemon gave the message back to the queue, and "
                            "it will be delivered again", what);
    }
  if ((*p)->n < n)
    return mqc_set_error (c, MQ_NOT_FOUND, "%s: only %zu reliable reads of "
                          "%s are open on this connection", what, (*p)->n,
                          queue);
  return MQ_OK;
}

void
mqc_open_reads_free (mq_client *c)
{
  while (c->open_reads != NULL)
    {
      struct mqc_open_read *next = c->open_reads->next;

      free (c->open_reads);
      c->open_reads = next;
    }
}
