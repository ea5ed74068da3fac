/* inbound.c: a broker to a local queue.
 *
 * Up to a window of deliveries is taken from the broker, pushed to mqd in
 * one pipelined batch, and each is acked to the broker only once mqd has
 * answered STORED for it: a crash in between makes the broker deliver it
 * again (a duplicate in mqd, never a loss). */
#include "config.h"

#include "run.h"

#define RECEIVE_WAIT_MS 250

typedef struct {
  FwdRun *run;
  FwdLinker link;
  mq_client *mq;
  GPtrArray *held;       /* FwdDelivery *, received and not yet acked */
  gboolean mqd_failed;   /* the state says so until a push works */
} Inbound;

/* Pushes the held deliveries; acks and forgets those stored.  FALSE when
 * the link broke (error set); mqd's refusals are kept for the next try. */
static gboolean
store (Inbound *in, GError **error)
{
  FwdBroker *broker = in->link.broker;
  guint n = in->held->len;
  g_autofree mq_buffer *buffers = g_new (mq_buffer, n);
  g_autofree mq_status *results = g_new (mq_status, n);
  g_autoptr (GPtrArray) stored = g_ptr_array_new ();
  g_autofree gpointer *all = NULL;
  FwdCounters counted = { 0 };
  size_t count = 0;
  mq_status status;
  gboolean ok;

  for (guint i = 0; i < n; i++)
    {
      FwdDelivery *delivery = in->held->pdata[i];

      buffers[i] = (mq_buffer) { delivery->data, delivery->len };
    }
  status = mq_push_many (in->mq, in->run->route->local, buffers, n, 0, 0,
                         results, &count);
  for (guint i = 0; i < n; i++)
    {
      FwdDelivery *delivery = in->held->pdata[i];

      if (results[i] == MQ_OK)
        g_ptr_array_add (stored, delivery);
      else if (results[i] == MQ_TOO_LARGE || results[i] == MQ_INVALID)
        {
          /* mqd will never take it: the broker's dead-lettering may. */
          g_warning ("%s: %s: mqd refuses it: %s; rejected to the broker",
                     in->run->route->name, delivery->id,
                     mq_strerror (results[i]));
          if (!broker->klass->reject (broker, delivery, error))
            return FALSE;
          counted.nacked++;
        }
    }
  counted.forwarded = count;
  ok = broker->klass->ack (broker, (FwdDelivery **) stored->pdata,
                           stored->len, count == n, error);
  if (ok)
    {
      counted.confirmed = stored->len;
      fwd_backoff_reset (&in->link.backoff);
    }
  fwd_run_count (in->run, &counted, -1);
  if (!ok)
    return FALSE;
  if (status == MQ_OK && in->mqd_failed)
    {
      in->mqd_failed = FALSE;
      fwd_linker_say_up (&in->link);
    }
  all = g_ptr_array_steal (in->held, NULL);
  for (guint i = 0; i < n; i++)
    if (results[i] == MQ_OK || results[i] == MQ_TOO_LARGE
        || results[i] == MQ_INVALID)
      broker->klass->free_delivery (all[i]);
    else
      g_ptr_array_add (in->held, all[i]);
  if (status != MQ_OK && in->held->len > 0)
    {
      /* A full queue (its limits are our backpressure) or mqd away: the
       * broker keeps the rest unacked until mqd takes them. */
      fwd_run_set_state (in->run, FALSE, "mqd: pushing to %s: %s; %u held",
                         in->run->route->local, mq_client_error (in->mq),
                         in->held->len);
      in->mqd_failed = TRUE;
      /* Not longer than the link's heartbeats allow. */
      fwd_run_sleep (in->run, MIN (fwd_backoff_next (&in->link.backoff),
                                   in->run->route->confirm_timeout_ms / 2));
    }
  return TRUE;
}

static void
link_down (Inbound *in, const GError *error)
{
  /* The broker delivers what was not acked again, to the next link. */
  g_ptr_array_set_size (in->held, 0);
  fwd_linker_down (&in->link, error);
}

/* Nothing came: is there nothing left, not even deliveries a dead
 * forwarder took and the broker has yet to give again? */
static gboolean
drained (Inbound *in)
{
  g_autoptr (GError) error = NULL;
  guint64 count;

  if (in->link.broker->klass->remaining (in->link.broker, &count, &error))
    return count == 0;
  link_down (in, error);
  return FALSE;
}

/* One turn; FALSE when a drain is done. */
static gboolean
turn (Inbound *in)
{
  FwdBroker *broker = in->link.broker;
  g_autoptr (GError) error = NULL;
  guint room = in->run->route->window - in->held->len;

  if (!in->link.up)
    {
      fwd_linker_up (&in->link);
      return TRUE;
    }
  if (room > 0 && !broker->klass->receive (broker, room,
                                           in->held->len ? 0
                                           : RECEIVE_WAIT_MS, in->held,
                                           &error))
    {
      link_down (in, error);
      return TRUE;
    }
  fwd_run_count (in->run, &(FwdCounters) { 0 }, in->held->len);
  if (in->held->len == 0)
    return !in->run->drain || !drained (in);
  if (!store (in, &error))
    link_down (in, error);
  return TRUE;
}

void
fwd_inbound_run (FwdRun *run)
{
  Inbound in = { .run = run };

  in.mq = fwd_run_connect (run);
  fwd_linker_init (&in.link, run);
  in.held = g_ptr_array_new_with_free_func (in.link.broker->klass
                                            ->free_delivery);
  while (!fwd_run_stopping (run) && turn (&in))
    ;
  /* Free the deliveries before the link that made them. */
  g_ptr_array_unref (in.held);
  fwd_linker_clear (&in.link);
  mq_client_free (in.mq);
}
