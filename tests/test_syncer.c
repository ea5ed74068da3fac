/* test_syncer.c: unit tests for daemon/syncer.c with real files. */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <unistd.h>

#include "syncer.h"

typedef struct {
  char *tmp;
  int fd;
  MqSyncer *syncer;
} Fixture;

static int
open_file (Fixture *f, const char *name)
{
  g_autofree char *path = g_build_filename (f->tmp, name, NULL);
  int fd = g_open (path, O_RDWR | O_CREAT, 0600);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->tmp = g_dir_make_tmp ("mqd-test-syncer-XXXXXX", &error);
  g_assert_no_error (error);
  f->fd = open_file (f, "file");
  f->syncer = syncer_new (f->fd, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->syncer);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autofree char *file = g_build_filename (f->tmp, "file", NULL);
  g_autofree char *other = g_build_filename (f->tmp, "other", NULL);

  if (f->syncer != NULL)
    syncer_free (f->syncer);
  close (f->fd);
  g_unlink (file);
  g_unlink (other);
  g_assert_cmpint (g_rmdir (f->tmp), ==, 0);
  g_free (f->tmp);
}

/* Waits on the eventfd, as the main loop does, until request is done. */
static guint64
wait_done (MqSyncer *syncer, guint64 request, guint64 *failed)
{
  guint64 done;

  while ((done = syncer_done (syncer, failed)) < request)
    {
      struct pollfd p = { .fd = syncer_wake_fd (syncer), .events = POLLIN };

      g_assert_cmpint (poll (&p, 1, 10000), ==, 1);
      syncer_ack (syncer);
    }
  return done;
}

static void
test_nothing_asked (Fixture *f, gconstpointer data)
{
  guint64 failed = 99;

  g_assert_cmpuint (syncer_done (f->syncer, &failed), ==, 0);
  g_assert_cmpuint (failed, ==, 0);
}

static void
test_requests_are_numbered_and_done (Fixture *f, gconstpointer data)
{
  guint64 failed;

  g_assert_cmpuint (syncer_request (f->syncer), ==, 1);
  g_assert_cmpuint (syncer_request (f->syncer), ==, 2);
  g_assert_cmpuint (syncer_request (f->syncer), ==, 3);
  g_assert_cmpuint (wait_done (f->syncer, 3, &failed), ==, 3);
  g_assert_cmpuint (failed, ==, 0);
  /* The eventfd is drained: no wake-up is left over. */
  syncer_ack (f->syncer);
  {
    struct pollfd p = { .fd = syncer_wake_fd (f->syncer), .events = POLLIN };

    g_assert_cmpint (poll (&p, 1, 0), ==, 0);
  }
}

/* A sync of a descriptor that cannot be synced is reported as failed, and
 * the requests go on being numbered and done. */
static void
test_failure_reported (Fixture *f, gconstpointer data)
{
  guint64 failed;
  int pipe_fds[2];

  g_assert_cmpint (pipe (pipe_fds), ==, 0);
  syncer_set_fd (f->syncer, pipe_fds[0]);       /* fdatasync: EINVAL */
  g_test_expect_message ("mqd", G_LOG_LEVEL_CRITICAL,
                         "cannot sync the journal: *");
  g_assert_cmpuint (wait_done (f->syncer, syncer_request (f->syncer),
                               &failed), ==, 1);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (failed, ==, 1);
  syncer_set_fd (f->syncer, f->fd);
  g_assert_cmpuint (wait_done (f->syncer, syncer_request (f->syncer),
                               &failed), ==, 2);
  g_assert_cmpuint (failed, ==, 1);             /* the last one that failed */
  close (pipe_fds[0]);
  close (pipe_fds[1]);
}

/* A new descriptor (the journal rewritten, already synced) counts every
 * request made so far as done. */
static void
test_set_fd_marks_done (Fixture *f, gconstpointer data)
{
  int other = open_file (f, "other");
  guint64 failed;

  syncer_request (f->syncer);
  syncer_request (f->syncer);
  syncer_set_fd (f->syncer, other);
  g_assert_cmpuint (syncer_done (f->syncer, &failed), ==, 2);
  g_assert_cmpuint (wait_done (f->syncer, syncer_request (f->syncer),
                               &failed), ==, 3);
  syncer_free (f->syncer);
  f->syncer = NULL;
  close (other);
}

static void
test_free_waits (Fixture *f, gconstpointer data)
{
  for (int i = 0; i < 100; i++)
    syncer_request (f->syncer);
  syncer_free (f->syncer);      /* joins the thread; ASan/TSan see the rest */
  f->syncer = NULL;
}

#define ADD(path, func) \
  g_test_add ("/syncer/" path, Fixture, NULL, fixture_set_up, func, \
              fixture_tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("nothing-asked", test_nothing_asked);
  ADD ("requests-are-numbered-and-done", test_requests_are_numbered_and_done);
  ADD ("failure-reported", test_failure_reported);
  ADD ("set-fd-marks-done", test_set_fd_marks_done);
  ADD ("free-waits", test_free_waits);
  return g_test_run ();
}
