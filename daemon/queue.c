/* queue.c: FIFO semantics over runs of messages; see queue.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "protocol.h"
#include "queue.h"
#include "space.h"

/* memcache's rule: up to 30 days an exptime is relative, beyond it absolute. */
#define EXPTIME_RELATIVE_MAX (60 * 60 * 24 * 30)
#define FANOUT_SEPARATOR '+'
/* A segment holds about this many bytes of messages. */
#define SEGMENT_TARGET (32 * 1024)
/* A young tail past this is sealed at the pass end... */
#define TAIL_QUEUE_CAP (256 * 1024)
/* ...and past half of this, those of a segment's size first, past three
 * quarters any, about TAIL_SEAL_SLICE a pass (writing the whole budget in
 * one pass held the loop up to 23 ms), or all it takes past all of it. */
#define TAIL_BUDGET (8 * 1024 * 1024)
#define TAIL_SEAL_SLICE (1024 * 1024)
/* Loaded head segments past this are cut to windows of at most
 * HEAD_WINDOW bytes from the head, and windows then dropped, least
 * recently used first (1,000 queues keep a window each; a segment each
 * would take 32 MiB). */
#define HEAD_BUDGET (4 * 1024 * 1024)
#define HEAD_WINDOW (2 * 1024)
/* Replay tidies up this often, so that its memory stays bounded. */
#define REPLAY_TIDY_EVERY 4096
/* Expiry sweeps that read a head segment from disk, per sweep. */
#define SWEEP_LOADS 64

typedef struct {
  guint64 seq;
  guint64 lsn;
} Unsynced;

static MqStore *store;
static MqRuleBook *rule_book;
static MqQueueReadyFunc ready;
static GHashTable *queues;        /* name -> MqQueue */
static GHashTable *orphans;       /* parent name -> GPtrArray of children */
static guint64 next_inc;
static gboolean replaying;
static guint64 replayed;
static GQueue tails = G_QUEUE_INIT;       /* queues with a young tail */
static gsize tail_bytes;
static guint tails_large;         /* tails of SEGMENT_TARGET bytes or more */
/* Loaded heads, oldest use first: whole segments, and windows of them. */
static GQueue heads = G_QUEUE_INIT;
static GQueue windows = G_QUEUE_INIT;
static gsize head_bytes;
static guint64 segment_reads;     /* segments read from the store */
/* The last segment read below a head (for a message given back): the
 * messages given back next to it are read from it, not from disk again.
 * The queue's incarnation tells a queue made again at the same address. */
static struct {
  MqQueue *queue;
  guint64 inc;
  guint64 first;
  MqRun *run;
} below;
static GPtrArray *touched;        /* queues whose tail changed this pass */
/* Replay gathers the closes in a row of one queue and makes them in one
 * pass: one at a time, the confirms of a window of 65,536 reads moved the
 * held array 65,536 times (1.5 s at a start). */
static MqQueue *closing;
static GArray *closing_seqs;      /* guint64 */
static GByteArray *scratch;
static GByteArray *states;        /* a chunk of them, at a checkpoint */
static MqWheel *wheel;            /* delay buckets, in time order */
/* Buckets take what their queue accepted: no limits of their own. */
static const MqQueueRules bucket_rules;

/* ---- journal ------------------------------------------------------------ */

/* Journals a change of a saved queue; returns the LSN past its entry. */
static guint64
queue_log (MqQueue *queue, MqEntry *entry)
{
  if (replaying || !queue->persistent)
    return 0;
  entry->name = queue->name;
  entry->name_len = queue->name_len;
  return commit_log (entry);
}

static guint64
queue_log_op (MqQueue *queue, MqEntryOp op, guint64 seq)
{
  MqEntry entry = { .op = op, .seq = seq, .inc = queue->meta.inc };

  return queue_log (queue, &entry);
}

static gboolean
out_of_step (MqQueue *queue, const char *what, guint64 seq, GError **error)
{
  g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT,
               "journal out of step with queue %s: %s %" G_GUINT64_FORMAT
               " (head %" G_GUINT64_FORMAT ", tail %" G_GUINT64_FORMAT ")",
               queue->name, what, seq, queue->meta.head, queue->meta.tail);
  return FALSE;
}

/* ---- memory: young tails and loaded heads -------------------------------- */

/* The tail changed: the pass end trims it, and seals it when large. */
static void
queue_touch (MqQueue *queue)
{
  if (queue->tail_run != NULL && queue->tail_link.data == NULL)
    {
      queue->tail_link.data = queue;
      g_queue_push_tail_link (&tails, &queue->tail_link);
    }
  if (!queue->touched)
    {
      queue->touched = TRUE;
      g_ptr_array_add (touched, queue);
    }
}

/* A tail went from before to now bytes. */
static void
tail_count (gsize before, gsize now)
{
  tail_bytes = tail_bytes - before + now;
  tails_large = tails_large + (now >= SEGMENT_TARGET)
    - (before >= SEGMENT_TARGET);
}

static void
tail_set_bytes (MqQueue *queue, gsize before)
{
  tail_count (before, queue->tail_run != NULL
              ? run_bytes (queue->tail_run) : 0);
}

/* The tail is empty: its run goes, and its place in the list. */
static void
tail_release (MqQueue *queue)
{
  tail_count (run_bytes (queue->tail_run), 0);
  g_clear_pointer (&queue->tail_run, run_unref);
  queue->tail_start = queue->meta.tail;
  if (queue->tail_link.data != NULL)
    {
      g_queue_unlink (&tails, &queue->tail_link);
      queue->tail_link.data = NULL;
    }
}

static GQueue *
head_list (MqQueue *queue)
{
  return queue->head_window ? &windows : &heads;
}

static void
head_drop (MqQueue *queue)
{
  if (queue->head_run == NULL)
    return;
  head_bytes -= run_bytes (queue->head_run);
  g_clear_pointer (&queue->head_run, run_unref);
  g_queue_unlink (head_list (queue), &queue->head_link);
}

/* run holds messages of the head's segment, which ends at seg_end: all
 * of them, or a window from the head on. */
static void
head_set (MqQueue *queue, MqRun *run, guint64 seg_end, gboolean window)
{
  head_drop (queue);
  queue->head_run = run;
  queue->head_seg_end = seg_end;
  queue->head_window = window;
  head_bytes += run_bytes (run);
  queue->head_link.data = queue;
  g_queue_push_tail_link (head_list (queue), &queue->head_link);
}

/* Whether the loaded head holds message seq of the segment from first. */
static gboolean
head_holds (MqQueue *queue, guint64 first, guint64 seq)
{
  return queue->head_run != NULL && first == queue->meta.head_seg
    && seq >= run_first (queue->head_run) && seq < run_end (queue->head_run);
}

/* A head gives way: the least recently used segment is cut to a window
 * from the head on; when only windows are left, the least recently used
 * window goes. */
static void
heads_let_go (void)
{
  MqQueue *queue = g_queue_peek_head (&heads);
  MqRun *window = NULL;

  if (queue == NULL)
    {
      head_drop (g_queue_peek_head (&windows));
      return;
    }
  if (head_holds (queue, queue->meta.head_seg, queue->meta.head))
    window = run_copy_from (queue->head_run, queue->meta.head, HEAD_WINDOW);
  if (window == NULL)
    head_drop (queue);
  else
    head_set (queue, window, queue->head_seg_end, TRUE);
}

