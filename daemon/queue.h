/* queue.h: FIFO queues: their rules, counters and messages.
 *
 * A queue's messages from tail_start on are its young tail, a run in
 * memory; the older ones are sealed in segments of about 32 KiB in the
 * store's GDBM files.  Only the segment holding the head is read back, and
 * kept while the head is in it.  Memory is bounded in total (the tails and
 * the loaded heads have budgets), never per message: a queue in memory is
 * its name, counters, sequence numbers and the few messages out on
 * reliable reads or given back.
 *
 * Every change is also written to the journal (entry.h) through the same
 * functions the journal's replay calls, so a replay rebuilds the queues
 * exactly.
 */
#pragma once

#include <glib.h>

#include "entry.h"
#include "record.h"
#include "rules.h"
#include "segment.h"
#include "store.h"
#include "wheel.h"

typedef struct _MqQueue MqQueue;

struct _MqQueue {
  char *name;
  gsize name_len;
  MqQueueMeta meta;               /* incarnation, head, tail, counters */
  guint64 count;                  /* messages waiting to be handed out */
  GArray *held;                   /* MqHeld by seq: out on reliable reads,
                                     or given back and waiting */
  guint open_reads;               /* held ones that are out */
  guint64 back_from;              /* no held one given back is below this
                                     seq (where queue_next looks first) */
  MqRun *tail_run;                /* the messages from tail_start on */
  guint64 tail_start;             /* the first message in no segment */
  GList tail_link;                /* in the list of non-empty tails */
  gboolean touched;               /* its tail changed in this pass */
  MqRun *head_run;                /* the loaded segment holding head, or
                                     a window of it from the head on */
  guint64 head_seg_end;           /* where that segment ends */
  gboolean head_window;           /* head_run is a window */
  GList head_link;                /* in the list of loaded heads */
  guint64 gen_hint;               /* the generation of the last segment */
  GArray *unsynced;               /* (seq, lsn) of sets not known synced */
  const MqQueueRules *rules;
  GQueue waiters;                 /* blocked gets; owned by waiter.c */
  MqQueue *parent;                /* fanout: "parent+child" gets copies */
  GPtrArray *children;
  gboolean persistent;            /* saved: it held a message, or is a
                                     fanout child */
  /* Delayed messages wait in hidden queues, buckets of time (wheel.h). */
  MqQueue *bucket_of;             /* a bucket: the queue it delays for */
  MqWheelSlot *slot;              /* a bucket's place in time */
  guint level;
  gint64 start;
  GPtrArray *buckets;             /* a queue's buckets */
  guint64 delayed;                /* messages in its buckets */
  gboolean may_expire;            /* the expiry sweep looks at its head */
};

/* One message handed out.  data stays valid until item_clear, and until
 * the queue changes. */
typedef struct {
  MqMsgHeader header;
  const char *data;
  gsize len;
  guint64 seq;
  guint64 lsn;                    /* the sync its set waits for; 0: none */
  MqRun *owned;                   /* a segment read for this item alone */
} MqItem;

typedef enum {
  MQ_PUSH_STORED,
  MQ_PUSH_FULL,                   /* a limit refused it: NOT_STORED */
  MQ_PUSH_FAILED,                 /* the store failed: see the error */
} MqPushResult;

/* Called whenever a queue gains a message someone may be waiting for. */
typedef void (*MqQueueReadyFunc) (MqQueue *queue);

void queues_open (MqStore *store, MqRuleBook *rules, MqQueueReadyFunc ready,
                  guint64 next_inc);
void queues_close (void);
/* New rules (SIGHUP) for every queue, existing and future. */
void queues_set_rules (MqRuleBook *rules);
/* The rules in force for a queue of that name, existing or not. */
const MqQueueRules *queues_rules (const char *name, gsize name_len);
guint64 queues_next_inc (void);

/* ---- recovery --------------------------------------------------------- */

/* From now until queues_replayed, changes come from the store and the
 * journal: nothing is journaled again. */
void queues_begin_recovery (void);
/* A queue as a checkpoint saved it, with its young tail (store_load's
 * callbacks): queue_check_state is FALSE (MQ_STORE_ERROR_NO_STATE) when
 * the tail is damaged; queue_restore checks it too
 * (once, as it reads it), then restores the queue. */
gboolean queue_check_state (const char *name, gsize name_len,
                            const MqQueueMeta *meta, GArray *held,
                            const guint8 *tail, gsize tail_len,
                            gpointer user_data, GError **error);
gboolean queue_restore (const char *name, gsize name_len,
                        const MqQueueMeta *meta, GArray *held,
                        const guint8 *tail, gsize tail_len,
                        gpointer user_data, GError **error);
/* Applies one journal entry, as the code that wrote it did; FALSE with an
 * error when the entry cannot be applied (a damaged journal). */
gboolean queues_replay (const MqEntry *entry, GError **error);
/* A journal's replay is over: what queues_replay put off is done (closes
 * in a row are made together); FALSE as queues_replay. */
