/* lease.h: deadlines of reliable reads (get q/open/lease=ms).
 *
 * An open read not closed in time goes back to its queue.  The deadlines
 * are kept sorted and served by the main loop's pass, as waiters' are, so
 * a thousand leases cost no timer and no thread.
 */
#pragma once

#include <glib.h>

typedef struct _MqLease MqLease;
typedef void (*MqLeaseFunc) (gpointer data);

/* func (data) runs once deadline (monotonic µs) has passed, unless the
 * lease is ended first. */
MqLease *lease_start (gint64 deadline_us, MqLeaseFunc func, gpointer data);
void lease_extend (MqLease *lease, gint64 deadline_us);
gint64 lease_deadline (const MqLease *lease);
void lease_end (MqLease *lease);

/* Runs, and ends, every lease whose deadline has passed. */
void leases_expire (gint64 now_us);
/* The earliest deadline, or -1. */
gint64 leases_next_deadline (void);
