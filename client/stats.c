/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* stats.c: the daemon's stats; see stats.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "io.h"
#include "reply.h"
#include "stats.h"

/* Stats as they are read. */
typedef struct {
  mq_stat *items;
  size_t n, cap;
} stat_list;

void
mqc_stats_free (mq_stat *stats, size_t count)
{
  for (size_t i = 0; i < count; i++)
    {
      free (stats[i].name);
      free (stats[i].value);
    }
  free (stats);
}

/* Out of memory in the middle of an answer: the rest of it cannot be
 * skipped reliably, so the connection goes. */
static mq_status
stats_nomem (mq_client *c)
{
  mqc_set_error (c, MQ_NOMEM, "out of memory");
  mqc_conn_close (c);
  return MQ_NOMEM;
}

static mq_status
stat_list_add (mq_client *c, stat_list *list, const char *name,
               size_t name_len, const char *value)
{
  mq_stat *s;

  if (list->n == list->cap)
    {
      size_t cap = list->cap > 0 ? list->cap * 2 : 64;
      mq_stat *bigger = realloc (list->items, cap * sizeof *bigger);

      if (bigger == NULL)
        return stats_nomem (c);
      list->items = bigger;
      list->cap = cap;
    }
  s = &list->items[list->n++];
  s->name = strndup (name, name_len);
  s->value = strdup (value);
  return s->name != NULL && s->value != NULL ? MQ_OK : stats_nomem (c);
}

/* One "STAT <name> <value>" line into list; *end at END. */
static mq_status
read_stat_line (mq_client *c, const char *what, stat_list *list, int *end)
{
  char *line = NULL, *name, *space;
  size_t len;
  mq_status st = mqc_read_line (c, &line, &len);

  if (st != MQ_OK)
    return st;
  *end = strcmp (line, "END") == 0;
  if (*end)
    return MQ_OK;
  if (strncmp (line, "STAT ", 5) != 0)
    return mqc_unexpected_answer (c, line, what, "stats");
  name = line + 5;
  space = strchr (name, ' ');
  if (space == NULL || space == name)
    return mqc_protocol_error (c, "\"%.100s\" in answer to stats", line);
  return stat_list_add (c, list, name, (size_t) (space - name), space + 1);
}

/* STAT lines up to END. */
static mq_status
read_stats (mq_client *c, const char *what, mq_stat **out, size_t *count)
{
  stat_list list = { NULL, 0, 0 };
  int end = 0;
  mq_status st;

  do
    st = read_stat_line (c, what, &list, &end);
  while (st == MQ_OK && !end);
  if (st == MQ_OK)
    {
      *out = list.items;
      *count = list.n;
      return MQ_OK;
    }
  mqc_stats_free (list.items, list.n);
  if (st == MQ_IO)
    return mqc_prefix_error (c, st, "%s: the connection broke before the "
                             "whole answer came", what);
  return st;
}

