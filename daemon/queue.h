/* queue.h: FIFO queues over the store.
 *
 * A queue in memory is its name, sequence numbers, counters and the few
 * sequence numbers handed out on reliable reads; the messages themselves live
 * only in GDBM, so memory does not grow with queue depth.
 */
#pragma once

#include <glib.h>

#include "record.h"
#include "rules.h"
#include "store.h"

typedef struct _MqQueue MqQueue;

struct _MqQueue {
  char *name;
  gsize name_len;
  MqQueueMeta meta;
  guint64 count;                  /* messages waiting to be handed out */
  GArray *returned;               /* guint64 seqs below head, sorted: given
                                     back, handed out before head */
  GArray *open;                   /* guint64 seqs out on reliable reads */
  const MqQueueRules *rules;
  GQueue waiters;                 /* blocked gets; owned by waiter.c */
  MqQueue *parent;                /* fanout: "parent+child" gets copies */
  GPtrArray *children;
  gboolean dirty;                 /* meta not yet written to the store */
  gboolean may_expire;            /* the expiry sweep looks at its head */
};

typedef enum {
  MQ_PUSH_STORED,
  MQ_PUSH_FULL,                   /* a limit refused it: NOT_STORED */
  MQ_PUSH_FAILED,                 /* the store failed: see the error */
} MqPushResult;

/* Called whenever a queue gains a message someone may be waiting for. */
typedef void (*MqQueueReadyFunc) (MqQueue *queue);

/* Rebuilds every queue from the store's keys. */
gboolean queues_open (MqStore *store, MqRuleBook *rules,
                      MqQueueReadyFunc ready, GError **error);
void queues_close (void);
/* New rules (SIGHUP) for every queue, existing and future. */
void queues_set_rules (MqRuleBook *rules);

/* TRUE for "parent+child": a fanout child, created when first named. */
gboolean queue_is_fanout_child (const char *name, gsize name_len);
MqQueue *queue_lookup (const char *name, gsize name_len);
MqQueue *queue_lookup_or_create (const char *name, gsize name_len);

/* exptime as on a memcache set line.  Fanout children get a copy. */
MqPushResult queue_push (MqQueue *queue, guint32 flags, gint64 exptime,
                         const char *data, gsize len, GError **error);
/* Each returns FALSE without an error when the queue has nothing to give. */
gboolean queue_pop (MqQueue *queue, MqItem *item, guint64 *seq,
                    GError **error);
gboolean queue_peek (MqQueue *queue, MqItem *item, guint64 *seq,
                     GError **error);
/* A reliable read: the item stays stored until closed or aborted. */
gboolean queue_open_read (MqQueue *queue, MqItem *item, guint64 *seq,
                          GError **error);
/* FALSE without an error when seq is not an open read of the queue. */
gboolean queue_close_read (MqQueue *queue, guint64 seq, GError **error);
/* Gives the item back to the head, or to the dead-letter queue once it was
 * given back max_deliveries times. */
gboolean queue_abort_read (MqQueue *queue, guint64 seq, GError **error);

/* Drops every waiting message of the queue and keeps the queue. */
gboolean queue_flush (MqQueue *queue, GError **error);
/* Drops the queue, all its messages and its counters. */
gboolean queue_delete (MqQueue *queue, GError **error);
/* Milliseconds since the next message to hand out was stored; 0 if none. */
gint64 queue_age_ms (MqQueue *queue);

/* Removes expired messages from the head of every queue. */
gboolean queues_sweep (GError **error);
/* Shrinks the data file when no queue holds anything. */
gboolean queues_compact (GError **error);
/* Writes changed counters, then every change so far to the journal, and
 * if sync makes them durable: the group commit of a pass whose sets wait
 * for it, and the timers' commit of counters and deletes. */
gboolean queues_commit (gboolean sync, GError **error);
/* The pass end's group commit: counters and journal written, and, when
 * messages were stored, a sync asked of the sync thread.  Returns the
 * request's number (the replies of this pass wait for it), or 0 when none
 * was needed or on an error. */
guint64 queues_commit_async (GError **error);
/* Writes every change so far to the journal, counters aside (under -N the
 * timer writes them): a kill of the daemon then loses none of them. */
gboolean queues_write (GError **error);
/* TRUE when messages were stored since the last sync: acknowledgements
 * wait for one. */
gboolean queues_unsynced (void);

/* Every queue, sorted by name; free the array with g_ptr_array_unref. */
GPtrArray *queues_sorted (void);
