/* due.h: what comes due with time, served at each pass end: delayed
 * messages whose time has come join their queues, and reliable reads whose
 * lease ran out go back to theirs.  Both before the ready queues are
 * served, so a waiting get takes them in the same pass.
 */
#pragma once

#include <glib.h>

void due_serve (void);
/* When the loop must run a pass for them, or for a waiting get's time
 * (monotonic µs); -1: no need. */
gint64 due_next_deadline (void);
