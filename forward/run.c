/* run.c: see run.h. */
#include "config.h"

#include <string.h>

#include "run.h"

void
fwd_run_init (FwdRun *run, const FwdConfig *config, const FwdRoute *route,
              gboolean drain)
{
  memset (run, 0, sizeof *run);
  run->config = config;
  run->route = route;
  run->drain = drain;
  g_mutex_init (&run->lock);
  g_cond_init (&run->wake);
  run->state = g_strdup ("starting");
}

void
fwd_run_clear (FwdRun *run)
{
  g_mutex_clear (&run->lock);
  g_cond_clear (&run->wake);
  g_free (run->state);
}

mq_client *
fwd_run_connect (FwdRun *run)
{
  mq_client *mq = NULL;

  /* A failed connect is retried by the handle's next call.
   * confirm_timeout is at most a day: it fits an int. */
  if (mq_connect_timeout (run->config->socket,
                          (int) run->route->confirm_timeout_ms, &mq)
      == MQ_NOMEM)
    g_error ("out of memory");
  return mq;
}

void
fwd_run_stop (FwdRun *run)
{
  g_mutex_lock (&run->lock);
  run->stopping = TRUE;
  g_cond_broadcast (&run->wake);
  g_mutex_unlock (&run->lock);
}

gboolean
fwd_run_stopping (FwdRun *run)
{
  gboolean stopping;

  g_mutex_lock (&run->lock);
  stopping = run->stopping;
  g_mutex_unlock (&run->lock);
  return stopping;
}

gboolean
fwd_run_sleep (FwdRun *run, guint64 ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;
  gboolean stopping;

  g_mutex_lock (&run->lock);
  while (!run->stopping && g_cond_wait_until (&run->wake, &run->lock, until))
    ;
  stopping = run->stopping;
  g_mutex_unlock (&run->lock);
  return stopping;
}

void
fwd_run_count (FwdRun *run, const FwdCounters *delta, gint64 lag)
{
  g_mutex_lock (&run->lock);
  run->counters.forwarded += delta->forwarded;
  run->counters.confirmed += delta->confirmed;
  run->counters.retried += delta->retried;
  run->counters.nacked += delta->nacked;
  if (lag >= 0)
    run->counters.lag = lag;
  g_mutex_unlock (&run->lock);
}

void
fwd_run_set_state (FwdRun *run, gboolean up, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  if (up)
    g_message ("%s: %s", run->route->name, text);
  else
    g_warning ("%s: %s", run->route->name, text);
  g_mutex_lock (&run->lock);
  g_free (run->state);
  run->state = g_steal_pointer (&text);
  g_mutex_unlock (&run->lock);
}

char *
fwd_run_status_line (FwdRun *run)
{
  char *line;

  g_mutex_lock (&run->lock);
  line = g_strdup_printf ("%s forwarded=%" G_GUINT64_FORMAT
                          " confirmed=%" G_GUINT64_FORMAT
                          " retried=%" G_GUINT64_FORMAT
                          " nacked=%" G_GUINT64_FORMAT
                          " lag=%" G_GUINT64_FORMAT " state=%s",
                          run->route->name, run->counters.forwarded,
                          run->counters.confirmed, run->counters.retried,
                          run->counters.nacked, run->counters.lag,
                          run->state);
  g_mutex_unlock (&run->lock);
  return line;
}

void
fwd_linker_init (FwdLinker *linker, FwdRun *run)
{
  memset (linker, 0, sizeof *linker);
  linker->run = run;
  linker->broker = fwd_broker_new (run->route);
  linker->rand = g_rand_new ();
  fwd_backoff_init (&linker->backoff, run->config->backoff_min_ms,
                    run->config->backoff_max_ms, linker->rand);
}

void
fwd_linker_clear (FwdLinker *linker)
{
  if (linker->up)
    linker->broker->klass->close (linker->broker);
  linker->broker->klass->free (linker->broker);
  g_rand_free (linker->rand);
}

gboolean
fwd_linker_up (FwdLinker *linker)
{
  const FwdRoute *route = linker->run->route;
  const char *url = route->servers[linker->next_server];
  g_autoptr (GError) error = NULL;

  if (linker->failed
      && fwd_run_sleep (linker->run, fwd_backoff_next (&linker->backoff)))
    return FALSE;
  if (!linker->broker->klass->connect (linker->broker, url, &error))
    {
      linker->broker->klass->close (linker->broker);
      fwd_linker_down (linker, error);
      return FALSE;
    }
  linker->up = TRUE;
  linker->failed = FALSE;
  fwd_linker_say_up (linker);
  return TRUE;
}

void
fwd_linker_say_up (FwdLinker *linker)
{
  const FwdRoute *route = linker->run->route;
  g_autofree char *shown = fwd_url_for_log (
    route->servers[linker->next_server]);

  fwd_run_set_state (linker->run, TRUE, "up %s", shown);
}

void
fwd_linker_down (FwdLinker *linker, const GError *error)
{
  const FwdRoute *route = linker->run->route;
  g_autofree char *shown = NULL;

  shown = fwd_url_for_log (route->servers[linker->next_server]);
  if (linker->up)
    linker->broker->klass->close (linker->broker);
  linker->up = FALSE;
  linker->failed = TRUE;
  /* The next try goes to the next server: this one may be the trouble. */
  if (route->servers[++linker->next_server] == NULL)
    linker->next_server = 0;
  fwd_run_set_state (linker->run, FALSE, "down %s: %s", shown,
                     error->message);
}
