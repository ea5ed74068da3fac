/* command.c: what each protocol command does; see command.h. */
#include "config.h"

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "command.h"
#include "commit.h"
#include "queue.h"
#include "storage.h"
#include "waiter.h"

typedef struct {
  guint64 cmd_get;
  guint64 cmd_set;
  guint64 get_hits;
  guint64 get_misses;
} CommandTotals;

static MqCommandLimits limits;
static CommandTotals totals;
static gint64 started_us;         /* monotonic */
static gboolean shutdown_requested;

void
command_init (const MqCommandLimits *the_limits)
{
  limits = *the_limits;
  started_us = g_get_monotonic_time ();
}

gboolean
command_shutdown_requested (void)
{
  return shutdown_requested;
}

const char *
command_refuse_set (const MqCommand *cmd)
{
  const MqQueueRules *rules = queues_rules (cmd->name, cmd->name_len);

  if (cmd->data_len > limits.max_message
      || (rules->max_message_size > 0
          && cmd->data_len > rules->max_message_size))
    return "SERVER_ERROR object too large for cache";
  return NULL;
}

/* In the durable mode a reply that follows from a change waits until the
 * journal holding it is synced. */
static void
hold_reply (MqConn *conn, guint64 lsn)
{
  if (lsn > 0 && commit_holds_replies ())
    conn_hold (conn, lsn);
}

/* What the client asked cannot be done: its error, not the daemon's. */
#define MQ_CLIENT_ERROR (mq_client_error_quark ())
static G_DEFINE_QUARK (mq-client-error, mq_client_error)

static void
reply_error (MqConn *conn, const GError *error)
{
  gboolean theirs = error->domain == MQ_CLIENT_ERROR;
  g_autofree char *line = g_strdup_printf ("%s %s", theirs ? "CLIENT_ERROR"
                                           : "SERVER_ERROR", error->message);

  if (!theirs)
    g_warning ("%s", error->message);
  /* A reply line cannot hold a line break. */
  g_strdelimit (line, "\r\n", ' ');
  conn_reply (conn, line);
}

static void
run_set (MqConn *conn, const MqCommand *cmd, const char *data)
{
  g_autoptr (GError) error = NULL;
  MqQueue *queue = queue_lookup_or_create (cmd->name, cmd->name_len);
  guint64 lsn = 0;

  totals.cmd_set++;
  switch (queue_push (queue, cmd->flags, cmd->exptime, cmd->delay_ms, data,
                      cmd->data_len, &lsn, &error))
    {
    case MQ_PUSH_STORED:
      conn_reply (conn, "STORED");
      hold_reply (conn, lsn);
      break;
    case MQ_PUSH_FULL:
      conn_reply (conn, "NOT_STORED");
      break;
    case MQ_PUSH_FAILED:
      reply_error (conn, error);
      break;
    }
}

/* ---- get ---------------------------------------------------------------- */

/* A fanout child starts receiving copies when it is first named. */
static MqQueue *
get_queue (const MqGetKey *key)
{
  if (queue_is_fanout_child (key->name, key->name_len))
    return queue_lookup_or_create (key->name, key->name_len);
  return queue_lookup (key->name, key->name_len);
}

static void
set_lease_expired (const MqGetKey *key, GError **error)
{
  g_set_error (error, MQ_CLIENT_ERROR, 0,
               "the lease of the reliable read of %.*s ran out: its message "
               "went back to the queue", (int) key->name_len, key->name);
}

/* /touch gives the connection's reliable reads of the queue a new lease. */
static gboolean
get_touch_open_read (MqConn *conn, const MqGetKey *key, GError **error)
{
  switch (window_touch (&conn->reads, key->name, key->name_len,
                        key->lease_ms))
    {
    case MQ_READ_OPEN:
      return TRUE;
    case MQ_READ_EXPIRED:
      set_lease_expired (key, error);
      return FALSE;
    case MQ_READ_NONE:
      break;
    }
  g_set_error (error, MQ_CLIENT_ERROR, 0,
               "no reliable read of %.*s is open on this connection",
               (int) key->name_len, key->name);
  return FALSE;
}

