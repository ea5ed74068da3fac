/* window.h: the messages a route has sent to a broker and not yet settled
 * with mqd, in mqd's order (the order of the connection's open reads).
 *
 * Brokers may acknowledge out of order, but mqd confirms and gives back
 * only the oldest open reads: a settled message leaves the window when
 * every older one has left.  Pure bookkeeping, unit-tested. */
#pragma once

#include <glib.h>

typedef enum {
  FWD_SLOT_UNSENT,    /* not (or no longer) in flight: send it */
  FWD_SLOT_SENT,      /* in flight, waiting for the broker */
  FWD_SLOT_ACKED,     /* the broker has it */
  FWD_SLOT_NACKED,    /* the broker refused it */
} FwdSlotState;

typedef struct {
  gpointer message;   /* owned, freed by the window's free function */
  const char *id;     /* the stable id, inside message */
  const void *data;   /* the payload, inside message */
  gsize len;
  FwdSlotState state;
  guint64 tag;        /* the link's handle of the last send */
  gint64 sent_at;     /* monotonic µs of the last send */
} FwdSlot;

typedef struct _FwdWindow FwdWindow;

typedef enum {
  FWD_SETTLE_NONE,     /* the oldest message is still in flight */
  FWD_SETTLE_CONFIRM,  /* the oldest n were acked: confirm them to mqd */
  FWD_SETTLE_ABORT,    /* the oldest n were refused: give them back */
} FwdSettle;

FwdWindow *fwd_window_new (guint capacity, GDestroyNotify free_message);
void fwd_window_free (FwdWindow *window);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwdWindow, fwd_window_free)

guint fwd_window_count (const FwdWindow *window);
guint fwd_window_room (const FwdWindow *window);
/* The i-th oldest slot, 0 <= i < count. */
FwdSlot *fwd_window_nth (FwdWindow *window, guint i);

/* Appends an unsent message; the window takes it.  Needs room. */
FwdSlot *fwd_window_push (FwdWindow *window, gpointer message,
                          const char *id, const void *data, gsize len);

/* Marks as state the sent slots whose tag is tag, or, when multiple, at
 * most tag (AMQP's delivery tags); returns how many it marked. */
guint fwd_window_mark_tag (FwdWindow *window, guint64 tag, gboolean multiple,
                           FwdSlotState state);
/* Marks the sent slot carrying id; FALSE when none is in flight (an ack
 * of an earlier send of a message already settled). */
gboolean fwd_window_mark_id (FwdWindow *window, const char *id,
                             FwdSlotState state);

/* What the oldest messages need, and how many (*n) share it. */
FwdSettle fwd_window_settled (FwdWindow *window, guint *n);
/* Frees the oldest n messages. */
void fwd_window_drop (FwdWindow *window, guint n);
/* Every message in flight becomes unsent (the link broke): they are sent
 * again, with their ids, on the next link.  Returns how many. */
guint fwd_window_unsend (FwdWindow *window);
/* The send time of the oldest message in flight; 0 when none is. */
gint64 fwd_window_oldest_sent (FwdWindow *window);
