/* loop.h: every socket of the daemon behind one epoll fd in one GSource.
 *
 * GLib's own fd watches rebuild a poll() array of every fd on each wake-up;
 * one epoll fd keeps a wake-up's cost flat from ten to thousands of
 * connections.  Each dispatch is a "pass": the ready sockets are served,
 * then the pass-end hook runs once (group commit, then replies go out).
 */
#pragma once

#include <glib.h>
#include <stdint.h>

typedef struct _MqWatch MqWatch;
typedef void (*MqWatchFunc) (MqWatch *watch, guint32 events);

/* Embed one in whatever owns the fd; events are EPOLLIN/EPOLLOUT/… */
struct _MqWatch {
  int fd;
  guint32 events;
  MqWatchFunc func;
};

typedef void (*MqPassFunc) (gpointer user_data);

void loop_init (MqPassFunc pass_end, gpointer user_data);
void loop_shutdown (void);

void loop_watch (MqWatch *watch, int fd, guint32 events, MqWatchFunc func);
void loop_rewatch (MqWatch *watch, guint32 events);
void loop_unwatch (MqWatch *watch);

/* Whether no descriptor is ready now.  The events it finds are taken for
 * the next pass, which then needs no epoll_wait of its own (a look that
 * left them would move them to the back of epoll's list, out of order). */
gboolean loop_idle (void);
/* Makes the next main-loop iteration run a pass even if no fd is ready. */
void loop_wake (void);
/* Asks for a pass no later than deadline (monotonic µs); -1 clears it. */
void loop_set_deadline (gint64 deadline_us);