mq_status
mqc_stats (mq_client *c, mq_stat **stats, size_t *count)
{
  mq_status st = mqc_call_send_text (c, "stats", "stats\r\n", 7);

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

/* Which of queue_whats the stat name is for queue: N_WHATS when it is
 * none; *matches: whether it starts with "queue_<queue>_" at all. */
static size_t
queue_what (const char *name, const char *queue, size_t qlen, int *matches)
{
  size_t what;

  *matches = strncmp (name, "queue_", 6) == 0
    && strncmp (name + 6, queue, qlen) == 0 && name[6 + qlen] == '_';
  if (!*matches)
    return N_WHATS;
  for (what = 0; what < N_WHATS; what++)
    if (strcmp (name + 7 + qlen, queue_whats[what]) == 0)
      break;
  return what;
}

/* info from the values of a run; seen: which whats it had. */
static void
queue_info_fill (mq_queue_info *info, unsigned seen, const uint64_t *values)
{
  uint64_t *fields[N_WHATS] = {
    &info->items, &info->bytes, &info->total_items, &info->dequeued,
    &info->open_transactions, &info->waiters, &info->expired,
    &info->discarded, &info->age_ms,
  };

  memset (info, 0, sizeof *info);
  for (size_t w = 0; w < N_WHATS; w++)
    if (seen & (1u << w))
      *fields[w] = values[w];
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
      int matches;
      size_t what = queue_what (i < count ? stats[i].name : "", queue, qlen,
                                &matches);

      /* The run ends: a line of something else, or a what seen again. */
      if (!matches || (what < N_WHATS && (seen & (1u << what))))
        {
          if ((seen & 3u) == 3u)
            {
              queue_info_fill (info, seen, values);
              return 1;
            }
          seen = 0;
        }
      if (what < N_WHATS)
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

/* "stats queue <name>": the daemon answers that queue's lines only, or
 * none when there is no such queue. */
mq_status
mqc_queue_stats (mq_client *c, const char *queue, mq_queue_info *info)
{
  char what[MQC_WHAT_SIZE];
  char request[MQC_WHAT_SIZE + 2];
  mq_stat *stats;
  size_t count;
  mq_status st;

  mqc_format_into (what, sizeof what, "stats queue %s", queue);
  mqc_format_into (request, sizeof request, "%s\r\n", what);
  st = mqc_call_send_text (c, what, request, strlen (request));
  if (st == MQ_OK)
    st = read_stats (c, what, &stats, &count);
  if (st != MQ_OK)
    return st;
  st = find_queue_stats (stats, count, queue, info)
    ? MQ_OK : mqc_set_error (c, MQ_NOT_FOUND, "stats of %s: no such queue",
                             queue);
  mqc_stats_free (stats, count);
  return st;
}

/* q from the line of "stats queue" ("<enqueued>/<dequeued>") and the
 * numbers "stats" has of it; the name is taken over from the line. */
static void
queue_from_stats (mq_queue_info *q, mq_stat *line, const mq_stat *stats,
                  size_t n_stats)
{
  unsigned long long enq, deq;
  int used = 0;

  if (!find_queue_stats (stats, n_stats, line->name, q)
      && sscanf (line->value, "%llu/%llu%n", &enq, &deq, &used) == 2
      && line->value[used] == '\0')
    {
      q->total_items = enq;
      q->dequeued = deq;
    }
  q->name = line->name;
  line->name = NULL;
}

static mq_status
queues_from_stats (mq_client *c, mq_stat *list, size_t n_list,
                   const mq_stat *stats, size_t n_stats, mq_queue_info **out)
{
  *out = NULL;
  if (n_list == 0)
    return MQ_OK;
  *out = calloc (n_list, sizeof **out);
  if (*out == NULL)
    return mqc_set_error (c, MQ_NOMEM, "out of memory");
  for (size_t i = 0; i < n_list; i++)
    queue_from_stats (&(*out)[i], &list[i], stats, n_stats);
  return MQ_OK;
}

mq_status
mqc_list_queues (mq_client *c, mq_queue_info **queues, size_t *count)
{
  mq_stat *list = NULL, *stats = NULL;
  size_t n_list = 0, n_stats = 0;
  mq_status st;

  /* Both in one write: the daemon answers them in the same pass. */
  st = mqc_call_send_text (c, "list of queues", "stats queue\r\nstats\r\n",
                           20);
  if (st != MQ_OK)
    return st;
  st = read_stats (c, "stats queue", &list, &n_list);
  if (st == MQ_OK)
    st = read_stats (c, "stats", &stats, &n_stats);
  if (st == MQ_OK)
    st = queues_from_stats (c, list, n_list, stats, n_stats, queues);
  if (st == MQ_OK)
    *count = n_list;
  mqc_stats_free (list, n_list);
  mqc_stats_free (stats, n_stats);
  return st;
}
