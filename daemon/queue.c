/* queue.c: FIFO semantics over the store; see queue.h. */
#include "config.h"

#include <string.h>

#include "queue.h"

/* memcache's rule: up to 30 days an exptime is relative, beyond it absolute. */
#define EXPTIME_RELATIVE_MAX (60 * 60 * 24 * 30)

static MqStore *store;
static GHashTable *queues;        /* name -> MqQueue */
static GPtrArray *dirty_queues;
static gboolean unsynced;
static MqQueueTotals totals;

static guint
name_hash (gconstpointer key)
{
  return g_str_hash (key);
}

static MqQueue *
queue_new (const char *name, gsize name_len)
{
  MqQueue *queue = g_new0 (MqQueue, 1);

  queue->name = g_strndup (name, name_len);
  queue->name_len = name_len;
  queue->meta.head = 1;
  queue->meta.tail = 1;
  queue->returned = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_hash_table_insert (queues, queue->name, queue);
  return queue;
}

static void
queue_free (gpointer data)
{
  MqQueue *queue = data;

  g_array_unref (queue->returned);
  g_free (queue->name);
  g_free (queue);
}

static void
queue_mark_dirty (MqQueue *queue)
{
  if (queue->dirty)
    return;
  queue->dirty = TRUE;
  g_ptr_array_add (dirty_queues, queue);
}

MqQueue *
queue_lookup (const char *name, gsize name_len)
{
  char key[name_len + 1];

  memcpy (key, name, name_len);
  key[name_len] = 0;
  return g_hash_table_lookup (queues, key);
}

MqQueue *
queue_lookup_or_create (const char *name, gsize name_len)
{
  MqQueue *queue = queue_lookup (name, name_len);

  return queue != NULL ? queue : queue_new (name, name_len);
}

/* Restart, first pass: counters, depth and the highest seq of each queue. */
static void
scan_counts (const char *name, gsize name_len, guint64 seq,
             const MqQueueMeta *meta, gpointer user_data)
{
  MqQueue *queue = queue_lookup_or_create (name, name_len);

  if (meta != NULL)
    {
      guint64 seen_tail = queue->meta.tail;

      queue->meta = *meta;
      queue->meta.tail = MAX (meta->tail, seen_tail);
      return;
    }
  queue->count++;
  queue->meta.tail = MAX (queue->meta.tail, seq + 1);
}

/* Second pass, once every saved head is known.  Items below it were handed
 * out on a reliable read, or given back, when the daemon stopped: they are
 * delivered again first.  user_data maps a queue to its lowest seq at or
 * above head: a kill between a delete and the counters' write leaves head
 * behind. */
static void
scan_positions (const char *name, gsize name_len, guint64 seq,
                const MqQueueMeta *meta, gpointer user_data)
{
  MqQueue *queue = queue_lookup (name, name_len);
  GHashTable *lowest = user_data;
  guint64 *slot;

  if (meta != NULL || queue == NULL)
    return;
  if (seq < queue->meta.head)
    {
      g_array_append_val (queue->returned, seq);
      return;
    }
  slot = g_hash_table_lookup (lowest, queue);
  if (slot == NULL)
    {
      slot = g_new (guint64, 1);
      *slot = seq;
      g_hash_table_insert (lowest, queue, slot);
    }
  *slot = MIN (*slot, seq);
}

static gint
compare_seq (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

static void
queue_restore (MqQueue *queue, const guint64 *lowest)
{
  /* A write seen after the saved counters still counts as enqueued. */
  queue->meta.enqueued = MAX (queue->meta.enqueued,
                              queue->meta.dequeued + queue->count);
  g_array_sort (queue->returned, compare_seq);
  queue->meta.head = lowest != NULL ? *lowest : queue->meta.tail;
}

static gboolean
queues_rebuild (GError **error)
{
  g_autoptr (GHashTable) lowest = g_hash_table_new_full (NULL, NULL, NULL,
                                                         g_free);
  GHashTableIter iter;
  gpointer queue;

  if (!store_scan (store, scan_counts, NULL, error)
      || !store_scan (store, scan_positions, lowest, error))
    return FALSE;
  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &queue))
    queue_restore (queue, g_hash_table_lookup (lowest, queue));
  return TRUE;
}

gboolean
queues_open (MqStore *the_store, GError **error)
{
  store = the_store;
  queues = g_hash_table_new_full (name_hash, g_str_equal, NULL, queue_free);
  dirty_queues = g_ptr_array_new ();
  memset (&totals, 0, sizeof totals);
  unsynced = FALSE;
  return queues_rebuild (error);
}

void
queues_close (void)
{
  g_clear_pointer (&queues, g_hash_table_unref);
  g_clear_pointer (&dirty_queues, g_ptr_array_unref);
  store = NULL;
}

static gint64
expiry_from_exptime (gint64 exptime, gint64 now_ms)
{
  if (exptime == 0)
    return 0;
  if (exptime < 0)
    return now_ms;                /* already expired, as in memcached */
  if (exptime <= EXPTIME_RELATIVE_MAX)
    return now_ms + exptime * 1000;
  return exptime * 1000;
}