/* Ends the oldest n reliable reads of the queue on this connection:
 * closes them, or gives them back (after delay_ms; -1: as the queue's
 * rules say).  *expired counts those whose lease ran out (their messages
 * went back already).  Every read is ended even when one fails. */
static gboolean
window_end (MqConn *conn, const char *name, gsize len, guint n,
            gboolean close, gint64 delay_ms, guint *expired, GError **error)
{
  g_autoptr (GArray) seqs = g_array_sized_new (FALSE, FALSE,
                                               sizeof (guint64), n);
  MqQueue *queue;

  *expired = window_take (&conn->reads, name, len, n, seqs);
  queue = queue_lookup (name, len);
  if (queue != NULL && close)
    queue_close_reads (queue, (guint64 *) (void *) seqs->data, seqs->len);
  /* Oldest first: a retry later goes into its bucket in order. */
  for (guint i = 0; queue != NULL && !close && i < seqs->len; i++)
    {
      g_autoptr (GError) local = NULL;

      if (!queue_abort_read (queue, g_array_index (seqs, guint64, i),
                             delay_ms, &local)
          && local != NULL && error != NULL && *error == NULL)
        g_propagate_error (error, g_steal_pointer (&local));
    }
  return error == NULL || *error == NULL;
}

/* /close ends the connection's oldest reliable read of the queue, /abort
 * gives all of them back.  A close after its lease ran out is refused:
 * someone else may hold the message now; an abort then has nothing left
 * to do. */
static gboolean
get_end_open_read (MqConn *conn, const MqGetKey *key, GError **error)
{
  gboolean close = key->options & MQ_GET_CLOSE;
  guint n = window_length (&conn->reads, key->name, key->name_len);
  guint expired;

  if (key->options & MQ_GET_TOUCH)
    return get_touch_open_read (conn, key, error);
  if (!(key->options & (MQ_GET_CLOSE | MQ_GET_ABORT)))
    return TRUE;
  if (!window_end (conn, key->name, key->name_len, close ? MIN (n, 1) : n,
                   close, key->delay_ms, &expired, error))
    return FALSE;
  if (close && expired > 0)
    set_lease_expired (key, error);
  return !(close && expired > 0);
}

/* /peek wins over /open: a peek opens nothing. */
static gboolean
get_opens (const MqGetKey *key)
{
  return (key->options & (MQ_GET_OPEN | MQ_GET_PEEK)) == MQ_GET_OPEN;
}

static gboolean
same_queue (const MqGetKey *a, const MqGetKey *b)
{
  return a->name_len == b->name_len
    && memcmp (a->name, b->name, a->name_len) == 0;
}

/* <instance>.<incarnation>.<seq>: the same message has the same id after
 * an abort, a disconnect, a crash or a restart; a queue deleted and made
 * again has another incarnation. */
static const char *
item_id (const MqQueue *queue, const MqItem *item,
         char id[MQ_SHARED_ID_SIZE])
{
  g_snprintf (id, MQ_SHARED_ID_SIZE, "%.16s.%" G_GUINT64_FORMAT ".%"
              G_GUINT64_FORMAT, storage_instance (), queue->meta.inc,
              item->seq);
  return id;
}

static void
set_too_many_reads (GError **error)
{
  g_set_error (error, MQ_CLIENT_ERROR, 0,
               "too many reliable reads open on this connection: at most "
               MQ_SHARED_STR (MQ_MAX_OPEN_READS));
}

/* Hands out one item of queue as key asks; FALSE with no error when
 * none. */
