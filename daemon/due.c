/* due.c: delayed messages and leases at the pass end; see due.h. */
#include "config.h"

#include "due.h"
#include "lease.h"
#include "queue.h"
#include "waiter.h"

/* Delayed messages moved a pass at most, so a million due at once do not
 * stall the loop. */
#define RELEASE_BUDGET 4096
/* After a failed move (a full disk) the next try waits this long. */
#define RELEASE_RETRY_MS 100

static gint64 release_after_ms;   /* wall clock */
static gboolean more_due;

void
due_serve (void)
{
  g_autoptr (GError) error = NULL;
  gint64 now_ms = g_get_real_time () / 1000;

  leases_expire (g_get_monotonic_time ());
  if (now_ms < release_after_ms)
    return;
  if (!queues_release_due (now_ms, RELEASE_BUDGET, &more_due, &error))
    {
      g_warning ("delayed messages wait: %s", error->message);
      release_after_ms = now_ms + RELEASE_RETRY_MS;
      more_due = FALSE;
    }
}

static gint64
earliest (gint64 a, gint64 b)
{
  if (a < 0)
    return b;
  return b < 0 ? a : MIN (a, b);
}

gint64
due_next_deadline (void)
{
  gint64 next_ms = MAX (queues_next_due_ms (), release_after_ms);
  gint64 release = -1;

  if (more_due)
    release = 0;
  else if (next_ms != G_MAXINT64)
    /* The wheel keeps wall-clock times; the loop waits on the monotonic
     * clock. */
    release = g_get_monotonic_time ()
      + MAX (next_ms * 1000 - g_get_real_time (), 0);
  return earliest (earliest (release, leases_next_deadline ()),
                   waiters_next_deadline ());
}
