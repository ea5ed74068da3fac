/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl stats and queues: the daemon's numbers as tables or JSON, and the
 * list of queues. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mqctl.h"

static const char *const info_names[] = {
  "items", "bytes", "total_items", "dequeued", "open_transactions",
  "waiters", "expired", "discarded", "age_ms",
};
#define N_INFO (sizeof info_names / sizeof info_names[0])

static void
info_values (const mq_queue_info *q, uint64_t v[N_INFO])
{
  v[0] = q->items;
  v[1] = q->bytes;
  v[2] = q->total_items;
  v[3] = q->dequeued;
  v[4] = q->open_transactions;
  v[5] = q->waiters;
  v[6] = q->expired;
  v[7] = q->discarded;
  v[8] = q->age_ms;
}

static int
is_queue_stat (const mq_stat *s)
{
  return strncmp (s->name, "queue_", 6) == 0;
}

/* ---- JSON --------------------------------------------------------------- */

static void
json_queue_fields (const mq_queue_info *q)
{
  uint64_t v[N_INFO];

  info_values (q, v);
  for (size_t i = 0; i < N_INFO; i++)
    printf ("%s\"%s\": %" PRIu64, i > 0 ? ", " : "", info_names[i], v[i]);
}

static void
json_all (const mq_stat *stats, size_t n_stats, const mq_queue_info *queues,
          size_t n_queues)
{
  int first = 1;

  fputs ("{\"server\": {", stdout);
  for (size_t i = 0; i < n_stats; i++)
    {
      if (is_queue_stat (&stats[i]))
        continue;
      fputs (first ? "" : ", ", stdout);
      first = 0;
      ctl_json_string (stats[i].name);
      fputs (": ", stdout);
      ctl_json_value (stats[i].value);
    }
  fputs ("}, \"queues\": {", stdout);
  for (size_t i = 0; i < n_queues; i++)
    {
      fputs (i > 0 ? ", " : "", stdout);
      ctl_json_string (queues[i].name);
      fputs (": {", stdout);
      json_queue_fields (&queues[i]);
      fputs ("}", stdout);
    }
  fputs ("}}\n", stdout);
}

/* ---- tables ------------------------------------------------------------- */

static const char *const heads[] = {
  "ITEMS", "BYTES", "TOTAL", "DEQUEUED", "OPEN", "WAITERS", "EXPIRED",
  "DISCARDED", "AGE_MS",
};

/* width[0]: the names'; width[1 + c]: column c's. */
static void
column_widths (const mq_queue_info *queues, size_t n, int width[N_INFO + 1])
{
  width[0] = 5;
  for (size_t i = 0; i < n; i++)
    if ((int) strlen (queues[i].name) > width[0])
      width[0] = (int) strlen (queues[i].name);
  for (size_t c = 0; c < N_INFO; c++)
    width[c + 1] = (int) strlen (heads[c]);
  for (size_t i = 0; i < n; i++)
    {
      uint64_t v[N_INFO];

      info_values (&queues[i], v);
      for (size_t c = 0; c < N_INFO; c++)
        {
          char num[24];
          int len = snprintf (num, sizeof num, "%" PRIu64, v[c]);

          if (len > width[c + 1])
            width[c + 1] = len;
        }
    }
}

static void
queue_table (const mq_queue_info *queues, size_t n)
{
  int width[N_INFO + 1];

  column_widths (queues, n, width);
  printf ("\n%-*s", width[0], "QUEUE");
  for (size_t c = 0; c < N_INFO; c++)
    printf ("  %*s", width[c + 1], heads[c]);
  putchar ('\n');
  for (size_t i = 0; i < n; i++)
    {
      uint64_t v[N_INFO];

      info_values (&queues[i], v);
      printf ("%-*s", width[0], queues[i].name);
      for (size_t c = 0; c < N_INFO; c++)
        printf ("  %*" PRIu64, width[c + 1], v[c]);
      putchar ('\n');
    }
}

