/* loop.c: the epoll GSource; see loop.h. */
#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_MAX_EVENTS 256
/* GLib's own descriptors (its wake-up eventfd, few others) are watched in
 * the same epoll fd: at most this many. */
#define LOOP_MAX_GLIB_FDS 16

/* A descriptor of GLib's in the epoll fd, and the GPollFD it answers. */
typedef struct {
  int fd;
  gushort events;
  gboolean seen;                  /* still in GLib's array this time */
} GlibFd;

typedef struct {
  GSource source;
  int epfd;
  MqPassFunc pass_end;
  gpointer user_data;
  gboolean woken;                 /* loop_wake() since the pass began */
  gint64 deadline;                /* monotonic µs, -1: none */
  struct epoll_event events[LOOP_MAX_EVENTS];
  int n_events;                   /* ours, waiting for the dispatch */
  gboolean fetched;               /* taken by loop_idle: the next poll
                                     need not wait for them */
  gboolean glib_ready;            /* and one of GLib's was ready then */
  GlibFd glib_fds[LOOP_MAX_GLIB_FDS];
  guint n_glib_fds;
} MqLoopSource;

static MqLoopSource *loop;

/* ---- one blocking epoll_wait per pass ------------------------------------ */

static guint32
epoll_from_glib (gushort events)
{
  return (events & G_IO_IN ? EPOLLIN : 0) | (events & G_IO_OUT ? EPOLLOUT : 0)
    | (events & G_IO_PRI ? EPOLLPRI : 0);
}

static gushort
glib_from_epoll (guint32 events)
{
  return (events & EPOLLIN ? G_IO_IN : 0) | (events & EPOLLOUT ? G_IO_OUT : 0)
    | (events & EPOLLPRI ? G_IO_PRI : 0) | (events & EPOLLERR ? G_IO_ERR : 0)
    | (events & EPOLLHUP ? G_IO_HUP : 0);
}

static void
glib_fd_ctl (int op, GlibFd *slot)
{
  struct epoll_event ev = { .events = epoll_from_glib (slot->events),
    .data.ptr = slot };

  if (epoll_ctl (loop->epfd, op, slot->fd, &ev) != 0)
    g_error ("epoll_ctl on GLib's fd %d: %s", slot->fd, g_strerror (errno));
}

/* GLib's descriptors other than the epoll fd join it; those it no longer
 * watches leave.  In a steady state nothing changes: no system call. */
static void
glib_fds_sync (GPollFD *ufds, guint nfds)
{
  for (guint s = 0; s < loop->n_glib_fds; s++)
    loop->glib_fds[s].seen = FALSE;
  for (guint i = 0; i < nfds; i++)
    {
      GlibFd *slot = NULL;

      ufds[i].revents = 0;
      if (ufds[i].fd == loop->epfd)
        continue;
      for (guint s = 0; s < loop->n_glib_fds && slot == NULL; s++)
        if (loop->glib_fds[s].fd == ufds[i].fd)
          slot = &loop->glib_fds[s];
      if (slot == NULL)
        {
          g_assert (loop->n_glib_fds < LOOP_MAX_GLIB_FDS);
          slot = &loop->glib_fds[loop->n_glib_fds++];
          slot->fd = ufds[i].fd;
          slot->events = ufds[i].events;
          glib_fd_ctl (EPOLL_CTL_ADD, slot);
        }
      else if (slot->events != ufds[i].events)
        {
          slot->events = ufds[i].events;
          glib_fd_ctl (EPOLL_CTL_MOD, slot);
        }
      slot->seen = TRUE;
    }
  for (guint s = 0; s < loop->n_glib_fds;)
    if (!loop->glib_fds[s].seen)
      {
        epoll_ctl (loop->epfd, EPOLL_CTL_DEL, loop->glib_fds[s].fd, NULL);
        loop->glib_fds[s] = loop->glib_fds[--loop->n_glib_fds];
      }
    else
      s++;
}

static void
poll_mark (GPollFD *ufds, guint nfds, int fd, gushort revents)
{
  for (guint i = 0; i < nfds; i++)
    if (ufds[i].fd == fd)
      ufds[i].revents |= revents & (ufds[i].events | G_IO_ERR | G_IO_HUP);
}

/* One epoll_wait: the sockets' events join those kept for the dispatch;
 * GLib's are marked in ufds, or only noted without them (level-triggered,
 * the next poll finds them again).  How many of GLib's, or -1. */
