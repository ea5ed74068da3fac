/* wheel.h: when delayed messages are due, in buckets of time.
 *
 * A hierarchical timing wheel: a bucket of level L spans 64^L
 * milliseconds (1 ms, 64 ms, 4.1 s, 4.4 min, 4.7 h, 12 days, 2.2 years,
 * 142 years), and a message goes into the bucket of the highest level
 * that starts after now and not after the message is due: there are at
 * most 64 such buckets a level.  When a bucket's time comes its messages
 * are put into buckets of the levels below (a few moves each, never more
 * than the levels), until a bucket of 1 ms holds only messages due now.
 * So the number of buckets is bounded by the levels, not by the messages,
 * and none is handed out early.
 *
 * This file holds the arithmetic and the buckets in time order; the
 * buckets themselves are hidden queues of queue.c.
 */
#pragma once

#include <glib.h>

#define MQ_WHEEL_LEVELS 8

/* The level of the bucket for a message due at due_ms, at now_ms. */
guint wheel_level (gint64 due_ms, gint64 now_ms);
/* The start of the bucket of level that holds due_ms. */
gint64 wheel_start (gint64 due_ms, guint level);

/* Buckets in time order: each is a pointer the caller gives, with the
 * start and level it was added with. */
typedef struct _MqWheel MqWheel;
typedef struct _MqWheelSlot MqWheelSlot;

MqWheel *wheel_new (void);
void wheel_free (MqWheel *wheel);
/* Returns a slot, for wheel_remove. */
MqWheelSlot *wheel_add (MqWheel *wheel, gint64 start, guint level,
                        gpointer bucket);
void wheel_remove (MqWheel *wheel, MqWheelSlot *slot);
/* The earliest bucket whose start has come at now_ms, or NULL. */
gpointer wheel_due (MqWheel *wheel, gint64 now_ms);
/* The earliest start, G_MAXINT64 when there is no bucket. */
gint64 wheel_next (MqWheel *wheel);
guint wheel_size (MqWheel *wheel);