/* The first held message at or after seq, as an index (held->len: none). */
static guint
held_index (MqQueue *queue, guint64 seq)
{
  guint lo = 0, hi = queue->held->len;

  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;

      if (g_array_index (queue->held, MqHeld, mid).seq < seq)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static MqHeld *
held_find (MqQueue *queue, guint64 seq)
{
  guint i = held_index (queue, seq);

  if (i < queue->held->len && g_array_index (queue->held, MqHeld, i).seq == seq)
    return &g_array_index (queue->held, MqHeld, i);
  return NULL;
}

static void
held_remove (MqQueue *queue, MqHeld *held)
{
  g_array_remove_index (queue->held, held - (MqHeld *) queue->held->data);
}

/* The messages of the young tail below the head, and below every held
 * one, are gone for good: their bytes go too. */
static void
tail_trim (MqQueue *queue)
{
  guint64 keep = queue->meta.head;
  guint i = held_index (queue, queue->tail_start);
  gsize before;

  if (queue->tail_run == NULL)
    return;
  if (i < queue->held->len)
    keep = MIN (keep, g_array_index (queue->held, MqHeld, i).seq);
  if (keep >= queue->meta.tail)
    {
      tail_release (queue);
      return;
    }
  before = run_bytes (queue->tail_run);
  run_drop_before (queue->tail_run, keep);
  queue->tail_start = run_first (queue->tail_run);
  tail_set_bytes (queue, before);
}

/* Writes the young tail out as segments.  The messages stay in memory
 * until the store has them. */
static gboolean
queue_seal (MqQueue *queue, GError **error)
{
  tail_trim (queue);
  while (queue->tail_run != NULL)
    {
      guint64 first = queue->tail_start;
      guint64 end = run_encode_segment (queue->tail_run, SEGMENT_TARGET,
                                        scratch);
      gsize before = run_bytes (queue->tail_run);
      guint i;

      if (!space_check_write (scratch->len, error)
          || !store_put_segment (store, queue->name, queue->name_len,
                                 queue->meta.inc, first, scratch, error))
        return FALSE;
      for (i = held_index (queue, first);
           i < queue->held->len
           && g_array_index (queue->held, MqHeld, i).seq < end; i++)
        g_array_index (queue->held, MqHeld, i).seg_start = first;
      if (queue->meta.head >= first && queue->meta.head < end)
        queue->meta.head_seg = first;
      queue->tail_start = end;
      if (end == queue->meta.tail)
        tail_release (queue);
      else
        {
          run_drop_before (queue->tail_run, end);
          tail_set_bytes (queue, before);
        }
    }
  return TRUE;
}

static gboolean
below_holds (MqQueue *queue, guint64 first)
{
  return below.run != NULL && below.queue == queue
    && below.inc == queue->meta.inc && below.first == first;
}

static void
below_set (MqQueue *queue, guint64 first, MqRun *run)
{
  g_clear_pointer (&below.run, run_unref);
  below.queue = queue;
  below.inc = queue->meta.inc;
  below.first = first;
  below.run = run;
}

/* Message seq's segment, which starts at first (or the window of it
 * loaded); a reference for the caller. */
static MqRun *
queue_segment (MqQueue *queue, guint64 first, guint64 seq, GError **error)
{
  MqRun *run;

  if (head_holds (queue, first, seq))
    {
      g_queue_unlink (head_list (queue), &queue->head_link);
      g_queue_push_tail_link (head_list (queue), &queue->head_link);
      return run_ref (queue->head_run);
    }
  if (below_holds (queue, first))
    return run_ref (below.run);
  run = store_fetch (store, queue->name, queue->name_len, queue->meta.inc,
                     first, &queue->gen_hint, error);
  if (run == NULL)
    {
      if (error == NULL || *error == NULL)
        g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT,
                     "the segment of queue %s from message %" G_GUINT64_FORMAT
                     " is missing from the store", queue->name, first);
      return NULL;
    }
  segment_reads++;
  if (first == queue->meta.head_seg && queue->meta.head < queue->tail_start)
    head_set (queue, run_ref (run), run_end (run), FALSE);
  else
    below_set (queue, first, run_ref (run));
  return run;
}

/* Message seq (in the segment from seg_start when it is sealed). */
static gboolean
queue_read (MqQueue *queue, guint64 seq, guint64 seg_start, MqItem *item,
            GError **error)
{
  const guint8 *payload;

  memset (item, 0, sizeof *item);
  if (seq >= queue->tail_start)
    item->owned = run_ref (queue->tail_run);
  else if ((item->owned = queue_segment (queue, seg_start, seq, error))
           == NULL)
    return FALSE;
  if (!run_find (item->owned, seq, &item->header, &payload))
    {
      g_clear_pointer (&item->owned, run_unref);
      return out_of_step (queue, "no message", seq, error);
    }
  item->data = (const char *) payload;
  item->len = item->header.len;
  item->seq = seq;
  return TRUE;
}

void
item_clear (MqItem *item)
{
  g_clear_pointer (&item->owned, run_unref);
  item->data = NULL;
  item->len = 0;
}

guint64
queues_segment_reads (void)
{
  return segment_reads;
}

gsize
queues_memory (void)
{
  return tail_bytes + head_bytes;
}

/* ---- the set of queues ---------------------------------------------------- */

static void queue_link_parent (MqQueue *queue);
static void queue_adopt_children (MqQueue *parent);

/* A delay bucket belongs to its queue, and waits for its time in the
 * wheel. */
static void
queue_make_bucket (MqQueue *bucket, gsize queue_len, guint level,
                   gint64 start)
{
  MqQueue *queue = queue_lookup_or_create (bucket->name, queue_len);

  bucket->bucket_of = queue;
  bucket->level = level;
  bucket->start = start;
  bucket->rules = &bucket_rules;
  bucket->slot = wheel_add (wheel, start, level, bucket);
  if (queue->buckets == NULL)
    queue->buckets = g_ptr_array_new ();
  g_ptr_array_add (queue->buckets, bucket);
}

static MqQueue *
queue_new (const char *name, gsize name_len)
{
  MqQueue *queue = g_new0 (MqQueue, 1);
  gsize queue_len;
  guint level;
  gint64 start;

  queue->name = g_strndup (name, name_len);
  queue->name_len = name_len;
  queue->meta.head = queue->meta.tail = queue->meta.head_seg = 1;
  queue->tail_start = 1;
  queue->held = g_array_new (FALSE, FALSE, sizeof (MqHeld));
  g_queue_init (&queue->waiters);
  g_hash_table_insert (queues, queue->name, queue);
  if (record_bucket_name (name, name_len, &queue_len, &level, &start))
    {
      queue_make_bucket (queue, queue_len, level, start);
      return queue;
    }
  queue->rules = rules_lookup (rule_book, name, name_len);
  queue_link_parent (queue);
  queue_adopt_children (queue);
  return queue;
}

static void
queue_free (gpointer data)
{
  MqQueue *queue = data;

  if (queue->tail_run != NULL)
    tail_release (queue);
  head_drop (queue);
  if (queue->touched)
    g_ptr_array_remove (touched, queue);
  if (queue->slot != NULL)
    wheel_remove (wheel, queue->slot);
  if (queue->bucket_of != NULL)
    g_ptr_array_remove (queue->bucket_of->buckets, queue);
  /* All queues go at a stop, in any order. */
  for (guint i = 0; queue->buckets != NULL && i < queue->buckets->len; i++)
    ((MqQueue *) g_ptr_array_index (queue->buckets, i))->bucket_of = NULL;
  g_clear_pointer (&queue->buckets, g_ptr_array_unref);
  g_array_unref (queue->held);
  g_clear_pointer (&queue->unsynced, g_array_unref);
  g_clear_pointer (&queue->children, g_ptr_array_unref);
  g_free (queue->name);
  g_free (queue);
}

