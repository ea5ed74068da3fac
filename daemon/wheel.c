/* wheel.c: buckets of time for delayed messages; see wheel.h. */
#include "config.h"

#include "wheel.h"

#define WHEEL_SHIFT 6             /* 64 buckets a level */

struct _MqWheelSlot {
  gint64 start;
  guint level;
  gpointer bucket;
  GSequenceIter *iter;
};

struct _MqWheel {
  GSequence *slots;               /* MqWheelSlot by start, then level */
};

static gint64
wheel_width (guint level)
{
  return G_GINT64_CONSTANT (1) << (WHEEL_SHIFT * level);
}

/* The highest level whose bucket for due_ms starts after now: its start
 * is within 64 of its widths ahead, so a level has at most 64 buckets. */
guint
wheel_level (gint64 due_ms, gint64 now_ms)
{
  guint level = 0;

  while (level + 1 < MQ_WHEEL_LEVELS
         && wheel_start (due_ms, level + 1) > now_ms)
    level++;
  return level;
}

gint64
wheel_start (gint64 due_ms, guint level)
{
  gint64 width = wheel_width (level);

  return due_ms - due_ms % width;
}

static gint
compare_slots (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const MqWheelSlot *x = a, *y = b;

  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  if (x->level != y->level)
    return x->level < y->level ? -1 : 1;
  return x->bucket < y->bucket ? -1 : x->bucket > y->bucket;
}

MqWheel *
wheel_new (void)
{
  MqWheel *wheel = g_new (MqWheel, 1);

  wheel->slots = g_sequence_new (g_free);
  return wheel;
}

void
wheel_free (MqWheel *wheel)
{
  if (wheel == NULL)
    return;
  g_sequence_free (wheel->slots);
  g_free (wheel);
}

MqWheelSlot *
wheel_add (MqWheel *wheel, gint64 start, guint level, gpointer bucket)
{
  MqWheelSlot *slot = g_new (MqWheelSlot, 1);

  slot->start = start;
  slot->level = level;
  slot->bucket = bucket;
  slot->iter = g_sequence_insert_sorted (wheel->slots, slot, compare_slots,
                                         NULL);
  return slot;
}

void
wheel_remove (MqWheel *wheel, MqWheelSlot *slot)
{
  g_sequence_remove (slot->iter);
}

gpointer
wheel_due (MqWheel *wheel, gint64 now_ms)
{
  GSequenceIter *first = g_sequence_get_begin_iter (wheel->slots);
  MqWheelSlot *slot;

  if (g_sequence_iter_is_end (first))
    return NULL;
  slot = g_sequence_get (first);
  return slot->start <= now_ms ? slot->bucket : NULL;
}

gint64
wheel_next (MqWheel *wheel)
{
  GSequenceIter *first = g_sequence_get_begin_iter (wheel->slots);

  if (g_sequence_iter_is_end (first))
    return G_MAXINT64;
  return ((MqWheelSlot *) g_sequence_get (first))->start;
}

guint
wheel_size (MqWheel *wheel)
{
  return (guint) g_sequence_get_length (wheel->slots);
}
