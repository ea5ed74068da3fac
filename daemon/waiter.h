/* waiter.h: gets that wait for a message (get q/t=500).
 *
 * Waiters on a queue are served in arrival order, one per new message; their
 * deadlines are kept sorted and served by the main loop's pass, so a
 * thousand idle waiters cost no CPU and no thread.
 *
 * Nothing here runs a command: a queue that gains a message is only marked
 * ready, and waiters_serve() later hands the woken connections to the
 * caller, once the command that stored the message has returned.
 */
#pragma once

#include "queue.h"

typedef struct _MqConn MqConn;
typedef struct _MqWaiter MqWaiter;

/* Called for a connection whose waiting get is over: retry when a queue it
 * waits on gained a message (or was deleted), FALSE when its time is up.
 * Its waiter is already gone. */
typedef void (*MqWakeFunc) (MqConn *conn, gboolean retry);

/* conn waits on queues until one gains a message or deadline (monotonic
 * µs) passes. */
MqWaiter *waiter_add (MqConn *conn, MqQueue *const *queues, guint n_queues,
                      gint64 deadline_us);
/* Forgets a waiter whose connection closed. */
void waiter_remove (MqWaiter *waiter);

/* The queue layer's MqQueueReadyFunc: marks a queue with waiters ready,
 * once, to be served by the next waiters_serve(). */
void waiters_on_ready (MqQueue *queue);
/* Takes every waiter off a queue about to be deleted (and its ready mark,
 * so nothing points to it once freed); the next waiters_serve() wakes them
 * to wait again, on the queue the name names then. */
void waiters_detach_queue (MqQueue *queue);
/* Wakes (retry) the waiters of deleted queues, then, queue by queue, the
 * first waiters of each ready queue while it has messages. */
void waiters_serve (MqWakeFunc wake);
/* Wakes (no retry) every waiter whose deadline has passed. */
void waiters_expire (gint64 now_us, MqWakeFunc wake);
/* When the loop must run a pass for the waiters: at once (0) while a queue
 * is marked ready, else the earliest deadline, or -1. */
gint64 waiters_next_deadline (void);