static void
queue_add_child (MqQueue *parent, MqQueue *child)
{
  if (parent->children == NULL)
    parent->children = g_ptr_array_new ();
  g_ptr_array_add (parent->children, child);
  child->parent = parent;
}

/* A parent deleted and named again finds its children again: they wait,
 * by their parent's name, for it. */
static void
queue_adopt_children (MqQueue *parent)
{
  GPtrArray *waiting = NULL;
  char *name = NULL;

  if (!g_hash_table_steal_extended (orphans, parent->name,
                                    (gpointer *) &name,
                                    (gpointer *) &waiting))
    return;
  for (guint i = 0; i < waiting->len; i++)
    queue_add_child (parent, g_ptr_array_index (waiting, i));
  g_ptr_array_unref (waiting);
  g_free (name);
}

static void
queue_orphan (MqQueue *child)
{
  const char *plus = memchr (child->name, FANOUT_SEPARATOR, child->name_len);
  char *parent_name = g_strndup (child->name, plus - child->name);
  GPtrArray *waiting = g_hash_table_lookup (orphans, parent_name);

  if (waiting == NULL)
    {
      waiting = g_ptr_array_new ();
      g_hash_table_insert (orphans, parent_name, waiting);
    }
  else
    g_free (parent_name);
  child->parent = NULL;
  g_ptr_array_add (waiting, child);
}

gboolean
queue_is_fanout_child (const char *name, gsize name_len)
{
  const char *plus = memchr (name, FANOUT_SEPARATOR, name_len);

  return plus != NULL && plus != name;
}

static void queue_persist (MqQueue *queue);

/* A fanout child receives copies from the moment it is first named; it is
 * saved at once so that it still does after a restart. */
static void
queue_link_parent (MqQueue *queue)
{
  const char *plus = memchr (queue->name, FANOUT_SEPARATOR, queue->name_len);

  if (!queue_is_fanout_child (queue->name, queue->name_len))
    return;
  queue_add_child (queue_lookup_or_create (queue->name, plus - queue->name),
                   queue);
  queue_persist (queue);
}

static void
queue_unlink_family (MqQueue *queue)
{
  if (queue->parent != NULL)
    g_ptr_array_remove (queue->parent->children, queue);
  else if (queue_is_fanout_child (queue->name, queue->name_len))
    {
      const char *plus = memchr (queue->name, FANOUT_SEPARATOR,
                                 queue->name_len);
      g_autofree char *parent = g_strndup (queue->name, plus - queue->name);
      GPtrArray *waiting = g_hash_table_lookup (orphans, parent);

      if (waiting != NULL)
        g_ptr_array_remove (waiting, queue);
    }
  for (guint i = 0; queue->children != NULL && i < queue->children->len; i++)
    queue_orphan (g_ptr_array_index (queue->children, i));
}

MqQueue *
queue_lookup (const char *name, gsize name_len)
{
  char key[MQ_MAX_STORED_NAME + 1];

  if (name_len > MQ_MAX_STORED_NAME)
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

static void
apply_create (MqQueue *queue, guint64 inc)
{
  queue->persistent = TRUE;
  queue->meta.inc = inc;
  next_inc = MAX (next_inc, inc + 1);
}

/* Saved from now on, under an incarnation of its own. */
static void
queue_persist (MqQueue *queue)
{
  if (queue->persistent || replaying)
    return;
  apply_create (queue, next_inc);
  queue_log_op (queue, MQ_ENTRY_CREATE, 0);
}

void
queues_open (MqStore *the_store, MqRuleBook *rules,
             MqQueueReadyFunc ready_func, guint64 first_inc)
{
  store = the_store;
  rule_book = rules;
  ready = ready_func;
  next_inc = MAX (first_inc, 1);
  queues = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, queue_free);
  orphans = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify) g_ptr_array_unref);
  touched = g_ptr_array_new ();
  scratch = g_byte_array_new ();
  states = g_byte_array_new ();
  closing_seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  wheel = wheel_new ();
}

void
queues_close (void)
{
  g_clear_pointer (&orphans, g_hash_table_unref);
  g_clear_pointer (&queues, g_hash_table_unref);
  g_clear_pointer (&touched, g_ptr_array_unref);
  g_clear_pointer (&scratch, g_byte_array_unref);
  g_clear_pointer (&states, g_byte_array_unref);
  g_clear_pointer (&closing_seqs, g_array_unref);
  closing = NULL;
  g_clear_pointer (&wheel, wheel_free);
  g_clear_pointer (&below.run, run_unref);
  store = NULL;
}

const MqQueueRules *
queues_rules (const char *name, gsize name_len)
{
  return rules_lookup (rule_book, name, name_len);
}

guint64
queues_next_inc (void)
{
  return next_inc;
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

      if (queue->bucket_of != NULL)
        continue;
      queue->rules = rules_lookup (rules, queue->name, queue->name_len);
      queue->may_expire |= queue->rules->max_age_ms > 0;
    }
}

/* ---- storing ------------------------------------------------------------ */

static gint64
expiry_from_exptime (gint64 exptime, gint64 now_ms)
{
  if (exptime == 0)
    return 0;
  if (exptime < 0)
    return now_ms;                /* already expired, as in memcached */
  /* Past G_MAXINT64 milliseconds there is no expiry to speak of. */
  if (exptime > G_MAXINT64 / 1000 - now_ms / 1000)
    return 0;
  if (exptime <= EXPTIME_RELATIVE_MAX)
    return now_ms + exptime * 1000;
  return exptime * 1000;
}

static gboolean
queue_full (MqQueue *queue, gsize len)
{
  const MqQueueRules *rules = queue->rules;

  return (rules->max_items > 0
          && queue->count + queue->delayed >= rules->max_items)
    || (rules->max_bytes > 0 && queue->meta.bytes + len > rules->max_bytes);
}

static gboolean queue_take (MqQueue *queue, MqTakeMode mode, gboolean peek,
                            MqItem *item, GError **error);

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

      if (!rules->discard_old)
        return MQ_PUSH_FULL;
      if (!queue_take (queue, MQ_TAKE_DISCARD, FALSE, &item, &local))
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

/* op PUSH: a new message; MOVE: one counted already, on its way into or
 * out of a delay bucket. */
static gboolean
apply_push (MqQueue *queue, MqEntryOp op, guint64 seq,
            const MqMsgHeader *header, const guint8 *data, GError **error)
{
  gsize before = queue->tail_run != NULL ? run_bytes (queue->tail_run) : 0;

  if (seq != queue->meta.tail)
    return out_of_step (queue, "a set of message", seq, error);
  if (queue->tail_run == NULL)
    {
      queue->tail_run = run_new (seq);
      queue->tail_start = seq;
    }
  run_append (queue->tail_run, header, data);
  tail_set_bytes (queue, before);
  queue_touch (queue);
  queue->meta.tail++;
  queue->meta.bytes += header->len;
  queue->count++;
  if (queue->bucket_of != NULL)
    {
      queue->bucket_of->delayed++;
      if (op == MQ_ENTRY_PUSH)
        queue->bucket_of->meta.enqueued++;
    }
  else if (op == MQ_ENTRY_PUSH)
    queue->meta.enqueued++;
  queue->may_expire |= header->expires_ms != 0
    || queue->rules->max_age_ms > 0;
  return TRUE;
}

