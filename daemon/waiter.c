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
  GSequenceIter *timer;
  GArray *slots;                  /* WaiterSlot */
};

static GSequence *timers;         /* MqWaiter by deadline */
static guint64 arrivals;

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
    timers = g_sequence_new (NULL);
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

void
waiter_remove (MqWaiter *waiter)
{
  for (guint i = 0; i < waiter->slots->len; i++)
    {
      WaiterSlot *slot = &g_array_index (waiter->slots, WaiterSlot, i);

      g_queue_delete_link (&slot->queue->waiters, slot->link);
    }
  g_sequence_remove (waiter->timer);
  g_array_unref (waiter->slots);
  g_free (waiter);
}

/* A waiter that takes the message ends it; one that only peeks leaves it
 * for the next. */
void
waiters_on_ready (MqQueue *queue)
{
  guint n = g_queue_get_length (&queue->waiters);
  MqWaiter *waiter;

  /* Bounded: a waiter that finds nothing after all waits again, last. */
  while (n-- > 0 && queue->count > 0
         && (waiter = g_queue_peek_head (&queue->waiters)) != NULL)
    {
      MqConn *conn = waiter->conn;

      waiter_remove (waiter);
      conn_unblock (conn, TRUE);
    }
}

GPtrArray *
waiters_detach_queue (MqQueue *queue)
{
  GPtrArray *conns = g_ptr_array_new ();
  MqWaiter *waiter;

  while ((waiter = g_queue_peek_head (&queue->waiters)) != NULL)
    {
      g_ptr_array_add (conns, waiter->conn);
      waiter_remove (waiter);
    }
  return conns;
}

void
waiters_expire (gint64 now_us)
{
  GSequenceIter *first;

  while (timers != NULL
         && !g_sequence_iter_is_end (first = g_sequence_get_begin_iter (timers)))
    {
      MqWaiter *waiter = g_sequence_get (first);
      MqConn *conn = waiter->conn;

      if (waiter->deadline_us > now_us)
        break;
      waiter_remove (waiter);
      conn_unblock (conn, FALSE);
    }
}

gint64
waiters_next_deadline (void)
{
  GSequenceIter *first;

  if (timers == NULL)
    return -1;
  first = g_sequence_get_begin_iter (timers);
  if (g_sequence_iter_is_end (first))
    return -1;
  return ((MqWaiter *) g_sequence_get (first))->deadline_us;
}