static gboolean
give_one (MqConn *conn, const MqCommand *cmd, const MqGetKey *key,
          MqQueue *queue, GError **error)
{
  char id[MQ_SHARED_ID_SIZE];
  MqItem item;
  gboolean found;

  if (get_opens (key) && windows_count (&conn->reads) >= MQ_MAX_OPEN_READS)
    {
      set_too_many_reads (error);
      return FALSE;
    }
  if (key->options & MQ_GET_PEEK)
    found = queue_peek (queue, &item, error);
  else if (get_opens (key))
    found = queue_open_read (queue, &item, error);
  else
    found = queue_pop (queue, &item, error);
  if (!found)
    return FALSE;
  if (get_opens (key))
    window_add (&conn->reads, key->name, key->name_len, item.seq,
                key->lease_ms > 0 ? key->lease_ms
                : (gint64) queue->rules->lease_ms);
  conn_reply_value (conn, key, &item, cmd->type == MQ_CMD_GETS,
                    key->options & MQ_GET_ID ? item_id (queue, &item, id)
                    : NULL);
  hold_reply (conn, item.lsn);
  item_clear (&item);
  return TRUE;
}

/* A get gives one item of a queue; FALSE with no error when none. */
static gboolean
get_one (MqConn *conn, const MqCommand *cmd, const MqGetKey *key,
         GError **error)
{
  MqQueue *queue = get_queue (key);

  if (queue == NULL || conn_gave (conn, key))
    return FALSE;
  /* A get's read is the only one of its queue: reads whose lease ran out
   * are forgotten when another is opened. */
  if (get_opens (key))
    window_drop_expired (&conn->reads, key->name, key->name_len);
  return give_one (conn, cmd, key, queue, error);
}

static gboolean
get_only_ends_reads (const MqGetKey *key)
{
  return (key->options & (MQ_GET_CLOSE | MQ_GET_ABORT | MQ_GET_TOUCH))
    && !(key->options & (MQ_GET_OPEN | MQ_GET_PEEK));
}

/* A second /open on a queue while one is open, from an earlier get or
 * earlier on this line, would lose track of the first. */
static const MqGetKey *
get_find_conflict (MqConn *conn, const MqCommand *cmd)
{
  for (guint i = 0; i < cmd->n_keys; i++)
    {
      const MqGetKey *key = &cmd->keys[i];

      if (!get_opens (key))
        continue;
      if (!(key->options & (MQ_GET_CLOSE | MQ_GET_ABORT))
          && window_has_open (&conn->reads, key->name, key->name_len))
        return key;
      for (guint j = 0; j < i; j++)
        if (get_opens (&cmd->keys[j]) && same_queue (key, &cmd->keys[j]))
          return key;
    }
  return NULL;
}

/* Nothing was found: with a /t anywhere on the line, wait on every queue
 * the get takes from, until the longest /t.  A get run again after waking
 * keeps its first deadline. */
static gboolean
get_wait (MqConn *conn, const MqCommand *cmd)
{
  MqQueue *queues[MQ_MAX_KEYS];
  gint64 timeout_ms = 0;
  guint n = 0;

  for (guint i = 0; i < cmd->n_keys; i++)
    timeout_ms = MAX (timeout_ms, cmd->keys[i].timeout_ms);
  if (timeout_ms <= 0)
    return FALSE;
  for (guint i = 0; i < cmd->n_keys; i++)
    {
      const MqGetKey *key = &cmd->keys[i];

      if (!get_only_ends_reads (key))
        queues[n++] = queue_lookup_or_create (key->name, key->name_len);
    }
  if (n == 0)
    return FALSE;
  conn_block (conn, queues, n, conn->retry_deadline != 0
              ? conn->retry_deadline
              : g_get_monotonic_time () + timeout_ms * 1000);
  return TRUE;
}

