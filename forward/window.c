/* window.c: see window.h.  A ring of capacity slots. */
#include "config.h"

#include <string.h>

#include "window.h"

struct _FwdWindow {
  FwdSlot *slots;
  guint capacity;
  guint head;
  guint count;
  GDestroyNotify free_message;
};

FwdWindow *
fwd_window_new (guint capacity, GDestroyNotify free_message)
{
  FwdWindow *window = g_new0 (FwdWindow, 1);

  window->slots = g_new0 (FwdSlot, capacity);
  window->capacity = capacity;
  window->free_message = free_message;
  return window;
}

void
fwd_window_free (FwdWindow *window)
{
  fwd_window_drop (window, window->count);
  g_free (window->slots);
  g_free (window);
}

guint
fwd_window_count (const FwdWindow *window)
{
  return window->count;
}

guint
fwd_window_room (const FwdWindow *window)
{
  return window->capacity - window->count;
}

FwdSlot *
fwd_window_nth (FwdWindow *window, guint i)
{
  g_assert (i < window->count);
  return &window->slots[(window->head + i) % window->capacity];
}

FwdSlot *
fwd_window_push (FwdWindow *window, gpointer message, const char *id,
                 const void *data, gsize len)
{
  FwdSlot *slot;

  g_assert (window->count < window->capacity);
  window->count++;
  slot = fwd_window_nth (window, window->count - 1);
  *slot = (FwdSlot) { .message = message, .id = id, .data = data,
                      .len = len, .state = FWD_SLOT_UNSENT };
  return slot;
}

guint
fwd_window_mark_tag (FwdWindow *window, guint64 tag, gboolean multiple,
                     FwdSlotState state)
{
  guint marked = 0;

  for (guint i = 0; i < window->count; i++)
    {
      FwdSlot *slot = fwd_window_nth (window, i);

      if (slot->state == FWD_SLOT_SENT
          && (slot->tag == tag || (multiple && slot->tag < tag)))
        {
          slot->state = state;
          marked++;
        }
    }
  return marked;
}

gboolean
fwd_window_mark_id (FwdWindow *window, const char *id, FwdSlotState state)
{
  for (guint i = 0; i < window->count; i++)
    {
      FwdSlot *slot = fwd_window_nth (window, i);

      if (slot->state == FWD_SLOT_SENT && strcmp (slot->id, id) == 0)
        {
          slot->state = state;
          return TRUE;
        }
    }
  return FALSE;
}

FwdSettle
fwd_window_settled (FwdWindow *window, guint *n)
{
  FwdSlotState first;
  guint run = 0;

  *n = 0;
  if (window->count == 0)
    return FWD_SETTLE_NONE;
  first = fwd_window_nth (window, 0)->state;
  if (first != FWD_SLOT_ACKED && first != FWD_SLOT_NACKED)
    return FWD_SETTLE_NONE;
  while (run < window->count && fwd_window_nth (window, run)->state == first)
    run++;
  *n = run;
  return first == FWD_SLOT_ACKED ? FWD_SETTLE_CONFIRM : FWD_SETTLE_ABORT;
}

void
fwd_window_drop (FwdWindow *window, guint n)
{
  g_assert (n <= window->count);
  for (guint i = 0; i < n; i++)
    {
      FwdSlot *slot = fwd_window_nth (window, 0);

      window->free_message (slot->message);
      *slot = (FwdSlot) { 0 };
      window->head = (window->head + 1) % window->capacity;
      window->count--;
    }
}

guint
fwd_window_unsend (FwdWindow *window)
{
  guint unsent = 0;

  for (guint i = 0; i < window->count; i++)
    {
      FwdSlot *slot = fwd_window_nth (window, i);

      if (slot->state == FWD_SLOT_SENT)
        {
          slot->state = FWD_SLOT_UNSENT;
          unsent++;
        }
    }
  return unsent;
}

gint64
fwd_window_oldest_sent (FwdWindow *window)
{
  gint64 oldest = 0;

  for (guint i = 0; i < window->count; i++)
    {
      FwdSlot *slot = fwd_window_nth (window, i);

      if (slot->state == FWD_SLOT_SENT
          && (oldest == 0 || slot->sent_at < oldest))
        oldest = slot->sent_at;
    }
  return oldest;
}
