/* loop.c: the epoll GSource; see loop.h. */
#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_MAX_EVENTS 256

typedef struct {
  GSource source;
  int epfd;
  gpointer tag;
  MqPassFunc pass_end;
  gpointer user_data;
  gboolean woken;                 /* loop_wake() since the pass began */
} MqLoopSource;

static MqLoopSource *loop;

static gboolean
loop_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  MqLoopSource *self = (MqLoopSource *) source;
  struct epoll_event events[LOOP_MAX_EVENTS];
  int n;

  g_source_set_ready_time (source, -1);
  self->woken = FALSE;
  n = epoll_wait (self->epfd, events, LOOP_MAX_EVENTS, 0);
  if (n < 0 && errno != EINTR)
    g_error ("epoll_wait: %s", g_strerror (errno));
  for (int i = 0; i < n; i++)
    {
      MqWatch *watch = events[i].data.ptr;

      watch->func (watch, events[i].events);
    }
  self->pass_end (self->user_data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs loop_funcs = {
  .dispatch = loop_dispatch,
};

void
loop_init (MqPassFunc pass_end, gpointer user_data)
{
  int epfd = epoll_create1 (EPOLL_CLOEXEC);

  if (epfd < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  loop = (MqLoopSource *) g_source_new (&loop_funcs, sizeof *loop);
  loop->epfd = epfd;
  loop->pass_end = pass_end;
  loop->user_data = user_data;
  loop->tag = g_source_add_unix_fd (&loop->source, epfd, G_IO_IN);
  g_source_set_name (&loop->source, "mqd sockets");
  g_source_attach (&loop->source, NULL);
}

void
loop_shutdown (void)
{
  if (loop == NULL)
    return;
  g_source_destroy (&loop->source);
  close (loop->epfd);
  g_source_unref (&loop->source);
  loop = NULL;
}

static void
loop_ctl (int op, MqWatch *watch)
{
  struct epoll_event ev = { .events = watch->events, .data.ptr = watch };

  if (epoll_ctl (loop->epfd, op, watch->fd, &ev) != 0)
    g_error ("epoll_ctl: %s", g_strerror (errno));
}

void
loop_watch (MqWatch *watch, int fd, guint32 events, MqWatchFunc func)
{
  watch->fd = fd;
  watch->events = events;
  watch->func = func;
  loop_ctl (EPOLL_CTL_ADD, watch);
}

void
loop_rewatch (MqWatch *watch, guint32 events)
{
  if (watch->events == events)
    return;
  watch->events = events;
  loop_ctl (EPOLL_CTL_MOD, watch);
}

void
loop_unwatch (MqWatch *watch)
{
  loop_ctl (EPOLL_CTL_DEL, watch);
  watch->fd = -1;
}

void
loop_wake (void)
{
  loop->woken = TRUE;
  g_source_set_ready_time (&loop->source, 0);
}

void
loop_set_deadline (gint64 deadline_us)
{
  /* A wake-up asked for during this pass must not be lost to a later
   * deadline. */
  if (!loop->woken)
    g_source_set_ready_time (&loop->source, deadline_us);
}