/* Forgets the sets a sync covered. */
static void
unsynced_prune (GArray *pending)
{
  guint64 synced = commit_synced ();
  guint gone = 0;

  while (gone < pending->len
         && g_array_index (pending, Unsynced, gone).lsn <= synced)
    gone++;
  g_array_remove_range (pending, 0, gone);
}

/* Remembers which sets the next sync must cover before their messages may
 * be handed out. */
static void
queue_note_unsynced (MqQueue *queue, guint64 seq, guint64 lsn)
{
  Unsynced one = { seq, lsn };

  if (queue->unsynced == NULL)
    queue->unsynced = g_array_new (FALSE, FALSE, sizeof (Unsynced));
  unsynced_prune (queue->unsynced);
  g_array_append_val (queue->unsynced, one);
}

/* The LSN a delivery of seq waits for; 0 when its set is synced. */
static guint64
queue_unsynced_lsn (MqQueue *queue, guint64 seq)
{
  GArray *pending = queue->unsynced;

  if (pending == NULL)
    return 0;
  unsynced_prune (pending);
  for (guint i = 0; i < pending->len; i++)
    if (g_array_index (pending, Unsynced, i).seq == seq)
      return g_array_index (pending, Unsynced, i).lsn;
  return 0;
}

/* Puts a message at the tail, past the queue's limits (the caller checked
 * them), and journals it. */
static gboolean
queue_append (MqQueue *queue, MqEntryOp op, const MqMsgHeader *header,
              const char *data, guint64 *lsn, GError **error)
{
  guint64 seq = queue->meta.tail;
  MqEntry entry = {
    .op = op,
    .seq = seq,
    .header = *header,
    .payload = (const guint8 *) data,
  };

  if (!space_check_set (header->len, tail_bytes, error))
    return FALSE;
  queue_persist (queue);
  if (!apply_push (queue, op, seq, header, (const guint8 *) data, error))
    return FALSE;
  *lsn = queue_log (queue, &entry);
  if (queue->bucket_of != NULL)
    return TRUE;                  /* no reader sees a bucket */
  if (commit_holds_replies ())
    queue_note_unsynced (queue, seq, *lsn);
  ready (queue);
  return TRUE;
}

static MqPushResult
queue_store_now (MqQueue *queue, const MqMsgHeader *header, const char *data,
                 guint64 *lsn, GError **error)
{
  MqPushResult result = queue_make_room (queue, header->len, error);

  if (result != MQ_PUSH_STORED)
    return result;
  if (!queue_append (queue, MQ_ENTRY_PUSH, header, data, lsn, error))
    return MQ_PUSH_FAILED;
  return MQ_PUSH_STORED;
}

/* The first millisecond at which a message delayed by delay_ms at now_us
 * may go: never before. */
static gint64
due_after (gint64 now_us, gint64 delay_ms)
{
  return (now_us + 999) / 1000 + delay_ms;
}

/* Whether a bucket of the queue whose time has come still holds messages:
 * the pass end moves them (RELEASE_BUDGET a pass at most), and until then
 * a message due now must wait behind them, or it would overtake messages
 * due before it. */
static gboolean
queue_due_waiting (MqQueue *queue, gint64 now_ms)
{
  if (queue->buckets == NULL || queues_next_due_ms () > now_ms)
    return FALSE;
  for (guint i = 0; i < queue->buckets->len; i++)
    if (((MqQueue *) g_ptr_array_index (queue->buckets, i))->start <= now_ms)
      return TRUE;
  return FALSE;
}

/* The bucket of the queue where a message due at due_ms waits, at now_ms
 * (wheel.h). */
static MqQueue *
queue_bucket (MqQueue *queue, gint64 due_ms, gint64 now_ms)
{
  char name[MQ_MAX_STORED_NAME + 1];
  guint level = wheel_level (due_ms, now_ms);
  gsize len = record_bucket_name_make (name, queue->name, queue->name_len,
                                       level, wheel_start (due_ms, level));

  queue_persist (queue);
  return queue_lookup_or_create (name, len);
}

/* A delayed set is admitted by its queue's limits, and waits in a bucket. */
static MqPushResult
queue_store_later (MqQueue *queue, const MqMsgHeader *header,
                   const char *data, gint64 now_ms, guint64 *lsn,
                   GError **error)
{
  MqPushResult result = queue_make_room (queue, header->len, error);

  if (result != MQ_PUSH_STORED)
    return result;
  if (!queue_append (queue_bucket (queue, header->due_ms, now_ms),
                     MQ_ENTRY_PUSH, header, data, lsn, error))
    return MQ_PUSH_FAILED;
  return MQ_PUSH_STORED;
}

/* A message due now (a fanout copy, a dead letter) goes in a bucket of
 * this millisecond while delayed messages due before it wait to move. */
static MqPushResult
queue_store (MqQueue *queue, const MqMsgHeader *header, const char *data,
             guint64 *lsn, GError **error)
{
  gint64 now_us = g_get_real_time ();
  MqMsgHeader later = *header;

  if (!queue_due_waiting (queue, now_us / 1000))
    return queue_store_now (queue, header, data, lsn, error);
  later.due_ms = due_after (now_us, 0);
  return queue_store_later (queue, &later, data, now_us / 1000, lsn, error);
}

/* Each fanout child gets a copy of a new message of its parent. */
static void
queue_copy_to_children (MqQueue *queue, const MqMsgHeader *header,
                        const char *data, guint64 *lsn)
{
  if (queue->children == NULL)
    return;
  /* By index: a waiter woken here may name, and so create, a new child. */
  for (guint i = 0; i < queue->children->len; i++)
    {
      MqQueue *child = g_ptr_array_index (queue->children, i);
      g_autoptr (GError) local = NULL;
      guint64 child_lsn = 0;

      switch (queue_store (child, header, data, &child_lsn, &local))
        {
        case MQ_PUSH_STORED:
          *lsn = MAX (*lsn, child_lsn);
          break;
        case MQ_PUSH_FULL:        /* the child's own limits refused it */
          child->meta.discarded++;
          queue_log_op (child, MQ_ENTRY_REFUSE, 0);
          break;
        case MQ_PUSH_FAILED:
          g_warning ("fanout to %s: %s", child->name, local->message);
          break;
        }
    }
}

MqPushResult
queue_push (MqQueue *queue, guint32 flags, gint64 exptime, gint64 delay_ms,
            const char *data, gsize len, guint64 *lsn, GError **error)
{
  gint64 now_us = g_get_real_time ();
  gint64 now_ms = now_us / 1000;
  MqMsgHeader header = {
    .len = (guint32) len,
    .flags = flags,
    .created_ms = now_ms,
    .expires_ms = expiry_from_exptime (exptime, now_ms),
  };
  MqPushResult result;

  if (delay_ms < 0)
    delay_ms = (gint64) queue->rules->default_delay_ms;
  /* Through a bucket, its copies to the fanout children wait too. */
  if (delay_ms > 0 || queue_due_waiting (queue, now_ms))
    {
      header.due_ms = due_after (now_us, delay_ms);
      return queue_store_later (queue, &header, data, now_ms, lsn, error);
    }
  result = queue_store_now (queue, &header, data, lsn, error);
  if (result == MQ_PUSH_STORED)
    queue_copy_to_children (queue, &header, data, lsn);
  return result;
}