static void
run_get (MqConn *conn, const MqCommand *cmd)
{
  const MqGetKey *conflict = get_find_conflict (conn, cmd);
  guint found = 0;

  if (conflict != NULL)
    {
      g_autofree char *line = g_strdup_printf (
        "CLIENT_ERROR a reliable read of %.*s is already open: close or "
        "abort it first", (int) conflict->name_len, conflict->name);

      conn_reply (conn, line);
      return;
    }
  for (guint i = 0; i < cmd->n_keys; i++)
    {
      const MqGetKey *key = &cmd->keys[i];
      g_autoptr (GError) error = NULL;

      if (!get_end_open_read (conn, key, &error))
        {
          reply_error (conn, error);
          return;
        }
      /* Past the output limit the keys left give nothing this time (their
       * messages stay where they are); one message always goes, so a get
       * run again after waking cannot wait for itself. */
      if (get_only_ends_reads (key) || (found > 0 && conn_output_full (conn)))
        continue;
      found += get_one (conn, cmd, key, &error);
      if (error != NULL && found == 0)
        {
          reply_error (conn, error);
          return;
        }
      /* Items already handed out are delivered: the failed queue keeps its
       * own, so nothing is lost. */
      if (error != NULL)
        g_warning ("get %.*s: %s", (int) key->name_len, key->name,
                   error->message);
    }
  if (found == 0 && get_wait (conn, cmd))
    return;
  /* Counted once the get is answered, not each time a waiter wakes. */
  totals.cmd_get += cmd->n_keys;    /* per key, as memcached counts */
  totals.get_hits += found;
  totals.get_misses += cmd->n_keys - found;
  conn_reply (conn, "END");
}

/* monitor <q> <ms> <max>: up to max reliable reads at once, waiting up
 * to ms for the first; the connection's reads of the queue already open
 * stay open, behind them. */
static void
run_monitor (MqConn *conn, const MqCommand *cmd)
{
  const MqGetKey *key = &cmd->keys[0];
  MqQueue *queue = get_queue (key);
  g_autoptr (GError) error = NULL;
  guint found = 0;

  /* Past the output limit no more are taken; one always is, so a monitor
   * run again after waking cannot wait for itself. */
  while (queue != NULL && found < cmd->count
         && (found == 0 || !conn_output_full (conn))
         && give_one (conn, cmd, key, queue, &error))
    found++;
  if (error != NULL && found == 0)
    {
      reply_error (conn, error);
      return;
    }
  if (error != NULL)
    g_warning ("monitor %.*s: %s", (int) key->name_len, key->name,
               error->message);
  if (found == 0 && get_wait (conn, cmd))
    return;
  totals.cmd_get++;
  totals.get_hits += found;
  totals.get_misses += found == 0;
  conn_reply (conn, "END");
}

/* confirm|abort <q> <n>: the oldest n reads of the queue closed, or given
 * back, as Kestrel's confirm; nothing is done when fewer are open. */
static void
run_window_end (MqConn *conn, const MqCommand *cmd)
{
  guint open = window_length (&conn->reads, cmd->name, cmd->name_len);
  gboolean confirm = cmd->type == MQ_CMD_CONFIRM;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  guint expired;

  if (cmd->count > open)
    line = g_strdup_printf ("CLIENT_ERROR reliable reads of %.*s open on "
                            "this connection: %u, fewer than %u",
                            (int) cmd->name_len, cmd->name, open,
                            cmd->count);
  else if (!window_end (conn, cmd->name, cmd->name_len, cmd->count, confirm,
                        -1, &expired, &error))
    {
      reply_error (conn, error);
      return;
    }
  else if (confirm && expired > 0)
    line = g_strdup_printf ("CLIENT_ERROR the lease of %u of the %u reads "
                            "of %.*s ran out: their messages went back to "
                            "the queue", expired, cmd->count,
                            (int) cmd->name_len, cmd->name);
  conn_reply (conn, line != NULL ? line : "END");
}

/* ---- queue management --------------------------------------------------- */

static void
run_delete (MqConn *conn, const MqCommand *cmd)
{
  MqQueue *queue = queue_lookup (cmd->name, cmd->name_len);
  g_autoptr (GError) error = NULL;

  if (queue == NULL)
    {
      conn_reply (conn, "NOT_FOUND");
      return;
    }
  /* Its waiters wait on again, on the queue the name will name next, once
   * this command is done. */
  waiters_detach_queue (queue);
  if (queue_delete (queue, &error))
    {
      conn_reply (conn, "DELETED");
      hold_reply (conn, commit_lsn ());
    }
  else
    reply_error (conn, error);
}

