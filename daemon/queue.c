/* queue.c: FIFO semantics over the store; see queue.h. */
#include "config.h"

#include <string.h>

#include "protocol.h"
#include "queue.h"

/* memcache's rule: up to 30 days an exptime is relative, beyond it absolute. */
#define EXPTIME_RELATIVE_MAX (60 * 60 * 24 * 30)
#define FANOUT_SEPARATOR '+'

static MqStore *store;
static MqRuleBook *rule_book;
static MqQueueReadyFunc ready;
static GHashTable *queues;        /* name -> MqQueue */
static GPtrArray *dirty_queues;
static gboolean unsynced;

/* ---- the set of queues ---------------------------------------------------- */

static void
queue_mark_dirty (MqQueue *queue)
{
  if (queue->dirty)
    return;
  queue->dirty = TRUE;
  g_ptr_array_add (dirty_queues, queue);
}

static void queue_link_parent (MqQueue *queue);
static void queue_adopt_children (MqQueue *parent);

static MqQueue *
queue_new (const char *name, gsize name_len)
{
  MqQueue *queue = g_new0 (MqQueue, 1);

  queue->name = g_strndup (name, name_len);
  queue->name_len = name_len;
  queue->meta.head = 1;
  queue->meta.tail = 1;
  queue->returned = g_array_new (FALSE, FALSE, sizeof (guint64));
  queue->open = g_array_new (FALSE, FALSE, sizeof (guint64));
  queue->rules = rules_lookup (rule_book, name, name_len);
  g_queue_init (&queue->waiters);
  g_hash_table_insert (queues, queue->name, queue);
  queue_link_parent (queue);
  queue_adopt_children (queue);
  return queue;
}

static void
queue_free (gpointer data)
{
  MqQueue *queue = data;

  g_array_unref (queue->returned);
  g_array_unref (queue->open);
  g_clear_pointer (&queue->children, g_ptr_array_unref);
  g_free (queue->name);
  g_free (queue);
}

/* A fanout child ("parent+child") receives copies from the moment it is
 * first named; it is saved at once so that it still does after a restart. */
static void
queue_add_child (MqQueue *parent, MqQueue *child)
{
  if (parent->children == NULL)
    parent->children = g_ptr_array_new ();
  g_ptr_array_add (parent->children, child);
  child->parent = parent;
}

/* A parent deleted and named again finds its children again. */
static void
queue_adopt_children (MqQueue *parent)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MqQueue *child = value;

      if (child->parent == NULL && child->name_len > parent->name_len
          && child->name[parent->name_len] == FANOUT_SEPARATOR
          && memcmp (child->name, parent->name, parent->name_len) == 0
          && memchr (child->name, FANOUT_SEPARATOR, parent->name_len) == NULL)
        queue_add_child (parent, child);
    }
}

gboolean
queue_is_fanout_child (const char *name, gsize name_len)
{
  const char *plus = memchr (name, FANOUT_SEPARATOR, name_len);

  return plus != NULL && plus != name;
}

static void
queue_link_parent (MqQueue *queue)
{
  const char *plus = memchr (queue->name, FANOUT_SEPARATOR, queue->name_len);
  MqQueue *parent;

  if (!queue_is_fanout_child (queue->name, queue->name_len))
    return;
  parent = queue_lookup_or_create (queue->name, plus - queue->name);
  if (queue->parent == NULL)      /* a parent made just now adopted it */
    queue_add_child (parent, queue);
  queue_mark_dirty (queue);
}

MqQueue *
queue_lookup (const char *name, gsize name_len)
{
  char key[MQ_MAX_NAME + 1];

  if (name_len > MQ_MAX_NAME)
    return NULL;
  memcpy (key, name, name_len);
  key[name_len] = '\0';
  return g_hash_table_lookup (queues, key);
}

MqQueue *
queue_lookup_or_create (const char *name, gsize name_len)
{
  MqQueue *queue = queue_lookup (name, name_len);

  return queue != NULL ? queue : queue_new (name, name_len);
}

void
queues_set_rules (MqRuleBook *rules)
{
  GHashTableIter iter;
  gpointer value;

  rule_book = rules;
  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MqQueue *queue = value;

      queue->rules = rules_lookup (rules, queue->name, queue->name_len);
      queue->may_expire |= queue->rules->max_age_ms > 0;
    }
}

/* ---- restart ------------------------------------------------------------ */