/* ---- handing out -------------------------------------------------------- */

static gboolean
item_expired (const MqItem *item, const MqQueueRules *rules, gint64 now_ms)
{
  const MqMsgHeader *header = &item->header;

  return (header->expires_ms != 0 && header->expires_ms <= now_ms)
    || (rules->max_age_ms > 0
        && header->created_ms + (gint64) rules->max_age_ms <= now_ms);
}

/* The head moves past a message: into the next segment, or the tail. */
static gboolean
queue_advance_head (MqQueue *queue, GError **error)
{
  MqRun *run;

  queue->meta.head++;
  if (queue->meta.head >= queue->tail_start)
    {
      head_drop (queue);
      queue_touch (queue);
      return TRUE;
    }
  /* Where the head's segment ends is known while it is loaded. */
  if (queue->head_run == NULL)
    {
      run = queue_segment (queue, queue->meta.head_seg, queue->meta.head,
                           error);
      if (run == NULL)
        return FALSE;
      run_unref (run);
    }
  if (queue->meta.head >= queue->head_seg_end)
    {
      queue->meta.head_seg = queue->head_seg_end;
      head_drop (queue);
    }
  return TRUE;
}

static void
count_taken (MqQueue *queue, MqTakeMode mode, guint32 len)
{
  queue->count--;
  queue->meta.bytes -= MIN (queue->meta.bytes, len);
  if (queue->bucket_of != NULL)
    {
      queue->bucket_of->delayed--;
      if (mode == MQ_TAKE_EXPIRE)
        queue->bucket_of->meta.expired++;
    }
  else if (mode == MQ_TAKE_POP)
    queue->meta.dequeued++;
  else if (mode == MQ_TAKE_DISCARD)
    queue->meta.discarded++;
  else if (mode == MQ_TAKE_EXPIRE)
    queue->meta.expired++;
}

/* An open read goes back to the waiting line: aborted, or open when the
 * daemon stopped (queues_replayed, not counted as a delivery that
 * failed). */
static void
held_give_back (MqQueue *queue, MqHeld *held)
{
  held->open = FALSE;
  queue->back_from = MIN (queue->back_from, held->seq);
  queue->open_reads--;
  queue->count++;
  queue->meta.bytes += held->len;
  queue->may_expire = TRUE;
}

/* Message seq, given back deliveries times before, leaves the waiting
 * line. */
static gboolean
apply_take (MqQueue *queue, guint64 seq, MqTakeMode mode, guint32 len,
            guint16 deliveries, GError **error)
{
  MqHeld *held = held_find (queue, seq);

  if (held != NULL && held->open)
    return out_of_step (queue, "a second read of message", seq, error);
  if (held != NULL && mode == MQ_TAKE_OPEN)
    {
      held->open = TRUE;
      queue->open_reads++;
    }
  else if (held != NULL)
    held_remove (queue, held);
  else if (seq == queue->meta.head && seq < queue->meta.tail)
    {
      MqHeld open = {
        .seq = seq,
        .seg_start = seq < queue->tail_start ? queue->meta.head_seg : 0,
        .len = len,
        .open = TRUE,
        .deliveries = deliveries,
      };

      if (!queue_advance_head (queue, error))
        return FALSE;
      if (mode == MQ_TAKE_OPEN)
        {
          g_array_insert_val (queue->held, held_index (queue, seq), open);
          queue->open_reads++;
        }
    }
  else
    return out_of_step (queue, "a read of message", seq, error);
  count_taken (queue, mode, len);
  return TRUE;
}

/* The next message to hand out: given back ones first, then the head. */
static gboolean
queue_next (MqQueue *queue, guint64 *seq, guint64 *seg_start)
{
  /* When every held message is out on a read (a window of them), there
   * is nothing given back to look for; else the search starts where the
   * last one ended: a window given back and taken again costs one pass,
   * not one per message. */
  for (guint i = held_index (queue, queue->back_from);
       queue->held->len > queue->open_reads && i < queue->held->len; i++)
    {
      MqHeld *held = &g_array_index (queue->held, MqHeld, i);

      if (!held->open)
        {
          queue->back_from = held->seq;
          *seq = held->seq;
          *seg_start = held->seg_start;
          return TRUE;
        }
    }
  *seq = queue->meta.head;
  *seg_start = queue->meta.head_seg;
  return queue->meta.head < queue->meta.tail;
}

static gboolean
queue_take_one (MqQueue *queue, const MqItem *item, MqTakeMode mode,
                GError **error)
{
  MqEntry entry = {
    .op = MQ_ENTRY_TAKE,
    .seq = item->seq,
    .mode = mode,
    .len = item->header.len,
    .deliveries = item->header.deliveries,
  };

  if (!apply_take (queue, entry.seq, mode, entry.len, entry.deliveries,
                   error))
    return FALSE;
  queue_log (queue, &entry);
  return TRUE;
}

/* Finds the next live message, dropping expired ones on the way. */
static gboolean
queue_take (MqQueue *queue, MqTakeMode mode, gboolean peek, MqItem *item,
            GError **error)
{
  gint64 now_ms = g_get_real_time () / 1000;
  guint64 seq, seg_start;

  while (queue->count > 0 && queue_next (queue, &seq, &seg_start))
    {
      if (!queue_read (queue, seq, seg_start, item, error))
        return FALSE;
      if (item_expired (item, queue->rules, now_ms))
        {
          gboolean ok = queue_take_one (queue, item, MQ_TAKE_EXPIRE, error);

          item_clear (item);
          if (!ok)
            return FALSE;
          continue;
        }
      if (!peek && !queue_take_one (queue, item, mode, error))
        {
          item_clear (item);
          return FALSE;
        }
      item->lsn = queue_unsynced_lsn (queue, seq);
      return TRUE;
    }
  if (queue->count == 0)
    queue->may_expire = FALSE;
  return FALSE;
}

gboolean
queue_pop (MqQueue *queue, MqItem *item, GError **error)
{
  return queue_take (queue, MQ_TAKE_POP, FALSE, item, error);
}

gboolean
queue_peek (MqQueue *queue, MqItem *item, GError **error)
{
  return queue_take (queue, MQ_TAKE_POP, TRUE, item, error);
}

gboolean
queue_open_read (MqQueue *queue, MqItem *item, GError **error)
{
  return queue_take (queue, MQ_TAKE_OPEN, FALSE, item, error);
}

