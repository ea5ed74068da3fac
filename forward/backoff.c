/* backoff.c: see backoff.h. */
#include "config.h"

#include "backoff.h"

void
fwd_backoff_init (FwdBackoff *backoff, guint64 min_ms, guint64 max_ms,
                  GRand *rand)
{
  backoff->min_ms = min_ms;
  backoff->max_ms = max_ms;
  backoff->step_ms = 0;
  backoff->rand = rand;
}

guint64
fwd_backoff_next (FwdBackoff *backoff)
{
  guint64 half;

  if (backoff->step_ms == 0)
    backoff->step_ms = backoff->min_ms;
  else
    backoff->step_ms = MIN (backoff->step_ms * 2, backoff->max_ms);
  half = backoff->step_ms / 2;
  /* Never below min: the floor is what the operator asked for. */
  return MAX (backoff->min_ms, backoff->step_ms - half
              + (guint64) g_rand_double_range (backoff->rand, 0, half + 1));
}

void
fwd_backoff_reset (FwdBackoff *backoff)
{
  backoff->step_ms = 0;
}