static void
run_flush (MqConn *conn, const MqCommand *cmd)
{
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GError) error = NULL;

  if (cmd->type == MQ_CMD_FLUSH)
    {
      MqQueue *queue = queue_lookup (cmd->name, cmd->name_len);

      if (queue != NULL && !queue_flush (queue, &error))
        reply_error (conn, error);
      else
        conn_reply (conn, "OK");
      hold_reply (conn, commit_lsn ());
      return;
    }
  all = queues_sorted ();
  for (guint i = 0; i < all->len; i++)
    if (!queue_flush (g_ptr_array_index (all, i), &error))
      {
        reply_error (conn, error);
        return;
      }
  conn_reply (conn, "OK");
  hold_reply (conn, commit_lsn ());
}

/* ---- stats -------------------------------------------------------------- */

/* Per-queue lines are made a batch at a time as the client reads them
 * (conn_reply_later), so a stats of many queues never stands whole in
 * memory; each batch shows its queues as they are then. */
#define STATS_BATCH 256

typedef struct {
  GByteArray *names;              /* the queues, in order: a length byte and
                                     the name, each */
  guint offset;                   /* the next to show */
  gboolean queue_group;           /* `stats queue`'s lines, or Kestrel's */
} StatsRest;

static void
stats_queue_line (GString *out, MqQueue *queue)
{
  protocol_append_stat_printf (out, queue->name, "%" G_GUINT64_FORMAT "/%"
                               G_GUINT64_FORMAT, queue->meta.enqueued,
                               queue->meta.dequeued);
}

/* Kestrel's names: queue_<name>_<what>. */
static void
stats_queue_lines (GString *out, MqQueue *queue)
{
  struct {
    const char *what;
    guint64 value;
  } lines[] = {
    { "items", queue->count },
    { "bytes", queue->meta.bytes },
    { "total_items", queue->meta.enqueued },
    { "dequeued", queue->meta.dequeued },
    { "open_transactions", queue->open_reads },
    { "waiters", g_queue_get_length (&queue->waiters) },
    { "expired_items", queue->meta.expired },
    { "discarded", queue->meta.discarded },
    { "age", (guint64) queue_age_ms (queue) },
    { "delayed", queue->delayed },
  };

  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autofree char *key = g_strdup_printf ("queue_%s_%s", queue->name,
                                              lines[i].what);

      protocol_append_stat_printf (out, key, "%" G_GUINT64_FORMAT,
                                   lines[i].value);
    }
}

static void
stats_rest_free (gpointer data)
{
  StatsRest *rest = data;

  g_byte_array_unref (rest->names);
  g_free (rest);
}

static gboolean
stats_more (MqConn *conn, gpointer data)
{
  StatsRest *rest = data;
  g_autoptr (GString) lines = g_string_new (NULL);

  for (guint n = 0; n < STATS_BATCH && rest->offset < rest->names->len; n++)
    {
      const guint8 *p = rest->names->data + rest->offset;
      MqQueue *queue = queue_lookup ((const char *) p + 1, p[0]);

      rest->offset += 1 + p[0];
      if (queue == NULL)
        continue;                 /* deleted since the stats began */
      if (rest->queue_group)
        stats_queue_line (lines, queue);
      else
        stats_queue_lines (lines, queue);
    }
  conn_reply_stats (conn, lines);
  if (rest->offset < rest->names->len)
    return TRUE;
  conn_reply (conn, "END");
  return FALSE;
}