static void
table_all (const mq_stat *stats, size_t n_stats, const mq_queue_info *queues,
           size_t n_queues)
{
  for (size_t i = 0; i < n_stats; i++)
    if (!is_queue_stat (&stats[i]))
      printf ("%-20s %s\n", stats[i].name, stats[i].value);
  if (n_queues > 0)
    queue_table (queues, n_queues);
}

/* ---- stats -------------------------------------------------------------- */

static int
stats_all (mqctl *ctl, int json)
{
  mq_stat *stats;
  mq_queue_info *queues;
  size_t n_stats, n_queues;
  mq_status st;

  st = mq_stats (ctl->client, &stats, &n_stats);
  if (st != MQ_OK)
    return ctl_fail (ctl, st);
  st = mq_list_queues (ctl->client, &queues, &n_queues);
  if (st != MQ_OK)
    {
      mq_stats_free (stats, n_stats);
      return ctl_fail (ctl, st);
    }
  if (json)
    json_all (stats, n_stats, queues, n_queues);
  else
    table_all (stats, n_stats, queues, n_queues);
  mq_stats_free (stats, n_stats);
  mq_queue_list_free (queues, n_queues);
  return ctl_flush_stdout ();
}

static int
stats_one_queue (mqctl *ctl, const char *queue, int json)
{
  mq_queue_info q;
  mq_status st = mq_queue_stats (ctl->client, queue, &q);
  uint64_t v[N_INFO];

  if (st != MQ_OK)
    return ctl_fail (ctl, st);
  if (json)
    {
      fputs ("{\"name\": ", stdout);
      ctl_json_string (queue);
      fputs (", ", stdout);
      json_queue_fields (&q);
      fputs ("}\n", stdout);
      return ctl_flush_stdout ();
    }
  info_values (&q, v);
  printf ("%-18s %s\n", "queue", queue);
  for (size_t i = 0; i < N_INFO; i++)
    printf ("%-18s %" PRIu64 "\n", info_names[i], v[i]);
  return ctl_flush_stdout ();
}

static int
run_stats (mqctl *ctl, int argc, char **argv)
{
  const char *queue = NULL;
  int json = 0;
  const ctl_option options[] = {
    { 'j', "json", NULL, &json, 1 },
  };
  int code = ctl_parse_options (ctl, argc, argv, options,
                                sizeof options / sizeof options[0]);

  if (code != CTL_GO_ON)
    return code;
  if (optind < argc)
    {
      queue = argv[optind++];
      if ((code = ctl_check_queue (ctl, queue)) != EXIT_DONE)
        return code;
    }
  if ((code = ctl_no_more_arguments (ctl, argc, argv)) != EXIT_DONE)
    return code;
  if ((code = ctl_connect (ctl)) != EXIT_DONE)
    return code;
  return queue != NULL ? stats_one_queue (ctl, queue, json)
    : stats_all (ctl, json);
}

const ctl_command ctl_stats = {
  "stats", run_stats, "[--json] [QUEUE]",
"Without QUEUE: the daemon's statistics, then a table of every queue.\n"
"With QUEUE: that queue's numbers (exit status 1 when it does not exist).\n"
"\n"
"  -j, --json          one JSON object instead of tables: {\"server\": {...},\n"
"                      \"queues\": {NAME: {...}}}, or the queue's {\"name\": ...}\n",
};

/* ---- queues ------------------------------------------------------------- */

static int
run_queues (mqctl *ctl, int argc, char **argv)
{
  mq_queue_info *queues;
  size_t n;
  mq_status st;
  int code = ctl_parse_options (ctl, argc, argv, NULL, 0);

  if (code != CTL_GO_ON)
    return code;
  if ((code = ctl_no_more_arguments (ctl, argc, argv)) != EXIT_DONE)
    return code;
  if ((code = ctl_connect (ctl)) != EXIT_DONE)
    return code;
  st = mq_list_queues (ctl->client, &queues, &n);
  if (st != MQ_OK)
    return ctl_fail (ctl, st);
  for (size_t i = 0; i < n; i++)
    printf ("%s\n", queues[i].name);
  mq_queue_list_free (queues, n);
  return ctl_flush_stdout ();
}

const ctl_command ctl_queues = {
  "queues", run_queues, "",
"Lists the queues, one name per line, in byte order.\n",
};