static int
loop_fetch (int timeout, GPollFD *ufds, guint nfds)
{
  struct epoll_event *out = loop->events + loop->n_events;
  int n = epoll_wait (loop->epfd, out, LOOP_MAX_EVENTS - loop->n_events,
                      timeout), glib = 0;

  if (n < 0)
    return errno == EINTR ? 0 : -1;
  for (int i = 0; i < n; i++)
    {
      gpointer ptr = out[i].data.ptr;

      if (ptr >= (gpointer) loop->glib_fds
          && ptr < (gpointer) (loop->glib_fds + LOOP_MAX_GLIB_FDS))
        {
          poll_mark (ufds, nfds, ((GlibFd *) ptr)->fd,
                     glib_from_epoll (out[i].events));
          glib++;
        }
      else
        loop->events[loop->n_events++] = out[i];
    }
  return glib;
}

/* GLib's poll function: one epoll_wait for every descriptor, GLib's and
 * the sockets', or none when loop_idle took the sockets' events and none of
 * GLib's was ready.  Events of the sockets are kept for the dispatch, and
 * make the epoll fd's GPollFD readable. */
static gint
loop_poll (GPollFD *ufds, guint nfds, gint timeout)
{
  int ready = 0;

  glib_fds_sync (ufds, nfds);
  if (!loop->fetched || loop->glib_ready)
    ready = loop_fetch (loop->n_events > 0 ? 0 : timeout, ufds, nfds);
  loop->fetched = loop->glib_ready = FALSE;
  if (ready < 0)
    return -1;
  if (loop->n_events > 0)
    {
      poll_mark (ufds, nfds, loop->epfd, G_IO_IN);
      ready++;
    }
  return ready;
}

/* ---- the source ------------------------------------------------------------ */

static gboolean
loop_due (gint *timeout)
{
  gint64 left;

  if (loop->woken)
    return TRUE;
  if (loop->deadline < 0)
    {
      *timeout = -1;
      return FALSE;
    }
  left = loop->deadline - g_get_monotonic_time ();
  if (left <= 0)
    return TRUE;
  *timeout = (gint) MIN ((left + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
loop_prepare (GSource *source, gint *timeout)
{
  if (!loop_due (timeout))
    return loop->n_events > 0;
  *timeout = 0;
  return TRUE;
}

static gboolean
loop_check (GSource *source)
{
  gint timeout;

  return loop->n_events > 0 || loop_due (&timeout);
}

static gboolean
loop_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  MqLoopSource *self = (MqLoopSource *) source;
  int n = self->n_events;

  self->woken = FALSE;
  self->deadline = -1;
  self->n_events = 0;
  for (int i = 0; i < n; i++)
    {
      MqWatch *watch = self->events[i].data.ptr;

      watch->func (watch, self->events[i].events);
    }
  self->pass_end (self->user_data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs loop_funcs = {
  .prepare = loop_prepare,
  .check = loop_check,
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
  loop->deadline = -1;
  loop->pass_end = pass_end;
  loop->user_data = user_data;
  g_source_add_unix_fd (&loop->source, epfd, G_IO_IN);
  g_source_set_name (&loop->source, "mqd sockets");
  /* The pass never runs the loop again: GLib need not block the source
   * (and wake itself) around each dispatch. */
  g_source_set_can_recurse (&loop->source, TRUE);
  g_source_attach (&loop->source, NULL);
  g_main_context_set_poll_func (NULL, loop_poll);
}

void
loop_shutdown (void)
{
  if (loop == NULL)
    return;
  g_main_context_set_poll_func (NULL, NULL);
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
  int kept = 0;

  loop_ctl (EPOLL_CTL_DEL, watch);
  watch->fd = -1;
  /* Events loop_idle took for the next pass must not outlive the watch. */
  for (int i = 0; i < loop->n_events; i++)
    if (loop->events[i].data.ptr != watch)
      loop->events[kept++] = loop->events[i];
  loop->n_events = kept;
}

gboolean
loop_idle (void)
{
  int glib;

  if (loop->n_events > 0 || loop->woken)
    return FALSE;
  glib = loop_fetch (0, NULL, 0);
  loop->fetched = loop->n_events > 0;
  loop->glib_ready = glib != 0;
  return !loop->fetched && glib == 0;
}

void
loop_wake (void)
{
  loop->woken = TRUE;
}

void
loop_set_deadline (gint64 deadline_us)
{
  loop->deadline = deadline_us;
}