/* First pass: counters, depth and the highest seq of each queue.
 * user_data maps a queue to the tail its saved counters knew. */
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
      g_hash_table_insert (user_data, queue, g_memdup2 (&meta->tail,
                                                        sizeof meta->tail));
      return;
    }
  queue->count++;
  queue->meta.tail = MAX (queue->meta.tail, seq + 1);
}

/* Second pass, once every saved head is known.  Items below it were out on
 * reliable reads, or given back, when the daemon stopped: they are handed
 * out again first.  user_data maps a queue to its lowest seq at or above
 * head: a kill between a delete and the counters' write leaves head behind. */
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

/* A kill between a write and the counters' (at the pass end) leaves them
 * behind the items: every seq past the saved tail was enqueued, and what is
 * gone without being counted was dequeued. */
static void
queue_catch_up (MqQueue *queue, const guint64 *saved_tail)
{
  MqQueueMeta *meta = &queue->meta;
  guint64 gone;

  meta->enqueued += meta->tail - (saved_tail != NULL ? *saved_tail : 1);
  gone = meta->enqueued - MIN (meta->enqueued, queue->count + meta->expired
                                               + meta->discarded);
  meta->dequeued = MAX (meta->dequeued, gone);
}

static gboolean
queue_restore (MqQueue *queue, const guint64 *lowest, GError **error)
{
  queue->meta.head = lowest != NULL ? *lowest : queue->meta.tail;
  queue->may_expire = queue->count > 0;
  g_array_sort (queue->returned, compare_seq);
  /* The saved byte count left out the reads that were open. */
  for (guint i = 0; i < queue->returned->len; i++)
    {
      g_autoptr (GError) local = NULL;
      MqItem item;

      if (store_fetch_item (store, queue->name, queue->name_len,
                            g_array_index (queue->returned, guint64, i),
                            &item, &local))
        {
          queue->meta.bytes += item.len;
          item_clear (&item);
        }
      else if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
queues_rebuild (GError **error)
{
  g_autoptr (GHashTable) lowest = g_hash_table_new_full (NULL, NULL, NULL,
                                                         g_free);
  g_autoptr (GHashTable) saved_tails = g_hash_table_new_full (NULL, NULL,
                                                              NULL, g_free);
  GHashTableIter iter;
  gpointer queue;

  if (!store_scan (store, scan_counts, saved_tails, error)
      || !store_scan (store, scan_positions, lowest, error))
    return FALSE;
  store_remap (store);
  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &queue))
    {
      queue_catch_up (queue, g_hash_table_lookup (saved_tails, queue));
      if (!queue_restore (queue, g_hash_table_lookup (lowest, queue), error))
        return FALSE;
    }
  return TRUE;
}

gboolean
queues_open (MqStore *the_store, MqRuleBook *rules,
             MqQueueReadyFunc ready_func, GError **error)
{
  store = the_store;
  rule_book = rules;
  ready = ready_func;
  queues = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, queue_free);
  dirty_queues = g_ptr_array_new ();
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

/* ---- storing ------------------------------------------------------------ */

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

static gboolean
queue_full (MqQueue *queue, gsize len)
{
  const MqQueueRules *rules = queue->rules;

  return (rules->max_items > 0 && queue->count >= rules->max_items)
    || (rules->max_bytes > 0 && queue->meta.bytes + len > rules->max_bytes);
}

typedef enum {
  TAKE_PEEK,
  TAKE_POP,
  TAKE_OPEN,
  TAKE_DISCARD,                   /* dropped to make room */
  TAKE_EXPIRE,
} TakeMode;

static gboolean queue_take (MqQueue *queue, TakeMode mode, MqItem *item,
                            guint64 *seq, GError **error);

/* Under discard_old, drops the oldest messages until len fits. */
static MqPushResult
queue_make_room (MqQueue *queue, gsize len, GError **error)
{
  const MqQueueRules *rules = queue->rules;

  if ((rules->max_bytes > 0 && len > rules->max_bytes)
      || (rules->max_message_size > 0 && len > rules->max_message_size))
    return MQ_PUSH_FULL;
  while (queue_full (queue, len))
    {
      g_autoptr (GError) local = NULL;
      MqItem item;
      guint64 seq;

      if (!rules->discard_old)
        return MQ_PUSH_FULL;
      if (!queue_take (queue, TAKE_DISCARD, &item, &seq, &local))
        {
          if (local == NULL)
            return MQ_PUSH_FULL;  /* what fills it is out on open reads */
          g_propagate_error (error, g_steal_pointer (&local));
          return MQ_PUSH_FAILED;
        }
      item_clear (&item);
    }
  return MQ_PUSH_STORED;
}