static int
compare_seq (const void *a, const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

/* One pass over the held messages from the first to close, the others
 * moved down once: closing a window of n reads one by one would move the
 * rest n times. */
guint
queue_close_reads (MqQueue *queue, guint64 *seqs, guint n)
{
  GArray *held = queue->held;
  guint r, w, j = 0, closed = 0;

  if (n == 0)
    return 0;
  qsort (seqs, n, sizeof *seqs, compare_seq);
  for (r = w = held_index (queue, seqs[0]); r < held->len && j < n; r++)
    {
      MqHeld *h = &g_array_index (held, MqHeld, r);

      while (j < n && seqs[j] < h->seq)
        j++;
      if (j < n && seqs[j] == h->seq && h->open)
        {
          queue_log_op (queue, MQ_ENTRY_CLOSE, h->seq);
          closed++;
          continue;
        }
      g_array_index (held, MqHeld, w++) = *h;
    }
  memmove (&g_array_index (held, MqHeld, w), &g_array_index (held, MqHeld, r),
           (held->len - r) * sizeof (MqHeld));
  g_array_set_size (held, held->len - (r - w));
  queue->open_reads -= closed;
  queue->meta.dequeued += closed;
  if (closed > 0)
    queue_touch (queue);
  return closed;
}

gboolean
queue_close_read (MqQueue *queue, guint64 seq, G_GNUC_UNUSED GError **error)
{
  return queue_close_reads (queue, &seq, 1) == 1;
}

static MqHeld *
apply_abort (MqQueue *queue, guint64 seq)
{
  MqHeld *held = held_find (queue, seq);

  if (held == NULL || !held->open)
    return NULL;
  if (held->deliveries < G_MAXUINT16)
    held->deliveries++;
  held_give_back (queue, held);
  return held;
}

static void
apply_bury (MqQueue *queue, MqHeld *held)
{
  queue->count--;
  queue->meta.bytes -= MIN (queue->meta.bytes, held->len);
  queue->meta.discarded++;
  held_remove (queue, held);
  queue_touch (queue);
}

/* Moves a message that came back too often to the dead-letter queue; it
 * stays where it is when that queue refuses it. */
static gboolean
queue_bury (MqQueue *queue, MqHeld *held, GError **error)
{
  const char *name = queue->rules->dead_letter;
  MqQueue *dead = queue_lookup_or_create (name, strlen (name));
  guint64 seq = held->seq, lsn;
  MqPushResult result;
  MqItem item;

  if (!queue_read (queue, seq, held->seg_start, &item, error))
    return FALSE;
  result = queue_store (dead, &item.header, item.data, &lsn, error);
  item_clear (&item);
  if (result == MQ_PUSH_FULL)
    g_warning ("dead-letter queue %s is full: message %" G_GUINT64_FORMAT
               " stays in %s", name, seq, queue->name);
  if (result != MQ_PUSH_STORED)
    return result != MQ_PUSH_FAILED;
  apply_bury (queue, held_find (queue, seq));
  queue_log_op (queue, MQ_ENTRY_BURY, seq);
  return TRUE;
}

/* A message given back for the deliveries-th time goes to the dead-letter
 * queue. */
static gboolean
queue_gives_up (MqQueue *queue, guint deliveries)
{
  const MqQueueRules *rules = queue->rules;

  return rules->max_deliveries > 0 && deliveries >= rules->max_deliveries
    && strcmp (rules->dead_letter, queue->name) != 0;
}

static void
apply_retry (MqQueue *queue, MqHeld *held)
{
  held_remove (queue, held);
  queue->open_reads--;
  queue_touch (queue);
}

/* An open read given back for later: a copy waits in a bucket, with its
 * delivery count, and the read is gone. */
static gboolean
queue_retry_later (MqQueue *queue, MqHeld *held, gint64 delay_ms,
                   GError **error)
{
  gint64 now_us = g_get_real_time ();
  guint64 seq = held->seq, lsn;
  MqItem item;
  gboolean ok;

  if (!queue_read (queue, seq, held->seg_start, &item, error))
    return FALSE;
  item.header.deliveries = MIN (held->deliveries + 1, G_MAXUINT16);
  item.header.due_ms = due_after (now_us, delay_ms);
  ok = queue_append (queue_bucket (queue, item.header.due_ms, now_us / 1000),
                     MQ_ENTRY_MOVE, &item.header, item.data, &lsn, error);
  item_clear (&item);
  if (!ok)
    return FALSE;
  apply_retry (queue, held_find (queue, seq));
  queue_log_op (queue, MQ_ENTRY_RETRY, seq);
  return TRUE;
}

gboolean
queue_abort_read (MqQueue *queue, guint64 seq, gint64 delay_ms,
                  GError **error)
{
  MqHeld *held = held_find (queue, seq);
  guint deliveries;

  if (held == NULL || !held->open)
    return TRUE;                  /* gone with a flush or a delete */
  deliveries = MIN (held->deliveries + 1, G_MAXUINT16);
  if (delay_ms < 0)
    delay_ms = (gint64) rules_retry_delay_ms (queue->rules, deliveries);
  if (delay_ms > 0 && !queue_gives_up (queue, deliveries))
    {
      g_autoptr (GError) local = NULL;

      if (queue_retry_later (queue, held, delay_ms, &local))
        return TRUE;
      g_warning ("message %" G_GUINT64_FORMAT " of %s is given back at "
                 "once, not later: %s", seq, queue->name, local->message);
    }
  held = apply_abort (queue, seq);
  queue_log_op (queue, MQ_ENTRY_ABORT, seq);
  if (queue_gives_up (queue, held->deliveries)
      && !queue_bury (queue, held, error))
    return FALSE;
  if (held_find (queue, seq) != NULL)
    ready (queue);
  return TRUE;
}

/* ---- emptying ----------------------------------------------------------- */

static void apply_drop (MqQueue *queue);

/* Delayed messages go with their queue's waiting ones. */
static void
apply_drop_buckets (MqQueue *queue)
{
  while (queue->buckets != NULL && queue->buckets->len > 0)
    apply_drop (g_ptr_array_index (queue->buckets, queue->buckets->len - 1));
}

static void
apply_flush (MqQueue *queue)
{
  apply_drop_buckets (queue);
  for (guint i = queue->held->len; i-- > 0;)
    if (!g_array_index (queue->held, MqHeld, i).open)
      g_array_remove_index (queue->held, i);
  queue->meta.head = queue->meta.tail;
  queue->count = 0;
  queue->meta.bytes = 0;
  queue->may_expire = FALSE;
  head_drop (queue);
  queue_touch (queue);
}

gboolean
queue_flush (MqQueue *queue, GError **error)
{
  apply_flush (queue);
  queue_log_op (queue, MQ_ENTRY_FLUSH, 0);
  return TRUE;
}

static void
apply_drop (MqQueue *queue)
{
  apply_drop_buckets (queue);
  if (queue->bucket_of != NULL)
    queue->bucket_of->delayed -= queue->count;
  else
    queue_unlink_family (queue);
  g_hash_table_remove (queues, queue->name);
}

gboolean
queue_delete (MqQueue *queue, GError **error)
{
  queue_log_op (queue, MQ_ENTRY_DROP, 0);
  apply_drop (queue);
  return TRUE;
}

gint64
queue_age_ms (MqQueue *queue)
{
  guint64 seq, seg_start;
  MqItem item;
  gint64 age;

  if (queue->count == 0 || !queue_next (queue, &seq, &seg_start)
      || !queue_read (queue, seq, seg_start, &item, NULL))
    return 0;
  age = g_get_real_time () / 1000 - item.header.created_ms;
  item_clear (&item);
  return MAX (age, 0);
}

/* ---- recovery ------------------------------------------------------------ */

void
queues_begin_recovery (void)
{
  replaying = TRUE;
  closing = NULL;
  g_array_set_size (closing_seqs, 0);
}

/* The closes gathered, made; every one must find its read open. */
static gboolean
replay_closes (GError **error)
{
  MqQueue *queue = closing;
  guint64 *seqs = (guint64 *) closing_seqs->data;
  guint n = closing_seqs->len, i = 1;

  if (queue == NULL)
    return TRUE;
  closing = NULL;
  g_array_set_size (closing_seqs, 0);
  for (guint j = 0; j < n; j++)
    {
      MqHeld *held = held_find (queue, seqs[j]);

      if (held == NULL || !held->open)
        return out_of_step (queue, "a close of message", seqs[j], error);
    }
  if (queue_close_reads (queue, seqs, n) == n)
    return TRUE;
  /* Sorted now: a message closed twice is next to itself. */
  while (i < n - 1 && seqs[i] != seqs[i - 1])
    i++;
  return out_of_step (queue, "a close of message", seqs[i], error);
}

gboolean
queues_replay_end (GError **error)
{
  return replay_closes (error);
}

/* The young tail a checkpoint carried over must be a whole segment of
 * exactly the messages up to the queue's tail; local: why it is not one,
 * or NULL when it ends elsewhere. */
static gboolean
tail_state_refused (const char *name, gsize name_len, const GError *local,
                    GError **error)
{
  g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_STATE,
               "the young tail of queue %.*s: %s", (int) name_len, name,
               local != NULL ? local->message
               : "not the messages up to its tail");
  return FALSE;
}

