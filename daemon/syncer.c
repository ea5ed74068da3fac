/* syncer.c: the journal's fdatasync off the main loop; see syncer.h. */
#include "config.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "syncer.h"

struct _MqSyncer {
  GThread *thread;
  GMutex lock;
  GCond changed;
  int fd;                       /* the file to sync */
  int wake_fd;                  /* eventfd: a sync ended */
  guint64 requested;            /* last request number handed out */
  guint64 started;              /* covered by the sync under way or done */
  guint64 done;
  guint64 failed;
  gboolean quit;
};

static gpointer
syncer_thread (gpointer data)
{
  MqSyncer *syncer = data;
  const guint64 one = 1;

  g_mutex_lock (&syncer->lock);
  for (;;)
    {
      guint64 target;
      int rc, saved;

      while (syncer->started == syncer->requested && !syncer->quit)
        g_cond_wait (&syncer->changed, &syncer->lock);
      if (syncer->started == syncer->requested)
        break;
      target = syncer->started = syncer->requested;
      g_mutex_unlock (&syncer->lock);
      rc = fdatasync (syncer->fd);
      saved = errno;
      g_mutex_lock (&syncer->lock);
      if (rc != 0)
        {
          syncer->failed = target;
          g_critical ("cannot sync the journal: %s", g_strerror (saved));
        }
      syncer->done = target;
      g_cond_broadcast (&syncer->changed);
      if (write (syncer->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        g_critical ("cannot wake the main loop: %s", g_strerror (errno));
    }
  g_mutex_unlock (&syncer->lock);
  return NULL;
}

MqSyncer *
syncer_new (int fd, GError **error)
{
  MqSyncer *syncer;
  int wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);

  if (wake_fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "cannot create an eventfd: %s", g_strerror (saved));
      return NULL;
    }
  syncer = g_new0 (MqSyncer, 1);
  g_mutex_init (&syncer->lock);
  g_cond_init (&syncer->changed);
  syncer->fd = fd;
  syncer->wake_fd = wake_fd;
  syncer->thread = g_thread_new ("mqd-sync", syncer_thread, syncer);
  return syncer;
}

void
syncer_free (MqSyncer *syncer)
{
  g_mutex_lock (&syncer->lock);
  syncer->quit = TRUE;
  g_cond_broadcast (&syncer->changed);
  g_mutex_unlock (&syncer->lock);
  g_thread_join (syncer->thread);
  close (syncer->wake_fd);
  g_mutex_clear (&syncer->lock);
  g_cond_clear (&syncer->changed);
  g_free (syncer);
}

int
syncer_wake_fd (MqSyncer *syncer)
{
  return syncer->wake_fd;
}

void
syncer_ack (MqSyncer *syncer)
{
  guint64 count;

  while (read (syncer->wake_fd, &count, sizeof count) > 0)
    ;
}

guint64
syncer_request (MqSyncer *syncer)
{
  guint64 number;

  g_mutex_lock (&syncer->lock);
  number = ++syncer->requested;
  g_cond_broadcast (&syncer->changed);
  g_mutex_unlock (&syncer->lock);
  return number;
}

guint64
syncer_done (MqSyncer *syncer, guint64 *failed)
{
  guint64 done;

  g_mutex_lock (&syncer->lock);
  done = syncer->done;
  *failed = syncer->failed;
  g_mutex_unlock (&syncer->lock);
  return done;
}

void
syncer_set_fd (MqSyncer *syncer, int fd)
{
  g_mutex_lock (&syncer->lock);
  while (syncer->done != syncer->started)
    g_cond_wait (&syncer->changed, &syncer->lock);
  syncer->fd = fd;
  syncer->started = syncer->done = syncer->requested;
  g_mutex_unlock (&syncer->lock);
}