/* The lines of every queue in all, then END, as the client reads. */
static void
stats_reply_queues (MqConn *conn, GPtrArray *all, gboolean queue_group)
{
  StatsRest *rest = g_new0 (StatsRest, 1);
  MqReplyRest later = { stats_more, rest, stats_rest_free };

  rest->names = g_byte_array_new ();
  rest->queue_group = queue_group;
  for (guint i = 0; i < all->len; i++)
    {
      MqQueue *queue = g_ptr_array_index (all, i);
      guint8 len = (guint8) strlen (queue->name);

      g_byte_array_append (rest->names, &len, 1);
      g_byte_array_append (rest->names, (const guint8 *) queue->name, len);
    }
  conn_reply_later (conn, &later);
}

static void
stats_server (GString *out, GPtrArray *all)
{
  guint64 items = 0, bytes = 0, total_items = 0;
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  for (guint i = 0; i < all->len; i++)
    {
      MqQueue *queue = g_ptr_array_index (all, i);

      items += queue->count;
      bytes += queue->meta.bytes;
      total_items += queue->meta.enqueued;
    }
  protocol_append_stat_printf (out, "pid", "%ld", (long) getpid ());
  protocol_append_stat_printf (out, "instance_id", "%.16s",
                               storage_instance ());
  protocol_append_stat_printf (out, "uptime", "%" G_GINT64_FORMAT,
                               (g_get_monotonic_time () - started_us)
                               / G_USEC_PER_SEC);
  protocol_append_stat_printf (out, "time", "%" G_GINT64_FORMAT,
                               g_get_real_time () / G_USEC_PER_SEC);
  protocol_append_stat (out, "version", PACKAGE_VERSION);
  protocol_append_stat_printf (out, "pointer_size", "%d",
                               (int) (8 * sizeof (void *)));
  protocol_append_stat_printf (out, "rusage_user", "%ld.%06ld",
                               (long) usage.ru_utime.tv_sec,
                               (long) usage.ru_utime.tv_usec);
  protocol_append_stat_printf (out, "rusage_system", "%ld.%06ld",
                               (long) usage.ru_stime.tv_sec,
                               (long) usage.ru_stime.tv_usec);
  protocol_append_stat_printf (out, "curr_connections", "%u", conns_count ());
  protocol_append_stat_printf (out, "total_connections", "%" G_GUINT64_FORMAT,
                               conns_total ());
  protocol_append_stat_printf (out, "cmd_get", "%" G_GUINT64_FORMAT,
                               totals.cmd_get);
  protocol_append_stat_printf (out, "cmd_set", "%" G_GUINT64_FORMAT,
                               totals.cmd_set);
  protocol_append_stat_printf (out, "get_hits", "%" G_GUINT64_FORMAT,
                               totals.get_hits);
  protocol_append_stat_printf (out, "get_misses", "%" G_GUINT64_FORMAT,
                               totals.get_misses);
  protocol_append_stat_printf (out, "curr_items", "%" G_GUINT64_FORMAT, items);
  protocol_append_stat_printf (out, "total_items", "%" G_GUINT64_FORMAT,
                               total_items);
  protocol_append_stat_printf (out, "bytes", "%" G_GUINT64_FORMAT, bytes);
  protocol_append_stat_printf (out, "curr_queues", "%u", all->len);
  protocol_append_stat_printf (out, "segment_reads", "%" G_GUINT64_FORMAT,
                               queues_segment_reads ());
  protocol_append_stat_printf (out, "threads", "%d", 1);
  protocol_append_stat_printf (out, "fsync_per_write", "%d",
                               !limits.no_sync);
  protocol_append_stat_printf (out, "max_message_size", "%" G_GSIZE_FORMAT,
                               limits.max_message);
}

/* memcached's `stats settings`, for the clients that ask (Dalli's
 * stats(:settings)): what of them a queue has. */
static void
stats_settings (GString *out)
{
  protocol_append_stat_printf (out, "item_size_max", "%" G_GSIZE_FORMAT,
                               limits.max_message);
  protocol_append_stat (out, "evictions", "off");
  protocol_append_stat (out, "cas_enabled", "no");
  protocol_append_stat (out, "binding_protocol", "auto-negotiate");
  protocol_append_stat_printf (out, "fsync_per_write", "%d",
                               !limits.no_sync);
}