gboolean
queue_check_state (const char *name, gsize name_len, const MqQueueMeta *meta,
                   GArray *held, const guint8 *tail, gsize tail_len,
                   gpointer user_data, GError **error)
{
  g_autoptr (GError) local = NULL;
  guint64 first, end;

  if (tail_len == 0
      || (run_check_segment (tail, tail_len, &first, &end, &local)
          && end == meta->tail))
    return TRUE;
  return tail_state_refused (name, name_len, local, error);
}

gboolean
queue_restore (const char *name, gsize name_len, const MqQueueMeta *meta,
               GArray *held, const guint8 *tail, gsize tail_len,
               gpointer user_data, GError **error)
{
  g_autoptr (GError) local = NULL;
  MqRun *run = NULL;
  MqQueue *queue;

  /* run_from_segment checks the tail as queue_check_state does, once. */
  if (tail_len > 0)
    {
      run = run_from_segment (g_memdup2 (tail, tail_len), tail_len, &local);
      if (run == NULL || run_end (run) != meta->tail)
        {
          g_clear_pointer (&run, run_unref);
          return tail_state_refused (name, name_len, local, error);
        }
    }
  queue = queue_lookup_or_create (name, name_len);

  queue->persistent = TRUE;
  queue->meta = *meta;
  queue->tail_start = meta->tail;
  next_inc = MAX (next_inc, meta->inc + 1);
  g_array_set_size (queue->held, 0);
  g_array_append_vals (queue->held, held->data, held->len);
  queue->back_from = 0;
  queue->count = meta->tail - MIN (meta->head, meta->tail);
  queue->open_reads = 0;
  for (guint i = 0; i < held->len; i++)
    {
      if (g_array_index (held, MqHeld, i).open)
        queue->open_reads++;
      else
        queue->count++;
    }
  queue->may_expire = queue->count > 0;
  if (queue->bucket_of != NULL)
    queue->bucket_of->delayed += queue->count;
  if (run != NULL)
    {
      queue->tail_run = run;
      queue->tail_start = run_first (run);
      tail_set_bytes (queue, 0);
      queue_touch (queue);
    }
  return TRUE;
}

gboolean
queue_load (MqQueue *queue, const MqMsgHeader *header, const guint8 *payload,
            GError **error)
{
  if (!queue->persistent)
    apply_create (queue, next_inc);
  return apply_push (queue, MQ_ENTRY_PUSH, queue->meta.tail, header, payload,
                     error);
}

void
queue_load_counters (MqQueue *queue, guint64 enqueued, guint64 dequeued,
                     guint64 expired, guint64 discarded)
{
  if (!queue->persistent)
    apply_create (queue, next_inc);
  queue->meta.enqueued = MAX (enqueued, queue->meta.enqueued);
  queue->meta.dequeued = dequeued;
  queue->meta.expired = expired;
  queue->meta.discarded = discarded;
}

void
queues_raise_next_inc (guint64 inc)
{
  next_inc = MAX (next_inc, inc);
}

static gboolean
replay_entry (MqQueue *queue, const MqEntry *entry, GError **error)
{
  MqHeld *held;

  switch (entry->op)
    {
    case MQ_ENTRY_CREATE:
      apply_create (queue, entry->inc);
      return TRUE;
    case MQ_ENTRY_PUSH:
    case MQ_ENTRY_MOVE:
      return apply_push (queue, entry->op, entry->seq, &entry->header,
                         entry->payload, error);
    case MQ_ENTRY_TAKE:
      return apply_take (queue, entry->seq, entry->mode, entry->len,
                         entry->deliveries, error);
    case MQ_ENTRY_RETRY:
      held = held_find (queue, entry->seq);
      if (held == NULL || !held->open)
        return out_of_step (queue, "a retry of message", entry->seq, error);
      apply_retry (queue, held);
      return TRUE;
    case MQ_ENTRY_CLOSE:
      closing = queue;
      g_array_append_val (closing_seqs, entry->seq);
      return TRUE;
    case MQ_ENTRY_ABORT:
      return apply_abort (queue, entry->seq) != NULL
        || out_of_step (queue, "an abort of message", entry->seq, error);
    case MQ_ENTRY_BURY:
      held = held_find (queue, entry->seq);
      if (held == NULL || held->open)
        return out_of_step (queue, "a move of message", entry->seq, error);
      apply_bury (queue, held);
      return TRUE;
    case MQ_ENTRY_FLUSH:
      apply_flush (queue);
      return TRUE;
    case MQ_ENTRY_REFUSE:
      queue->meta.discarded++;
      return TRUE;
    case MQ_ENTRY_DROP:
      apply_drop (queue);
      return TRUE;
    case MQ_ENTRY_END:
      break;
    }
  g_assert_not_reached ();
}

gboolean
queues_replay (const MqEntry *entry, GError **error)
{
  MqQueue *queue;
  gboolean ok;

  if (!record_valid_name (entry->name, entry->name_len))
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT,
                   "journal entry with an invalid queue name");
      return FALSE;
    }
  queue = queue_lookup_or_create (entry->name, entry->name_len);
  /* Closes gathered are made before any other entry, or a close of
   * another queue. */
  if ((entry->op != MQ_ENTRY_CLOSE || closing != queue)
      && !replay_closes (error))
    return FALSE;
  ok = replay_entry (queue, entry, error);
  if (ok && ++replayed % REPLAY_TIDY_EVERY == 0)
    ok = replay_closes (error) && queues_tidy (error);
  return ok;
}

void
queues_replayed (void)
{
  queues_give_back_open ();
  replaying = FALSE;
}

void
queues_give_back_open (void)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MqQueue *queue = value;

      for (guint i = 0; i < queue->held->len; i++)
        if (g_array_index (queue->held, MqHeld, i).open)
          held_give_back (queue, &g_array_index (queue->held, MqHeld, i));
    }
}

/* ---- the whole set ------------------------------------------------------ */

/* The first message of a bucket whose time has come goes on: into its
 * queue when due (a delayed set's copies to the fanout children then), or
 * into a bucket closer to its time.  Time is the bucket's start, not the
 * clock: buckets late by a stop or a stall are still emptied level by
 * level, in time order, so messages join their queue in due order.  Stored
 * there before it leaves here: a crash in between delivers it twice, never
 * not at all. */
