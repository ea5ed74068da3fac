/* waiter.h: gets that wait for a message (get q/t=500).
 *
 * Waiters on a queue are served in arrival order, one per new message; their
 * deadlines are kept sorted and served by the main loop's pass, so a
 * thousand idle waiters cost no CPU and no thread.
 */
#pragma once

#include "conn.h"
#include "queue.h"

typedef struct _MqWaiter MqWaiter;

/* conn waits on queues until one gains a message or deadline (monotonic
 * µs) passes; conn_unblock() is then called. */
MqWaiter *waiter_add (MqConn *conn, MqQueue *const *queues, guint n_queues,
                      gint64 deadline_us);
/* Forgets a waiter whose connection closed. */
void waiter_remove (MqWaiter *waiter);

/* The queue layer's MqQueueReadyFunc: wakes the queue's first waiter. */
void waiters_on_ready (MqQueue *queue);
/* Takes every waiter off a queue about to be deleted; returns their
 * connections, to be woken (conn_unblock) once it is gone. */
GPtrArray *waiters_detach_queue (MqQueue *queue);
/* Times out every waiter whose deadline has passed. */
void waiters_expire (gint64 now_us);
/* The earliest deadline, or -1. */
gint64 waiters_next_deadline (void);
