/* outbound.c: a local queue to a broker.
 *
 * The window lives in mqd: every message in flight is an open read of this
 * route's connection, so a crash of the forwarder gives them all back, in
 * order, with their ids.  Reads are opened to fill the window, published at
 * once, and confirmed to mqd, oldest first, as the broker acks them; never
 * one at a time. */
#include "config.h"

#include "run.h"

/* An empty window waits this long in mqd for the first message; a full or
 * idle one this long for the broker.  Both bound how late a stop is seen. */
#define IDLE_WAIT_MS 250
#define ACK_WAIT_MS 100

typedef struct {
  FwdRun *run;
  FwdLinker link;
  mq_client *mq;
  FwdWindow *window;
  mq_message **batch;      /* mq_open_many's array */
  gboolean empty;          /* the last read found the queue empty */
  gint64 hold_until;       /* no reads before then (after a refusal) */
  gint64 lag_at;           /* when lag was last read */
  gboolean mqd_failed;     /* the state says so until a read works */
} Outbound;

static void
free_message (gpointer message)
{
  mq_message_free (message);
}

static GError *
mq_error (Outbound *out, const char *what, mq_status status)
{
  return g_error_new (FWD_BROKER_ERROR, status, "mqd: %s %s: %s", what,
                      out->run->route->local, mq_client_error (out->mq));
}

/* mqd failed us: its connection is gone or going, so every open read is
 * back in the queue; they will come again with their ids. */
static void
mqd_down (Outbound *out, GError *error)
{
  fwd_window_drop (out->window, fwd_window_count (out->window));
  mq_disconnect (out->mq);
  fwd_run_set_state (out->run, FALSE, "%s", error->message);
  out->mqd_failed = TRUE;
  g_error_free (error);
  fwd_run_sleep (out->run, out->run->config->backoff_min_ms);
}

static gboolean
send_unsent (Outbound *out, GError **error)
{
  FwdCounters counted = { 0 };
  gboolean ok = TRUE;

  for (guint i = 0; ok && i < fwd_window_count (out->window); i++)
    {
      FwdSlot *slot = fwd_window_nth (out->window, i);

      if (slot->state != FWD_SLOT_UNSENT)
        continue;
      ok = out->link.broker->klass->send (out->link.broker, slot, error);
      if (ok)
        {
          slot->state = FWD_SLOT_SENT;
          slot->sent_at = g_get_monotonic_time ();
          counted.forwarded++;
        }
    }
  fwd_run_count (out->run, &counted, -1);
  return ok;
}

/* Opens reads up to the window; FALSE: mqd failed (error set). */
static gboolean
top_up (Outbound *out, GError **error)
{
  guint room = fwd_window_room (out->window);
  int wait = fwd_window_count (out->window) == 0 && !out->run->drain
    ? IDLE_WAIT_MS : MQ_NO_WAIT;
  size_t count = 0;
  mq_status status;

  gint64 now = g_get_monotonic_time ();

  out->empty = FALSE;
  if (now < out->hold_until)
    {
      /* Nothing in flight to wait for either: wait here. */
      if (fwd_window_count (out->window) == 0)
        fwd_run_sleep (out->run, (out->hold_until - now) / 1000 + 1);
      return TRUE;
    }
  if (room == 0)
    return TRUE;
  status = mq_open_many (out->mq, out->run->route->local, wait, room,
                         out->batch, &count);
  if (status == MQ_EMPTY)
    {
      out->empty = TRUE;
      fwd_run_count (out->run, &(FwdCounters) { 0 }, 0);
      return TRUE;
    }
  if (status != MQ_OK)
    {
      *error = mq_error (out, "reading", status);
      return FALSE;
    }
  for (size_t i = 0; i < count; i++)
    fwd_window_push (out->window, out->batch[i], out->batch[i]->id,
                     out->batch[i]->data, out->batch[i]->len);
  return TRUE;
}

