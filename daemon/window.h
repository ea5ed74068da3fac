/* window.h: a connection's reliable reads, per queue, in the order they
 * were handed out (its window on the queue).
 *
 * A connection may hold many reads of one queue (monitor, or get q/open
 * again after a monitor): they are ended oldest first (/close, confirm,
 * abort <q> <n>) or all at once (/abort, a disconnect).  A read with a
 * lease goes back to its queue when the lease runs out, and stays in the
 * window, expired, so that the reader's late close is refused rather than
 * taken for another read.
 */
#pragma once

#include <glib.h>

typedef enum {
  MQ_READ_NONE,
  MQ_READ_OPEN,
  MQ_READ_EXPIRED,
} MqReadState;

typedef struct {
  GHashTable *queues;             /* name -> its window; NULL: none yet */
  guint n;                        /* reads in all of them */
} MqWindows;

void windows_clear (MqWindows *windows);
/* Every read still open goes back to its queue (a disconnect). */
void windows_give_back (MqWindows *windows);
/* Reads held in all windows, expired ones included. */
guint windows_count (const MqWindows *windows);

/* The queue's reads, expired ones included. */
guint window_length (MqWindows *windows, const char *name, gsize len);
/* TRUE when one of the queue's reads is still open. */
gboolean window_has_open (MqWindows *windows, const char *name, gsize len);
/* The newest read of the queue; lease_ms > 0: given back after that. */
void window_add (MqWindows *windows, const char *name, gsize len,
                 guint64 seq, gint64 lease_ms);
/* Forgets the queue's expired reads; returns how many there were. */
guint window_drop_expired (MqWindows *windows, const char *name, gsize len);
/* Removes the queue's oldest n reads (n <= window_length): the sequence
 * numbers of those still open are appended to seqs (guint64), oldest
 * first.  Returns how many of the n had expired. */
guint window_take (MqWindows *windows, const char *name, gsize len, guint n,
                   GArray *seqs);
/* Every open read of the queue gets a new lease of lease_ms from now
 * (<= 0: as long as its last); expired ones are forgotten, once told:
 * EXPIRED when there were some (the open ones are renewed all the same),
 * NONE when the window was empty. */
MqReadState window_touch (MqWindows *windows, const char *name, gsize len,
                          gint64 lease_ms);