gboolean
queue_push (MqQueue *queue, guint32 flags, gint64 exptime, const char *data,
            gsize len, GError **error)
{
  gint64 now_ms = g_get_real_time () / 1000;
  MqRecordHeader header = {
    .flags = flags,
    .created_ms = now_ms,
    .expires_ms = expiry_from_exptime (exptime, now_ms),
  };

  totals.cmd_set++;
  if (!store_put_item (store, queue->name, queue->name_len, queue->meta.tail,
                       &header, data, len, error))
    return FALSE;
  queue->meta.tail++;
  queue->meta.enqueued++;
  queue->meta.bytes += len;
  queue->count++;
  unsynced = TRUE;
  queue_mark_dirty (queue);
  return TRUE;
}

/* The next seq to hand out, skipping holes left by a crash; 0 when none. */
static guint64
queue_next_seq (MqQueue *queue)
{
  if (queue->returned->len > 0)
    return g_array_index (queue->returned, guint64, 0);
  return queue->meta.head < queue->meta.tail ? queue->meta.head : 0;
}

static void
queue_forget_seq (MqQueue *queue, guint64 seq)
{
  if (queue->returned->len > 0
      && g_array_index (queue->returned, guint64, 0) == seq)
    g_array_remove_index (queue->returned, 0);
  else
    queue->meta.head = seq + 1;
}

static gboolean
item_expired (const MqItem *item, gint64 now_ms)
{
  return item->header.expires_ms != 0 && item->header.expires_ms <= now_ms;
}

/* Removes whatever is at seq from the store and the counters. */
static gboolean
queue_remove (MqQueue *queue, guint64 seq, gsize len, GError **error)
{
  g_autoptr (GError) local = NULL;
  gboolean existed;

  existed = store_delete_item (store, queue->name, queue->name_len, seq,
                               &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  queue_forget_seq (queue, seq);
  if (existed && queue->count > 0)
    queue->count--;
  queue->meta.bytes -= MIN (queue->meta.bytes, len);
  queue_mark_dirty (queue);
  return TRUE;
}

gboolean
queue_pop (MqQueue *queue, MqItem *item, guint64 *seq, GError **error)
{
  gint64 now_ms = g_get_real_time () / 1000;
  guint64 next;

  totals.cmd_get++;
  while (queue->count > 0 && (next = queue_next_seq (queue)) != 0)
    {
      g_autoptr (GError) local = NULL;

      if (!store_fetch_item (store, queue->name, queue->name_len, next, item,
                             &local))
        {
          if (local != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return FALSE;
            }
          queue_forget_seq (queue, next);     /* a hole: nothing there */
          continue;
        }
      if (!queue_remove (queue, next, item->len, error))
        {
          item_clear (item);
          return FALSE;
        }
      if (item_expired (item, now_ms))
        {
          queue->meta.expired++;
          item_clear (item);
          continue;
        }
      queue->meta.dequeued++;
      totals.get_hits++;
      *seq = next;
      return TRUE;
    }
  totals.get_misses++;
  return FALSE;
}

gboolean
queue_flush (MqQueue *queue, GError **error)
{
  /* Every seq that may hold an item: the given-back ones and head..tail. */
  while (queue->returned->len > 0)
    if (!queue_remove (queue, g_array_index (queue->returned, guint64, 0), 0,
                       error))
      return FALSE;
  while (queue->meta.head < queue->meta.tail)
    if (!queue_remove (queue, queue->meta.head, 0, error))
      return FALSE;
  queue->meta.bytes = 0;
  return TRUE;
}

gboolean
queue_delete (MqQueue *queue, GError **error)
{
  if (!queue_flush (queue, error)
      || !store_delete_meta (store, queue->name, queue->name_len, error))
    return FALSE;
  if (queue->dirty)
    g_ptr_array_remove_fast (dirty_queues, queue);
  g_hash_table_remove (queues, queue->name);
  unsynced = TRUE;
  return TRUE;
}

gboolean
queues_commit (gboolean sync, GError **error)
{
  for (guint i = 0; i < dirty_queues->len; i++)
    {
      MqQueue *queue = g_ptr_array_index (dirty_queues, i);

      if (!store_put_meta (store, queue->name, queue->name_len, &queue->meta,
                           error))
        return FALSE;
      queue->dirty = FALSE;
    }
  g_ptr_array_set_size (dirty_queues, 0);
  if (!sync || !unsynced)
    return TRUE;
  if (!store_sync (store, error))
    return FALSE;
  unsynced = FALSE;
  return TRUE;
}

gboolean
queues_unsynced (void)
{
  return unsynced;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  const MqQueue *x = *(MqQueue * const *) a, *y = *(MqQueue * const *) b;

  return strcmp (x->name, y->name);
}

GPtrArray *
queues_sorted (void)
{
  GPtrArray *all = g_ptr_array_sized_new (g_hash_table_size (queues));
  GHashTableIter iter;
  gpointer queue;

  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &queue))
    g_ptr_array_add (all, queue);
  g_ptr_array_sort (all, compare_names);
  return all;
}

MqQueueTotals *
queues_totals (void)
{
  return &totals;
}

gboolean
queues_crash_tolerant (void)
{
  return store_crash_tolerant (store);
}
