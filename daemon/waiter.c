/* waiter.c: see waiter.h. */
#include "config.h"

#include "waiter.h"

typedef struct {
  MqQueue *queue;
  GList *link;                    /* in queue->waiters */
} WaiterSlot;

struct _MqWaiter {
  MqConn *conn;
  gint64 deadline_us;
  guint64 order;                  /* arrival, to keep equal deadlines FIFO */
  GSequenceIter *timer;           /* NULL once detached from a deleted queue */
  GArray *slots;                  /* WaiterSlot; empty once detached */
};

static GSequence *timers;         /* waiting MqWaiter by deadline */
static guint64 arrivals;
/* Queues that gained messages since the last waiters_serve(), each once.
 * A marked queue always has waiters, and a queue with waiters is freed only
 * by a delete, which detaches them first: no pointer here outlives its
 * queue. */
static GPtrArray *ready;
static GPtrArray *detached;       /* MqWaiter of deleted queues, to wake */

static gint
compare_deadlines (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const MqWaiter *x = a, *y = b;

  if (x->deadline_us != y->deadline_us)
    return x->deadline_us < y->deadline_us ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

MqWaiter *
waiter_add (MqConn *conn, MqQueue *const *queues, guint n_queues,
            gint64 deadline_us)
{
  MqWaiter *waiter = g_new0 (MqWaiter, 1);

  if (timers == NULL)
    {
      timers = g_sequence_new (NULL);
      ready = g_ptr_array_new ();
      detached = g_ptr_array_new ();
    }
  waiter->conn = conn;
  waiter->deadline_us = deadline_us;
  waiter->order = arrivals++;
  waiter->slots = g_array_sized_new (FALSE, FALSE, sizeof (WaiterSlot),
                                     n_queues);
  for (guint i = 0; i < n_queues; i++)
    {
      WaiterSlot slot = { queues[i], NULL };

      g_queue_push_tail (&queues[i]->waiters, waiter);
      slot.link = g_queue_peek_tail_link (&queues[i]->waiters);
      g_array_append_val (waiter->slots, slot);
    }
  waiter->timer = g_sequence_insert_sorted (timers, waiter, compare_deadlines,
                                            NULL);
  return waiter;
}

/* Off its queues and the timers: it waits no more. */
static void
waiter_unlink (MqWaiter *waiter)
{
  for (guint i = 0; i < waiter->slots->len; i++)
    {
      WaiterSlot *slot = &g_array_index (waiter->slots, WaiterSlot, i);

      g_queue_delete_link (&slot->queue->waiters, slot->link);
      if (g_queue_is_empty (&slot->queue->waiters))
        g_ptr_array_remove (ready, slot->queue);
    }
  g_array_set_size (waiter->slots, 0);
  g_sequence_remove (waiter->timer);
  waiter->timer = NULL;
}

static void
waiter_free (MqWaiter *waiter)
{
  g_array_unref (waiter->slots);
  g_free (waiter);
}

void
waiter_remove (MqWaiter *waiter)
{
  if (waiter->timer == NULL)
    g_ptr_array_remove (detached, waiter);
  else
    waiter_unlink (waiter);
  waiter_free (waiter);
}

/* Wakes a waiter that is off its queues already. */
static void
waiter_wake (MqWaiter *waiter, MqWakeFunc wake, gboolean retry)
{
  MqConn *conn = waiter->conn;

  waiter_free (waiter);
  wake (conn, retry);
}

void
waiters_on_ready (MqQueue *queue)
{
  if (g_queue_is_empty (&queue->waiters)
      || g_ptr_array_find (ready, queue, NULL))
    return;
  g_ptr_array_add (ready, queue);
}

void
waiters_detach_queue (MqQueue *queue)
{
  MqWaiter *waiter;

  while ((waiter = g_queue_peek_head (&queue->waiters)) != NULL)
    {
      waiter_unlink (waiter);
      g_ptr_array_add (detached, waiter);
    }
}

/* A waiter that takes the message ends it; one that only peeks leaves it
 * for the next. */
static void
waiters_serve_queue (MqQueue *queue, MqWakeFunc wake)
{
  guint n = g_queue_get_length (&queue->waiters);
  MqWaiter *waiter;

  /* Bounded: a waiter that finds nothing after all waits again, last. */
  while (n-- > 0 && queue->count > 0
         && (waiter = g_queue_peek_head (&queue->waiters)) != NULL)
    {
      waiter_unlink (waiter);
      waiter_wake (waiter, wake, TRUE);
    }
}

void
waiters_serve (MqWakeFunc wake)
{
  /* A woken get may give an item back and so mark a queue again. */
  while (timers != NULL && (detached->len > 0 || ready->len > 0))
    {
      if (detached->len > 0)
        waiter_wake (g_ptr_array_steal_index (detached, 0), wake, TRUE);
      else
        waiters_serve_queue (g_ptr_array_steal_index (ready, 0), wake);
    }
}

void
waiters_expire (gint64 now_us, MqWakeFunc wake)
{
  GSequenceIter *first;

  while (timers != NULL
         && !g_sequence_iter_is_end (first = g_sequence_get_begin_iter (timers)))
    {
      MqWaiter *waiter = g_sequence_get (first);

      if (waiter->deadline_us > now_us)
        break;
      waiter_unlink (waiter);
      waiter_wake (waiter, wake, FALSE);
    }
}

gint64
waiters_next_deadline (void)
{
  GSequenceIter *first;

  if (timers == NULL)
    return -1;
  if (ready->len > 0 || detached->len > 0)
    return 0;
  first = g_sequence_get_begin_iter (timers);
  if (g_sequence_iter_is_end (first))
    return -1;
  return ((MqWaiter *) g_sequence_get (first))->deadline_us;
}