static MqPushResult
queue_store (MqQueue *queue, const MqRecordHeader *header, const char *data,
             gsize len, GError **error)
{
  MqPushResult result = queue_make_room (queue, len, error);

  if (result != MQ_PUSH_STORED)
    return result;
  if (!store_put_item (store, queue->name, queue->name_len, queue->meta.tail,
                       header, data, len, error))
    return MQ_PUSH_FAILED;
  queue->meta.tail++;
  queue->meta.enqueued++;
  queue->meta.bytes += len;
  queue->count++;
  queue->may_expire |= header->expires_ms != 0
    || queue->rules->max_age_ms > 0;
  unsynced = TRUE;
  queue_mark_dirty (queue);
  ready (queue);
  return MQ_PUSH_STORED;
}

MqPushResult
queue_push (MqQueue *queue, guint32 flags, gint64 exptime, const char *data,
            gsize len, GError **error)
{
  gint64 now_ms = g_get_real_time () / 1000;
  MqRecordHeader header = {
    .flags = flags,
    .created_ms = now_ms,
    .expires_ms = expiry_from_exptime (exptime, now_ms),
  };
  MqPushResult result = queue_store (queue, &header, data, len, error);

  if (result != MQ_PUSH_STORED || queue->children == NULL)
    return result;
  /* By index: a waiter woken here may name, and so create, a new child. */
  for (guint i = 0; i < queue->children->len; i++)
    {
      MqQueue *child = g_ptr_array_index (queue->children, i);
      g_autoptr (GError) local = NULL;

      switch (queue_store (child, &header, data, len, &local))
        {
        case MQ_PUSH_STORED:
          break;
        case MQ_PUSH_FULL:        /* the child's own limits refused it */
          child->meta.discarded++;
          queue_mark_dirty (child);
          break;
        case MQ_PUSH_FAILED:
          g_warning ("fanout to %s: %s", child->name, local->message);
          break;
        }
    }
  return result;
}

/* ---- handing out -------------------------------------------------------- */

/* The next seq to hand out; 0 when none. */
static guint64
queue_next_seq (MqQueue *queue)
{
  if (queue->returned->len > 0)
    return g_array_index (queue->returned, guint64, 0);
  return queue->meta.head < queue->meta.tail ? queue->meta.head : 0;
}

/* seq leaves the waiting line (it was queue_next_seq). */
static void
queue_advance (MqQueue *queue, guint64 seq)
{
  if (queue->returned->len > 0
      && g_array_index (queue->returned, guint64, 0) == seq)
    g_array_remove_index (queue->returned, 0);
  else
    queue->meta.head = seq + 1;
}

static gboolean
item_expired (const MqItem *item, const MqQueueRules *rules, gint64 now_ms)
{
  const MqRecordHeader *header = &item->header;

  return (header->expires_ms != 0 && header->expires_ms <= now_ms)
    || (rules->max_age_ms > 0
        && header->created_ms + (gint64) rules->max_age_ms <= now_ms);
}

static gboolean
queue_delete_seq (MqQueue *queue, guint64 seq, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (store_delete_item (store, queue->name, queue->name_len, seq, &local)
      || local == NULL)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

/* The item at seq (just fetched) leaves the queue's waiting line. */
static gboolean
queue_hand_out (MqQueue *queue, TakeMode mode, guint64 seq, gsize len,
                GError **error)
{
  if (mode != TAKE_OPEN && !queue_delete_seq (queue, seq, error))
    return FALSE;
  queue_advance (queue, seq);
  queue->count--;
  queue->meta.bytes -= MIN (queue->meta.bytes, len);
  if (mode == TAKE_OPEN)
    g_array_append_val (queue->open, seq);
  else if (mode == TAKE_POP)
    queue->meta.dequeued++;
  else if (mode == TAKE_DISCARD)
    queue->meta.discarded++;
  else
    queue->meta.expired++;
  queue_mark_dirty (queue);
  return TRUE;
}

/* Finds the next live item, dropping expired ones on the way. */
static gboolean
queue_take (MqQueue *queue, TakeMode mode, MqItem *item, guint64 *seq,
            GError **error)
{
  gint64 now_ms = g_get_real_time () / 1000;
  guint64 next;

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
          queue_advance (queue, next);    /* a hole left by a crash */
          continue;
        }
      if (item_expired (item, queue->rules, now_ms))
        {
          gboolean ok = queue_hand_out (queue, TAKE_EXPIRE, next, item->len,
                                        error);

          item_clear (item);
          if (!ok)
            return FALSE;
          continue;
        }
      if (mode != TAKE_PEEK
          && !queue_hand_out (queue, mode, next, item->len, error))
        {
          item_clear (item);
          return FALSE;
        }
      *seq = next;
      return TRUE;
    }
  if (queue->count == 0 && queue->returned->len == 0)
    queue->may_expire = FALSE;
  return FALSE;
}

