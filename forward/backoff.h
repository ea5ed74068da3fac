/* backoff.h: how long to wait before the next try of a broker: doubling
 * from min to max, each wait drawn between half and all of its step
 * (jitter), so that forwarders cut off together do not come back in step. */
#pragma once

#include <glib.h>

typedef struct {
  guint64 min_ms;
  guint64 max_ms;
  guint64 step_ms;   /* the current step; 0 before the first failure */
  GRand *rand;
} FwdBackoff;

void fwd_backoff_init (FwdBackoff *backoff, guint64 min_ms, guint64 max_ms,
                       GRand *rand);
/* The wait before the next try, after one more failure. */
guint64 fwd_backoff_next (FwdBackoff *backoff);
/* A try succeeded: the next failure waits min again. */
void fwd_backoff_reset (FwdBackoff *backoff);