/* memcached's groups of its cache: a queue has none, so they are empty,
 * as they are in an empty memcached, and its tools find nothing to list. */
static gboolean
stats_cache_group (const MqCommand *cmd)
{
  static const char *const groups[] = { "items", "slabs", "sizes",
                                        "cachedump" };

  for (gsize i = 0; i < G_N_ELEMENTS (groups); i++)
    if (cmd->name_len == strlen (groups[i])
        && memcmp (cmd->name, groups[i], cmd->name_len) == 0)
      return TRUE;
  return FALSE;
}

static void
run_stats (MqConn *conn, const MqCommand *cmd)
{
  g_autoptr (GString) lines = g_string_new (NULL);
  g_autoptr (GPtrArray) all = NULL;
  gboolean queue_group = cmd->name_len == 5
    && memcmp (cmd->name, "queue", 5) == 0;

  if (cmd->name_len == 8 && memcmp (cmd->name, "settings", 8) == 0)
    {
      stats_settings (lines);
      conn_reply_stats (conn, lines);
      conn_reply (conn, "END");
      return;
    }
  if (cmd->name != NULL && !queue_group)
    {
      conn_reply (conn, stats_cache_group (cmd) ? "END"
                  : "CLIENT_ERROR unknown stats group");
      return;
    }
  if (queue_group && cmd->n_keys == 1)
    {
      MqQueue *queue = queue_lookup (cmd->keys[0].name,
                                     cmd->keys[0].name_len);

      if (queue != NULL)
        stats_queue_lines (lines, queue);
      conn_reply_stats (conn, lines);
      conn_reply (conn, "END");
      return;
    }
  all = queues_sorted ();
  if (!queue_group)
    {
      stats_server (lines, all);
      conn_reply_stats (conn, lines);
    }
  stats_reply_queues (conn, all, queue_group);
}

void
command_execute (MqConn *conn, const MqCommand *cmd, const char *data)
{
  switch (cmd->type)
    {
    case MQ_CMD_NONE:
      g_assert_not_reached ();
    case MQ_CMD_SET:
      run_set (conn, cmd, data);
      break;
    case MQ_CMD_GET:
    case MQ_CMD_GETS:
      run_get (conn, cmd);
      break;
    case MQ_CMD_DELETE:
      run_delete (conn, cmd);
      break;
    case MQ_CMD_FLUSH:
    case MQ_CMD_FLUSH_ALL:
      run_flush (conn, cmd);
      break;
    case MQ_CMD_STATS:
      run_stats (conn, cmd);
      break;
    case MQ_CMD_VERSION:
      conn_reply (conn, "VERSION " PACKAGE_VERSION);
      break;
    case MQ_CMD_VERBOSITY:
      limits.set_verbosity (cmd->level);
      conn_reply (conn, "OK");
      break;
    case MQ_CMD_QUIT:
      conn_reply (conn, "OK");
      conn_close_after_reply (conn);
      break;
    case MQ_CMD_SHUTDOWN:
      g_message ("shutdown requested by a client");
      shutdown_requested = TRUE;
      conn_reply (conn, "OK");
      break;
    /* What memcache clients may send that a queue has nothing to carry out
     * for: one reply each, the one memcached gives when nothing was done. */
    case MQ_CMD_STORE_OTHER:
      conn_reply (conn, "NOT_STORED");
      break;
    case MQ_CMD_UPDATE:
      conn_reply (conn, "NOT_FOUND");
      break;
    case MQ_CMD_GAT:
      conn_reply (conn, "END");
      break;
    case MQ_CMD_NOOP:
      conn_reply (conn, "OK");
      break;
    case MQ_CMD_MONITOR:
      run_monitor (conn, cmd);
      break;
    case MQ_CMD_CONFIRM:
    case MQ_CMD_ABORT:
      run_window_end (conn, cmd);
      break;
    }
}