gboolean
queue_pop (MqQueue *queue, MqItem *item, guint64 *seq, GError **error)
{
  return queue_take (queue, TAKE_POP, item, seq, error);
}

gboolean
queue_peek (MqQueue *queue, MqItem *item, guint64 *seq, GError **error)
{
  return queue_take (queue, TAKE_PEEK, item, seq, error);
}

gboolean
queue_open_read (MqQueue *queue, MqItem *item, guint64 *seq, GError **error)
{
  return queue_take (queue, TAKE_OPEN, item, seq, error);
}

static gboolean
queue_forget_open (MqQueue *queue, guint64 seq)
{
  for (guint i = 0; i < queue->open->len; i++)
    if (g_array_index (queue->open, guint64, i) == seq)
      {
        g_array_remove_index_fast (queue->open, i);
        return TRUE;
      }
  return FALSE;
}

gboolean
queue_close_read (MqQueue *queue, guint64 seq, GError **error)
{
  if (!queue_forget_open (queue, seq))
    return FALSE;
  queue->meta.dequeued++;
  queue_mark_dirty (queue);
  return queue_delete_seq (queue, seq, error);
}

static void
queue_insert_returned (MqQueue *queue, guint64 seq)
{
  guint i = 0;

  while (i < queue->returned->len
         && g_array_index (queue->returned, guint64, i) < seq)
    i++;
  g_array_insert_val (queue->returned, i, seq);
}

/* Moves a message that came back too often to the dead-letter queue;
 * MQ_PUSH_FULL when that queue refuses it (it then stays where it was). */
static MqPushResult
queue_bury (MqQueue *queue, guint64 seq, MqItem *item, GError **error)
{
  const char *name = queue->rules->dead_letter;
  MqQueue *dead = queue_lookup_or_create (name, strlen (name));
  MqRecordHeader header = item->header;
  MqPushResult result;

  header.deliveries = 0;
  result = queue_store (dead, &header, item->data, item->len, error);
  if (result == MQ_PUSH_FULL)
    g_warning ("dead-letter queue %s is full: message %" G_GUINT64_FORMAT
               " stays in %s", name, seq, queue->name);
  if (result != MQ_PUSH_STORED)
    return result;
  queue->meta.discarded++;
  return queue_delete_seq (queue, seq, error) ? MQ_PUSH_STORED
    : MQ_PUSH_FAILED;
}