static gboolean
queue_release_one (MqQueue *bucket, GError **error)
{
  MqQueue *queue = bucket->bucket_of;
  guint64 lsn;
  MqItem item;
  gboolean ok;

  if (!queue_take (bucket, MQ_TAKE_MOVE, TRUE, &item, error))
    return bucket->count == 0;    /* the rest had expired */
  if (item.header.due_ms > bucket->start)
    ok = queue_append (queue_bucket (queue, item.header.due_ms,
                                     bucket->start),
                       MQ_ENTRY_MOVE, &item.header, item.data, &lsn, error);
  else if ((ok = queue_append (queue, MQ_ENTRY_MOVE, &item.header, item.data,
                               &lsn, error))
           && item.header.deliveries == 0)
    queue_copy_to_children (queue, &item.header, item.data, &lsn);
  ok = ok && queue_take_one (bucket, &item, MQ_TAKE_MOVE, error);
  item_clear (&item);
  return ok;
}

gboolean
queues_release_due (gint64 now_ms, guint budget, gboolean *more,
                    GError **error)
{
  MqQueue *bucket;

  *more = FALSE;
  while ((bucket = wheel_due (wheel, now_ms)) != NULL)
    {
      if (bucket->count == 0)
        {
          queue_log_op (bucket, MQ_ENTRY_DROP, 0);
          apply_drop (bucket);
          continue;
        }
      if (budget-- == 0)
        {
          *more = TRUE;
          return TRUE;
        }
      if (!queue_release_one (bucket, error))
        return FALSE;
    }
  return TRUE;
}

gint64
queues_next_due_ms (void)
{
  return wheel_next (wheel);
}

static gboolean
queue_unused (MqQueue *queue)
{
  return !queue->persistent && queue->count == 0 && queue->held->len == 0
    && queue->delayed == 0 && g_queue_is_empty (&queue->waiters) && queue->children == NULL;
}

/* Whether a peek finds the head without reading the disk. */
static gboolean
queue_head_in_memory (MqQueue *queue)
{
  return queue->meta.head >= queue->tail_start
    || head_holds (queue, queue->meta.head_seg, queue->meta.head);
}

gboolean
queues_sweep (GError **error)
{
  /* Queues loaded at a start may all expire: reading every head each
   * second would read a segment a queue, so SWEEP_LOADS a sweep are read,
   * the next sweep going on after the last one read. */
  static guint loads_from;
  g_autoptr (GPtrArray) all = queues_sorted ();
  guint loads = 0, next_from = 0;

  for (guint i = 0; i < all->len; i++)
    {
      MqQueue *queue = g_ptr_array_index (all, i);
      g_autoptr (GError) local = NULL;
      MqItem item;

      if (queue_unused (queue))
        {
          apply_drop (queue);
          continue;
        }
      /* A peek drops the expired messages in front of the first live one. */
      if (!queue->may_expire || queue->count == 0)
        continue;
      if (!queue_head_in_memory (queue))
        {
          if (i < loads_from || loads == SWEEP_LOADS)
            continue;
          if (++loads == SWEEP_LOADS)
            next_from = i + 1;
        }
      if (queue_peek (queue, &item, &local))
        item_clear (&item);
      else if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  loads_from = next_from;
  return TRUE;
}

/* Seals the young tails of at least size (0 or SEGMENT_TARGET) bytes until
 * *budget bytes are sealed, and takes them off *budget.  The walk stops
 * when no large tail is left: at 1,000 queues whose tails are all small,
 * walking them each pass was 4 % of the daemon's time. */
static gboolean
tails_seal_over (gsize size, gsize *budget, GError **error)
{
  for (GList *l = tails.head;
       l != NULL && *budget > 0 && (size == 0 || tails_large > 0);)
    {
      MqQueue *queue = l->data;
      gsize bytes = run_bytes (queue->tail_run);

      l = l->next;
      if (bytes < size)
        continue;
      if (!queue_seal (queue, error))
        return FALSE;
      *budget -= MIN (bytes, *budget);
    }
  return TRUE;
}

gboolean
queues_tidy (GError **error)
{
  for (guint i = 0; i < touched->len; i++)
    {
      MqQueue *queue = g_ptr_array_index (touched, i);

      queue->touched = FALSE;
      tail_trim (queue);
      if (queue->tail_run != NULL
          && run_bytes (queue->tail_run) > TAIL_QUEUE_CAP
          && !queue_seal (queue, error))
        return FALSE;
    }
  g_ptr_array_set_size (touched, 0);
  if (tail_bytes > TAIL_BUDGET / 2)
    {
      gsize budget = tail_bytes > TAIL_BUDGET ? G_MAXSIZE : TAIL_SEAL_SLICE;

      if (!tails_seal_over (SEGMENT_TARGET, &budget, error)
          || (tail_bytes > TAIL_BUDGET / 4 * 3
              && !tails_seal_over (0, &budget, error)))
        return FALSE;
    }
  while (head_bytes > HEAD_BUDGET)
    heads_let_go ();
  return TRUE;
}

gboolean
queues_seal_tails (gboolean all, GError **error)
{
  gsize budget = G_MAXSIZE;

  return tails_seal_over (all ? 0 : SEGMENT_TARGET, &budget, error);
}

gboolean
queues_save (guint64 *n, GError **error)
{
  GHashTableIter iter;
  gpointer value;

  *n = 0;
  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MqQueue *queue = value;

      if (!queue->persistent)
        continue;
      tail_trim (queue);
      g_byte_array_set_size (scratch, 0);
      if (queue->tail_run != NULL)
        run_encode_segment (queue->tail_run, G_MAXSIZE, scratch);
      record_queue_encode (states, queue->name, queue->name_len,
                           &queue->meta, (MqHeld *) queue->held->data,
                           queue->held->len, scratch->data, scratch->len);
      if (!store_put_states (store, states, FALSE, error))
        return FALSE;
      (*n)++;
    }
  return store_put_states (store, states, TRUE, error);
}

/* A segment is needed from the head's on, and where a held message is: a
 * read left open does not keep what was consumed after it. */
static gboolean
queue_needs_segment (MqQueue *queue, guint64 first)
{
  if (first >= queue->tail_start)
    return FALSE;
  if (queue->meta.head < queue->tail_start && first >= queue->meta.head_seg)
    return TRUE;
  for (guint i = 0; i < queue->held->len; i++)
    {
      MqHeld *held = &g_array_index (queue->held, MqHeld, i);

      if (held->seq < queue->tail_start && held->seg_start == first)
        return TRUE;
    }
  return FALSE;
}

/* queue_needs_segment for some segment: the head's, or a held message's. */
static gboolean
queue_needs_any_segment (MqQueue *queue)
{
  if (queue->meta.head < queue->tail_start)
    return TRUE;
  for (guint i = 0; i < queue->held->len; i++)
    if (g_array_index (queue->held, MqHeld, i).seq < queue->tail_start)
      return TRUE;
  return FALSE;
}

gboolean
queues_segment_live (const char *name, gsize name_len, guint64 inc,
                     guint64 first, gpointer user_data)
{
  MqQueue *queue = queue_lookup (name, name_len);

  return queue != NULL && queue->persistent && queue->meta.inc == inc
    && queue_needs_segment (queue, first);
}

gboolean
queues_need_segments (void)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MqQueue *queue = value;

      if (queue->persistent && queue_needs_any_segment (queue))
        return TRUE;
    }
  return FALSE;
}

gboolean
queues_all_empty (void)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MqQueue *queue = value;

      if (queue->count > 0 || queue->held->len > 0)
        return FALSE;
    }
  return TRUE;
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
    if (((MqQueue *) queue)->bucket_of == NULL)
      g_ptr_array_add (all, queue);
  g_ptr_array_sort (all, compare_names);
  return all;
}