/* Confirms or gives back the oldest settled messages; FALSE: mqd failed. */
static gboolean
settle (Outbound *out, GError **error)
{
  const char *queue = out->run->route->local;
  guint n;
  FwdSettle settled;

  while ((settled = fwd_window_settled (out->window, &n)) != FWD_SETTLE_NONE)
    {
      gboolean confirm = settled == FWD_SETTLE_CONFIRM;
      mq_status status = confirm ? mq_confirm (out->mq, queue, n)
        : mq_abort_oldest (out->mq, queue, n);
      FwdCounters counted = { .confirmed = confirm ? n : 0,
                              .nacked = confirm ? 0 : n };

      if (status != MQ_OK)
        {
          *error = mq_error (out, confirm ? "confirming" : "giving back",
                             status);
          return FALSE;
        }
      fwd_window_drop (out->window, n);
      fwd_run_count (out->run, &counted, -1);
      if (confirm)
        fwd_backoff_reset (&out->link.backoff);
      else
        {
          /* Refused messages are back at the head (the queue is not
           * empty any more): wait before reading them again, so one that
           * is always refused (and that no max_deliveries rule takes
           * away) does not spin. */
          out->empty = FALSE;
          out->hold_until = g_get_monotonic_time ()
            + (gint64) out->run->config->backoff_min_ms * 1000;
        }
    }
  return TRUE;
}

/* Reads the broker's acks; FALSE: the link is broken (error set). */
static gboolean
pump_acks (Outbound *out, GError **error)
{
  const FwdRoute *route = out->run->route;
  gboolean waiting = fwd_window_room (out->window) == 0 || out->empty
    || g_get_monotonic_time () < out->hold_until;
  gint64 oldest;

  if (fwd_window_count (out->window) == 0)
    return TRUE;
  if (!out->link.broker->klass->poll (out->link.broker, out->window,
                                      waiting ? ACK_WAIT_MS : 0, error))
    return FALSE;
  oldest = fwd_window_oldest_sent (out->window);
  if (oldest != 0 && g_get_monotonic_time () - oldest
      > (gint64) route->confirm_timeout_ms * 1000)
    {
      g_set_error (error, FWD_BROKER_ERROR, 0, "no confirm within %"
                   G_GUINT64_FORMAT " ms", route->confirm_timeout_ms);
      return FALSE;
    }
  return TRUE;
}

static void
link_down (Outbound *out, const GError *error)
{
  FwdCounters counted = { .retried = fwd_window_unsend (out->window) };

  fwd_run_count (out->run, &counted, -1);
  fwd_linker_down (&out->link, error);
}

/* Reads the local queue's depth now and then, for the lag counter. */
static void
read_lag (Outbound *out)
{
  FwdCounters none = { 0 };
  mq_queue_info info;
  gint64 now = g_get_monotonic_time ();

  if (now - out->lag_at < (gint64) out->run->config->status_interval_ms
      * 1000)
    return;
  out->lag_at = now;
  if (mq_queue_stats (out->mq, out->run->route->local, &info) == MQ_OK)
    fwd_run_count (out->run, &none, info.items);
  else
    fwd_run_count (out->run, &none, 0);
}

/* One turn: fill the window, publish, read acks, settle.  FALSE when a
 * drain is done. */
static gboolean
turn (Outbound *out)
{
  GError *error = NULL;

  if (!out->link.up)
    {
      if (fwd_linker_up (&out->link) && !send_unsent (out, &error))
        link_down (out, error);
      g_clear_error (&error);
      return TRUE;
    }
  if (!top_up (out, &error))
    {
      mqd_down (out, error);
      return TRUE;
    }
  if (out->mqd_failed)
    {
      out->mqd_failed = FALSE;
      fwd_linker_say_up (&out->link);
    }
  if (!send_unsent (out, &error) || !pump_acks (out, &error))
    {
      link_down (out, error);
      g_error_free (error);
      return TRUE;
    }
  if (!settle (out, &error))
    {
      mqd_down (out, error);
      return TRUE;
    }
  read_lag (out);
  return !(out->run->drain && out->empty
           && fwd_window_count (out->window) == 0);
}

void
fwd_outbound_run (FwdRun *run)
{
  Outbound out = { .run = run, .mq = fwd_run_connect (run) };

  fwd_linker_init (&out.link, run);
  out.window = fwd_window_new (run->route->window, free_message);
  out.batch = g_new0 (mq_message *, run->route->window);
  while (!fwd_run_stopping (run) && turn (&out))
    ;
  fwd_linker_clear (&out.link);
  /* Open reads still in flight go back to the queue with the connection. */
  mq_client_free (out.mq);
  fwd_window_free (out.window);
  g_free (out.batch);
}