gboolean queues_replay_end (GError **error);
/* The first format's conversion: a message appended to the queue, and the
 * counters the old store kept. */
gboolean queue_load (MqQueue *queue, const MqMsgHeader *header,
                     const guint8 *payload, GError **error);
void queue_load_counters (MqQueue *queue, guint64 enqueued, guint64 dequeued,
                          guint64 expired, guint64 discarded);
/* Incarnations from now on start at least at inc. */
void queues_raise_next_inc (guint64 inc);
/* Reads open when the daemon stopped go back to the waiting line, to be
 * handed out again first, without counting as a delivery that failed: at
 * the end of a start, and in a replay where the journal of a later start
 * begins (journal_starts_run). */
void queues_give_back_open (void);
/* Replay is over: the reads still open are given back, and changes are
 * journaled from now on. */
void queues_replayed (void);

/* ---- the queues -------------------------------------------------------- */

/* TRUE for "parent+child": a fanout child, created when first named. */
gboolean queue_is_fanout_child (const char *name, gsize name_len);
MqQueue *queue_lookup (const char *name, gsize name_len);
MqQueue *queue_lookup_or_create (const char *name, gsize name_len);

/* exptime as on a memcache set line; delay_ms: milliseconds before it may
 * be handed out (-1: the queue's default_delay).  Fanout children get a
 * copy (a delayed message, when it is due).  *lsn is the journal position
 * the acknowledgement waits for. */
MqPushResult queue_push (MqQueue *queue, guint32 flags, gint64 exptime,
                         gint64 delay_ms, const char *data, gsize len,
                         guint64 *lsn, GError **error);
/* Each returns FALSE without an error when the queue has nothing to give. */
gboolean queue_pop (MqQueue *queue, MqItem *item, GError **error);
gboolean queue_peek (MqQueue *queue, MqItem *item, GError **error);
/* A reliable read: the message stays stored until closed or aborted. */
gboolean queue_open_read (MqQueue *queue, MqItem *item, GError **error);
/* FALSE without an error when seq is not an open read of the queue. */
gboolean queue_close_read (MqQueue *queue, guint64 seq, GError **error);
/* Closes those of seqs[0..n) that are open reads of the queue (sorting
 * seqs); returns how many. */
guint queue_close_reads (MqQueue *queue, guint64 *seqs, guint n);
/* Gives the message back: to the head, or after delay_ms (-1: the
 * queue's retry_delay for its delivery count), or to the dead-letter
 * queue once it was given back max_deliveries times. */
gboolean queue_abort_read (MqQueue *queue, guint64 seq, gint64 delay_ms,
                           GError **error);
void item_clear (MqItem *item);

/* Drops every waiting message of the queue and keeps the queue. */
gboolean queue_flush (MqQueue *queue, GError **error);
/* Drops the queue, all its messages and its counters. */
gboolean queue_delete (MqQueue *queue, GError **error);
/* Milliseconds since the next message to hand out was stored; 0 if none. */
gint64 queue_age_ms (MqQueue *queue);

/* ---- the whole set ----------------------------------------------------- */

/* Moves up to budget delayed messages whose time has come (at now_ms, the
 * wall clock): into their queue, or a bucket closer to their time.  *more
 * when more are due. */
gboolean queues_release_due (gint64 now_ms, guint budget, gboolean *more,
                             GError **error);
/* When the next bucket of delayed messages is due (wall clock, ms), or
 * G_MAXINT64. */
gint64 queues_next_due_ms (void);

/* Removes expired messages from the head of every queue, and forgets
 * queues that were only named (by a waiting get) and are unused now. */
gboolean queues_sweep (GError **error);
/* The pass end: seals tails over their budgets into segments, and loaded
 * heads over theirs are let go. */
gboolean queues_tidy (GError **error);
/* Seals every young tail (all), or those of a segment's size or more.
 * At a checkpoint the larger ones are sealed, then every saved queue's
 * state is written (store_put_states), the smaller tails with it; *n
 * counts them.  Sealing 1,000 small tails at the cut, a GDBM store each,
 * held the loop 18-26 ms; writing them with the states, in 64 KiB
 * chunks, about a third of that. */
gboolean queues_seal_tails (gboolean all, GError **error);
gboolean queues_save (guint64 *n, GError **error);
/* Whether the queue (name, inc) still needs its segment at first. */
gboolean queues_segment_live (const char *name, gsize name_len, guint64 inc,
                              guint64 first, gpointer user_data);
/* Whether any queue still needs a segment (queues_segment_live is TRUE
 * for at least one). */
gboolean queues_need_segments (void);
/* TRUE when no queue holds a message. */
gboolean queues_all_empty (void);
/* Bytes of messages in memory: young tails and loaded heads. */
gsize queues_memory (void);
/* Segments read from the store since the start (STAT segment_reads). */
guint64 queues_segment_reads (void);

/* Every queue clients can name (no delay bucket), sorted by name; free the
 * array with g_ptr_array_unref. */
GPtrArray *queues_sorted (void);
