/* queue.h: FIFO queues over the store.
 *
 * A queue in memory is its name, sequence numbers and counters; the messages
 * themselves live only in GDBM, so memory does not grow with queue depth.
 */
#pragma once

#include <glib.h>

#include "record.h"
#include "store.h"

typedef struct _MqQueue MqQueue;

struct _MqQueue {
  char *name;
  gsize name_len;
  MqQueueMeta meta;
  guint64 count;                  /* messages waiting to be handed out */
  GArray *returned;               /* guint64 seqs below head, sorted:
                                     given back, handed out first */
  gboolean dirty;                 /* meta not yet written to the store */
};

typedef struct {
  guint64 cmd_get;
  guint64 cmd_set;
  guint64 get_hits;
  guint64 get_misses;
} MqQueueTotals;

/* Rebuilds every queue from the store's keys. */
gboolean queues_open (MqStore *store, GError **error);
void queues_close (void);

MqQueue *queue_lookup (const char *name, gsize name_len);
MqQueue *queue_lookup_or_create (const char *name, gsize name_len);

/* exptime as on a memcache set line. */
gboolean queue_push (MqQueue *queue, guint32 flags, gint64 exptime,
                     const char *data, gsize len, GError **error);
/* FALSE without an error when the queue has nothing to hand out. */
gboolean queue_pop (MqQueue *queue, MqItem *item, guint64 *seq,
                    GError **error);
/* Drops every message of the queue and keeps the queue. */
gboolean queue_flush (MqQueue *queue, GError **error);
/* Drops the queue, its messages and its counters. */
gboolean queue_delete (MqQueue *queue, GError **error);

/* Writes changed counters, then, if sync, makes every write so far durable.
 * Called once per pass of the main loop: the group commit. */
gboolean queues_commit (gboolean sync, GError **error);
/* TRUE when messages were written since the last sync. */
gboolean queues_unsynced (void);

/* Every queue, sorted by name; free the array with g_ptr_array_unref. */
GPtrArray *queues_sorted (void);
MqQueueTotals *queues_totals (void);
gboolean queues_crash_tolerant (void);