gboolean
queue_abort_read (MqQueue *queue, guint64 seq, GError **error)
{
  g_autoptr (GError) local = NULL;
  const MqQueueRules *rules = queue->rules;
  MqItem item;
  gboolean ok;

  if (!queue_forget_open (queue, seq))
    return TRUE;
  queue_mark_dirty (queue);
  if (!store_fetch_item (store, queue->name, queue->name_len, seq, &item,
                         &local))
    {
      if (local == NULL)
        return TRUE;              /* gone with a flush or a delete */
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (item.header.deliveries < G_MAXUINT16)
    item.header.deliveries++;
  if (rules->max_deliveries > 0
      && item.header.deliveries >= rules->max_deliveries
      && strcmp (rules->dead_letter, queue->name) != 0)
    {
      MqPushResult buried = queue_bury (queue, seq, &item, error);

      if (buried != MQ_PUSH_FULL)
        {
          item_clear (&item);
          return buried == MQ_PUSH_STORED;
        }
    }
  ok = store_put_item (store, queue->name, queue->name_len, seq, &item.header,
                       item.data, item.len, error);
  queue_insert_returned (queue, seq);
  queue->count++;
  queue->meta.bytes += item.len;
  item_clear (&item);
  ready (queue);
  return ok;
}

/* ---- emptying ----------------------------------------------------------- */

gboolean
queue_flush (MqQueue *queue, GError **error)
{
  while (queue->returned->len > 0)
    {
      if (!queue_delete_seq (queue, g_array_index (queue->returned, guint64, 0),
                             error))
        return FALSE;
      g_array_remove_index (queue->returned, 0);
    }
  for (; queue->meta.head < queue->meta.tail; queue->meta.head++)
    if (!queue_delete_seq (queue, queue->meta.head, error))
      return FALSE;
  queue->count = 0;
  queue->meta.bytes = 0;
  queue->may_expire = FALSE;
  queue_mark_dirty (queue);
  return TRUE;
}

static void
queue_unlink_family (MqQueue *queue)
{
  if (queue->parent != NULL)
    g_ptr_array_remove (queue->parent->children, queue);
  for (guint i = 0; queue->children != NULL && i < queue->children->len; i++)
    ((MqQueue *) g_ptr_array_index (queue->children, i))->parent = NULL;
}

gboolean
queue_delete (MqQueue *queue, GError **error)
{
  if (!queue_flush (queue, error))
    return FALSE;
  for (guint i = 0; i < queue->open->len; i++)
    if (!queue_delete_seq (queue, g_array_index (queue->open, guint64, i),
                           error))
      return FALSE;
  if (!store_delete_meta (store, queue->name, queue->name_len, error))
    return FALSE;
  g_ptr_array_remove_fast (dirty_queues, queue);
  queue_unlink_family (queue);
  g_hash_table_remove (queues, queue->name);
  unsynced = TRUE;
  return TRUE;
}

gint64
queue_age_ms (MqQueue *queue)
{
  guint64 seq = queue_next_seq (queue);
  MqItem item;
  gint64 age;

  if (seq == 0
      || !store_fetch_item (store, queue->name, queue->name_len, seq, &item,
                            NULL))
    return 0;
  age = g_get_real_time () / 1000 - item.header.created_ms;
  item_clear (&item);
  return MAX (age, 0);
}

/* ---- the whole set ------------------------------------------------------ */

gboolean
queues_sweep (GError **error)
{
  g_autoptr (GPtrArray) all = queues_sorted ();

  for (guint i = 0; i < all->len; i++)
    {
      MqQueue *queue = g_ptr_array_index (all, i);
      MqItem item;
      guint64 seq;

      /* A peek drops the expired items in front of the first live one. */
      g_autoptr (GError) local = NULL;

      if (!queue->may_expire || queue->count == 0)
        continue;
      if (queue_peek (queue, &item, &seq, &local))
        item_clear (&item);
      else if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  return TRUE;
}

/* GDBM never shrinks its file: once every queue is empty (nothing waiting,
 * nothing out on a reliable read) a file grown past this is replaced by an
 * empty one, and the queues' counters are written again. */
#define COMPACT_MIN_BYTES (512 * 1024)

static gboolean
queues_all_empty (void)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MqQueue *queue = value;

      if (queue->count > 0 || queue->open->len > 0)
        return FALSE;
    }
  return TRUE;
}

gboolean
queues_compact (GError **error)
{
  GHashTableIter iter;
  gpointer value;
  guint64 before = store_file_size (store);

  if (before < COMPACT_MIN_BYTES || !queues_all_empty ())
    return TRUE;
  if (!store_reset (store, error))
    return FALSE;
  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    queue_mark_dirty (value);
  unsynced = TRUE;
  if (!queues_commit (TRUE, error))
    return FALSE;
  g_message ("%s compacted: %" G_GUINT64_FORMAT " KiB, now %" G_GUINT64_FORMAT
             " KiB", store_path (store), before / 1024,
             store_file_size (store) / 1024);
  return TRUE;
}

gboolean
queues_commit (gboolean sync, GError **error)
{
  gboolean changed = unsynced || dirty_queues->len > 0;

  for (guint i = 0; i < dirty_queues->len; i++)
    {
      MqQueue *queue = g_ptr_array_index (dirty_queues, i);

      if (!store_put_meta (store, queue->name, queue->name_len, &queue->meta,
                           error))
        {
          g_ptr_array_remove_range (dirty_queues, 0, i);
          return FALSE;
        }
      queue->dirty = FALSE;
    }
  g_ptr_array_set_size (dirty_queues, 0);
  if (!store_commit (store, sync && changed, error))
    return FALSE;
  if (sync)
    unsynced = FALSE;
  return TRUE;
}

guint64
queues_commit_async (GError **error)
{
  if (!queues_commit (FALSE, error) || !unsynced)
    return 0;
  unsynced = FALSE;
  return store_request_sync (store);
}

gboolean
queues_write (GError **error)
{
  return store_commit (store, FALSE, error);
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
