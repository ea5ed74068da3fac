/* test_client.c: libmqclient against the real daemon.
 *
 * Every test starts its own mqd ($MQD) with -s <tmp>/mqd.sock -H <tmp>/data
 * and waits for its readiness datagram on $NOTIFY_SOCKET, as
 * tests/mqdtest.py does; the daemon is stopped with SIGTERM and must exit
 * with status 0 (so AddressSanitizer's leak report fails the test).  A
 * small proxy in a thread stands between the library and the daemon where a
 * connection has to break at a chosen moment.
 *
 * Everything the library allocates is freed: the suite runs under LSan.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <mqueue.h>               /* mqclient.h must not clash with it */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mqclient.h"

#define TIMEOUT_US (10 * G_USEC_PER_SEC)

/* ---- a watchdog: a test that stops moving fails, it does not hang ------- */

#define WATCHDOG_SECONDS 60

static GMutex watchdog_lock;
static GCond watchdog_cond;
static const char *watchdog_test;       /* the test running, or NULL */
static gint64 watchdog_deadline;

static gpointer
watchdog_main (gpointer data)
{
  g_mutex_lock (&watchdog_lock);
  for (;;)
    {
      if (watchdog_test == NULL)
        g_cond_wait (&watchdog_cond, &watchdog_lock);
      else if (!g_cond_wait_until (&watchdog_cond, &watchdog_lock,
                                   watchdog_deadline)
               && watchdog_test != NULL
               && g_get_monotonic_time () >= watchdog_deadline)
        {
          /* Most likely the daemon stopped answering; its child dies with
           * us (PR_SET_PDEATHSIG). */
          fprintf (stderr, "%s: still running after %d s: aborting\n",
                   watchdog_test, WATCHDOG_SECONDS);
          abort ();
        }
    }
  return NULL;
}

typedef struct {
  const char *path;
  GTestFunc func;
} WatchedTest;

static void
run_watched (gconstpointer data)
{
  const WatchedTest *t = data;

  g_mutex_lock (&watchdog_lock);
  watchdog_test = t->path;
  watchdog_deadline = g_get_monotonic_time ()
    + WATCHDOG_SECONDS * G_USEC_PER_SEC;
  g_cond_signal (&watchdog_cond);
  g_mutex_unlock (&watchdog_lock);
  t->func ();
  g_mutex_lock (&watchdog_lock);
  watchdog_test = NULL;
  g_cond_signal (&watchdog_cond);
  g_mutex_unlock (&watchdog_lock);
}

static void
add_test (const char *path, GTestFunc func)
{
  WatchedTest *t = g_new (WatchedTest, 1);   /* lives as long as the run */

  t->path = path;
  t->func = func;
  g_test_add_data_func (path, t, run_watched);
}

/* The watchdog never takes a signal meant for a test (SIGALRM). */
static void
start_watchdog (void)
{
  sigset_t all, old;

  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  g_thread_unref (g_thread_new ("watchdog", watchdog_main, NULL));
  pthread_sigmask (SIG_SETMASK, &old, NULL);
}

/* ---- the daemon ---------------------------------------------------------- */

typedef struct {
  char *tmp;
  char *sock;
  char *data;
  char *notify;
  char *log;
  GPtrArray *args;                /* extra arguments */
  pid_t pid;                      /* 0: not running */
  int notify_fd;
} Mqd;

static int
remove_one (const char *path, const struct stat *st, int type,
            struct FTW *ftw)
{
  return remove (path);
}

static char *
read_log (Mqd *d)
{
  char *text = NULL;

  if (!g_file_get_contents (d->log, &text, NULL, NULL))
    return g_strdup ("(no log)");
  return text;
}

static Mqd *
mqd_new (const char *first_arg, ...)
{
  Mqd *d = g_new0 (Mqd, 1);
  g_autoptr (GError) error = NULL;
  const char *arg;
  va_list args;

  d->tmp = g_dir_make_tmp ("mqct-XXXXXX", &error);
  g_assert_no_error (error);
  d->sock = g_build_filename (d->tmp, "mqd.sock", NULL);
  d->data = g_build_filename (d->tmp, "data", NULL);
  d->notify = g_build_filename (d->tmp, "notify.sock", NULL);
  d->log = g_build_filename (d->tmp, "mqd.log", NULL);
  d->args = g_ptr_array_new_with_free_func (g_free);
  d->notify_fd = -1;
  va_start (args, first_arg);
  for (arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (d->args, g_strdup (arg));
  va_end (args);
  return d;
}

/* Starts mqd and returns once it said READY=1. */
static void
mqd_start (Mqd *d)
{
  const char *mqd = g_getenv ("MQD");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  g_autofree char *expected = NULL;
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;
  pid_t parent = getpid ();

  if (mqd == NULL || *mqd == '\0')
    g_error ("MQD is not set: run through make check, or set "
             "MQD=/abs/path/to/daemon/mqd");
  g_assert_cmpint (d->pid, ==, 0);
  if (d->notify_fd < 0)
    {
      unlink (d->notify);
      d->notify_fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      g_assert_cmpint (d->notify_fd, >=, 0);
      g_strlcpy (addr.sun_path, d->notify, sizeof addr.sun_path);
      g_assert_cmpint (bind (d->notify_fd, (struct sockaddr *) &addr,
                             sizeof addr), ==, 0);
    }

  d->pid = fork ();
  g_assert_cmpint (d->pid, >=, 0);
  if (d->pid == 0)
    {
      GPtrArray *argv = g_ptr_array_new ();
      int log = open (d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

      /* A test that aborts takes its daemon with it. */
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () != parent)
        _exit (127);
      if (log < 0 || dup2 (log, 1) < 0 || dup2 (log, 2) < 0)
        _exit (127);
      g_ptr_array_add (argv, (char *) mqd);
      g_ptr_array_add (argv, (char *) "-s");
      g_ptr_array_add (argv, d->sock);
      g_ptr_array_add (argv, (char *) "-H");
      g_ptr_array_add (argv, d->data);
      for (guint i = 0; i < d->args->len; i++)
        g_ptr_array_add (argv, g_ptr_array_index (d->args, i));
      g_ptr_array_add (argv, NULL);
      setenv ("NOTIFY_SOCKET", d->notify, 1);
      execv (mqd, (char **) argv->pdata);
      _exit (127);
    }

  expected = g_strdup_printf ("READY=1\nMAINPID=%d", (int) d->pid);
  for (;;)
    {
      struct pollfd p = { .fd = d->notify_fd, .events = POLLIN };
      int status;

      if (poll (&p, 1, 50) > 0)
        {
          char buf[256];
          ssize_t n = recv (d->notify_fd, buf, sizeof buf - 1, 0);

          g_assert_cmpint (n, >=, 0);
          buf[n] = '\0';
          if (g_str_has_prefix (buf, "READY=1"))
            {
              g_assert_cmpstr (buf, ==, expected);
              return;
            }
          continue;
        }
      if (waitpid (d->pid, &status, WNOHANG) == d->pid)
        {
          g_autofree char *log = read_log (d);

          d->pid = 0;
          g_error ("mqd exited (status 0x%x) before READY=1:\n%s", status,
                   log);
        }
      if (g_get_monotonic_time () > deadline)
        {
          g_autofree char *log = read_log (d);

          kill (d->pid, SIGKILL);
          g_error ("mqd sent no READY=1 within 10 s:\n%s", log);
        }
    }
}

/* Waits for the daemon's exit; asserts the status. */
static void
mqd_wait_exit (Mqd *d, int want)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;
  int status;

  for (;;)
    {
      pid_t r = waitpid (d->pid, &status, WNOHANG);

      if (r == d->pid)
        break;
      g_assert_cmpint (r, ==, 0);
      if (g_get_monotonic_time () > deadline)
        {
          kill (d->pid, SIGKILL);
          g_error ("mqd did not exit within 10 s");
        }
      g_usleep (2000);
    }
  d->pid = 0;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != want)
    {
      g_autofree char *log = read_log (d);

      g_error ("mqd ended with status 0x%x, expected exit %d:\n%s", status,
               want, log);
    }
}

static void
mqd_stop (Mqd *d)
{
  g_assert_cmpint (d->pid, >, 0);
  kill (d->pid, SIGTERM);
  mqd_wait_exit (d, 0);
}

static void
mqd_free (Mqd *d)
{
  if (d->pid > 0)
    mqd_stop (d);
  if (d->notify_fd >= 0)
    close (d->notify_fd);
  nftw (d->tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
  g_free (d->tmp);
  g_free (d->sock);
  g_free (d->data);
  g_free (d->notify);
  g_free (d->log);
  g_ptr_array_unref (d->args);
  g_free (d);
}

static Mqd *
mqd_run (void)
{
  Mqd *d = mqd_new (NULL);

  mqd_start (d);
  return d;
}

/* ---- helpers ---------------------------------------------------------- */

#define assert_status(call, want, client)                                    \
  do                                                                         \
    {                                                                        \
      mq_status st_ = (call);                                                \
      if (st_ != (want))                                                     \
        g_error ("%s:%d: %s gave %d (%s: %s), expected %d (%s)", __FILE__,   \
                 __LINE__, #call, st_, mq_strerror (st_),                    \
                 mq_client_error (client), (want), mq_strerror (want));      \
    }                                                                        \
  while (0)

static mq_client *
connect_to (const char *path)
{
  mq_client *c = NULL;

  assert_status (mq_connect (path, &c), MQ_OK, c);
  g_assert_nonnull (c);
  g_assert_cmpstr (mq_client_error (c), ==, "");
  return c;
}

static void
push_str (mq_client *c, const char *queue, const char *text)
{
  assert_status (mq_push (c, queue, text, strlen (text), 0, 0), MQ_OK, c);
}

/* Pops one message and asserts its text. */
static void
pop_expect (mq_client *c, const char *queue, const char *text)
{
  mq_message *m = NULL;

  assert_status (mq_pop (c, queue, MQ_NO_WAIT, &m), MQ_OK, c);
  g_assert_nonnull (m);
  g_assert_cmpmem (m->data, m->len, text, strlen (text));
  mq_message_free (m);
}

static void
pop_expect_empty (mq_client *c, const char *queue)
{
  mq_message *m = (mq_message *) &m;  /* must be reset to NULL */

  assert_status (mq_pop (c, queue, MQ_NO_WAIT, &m), MQ_EMPTY, c);
  g_assert_null (m);
}

static mq_queue_info
queue_info (mq_client *c, const char *queue)
{
  mq_queue_info info;

  assert_status (mq_queue_stats (c, queue, &info), MQ_OK, c);
  g_assert_null (info.name);
  return info;
}

/* A server-wide stat as a number. */
static guint64
server_stat (mq_client *c, const char *name)
{
  mq_stat *stats;
  size_t n;
  const char *v;
  guint64 value;

  assert_status (mq_stats (c, &stats, &n), MQ_OK, c);
  v = mq_stats_find (stats, n, name);
  g_assert_nonnull (v);
  value = g_ascii_strtoull (v, NULL, 10);
  mq_stats_free (stats, n);
  return value;
}

/* Bounded poll, on its own connection, until queue has n waiters. */
static void
wait_waiters (const char *sock, const char *queue, guint64 n)
{
  mq_client *c = connect_to (sock);
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;
  mq_queue_info info = { 0 };

  for (;;)
    {
      mq_status st = mq_queue_stats (c, queue, &info);

      if (st == MQ_OK && info.waiters == n)
        break;
      g_assert_true (st == MQ_OK || st == MQ_NOT_FOUND);
      if (g_get_monotonic_time () > deadline)
        g_error ("queue %s has %" G_GUINT64_FORMAT " waiters, expected %"
                 G_GUINT64_FORMAT, queue, info.waiters, n);
      g_usleep (1000);
    }
  mq_client_free (c);
}

/* Bounded poll until queue has n items: for what the daemon does on its
 * own, as giving back the open read of a connection that ended. */
static void
wait_items (mq_client *c, const char *queue, guint64 n)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;
  mq_queue_info info = { 0 };

  for (;;)
    {
      assert_status (mq_queue_stats (c, queue, &info), MQ_OK, c);
      if (info.items == n)
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("queue %s has %" G_GUINT64_FORMAT " items, expected %"
                 G_GUINT64_FORMAT, queue, info.items, n);
      g_usleep (1000);
    }
}

/* ---- a proxy that can break the connection at a chosen moment ---------- */

typedef struct {
  char *path;
  const char *upstream;
  int listen_fd;
  int wake[2];
  GThread *thread;
  gint armed;                     /* drop the next answer and hang up */
  gint sets;                      /* set commands forwarded, in total */
  gint connections;
  int poke[2];                    /* go_deaf was set */
  gint go_deaf;                   /* stop reading the client's requests */
  gint deaf;                      /* done: the client's sends now fail */
  int deaf_fd;                    /* that connection, kept open */
} Proxy;

static gboolean
write_all (int fd, const char *p, size_t n)
{
  while (n > 0)
    {
      ssize_t w = send (fd, p, n, MSG_NOSIGNAL);

      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return FALSE;
      p += w;
      n -= (size_t) w;
    }
  return TRUE;
}

static int
count_sets (const char *p, size_t n, gboolean *line_start)
{
  int sets = 0;

  for (size_t i = 0; i < n; i++)
    {
      if (*line_start && n - i >= 4 && memcmp (p + i, "set ", 4) == 0)
        sets++;
      *line_start = p[i] == '\n';
    }
  return sets;
}

static void
proxy_shuttle (Proxy *x, int client)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  gboolean line_start = TRUE;
  int up = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_strlcpy (addr.sun_path, x->upstream, sizeof addr.sun_path);
  if (up < 0 || connect (up, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      if (up >= 0)
        close (up);
      close (client);
      return;
    }
  g_atomic_int_inc (&x->connections);
  for (;;)
    {
      struct pollfd p[4] = {
        { .fd = client, .events = POLLIN },
        { .fd = up, .events = POLLIN },
        { .fd = x->wake[0], .events = POLLIN },
        { .fd = x->poke[0], .events = POLLIN },
      };
      char buf[65536];
      ssize_t n;

      if (poll (p, 4, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (p[2].revents)
        break;
      if (p[3].revents && g_atomic_int_get (&x->go_deaf))
        {
          /* The client's end stays open and sees nothing to read, but
           * its next send fails (EPIPE) before a byte goes out. */
          g_assert_cmpint (read (x->poke[0], buf, 1), ==, 1);
          g_assert_cmpint (shutdown (client, SHUT_RD), ==, 0);
          x->deaf_fd = client;
          close (up);
          g_atomic_int_set (&x->go_deaf, 0);
          g_atomic_int_set (&x->deaf, 1);
          return;
        }
      if (p[0].revents)
        {
          n = recv (client, buf, sizeof buf, 0);
          if (n <= 0)
            break;
          g_atomic_int_add (&x->sets, count_sets (buf, (size_t) n,
                                                  &line_start));
          if (!write_all (up, buf, (size_t) n))
            break;
        }
      if (p[1].revents)
        {
          n = recv (up, buf, sizeof buf, 0);
          if (n <= 0)
            break;
          /* Armed: the daemon answered; the client never hears it. */
          if (g_atomic_int_compare_and_exchange (&x->armed, 1, 0))
            break;
          if (!write_all (client, buf, (size_t) n))
            break;
        }
    }
  close (up);
  close (client);
}

static gpointer
proxy_main (gpointer data)
{
  Proxy *x = data;

  for (;;)
    {
      struct pollfd p[2] = {
        { .fd = x->listen_fd, .events = POLLIN },
        { .fd = x->wake[0], .events = POLLIN },
      };

      if (poll (p, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return NULL;
        }
      if (p[1].revents)
        return NULL;
      if (p[0].revents)
        {
          int client = accept4 (x->listen_fd, NULL, NULL, SOCK_CLOEXEC);

          if (client >= 0)
            proxy_shuttle (x, client);
        }
    }
}

static Proxy *
proxy_new (Mqd *d)
{
  Proxy *x = g_new0 (Proxy, 1);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };

  x->path = g_build_filename (d->tmp, "proxy.sock", NULL);
  x->upstream = d->sock;
  x->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (x->listen_fd, >=, 0);
  g_strlcpy (addr.sun_path, x->path, sizeof addr.sun_path);
  g_assert_cmpint (bind (x->listen_fd, (struct sockaddr *) &addr,
                         sizeof addr), ==, 0);
  g_assert_cmpint (listen (x->listen_fd, 8), ==, 0);
  g_assert_cmpint (pipe2 (x->wake, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (x->poke, O_CLOEXEC), ==, 0);
  x->deaf_fd = -1;
  x->thread = g_thread_new ("proxy", proxy_main, x);
  return x;
}

/* Makes the proxied connection refuse the client's next request. */
static void
proxy_go_deaf (Proxy *x)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;

  g_atomic_int_set (&x->deaf, 0);
  if (x->deaf_fd >= 0)
    {
      close (x->deaf_fd);
      x->deaf_fd = -1;
    }
  g_atomic_int_set (&x->go_deaf, 1);
  g_assert_cmpint (write (x->poke[1], "x", 1), ==, 1);
  while (!g_atomic_int_get (&x->deaf))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static void
proxy_free (Proxy *x)
{
  g_assert_cmpint (write (x->wake[1], "x", 1), ==, 1);
  g_thread_join (x->thread);
  close (x->listen_fd);
  close (x->wake[0]);
  close (x->wake[1]);
  close (x->poke[0]);
  close (x->poke[1]);
  if (x->deaf_fd >= 0)
    close (x->deaf_fd);
  unlink (x->path);
  g_free (x->path);
  g_free (x);
}

/* ---- connecting ------------------------------------------------------- */

static void
test_connect_missing (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("mqct-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (tmp, "none.sock", NULL);
  mq_client *c = NULL;
  mq_message *m = NULL;

  assert_status (mq_connect (path, &c), MQ_CONNECT, c);
  /* The handle exists so that the error can be read. */
  g_assert_nonnull (c);
  g_assert_nonnull (strstr (mq_client_error (c), path));
  g_assert_nonnull (strstr (mq_client_error (c), "No such file"));
  g_assert_cmpstr (mq_client_socket (c), ==, path);
  /* Every later call tries again, and says the same. */
  assert_status (mq_push (c, "q", "x", 1, 0, 0), MQ_CONNECT, c);
  g_assert_nonnull (strstr (mq_client_error (c), "No such file"));
  assert_status (mq_pop (c, "q", MQ_NO_WAIT, &m), MQ_CONNECT, c);
  g_assert_null (m);
  mq_client_free (c);
  g_assert_cmpint (rmdir (tmp), ==, 0);
}

static void
test_connect_bad_path (void)
{
  char longpath[200];
  mq_client *c = NULL;

  memset (longpath, 'x', sizeof longpath - 1);
  longpath[0] = '/';
  longpath[sizeof longpath - 1] = '\0';
  assert_status (mq_connect (longpath, &c), MQ_INVALID, c);
  g_assert_nonnull (strstr (mq_client_error (c), "too long"));
  mq_client_free (c);
  assert_status (mq_connect ("", &c), MQ_INVALID, c);
  mq_client_free (c);
  g_assert_cmpint (mq_connect (NULL, NULL), ==, MQ_INVALID);
}

/* NULL: $MQD_SOCKET, else the daemon's own default. */
static void
test_connect_default (void)
{
  Mqd *d = mqd_run ();
  g_autofree char *old_env = g_strdup (g_getenv ("MQD_SOCKET"));
  g_autofree char *old_xdg = g_strdup (g_getenv ("XDG_RUNTIME_DIR"));
  g_autofree char *want = NULL;
  char buf[256];
  mq_client *c;
  const char *version;

  setenv ("MQD_SOCKET", d->sock, 1);
  g_assert_cmpuint (mq_socket_path (buf, sizeof buf), ==, strlen (d->sock));
  g_assert_cmpstr (buf, ==, d->sock);
  c = connect_to (NULL);
  g_assert_cmpstr (mq_client_socket (c), ==, d->sock);
  assert_status (mq_version (c, &version), MQ_OK, c);
  mq_client_free (c);

  /* The rule of settings_default_socket. */
  /* Empty is as unset.  (No other thread runs now: plain setenv.) */
  setenv ("MQD_SOCKET", "", 1);
  setenv ("XDG_RUNTIME_DIR", "/run/user/4242/", 1);
  mq_socket_path (buf, sizeof buf);
  g_assert_cmpstr (buf, ==, getuid () == 0 ? "/run/mqd/mqd.sock"
                   : "/run/user/4242/mqd.sock");
  setenv ("XDG_RUNTIME_DIR", "", 1);
  want = getuid () == 0 ? g_strdup ("/run/mqd/mqd.sock")
    : g_strdup_printf ("/tmp/mqd-%u/mqd.sock", (unsigned) getuid ());
  g_assert_cmpuint (mq_socket_path (buf, sizeof buf), ==, strlen (want));
  g_assert_cmpstr (buf, ==, want);
  /* snprintf's rule when the buffer is short. */
  g_assert_cmpuint (mq_socket_path (buf, 4), ==, strlen (want));
  g_assert_cmpuint (strlen (buf), ==, 3);
  g_assert_cmpint (strncmp (buf, want, 3), ==, 0);

  setenv ("MQD_SOCKET", old_env != NULL ? old_env : "", 1);
  setenv ("XDG_RUNTIME_DIR", old_xdg != NULL ? old_xdg : "", 1);
  mqd_free (d);
}

/* A daemon that refuses the connection says why; its words are kept. */
static void
test_connect_refused (void)
{
  g_autofree char *uid = g_strdup_printf ("%u", (unsigned) getuid () + 1);
  Mqd *d = mqd_new ("--allow-uid", uid, NULL);
  Mqd *one = mqd_new ("-c", "1", NULL);
  mq_client *c = NULL, *first, *second = NULL;

  mqd_start (d);
  assert_status (mq_connect (d->sock, &c), MQ_CONNECT, c);
  g_assert_nonnull (strstr (mq_client_error (c), "access denied"));
  mq_client_free (c);
  mqd_free (d);

  mqd_start (one);
  first = connect_to (one->sock);
  assert_status (mq_connect (one->sock, &second), MQ_CONNECT, second);
  g_assert_nonnull (strstr (mq_client_error (second),
                            "too many open connections"));
  /* Once the first one leaves, the handle connects on its next call. */
  mq_client_free (first);
  {
    gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;
    const char *version;

    while (mq_version (second, &version) != MQ_OK)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (1000);
      }
  }
  mq_client_free (second);
  mqd_free (one);
}

static void
test_strerror (void)
{
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (int s = MQ_OK; s <= MQ_MAYBE_STORED; s++)
    {
      const char *text = mq_strerror ((mq_status) s);

      g_assert_nonnull (text);
      g_assert_cmpstr (text, !=, "unknown status");
      g_assert_false (g_hash_table_contains (seen, text));
      g_hash_table_add (seen, (gpointer) text);
    }
  g_assert_cmpstr (mq_strerror ((mq_status) 99), ==, "unknown status");
  g_hash_table_unref (seen);
  g_assert_cmpstr (mq_client_error (NULL), !=, "");
  g_assert_cmpstr (mq_library_version (), ==, PACKAGE_VERSION);
}

static void
test_null_arguments (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_message *m;
  mq_stat *stats;
  mq_queue_info *queues;
  size_t n;
  const char *v;

  g_assert_cmpint (mq_push (NULL, "q", "x", 1, 0, 0), ==, MQ_INVALID);
  g_assert_cmpint (mq_pop (NULL, "q", 0, &m), ==, MQ_INVALID);
  g_assert_cmpint (mq_delete (NULL, "q"), ==, MQ_INVALID);
  g_assert_cmpint (mq_version (NULL, &v), ==, MQ_INVALID);
  g_assert_cmpint (mq_stats (NULL, &stats, &n), ==, MQ_INVALID);
  assert_status (mq_push (c, "q", NULL, 1, 0, 0), MQ_INVALID, c);
  assert_status (mq_push (c, "q", NULL, 0, 0, 0), MQ_OK, c);  /* empty */
  assert_status (mq_pop (c, "q", 0, NULL), MQ_INVALID, c);
  assert_status (mq_pop (c, "q", -2, &m), MQ_INVALID, c);
  assert_status (mq_get (c, "q", 0x100, 0, &m), MQ_INVALID, c);
  assert_status (mq_get (c, "q", MQ_READ_CLOSE | MQ_READ_ABORT, 0, NULL),
                 MQ_INVALID, c);
  assert_status (mq_pop_many (c, "q", 0, NULL, 3, &n), MQ_INVALID, c);
  assert_status (mq_stats (c, NULL, &n), MQ_INVALID, c);
  assert_status (mq_list_queues (c, &queues, NULL), MQ_INVALID, c);
  assert_status (mq_queue_stats (c, "q", NULL), MQ_INVALID, c);
  assert_status (mq_version (c, NULL), MQ_INVALID, c);
  assert_status (mq_push_many (c, "q", NULL, 2, 0, 0, NULL, NULL),
                 MQ_INVALID, c);
  /* Nothing of the above reached a queue but the empty message. */
  g_assert_cmpuint (queue_info (c, "q").items, ==, 1);
  mq_client_free (NULL);
  mq_disconnect (NULL);
  mq_message_free (NULL);
  mq_stats_free (NULL, 0);
  mq_queue_list_free (NULL, 0);
  g_assert_null (mq_stats_find (NULL, 0, "pid"));
  mq_client_free (c);
  mqd_free (d);
}

/* ---- names -------------------------------------------------------------- */

static void
test_queue_names (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  char long_name[252];
  const char *bad[] = { "", "a b", "a/b", "a\tb", "a\nb", "\x7f", "q/open",
                        long_name };
  mq_queue_info info;
  mq_message *m;
  size_t n;

  memset (long_name, 'n', 251);
  long_name[251] = '\0';
  g_assert_true (mq_valid_queue_name ("jobs"));
  g_assert_true (mq_valid_queue_name ("a+b"));
  g_assert_true (mq_valid_queue_name ("\xc3\xa9t\xc3\xa9"));
  long_name[250] = '\0';
  g_assert_true (mq_valid_queue_name (long_name));
  push_str (c, long_name, "longest name");
  pop_expect (c, long_name, "longest name");
  long_name[250] = 'n';
  g_assert_false (mq_valid_queue_name (NULL));
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (mq_valid_queue_name (bad[i]));
      assert_status (mq_push (c, bad[i], "x", 1, 0, 0), MQ_INVALID, c);
      g_assert_nonnull (strstr (mq_client_error (c), "invalid queue name"));
      assert_status (mq_pop (c, bad[i], 0, &m), MQ_INVALID, c);
      assert_status (mq_pop_many (c, bad[i], 0, &m, 1, &n), MQ_INVALID, c);
      assert_status (mq_peek (c, bad[i], 0, &m), MQ_INVALID, c);
      assert_status (mq_pop_open (c, bad[i], 0, &m), MQ_INVALID, c);
      assert_status (mq_ack (c, bad[i]), MQ_INVALID, c);
      assert_status (mq_abort (c, bad[i]), MQ_INVALID, c);
      assert_status (mq_delete (c, bad[i]), MQ_INVALID, c);
      assert_status (mq_flush (c, bad[i]), MQ_INVALID, c);
      assert_status (mq_queue_stats (c, bad[i], &info), MQ_INVALID, c);
    }
  assert_status (mq_push (c, NULL, "x", 1, 0, 0), MQ_INVALID, c);
  assert_status (mq_delete (c, NULL), MQ_INVALID, c);
  /* None of it was sent. */
  g_assert_cmpuint (server_stat (c, "cmd_set"), ==, 1);
  g_assert_cmpuint (server_stat (c, "curr_queues"), ==, 1);
  mq_client_free (c);
  mqd_free (d);
}

/* ---- push and pop ------------------------------------------------------- */

static void
test_push_pop (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  unsigned char all[256];
  size_t big_len = 600 * 1024;
  char *big = g_malloc (big_len);
  mq_message *m = NULL;

  for (int i = 0; i < 256; i++)
    all[i] = (unsigned char) i;
  for (size_t i = 0; i < big_len; i++)
    big[i] = (char) (i * 7 + i / 251);

  assert_status (mq_push (c, "q", "hello", 5, 42, 0), MQ_OK, c);
  assert_status (mq_push (c, "q", all, sizeof all, 4294967295u, 0), MQ_OK, c);
  assert_status (mq_push (c, "q", "", 0, 0, 0), MQ_OK, c);
  assert_status (mq_push (c, "q", big, big_len, 7, 3600), MQ_OK, c);
  g_assert_cmpuint (queue_info (c, "q").items, ==, 4);
  g_assert_cmpuint (queue_info (c, "q").bytes, ==, 5 + 256 + big_len);

  assert_status (mq_pop (c, "q", MQ_NO_WAIT, &m), MQ_OK, c);
  g_assert_cmpmem (m->data, m->len, "hello", 5);
  g_assert_cmpuint (m->flags, ==, 42);
  g_assert_cmpint (((char *) m->data)[m->len], ==, '\0');
  g_assert_cmpstr (m->data, ==, "hello");
  mq_message_free (m);

  assert_status (mq_pop (c, "q", MQ_NO_WAIT, &m), MQ_OK, c);
  g_assert_cmpmem (m->data, m->len, all, sizeof all);
  g_assert_cmpuint (m->flags, ==, 4294967295u);
  mq_message_free (m);

  assert_status (mq_pop (c, "q", MQ_NO_WAIT, &m), MQ_OK, c);
  g_assert_cmpuint (m->len, ==, 0);
  g_assert_cmpint (((char *) m->data)[0], ==, '\0');
  mq_message_free (m);

  assert_status (mq_pop (c, "q", MQ_NO_WAIT, &m), MQ_OK, c);
  g_assert_cmpmem (m->data, m->len, big, big_len);
  g_assert_cmpuint (m->flags, ==, 7);
  mq_message_free (m);

  pop_expect_empty (c, "q");
  pop_expect_empty (c, "never-made");
  /* A get of a queue that does not exist does not make it. */
  g_assert_cmpuint (server_stat (c, "curr_queues"), ==, 1);
  g_free (big);
  mq_client_free (c);
  mqd_free (d);
}

/* exptime as on a memcache set: negative is already expired. */
static void
test_push_expired (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);

  assert_status (mq_push (c, "q", "old", 3, 0, -1), MQ_OK, c);
  push_str (c, "q", "new");
  pop_expect (c, "q", "new");
  g_assert_cmpuint (queue_info (c, "q").expired, ==, 1);
  mq_client_free (c);
  mqd_free (d);
}

static void
test_pop_timeout (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_message *m = NULL;
  gint64 start = g_get_monotonic_time ();

  assert_status (mq_pop (c, "q", 150, &m), MQ_EMPTY, c);
  g_assert_null (m);
  /* The daemon waited (its timing is its own tests' business). */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 140 * 1000);
  assert_status (mq_pop_open (c, "q", 20, &m), MQ_EMPTY, c);
  assert_status (mq_peek (c, "q", 20, &m), MQ_EMPTY, c);
  g_assert_null (m);
  mq_client_free (c);
  mqd_free (d);
}

typedef struct {
  const char *sock;
  const char *queue;
  pthread_t waiter;
  gboolean signal_first;
} Pusher;

static volatile sig_atomic_t alarms;

static void
on_alarm (int sig)
{
  alarms++;
}

static void
install_alarm_handler (void)
{
  struct sigaction sa;

  /* No SA_RESTART: blocking calls see EINTR. */
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset (&sa.sa_mask);
  g_assert_cmpint (sigaction (SIGALRM, &sa, NULL), ==, 0);
}

static void
restore_alarm_handler (void)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction (SIGALRM, &sa, NULL);
}

/* Waits until the other thread waits in the daemon, optionally interrupts
 * it with SIGALRM, then pushes the message it waits for. */
static gpointer
pusher_main (gpointer data)
{
  Pusher *p = data;
  mq_client *c;
  sigset_t block;

  sigemptyset (&block);
  sigaddset (&block, SIGALRM);
  pthread_sigmask (SIG_BLOCK, &block, NULL);
  wait_waiters (p->sock, p->queue, 1);
  if (p->signal_first)
    {
      gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;

      pthread_kill (p->waiter, SIGALRM);
      while (alarms == 0)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (1000);
        }
    }
  c = connect_to (p->sock);
  push_str (c, p->queue, "wake up");
  mq_client_free (c);
  return NULL;
}

/* A blocked pop is released by a push from elsewhere. */
static void
test_pop_wait_released (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  Pusher p = { d->sock, "w", pthread_self (), FALSE };
  GThread *t = g_thread_new ("pusher", pusher_main, &p);
  mq_message *m = NULL;

  assert_status (mq_pop (c, "w", MQ_WAIT_FOREVER, &m), MQ_OK, c);
  g_assert_cmpmem (m->data, m->len, "wake up", 7);
  mq_message_free (m);
  g_thread_join (t);
  mq_client_free (c);
  mqd_free (d);
}

/* A signal during a blocking pop (EINTR) does not disturb it. */
static void
test_eintr_blocking_pop (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  Pusher p = { d->sock, "w", pthread_self (), TRUE };
  GThread *t;
  mq_message *m = NULL;

  alarms = 0;
  install_alarm_handler ();
  t = g_thread_new ("pusher", pusher_main, &p);
  assert_status (mq_pop (c, "w", 10000, &m), MQ_OK, c);
  g_assert_cmpint (alarms, ==, 1);
  g_assert_cmpmem (m->data, m->len, "wake up", 7);
  mq_message_free (m);
  g_thread_join (t);
  restore_alarm_handler ();
  /* The connection is still in step. */
  push_str (c, "w", "after");
  pop_expect (c, "w", "after");
  mq_client_free (c);
  mqd_free (d);
}

/* A storm of signals over pipelined pushes and pops, connects included. */
static void
test_eintr_storm (void)
{
  Mqd *d = mqd_run ();
  const size_t n = 20000;
  mq_buffer *msgs = g_new (mq_buffer, n);
  mq_message **got = g_new0 (mq_message *, n);
  char (*texts)[16] = g_malloc (n * 16);
  struct itimerval every = { { 0, 200 }, { 0, 200 } };
  struct itimerval off = { { 0, 0 }, { 0, 0 } };
  mq_status *results = g_new (mq_status, n);
  size_t stored = 0, count = 0;
  mq_client *c;

  for (size_t i = 0; i < n; i++)
    {
      g_snprintf (texts[i], 16, "%zu", i);
      msgs[i] = (mq_buffer) { texts[i], strlen (texts[i]) };
    }
  alarms = 0;
  install_alarm_handler ();
  g_assert_cmpint (setitimer (ITIMER_REAL, &every, NULL), ==, 0);
  c = connect_to (d->sock);
  assert_status (mq_push_many (c, "s", msgs, n, 0, 0, results, &stored),
                 MQ_OK, c);
  g_assert_cmpuint (stored, ==, n);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpint (results[i], ==, MQ_OK);
  while (count < n)
    {
      size_t k = 0;

      assert_status (mq_pop_many (c, "s", 1000, got + count, n - count, &k),
                     MQ_OK, c);
      count += k;
    }
  setitimer (ITIMER_REAL, &off, NULL);
  restore_alarm_handler ();
  g_test_message ("%d signals", (int) alarms);
  g_assert_cmpint (alarms, >, 0);
  for (size_t i = 0; i < n; i++)
    {
      g_assert_cmpmem (got[i]->data, got[i]->len, texts[i],
                       strlen (texts[i]));
      mq_message_free (got[i]);
    }
  pop_expect_empty (c, "s");
  mq_client_free (c);
  g_free (results);
  g_free (texts);
  g_free (got);
  g_free (msgs);
  mqd_free (d);
}

static void
test_pop_many (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_message *got[1100];
  size_t count = 99;

  for (int i = 0; i < 1000; i++)
    {
      char text[16];

      g_snprintf (text, sizeof text, "m%d", i);
      push_str (c, "q", text);
    }
  assert_status (mq_pop_many (c, "q", 0, got, 300, &count), MQ_OK, c);
  g_assert_cmpuint (count, ==, 300);
  assert_status (mq_pop_many (c, "q", 0, got + 300, 1100 - 300, &count),
                 MQ_OK, c);
  g_assert_cmpuint (count, ==, 700);
  for (int i = 0; i < 1000; i++)
    {
      char text[16];

      g_snprintf (text, sizeof text, "m%d", i);
      g_assert_cmpstr (got[i]->data, ==, text);
      mq_message_free (got[i]);
    }
  assert_status (mq_pop_many (c, "q", 0, got, 10, &count), MQ_EMPTY, c);
  g_assert_cmpuint (count, ==, 0);
  assert_status (mq_pop_many (c, "q", 30, got, 10, &count), MQ_EMPTY, c);
  assert_status (mq_pop_many (c, "q", 0, got, 0, &count), MQ_EMPTY, c);
  /* Pipelined round trips: far fewer get commands than messages would
   * need one by one (128 keys per line). */
  g_assert_cmpuint (server_stat (c, "get_hits"), ==, 1000);
  mq_client_free (c);
  mqd_free (d);
}

/* Large answers and requests both ways: more than the daemon keeps for an
 * unread connection (4 MiB) and more than a socket buffer. */
static void
test_pipelining_large (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  const size_t big = 1000000, n_big = 9, n_small = 30000;
  char *payload = g_malloc (big);
  mq_buffer *msgs = g_new (mq_buffer, n_small);
  mq_message *got[9];
  mq_message **small = g_new (mq_message *, n_small);
  size_t stored, count;

  for (size_t i = 0; i < big; i++)
    payload[i] = (char) (i % 253);
  for (size_t i = 0; i < n_big; i++)
    msgs[i] = (mq_buffer) { payload, big - i };
  assert_status (mq_push_many (c, "big", msgs, n_big, 0, 0, NULL, &stored),
                 MQ_OK, c);
  g_assert_cmpuint (stored, ==, n_big);
  assert_status (mq_pop_many (c, "big", 0, got, n_big, &count), MQ_OK, c);
  g_assert_cmpuint (count, ==, n_big);
  for (size_t i = 0; i < n_big; i++)
    {
      g_assert_cmpmem (got[i]->data, got[i]->len, payload, big - i);
      mq_message_free (got[i]);
    }

  for (size_t i = 0; i < n_small; i++)
    msgs[i] = (mq_buffer) { payload + i % 1000, 200 };
  assert_status (mq_push_many (c, "small", msgs, n_small, 3, 0, NULL,
                               &stored), MQ_OK, c);
  g_assert_cmpuint (stored, ==, n_small);
  assert_status (mq_pop_many (c, "small", 0, small, n_small, &count),
                 MQ_OK, c);
  g_assert_cmpuint (count, ==, n_small);
  for (size_t i = 0; i < n_small; i++)
    {
      g_assert_cmpmem (small[i]->data, small[i]->len, payload + i % 1000,
                       200);
      g_assert_cmpuint (small[i]->flags, ==, 3);
      mq_message_free (small[i]);
    }
  g_free (small);
  g_free (msgs);
  g_free (payload);
  mq_client_free (c);
  mqd_free (d);
}

/* A request the daemon reads in one go (16 KB) whose answers (8 MB) are over
 * what it keeps for a connection (4 MiB): it must pause, send, and go on
 * with the requests it already holds. */
static void
test_answers_over_daemon_limit (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  const size_t n = 4096, size = 2000;
  char *payload = g_malloc (size);
  mq_buffer *msgs = g_new (mq_buffer, n);
  mq_message **got = g_new (mq_message *, n);
  size_t stored, count = 0;

  memset (payload, 'b', size);
  for (size_t i = 0; i < n; i++)
    msgs[i] = (mq_buffer) { payload, size };
  assert_status (mq_push_many (c, "big", msgs, n, 0, 0, NULL, &stored),
                 MQ_OK, c);
  g_assert_cmpuint (stored, ==, n);
  assert_status (mq_pop_many (c, "big", 0, got, n, &count), MQ_OK, c);
  g_assert_cmpuint (count, ==, n);
  for (size_t i = 0; i < n; i++)
    {
      g_assert_cmpmem (got[i]->data, got[i]->len, payload, size);
      mq_message_free (got[i]);
    }
  g_free (got);
  g_free (msgs);
  g_free (payload);
  mq_client_free (c);
  mqd_free (d);
}

static void
test_peek (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_message *m;

  push_str (c, "q", "a");
  push_str (c, "q", "b");
  for (int i = 0; i < 2; i++)
    {
      assert_status (mq_peek (c, "q", 0, &m), MQ_OK, c);
      g_assert_cmpstr (m->data, ==, "a");
      mq_message_free (m);
    }
  assert_status (mq_get (c, "q", MQ_READ_PEEK, 0, &m), MQ_OK, c);
  g_assert_cmpstr (m->data, ==, "a");
  mq_message_free (m);
  pop_expect (c, "q", "a");
  pop_expect (c, "q", "b");
  assert_status (mq_peek (c, "q", 0, &m), MQ_EMPTY, c);
  mq_client_free (c);
  mqd_free (d);
}

/* ---- reliable reads ------------------------------------------------------ */

static void
test_reliable (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_client *other = connect_to (d->sock);
  mq_message *m, *m2;

  /* open, then ack: gone. */
  push_str (c, "r", "one");
  assert_status (mq_pop_open (c, "r", 0, &m), MQ_OK, c);
  g_assert_cmpstr (m->data, ==, "one");
  mq_message_free (m);
  g_assert_cmpuint (queue_info (other, "r").open_transactions, ==, 1);
  g_assert_cmpuint (queue_info (other, "r").items, ==, 0);
  pop_expect_empty (other, "r");
  assert_status (mq_ack (c, "r"), MQ_OK, c);
  g_assert_cmpuint (queue_info (other, "r").open_transactions, ==, 0);
  pop_expect_empty (c, "r");

  /* Nothing open: not found, and nothing sent. */
  assert_status (mq_ack (c, "r"), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "no reliable read"));
  assert_status (mq_abort (c, "r"), MQ_NOT_FOUND, c);

  /* open, then abort: back at the head. */
  push_str (c, "r", "two");
  push_str (c, "r", "three");
  assert_status (mq_pop_open (c, "r", 0, &m), MQ_OK, c);
  g_assert_cmpstr (m->data, ==, "two");
  mq_message_free (m);
  /* One open read per queue: the daemon's refusal, with its words. */
  assert_status (mq_pop_open (c, "r", 0, &m2), MQ_INVALID, c);
  g_assert_nonnull (strstr (mq_client_error (c), "already open"));
  g_assert_null (m2);
  assert_status (mq_abort (c, "r"), MQ_OK, c);
  pop_expect (other, "r", "two");

  /* Ack one and open the next in one round trip. */
  assert_status (mq_pop_open (c, "r", 0, &m), MQ_OK, c);
  g_assert_cmpstr (m->data, ==, "three");
  mq_message_free (m);
  push_str (other, "r", "four");
  assert_status (mq_get (c, "r", MQ_READ_CLOSE | MQ_READ_OPEN, 0, &m),
                 MQ_OK, c);
  g_assert_cmpstr (m->data, ==, "four");
  mq_message_free (m);
  g_assert_cmpuint (queue_info (other, "r").total_items, ==, 4);
  g_assert_cmpuint (queue_info (other, "r").open_transactions, ==, 1);
  assert_status (mq_get (c, "r", MQ_READ_CLOSE | MQ_READ_OPEN, 0, &m),
                 MQ_EMPTY, c);
  g_assert_null (m);
  g_assert_cmpuint (queue_info (other, "r").open_transactions, ==, 0);
  g_assert_cmpuint (queue_info (other, "r").items, ==, 0);

  /* A connection that ends gives its open read back; the handle knows. */
  push_str (c, "r", "five");
  assert_status (mq_pop_open (c, "r", 0, &m), MQ_OK, c);
  mq_message_free (m);
  mq_disconnect (c);
  wait_items (other, "r", 1);
  pop_expect (other, "r", "five");
  assert_status (mq_ack (c, "r"), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "gave the message back"));

  /* Waiting for ever on a reliable read. */
  {
    Pusher p = { d->sock, "rw", pthread_self (), FALSE };
    GThread *t = g_thread_new ("pusher", pusher_main, &p);

    assert_status (mq_pop_open (c, "rw", MQ_WAIT_FOREVER, &m), MQ_OK, c);
    g_assert_cmpstr (m->data, ==, "wake up");
    mq_message_free (m);
    g_thread_join (t);
    assert_status (mq_ack (c, "rw"), MQ_OK, c);
  }
  mq_client_free (other);
  mq_client_free (c);
  mqd_free (d);
}

/* ---- delays, leases and retries ------------------------------------------ */

#define MAX_DELAY G_GINT64_CONSTANT (315360000000)

/* Whether the daemon (-vv) logged the command line "<fd> line". */
static gboolean
logged (Mqd *d, const char *line)
{
  g_autofree char *log = read_log (d);
  g_auto (GStrv) lines = g_strsplit (log, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *p = strstr (lines[i], ": <");

      if (p == NULL)
        continue;
      for (p += 3; g_ascii_isdigit (*p); p++)
        ;
      if (*p == ' ' && strcmp (p + 1, line) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
assert_logged (Mqd *d, const char *line)
{
  if (!logged (d, line))
    {
      g_autofree char *log = read_log (d);

      g_error ("the daemon was not sent \"%s\"; its log:\n%s", line, log);
    }
}

/* Delays and leases out of range, a touch with other options or nothing
 * to touch: refused before anything is sent. */
static void
test_delay_lease_arguments (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_buffer two[2] = { { "a", 1 }, { "b", 1 } };
  mq_status results[2] = { MQ_OK, MQ_OK };
  size_t stored = 9;
  mq_message *m = (mq_message *) &m;
  static const gint64 bad_delays[] = { -2, G_MININT64, MAX_DELAY + 1,
                                       G_MAXINT64 };
  static const gint64 bad_leases[] = { 0, -2, MAX_DELAY + 1 };

  for (gsize i = 0; i < G_N_ELEMENTS (bad_delays); i++)
    {
      g_autofree char *want = g_strdup_printf (
        "invalid delay %" G_GINT64_FORMAT " ms: 0 to 315360000000, or "
        "MQ_QUEUE_RULE", bad_delays[i]);

      assert_status (mq_push_delayed (c, "q", "x", 1, 0, 0, bad_delays[i]),
                     MQ_INVALID, c);
      g_assert_cmpstr (mq_client_error (c), ==, want);
      assert_status (mq_push_many_delayed (c, "q", two, 2, 0, 0,
                                           bad_delays[i], results, &stored),
                     MQ_INVALID, c);
      g_assert_cmpint (results[0], ==, MQ_INVALID);
      g_assert_cmpint (results[1], ==, MQ_INVALID);
      g_assert_cmpuint (stored, ==, 0);
      assert_status (mq_abort_delayed (c, "q", bad_delays[i]), MQ_INVALID, c);
      g_assert_cmpstr (mq_client_error (c), ==, want);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad_leases); i++)
    {
      g_autofree char *want = g_strdup_printf (
        "invalid lease %" G_GINT64_FORMAT " ms: 1 to 315360000000, or "
        "MQ_QUEUE_RULE", bad_leases[i]);

      assert_status (mq_pop_open_lease (c, "q", 0, bad_leases[i], &m),
                     MQ_INVALID, c);
      g_assert_cmpstr (mq_client_error (c), ==, want);
      g_assert_null (m);
      assert_status (mq_touch (c, "q", bad_leases[i]), MQ_INVALID, c);
      g_assert_cmpstr (mq_client_error (c), ==, want);
    }
  assert_status (mq_pop_open_lease (c, "q", -2, 5, &m), MQ_INVALID, c);
  assert_status (mq_pop_open_lease (c, "q", 0, 5, NULL), MQ_INVALID, c);
  assert_status (mq_get (c, "q", MQ_READ_TOUCH | MQ_READ_OPEN, 0, &m),
                 MQ_INVALID, c);
  g_assert_cmpstr (mq_client_error (c), ==, "a touch goes with no other "
                   "option");
  assert_status (mq_get (c, "q", MQ_READ_TOUCH | MQ_READ_ABORT, 0, NULL),
                 MQ_INVALID, c);
  assert_status (mq_get (c, "q", 0x20, 0, &m), MQ_INVALID, c);
  /* Names as everywhere. */
  assert_status (mq_push_delayed (c, "q/delay=5", "x", 1, 0, 0, 5),
                 MQ_INVALID, c);
  assert_status (mq_pop_open_lease (c, "a b", 0, 5, &m), MQ_INVALID, c);
  assert_status (mq_touch (c, NULL, 5), MQ_INVALID, c);
  assert_status (mq_abort_delayed (c, "", 5), MQ_INVALID, c);
  g_assert_cmpint (mq_touch (NULL, "q", 5), ==, MQ_INVALID);
  g_assert_cmpint (mq_push_delayed (NULL, "q", "x", 1, 0, 0, 5), ==,
                   MQ_INVALID);
  /* Nothing open: as an ack. */
  assert_status (mq_touch (c, "q", MQ_QUEUE_RULE), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "touch of q: no reliable "
                            "read"));
  assert_status (mq_get (c, "q", MQ_READ_TOUCH, 0, NULL), MQ_NOT_FOUND, c);
  assert_status (mq_abort_delayed (c, "q", 0), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "abort of q: no reliable "
                            "read"));
  /* None of it reached the daemon. */
  g_assert_cmpuint (server_stat (c, "cmd_set"), ==, 0);
  g_assert_cmpuint (server_stat (c, "cmd_get"), ==, 0);
  g_assert_cmpuint (server_stat (c, "curr_queues"), ==, 0);
  mq_client_free (c);
  mqd_free (d);
}

/* What each call sends, as the daemon logs it (-vv), and the outcomes
 * that hold whatever the delays: 0 is no delay. */
static void
test_delay_lease_requests (void)
{
  Mqd *d = mqd_new ("-vv", NULL);
  mq_client *c;
  mq_buffer two[2] = { { "l1", 2 }, { "l2", 2 } };
  mq_status results[2];
  size_t stored = 0;
  mq_message *m;

  mqd_start (d);
  c = connect_to (d->sock);
  assert_status (mq_push_delayed (c, "d", "now", 3, 7, 0, 0), MQ_OK, c);
  assert_status (mq_push_delayed (c, "later", "x", 1, 0, 3600, 60000), MQ_OK,
                 c);
  assert_status (mq_push_many_delayed (c, "later", two, 2, 1, 0, MAX_DELAY,
                                       results, &stored), MQ_OK, c);
  g_assert_cmpuint (stored, ==, 2);
  g_assert_cmpint (results[1], ==, MQ_OK);
  assert_logged (d, "set d/delay=0 7 0 3");
  assert_logged (d, "set later/delay=60000 0 3600 1");
  assert_logged (d, "set later/delay=315360000000 1 0 2");

  /* A lease, touched two ways, then the read given back at once. */
  assert_status (mq_pop_open_lease (c, "d", 0, 30000, &m), MQ_OK, c);
  g_assert_cmpstr (m->data, ==, "now");
  g_assert_cmpuint (m->flags, ==, 7);
  mq_message_free (m);
  assert_status (mq_touch (c, "d", 60000), MQ_OK, c);
  assert_status (mq_touch (c, "d", MQ_QUEUE_RULE), MQ_OK, c);
  assert_status (mq_get (c, "d", MQ_READ_TOUCH, 0, NULL), MQ_OK, c);
  assert_status (mq_abort_delayed (c, "d", 0), MQ_OK, c);
  assert_logged (d, "get d/open/id/lease=30000");
  assert_logged (d, "get d/touch/lease=60000");
  assert_logged (d, "get d/touch");
  assert_logged (d, "get d/abort/delay=0");
  /* Given back and open again (the queue's lease, if any), acked. */
  assert_status (mq_pop_open_lease (c, "d", 0, MQ_QUEUE_RULE, &m), MQ_OK, c);
  g_assert_cmpstr (m->data, ==, "now");
  mq_message_free (m);
  assert_status (mq_ack (c, "d"), MQ_OK, c);
  assert_logged (d, "get d/open/id");
  assert_logged (d, "get d/close");
  assert_status (mq_push_delayed (c, "d", "rule", 4, 0, 0, MQ_QUEUE_RULE),
                 MQ_OK, c);
  assert_logged (d, "set d 0 0 4");
  pop_expect (c, "d", "rule");
  /* The wait goes with the lease; the longest lease is taken. */
  assert_status (mq_pop_open_lease (c, "e", 20, MAX_DELAY, &m), MQ_EMPTY, c);
  g_assert_null (m);
  assert_logged (d, "get e/open/id/lease=315360000000/t=20");
  /* An abort with the queue's retry_delay is a plain one. */
  push_str (c, "f", "again");
  assert_status (mq_pop_open_lease (c, "f", 0, 30000, &m), MQ_OK, c);
  mq_message_free (m);
  assert_status (mq_abort_delayed (c, "f", MQ_QUEUE_RULE), MQ_OK, c);
  assert_logged (d, "get f/abort");
  g_assert_false (logged (d, "get f/abort/delay=0"));

  /* A connection that ended gave the read back (if its shortest lease
   * did not): nothing to touch. */
  push_str (c, "g", "gone");
  assert_status (mq_pop_open_lease (c, "g", 0, 1, &m), MQ_OK, c);
  mq_message_free (m);
  assert_logged (d, "get g/open/id/lease=1");
  mq_disconnect (c);
  assert_status (mq_touch (c, "g", 30000), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "gave the message back"));
  g_assert_false (logged (d, "get g/touch/lease=30000"));
  mq_client_free (c);
  mqd_free (d);
}

/* ---- managing queues ------------------------------------------------------ */

/* ---- windows of reliable reads ------------------------------------------- */

/* Opens exactly n reads of queue and checks their texts, in order. */
static void
open_many_expect (mq_client *c, const char *queue, size_t max,
                  const char *const *texts, size_t n, char ids[][MQ_ID_SIZE])
{
  mq_message *msgs[16];
  size_t count = 99;

  g_assert_cmpuint (max, <=, G_N_ELEMENTS (msgs));
  assert_status (mq_open_many (c, queue, 0, max, msgs, &count), MQ_OK, c);
  g_assert_cmpuint (count, ==, n);
  for (size_t i = 0; i < n; i++)
    {
      g_assert_cmpstr (msgs[i]->data, ==, texts[i]);
      g_assert_cmpuint (msgs[i]->len, ==, strlen (texts[i]));
      g_strlcpy (ids[i], msgs[i]->id, MQ_ID_SIZE);
      mq_message_free (msgs[i]);
    }
}

/* "<instance>.<incarnation>.<seq>": the instance is the daemon's. */
static guint64
id_seq (mq_client *c, const char *id)
{
  mq_stat *stats;
  size_t n;
  g_auto (GStrv) parts = g_strsplit (id, ".", -1);

  assert_status (mq_stats (c, &stats, &n), MQ_OK, c);
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  g_assert_cmpstr (parts[0], ==, mq_stats_find (stats, n, "instance_id"));
  g_assert_cmpuint (strlen (parts[0]), ==, 16);
  mq_stats_free (stats, n);
  return g_ascii_strtoull (parts[2], NULL, 10);
}

static void
test_window (void)
{
  static const char *const texts[] = { "a", "b", "c", "d", "e" };
  Mqd *d = mqd_new ("-vv", NULL);
  mq_client *c, *other;
  char ids[5][MQ_ID_SIZE], again[5][MQ_ID_SIZE];
  mq_message *m, *msgs[2];
  size_t count = 99;

  mqd_start (d);
  c = connect_to (d->sock);
  other = connect_to (d->sock);
  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
    push_str (c, "w", texts[i]);
  open_many_expect (c, "w", 3, texts, 3, ids);
  for (size_t i = 0; i < 3; i++)
    g_assert_cmpuint (id_seq (c, ids[i]), ==, i + 1);
  g_assert_cmpuint (queue_info (other, "w").open_transactions, ==, 3);
  /* A single reliable read is refused beside them, as beside one. */
  assert_status (mq_pop_open (c, "w", 0, &m), MQ_INVALID, c);
  g_assert_null (m);
  /* More than are open: refused, nothing sent. */
  assert_status (mq_confirm (c, "w", 4), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "only 3 reliable reads"));
  assert_status (mq_confirm (c, "w", 0), MQ_OK, c);
  assert_status (mq_confirm (c, "w", 1), MQ_OK, c);
  assert_logged (d, "confirm w 1");
  g_assert_cmpuint (queue_info (other, "w").open_transactions, ==, 2);
  /* The window grows behind what is open: b c, then d e. */
  open_many_expect (c, "w", 10, texts + 3, 2, ids + 3);
  assert_logged (d, "monitor w 0 10");
  /* The oldest given back goes to the head. */
  assert_status (mq_abort_oldest (c, "w", 1), MQ_OK, c);
  pop_expect (other, "w", "b");
  /* An ack closes the oldest, c; an abort gives back d and e, in order,
   * with the same ids. */
  assert_status (mq_ack (c, "w"), MQ_OK, c);
  assert_status (mq_abort (c, "w"), MQ_OK, c);
  open_many_expect (other, "w", 2, texts + 3, 2, again + 3);
  g_assert_cmpstr (again[3], ==, ids[3]);
  g_assert_cmpstr (again[4], ==, ids[4]);
  /* A connection that ends gives its window back; the handle knows. */
  mq_disconnect (other);
  wait_items (c, "w", 2);
  open_many_expect (c, "w", 5, texts + 3, 2, again + 3);
  g_assert_cmpstr (again[4], ==, ids[4]);
  mq_disconnect (c);
  assert_status (mq_confirm (c, "w", 2), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "gave the message back"));
  wait_items (other, "w", 2);
  open_many_expect (other, "w", 5, texts + 3, 2, again + 3);
  assert_status (mq_confirm (other, "w", 2), MQ_OK, other);
  g_assert_cmpuint (queue_info (other, "w").open_transactions, ==, 0);
  g_assert_cmpuint (queue_info (other, "w").dequeued, ==, 5);
  /* Nothing there: empty; bad windows refused before anything is sent. */
  assert_status (mq_open_many (c, "w", 0, 2, msgs, &count), MQ_EMPTY, c);
  g_assert_cmpuint (count, ==, 0);
  assert_status (mq_open_many (c, "w", 0, 0, msgs, &count), MQ_INVALID, c);
  assert_status (mq_open_many (c, "w", 0, 65537, msgs, &count), MQ_INVALID,
                 c);
  assert_status (mq_open_many (c, "w", 0, 2, NULL, &count), MQ_INVALID, c);
  assert_status (mq_abort_oldest (c, "w/x", 1), MQ_INVALID, c);
  g_assert_false (logged (d, "monitor w 0 0"));
  mq_client_free (other);
  mq_client_free (c);
  mqd_free (d);
}

static void
test_delete_flush (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_queue_info info;

  assert_status (mq_delete (c, "q"), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "no such queue"));
  push_str (c, "q", "x");
  assert_status (mq_delete (c, "q"), MQ_OK, c);
  assert_status (mq_queue_stats (c, "q", &info), MQ_NOT_FOUND, c);
  pop_expect_empty (c, "q");

  push_str (c, "f", "1");
  push_str (c, "f", "2");
  push_str (c, "g", "3");
  assert_status (mq_flush (c, "f"), MQ_OK, c);
  info = queue_info (c, "f");
  g_assert_cmpuint (info.items, ==, 0);
  g_assert_cmpuint (info.bytes, ==, 0);
  g_assert_cmpuint (info.total_items, ==, 2);
  g_assert_cmpuint (queue_info (c, "g").items, ==, 1);
  assert_status (mq_flush (c, "nothing-here"), MQ_OK, c);
  assert_status (mq_flush_all (c), MQ_OK, c);
  g_assert_cmpuint (queue_info (c, "g").items, ==, 0);
  g_assert_cmpuint (server_stat (c, "curr_queues"), ==, 2);
  mq_client_free (c);
  mqd_free (d);
}

static void
test_version (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  const char *version = NULL;
  mq_stat *stats;
  size_t n;

  assert_status (mq_version (c, &version), MQ_OK, c);
  assert_status (mq_stats (c, &stats, &n), MQ_OK, c);
  g_assert_cmpstr (version, ==, mq_stats_find (stats, n, "version"));
  g_assert_cmpstr (version, ==, PACKAGE_VERSION);
  mq_stats_free (stats, n);
  mq_client_free (c);
  mqd_free (d);
}

static void
test_stats (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  g_autofree char *pid = g_strdup_printf ("%d", (int) d->pid);
  mq_queue_info info;
  mq_stat *stats;
  mq_message *m;
  size_t n;

  push_str (c, "q", "abc");
  push_str (c, "q", "de");
  push_str (c, "q", "f");
  pop_expect (c, "q", "abc");
  assert_status (mq_pop_open (c, "q", 0, &m), MQ_OK, c);
  mq_message_free (m);

  assert_status (mq_stats (c, &stats, &n), MQ_OK, c);
  g_assert_cmpstr (mq_stats_find (stats, n, "pid"), ==, pid);
  g_assert_cmpstr (mq_stats_find (stats, n, "curr_items"), ==, "1");
  g_assert_cmpstr (mq_stats_find (stats, n, "queue_q_items"), ==, "1");
  g_assert_null (mq_stats_find (stats, n, "no_such_stat"));
  for (size_t i = 0; i < n; i++)
    {
      g_assert_nonnull (stats[i].name);
      g_assert_nonnull (stats[i].value);
    }
  mq_stats_free (stats, n);

  info = queue_info (c, "q");
  g_assert_cmpuint (info.items, ==, 1);
  g_assert_cmpuint (info.bytes, ==, 1);
  g_assert_cmpuint (info.total_items, ==, 3);
  g_assert_cmpuint (info.dequeued, ==, 1);
  g_assert_cmpuint (info.open_transactions, ==, 1);
  g_assert_cmpuint (info.waiters, ==, 0);
  g_assert_cmpuint (info.expired, ==, 0);
  g_assert_cmpuint (info.discarded, ==, 0);
  for (size_t i = 0; i < G_N_ELEMENTS (info.reserved); i++)
    g_assert_cmpuint (info.reserved[i], ==, 0);
  assert_status (mq_queue_stats (c, "none", &info), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "no such queue"));
  mq_client_free (c);
  mqd_free (d);
}

/* "queue_a_total_items" is both total_items of a and items of a_total. */
static void
test_stats_ambiguous_names (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  const char *names[] = { "a", "a_total", "a_total_items", "a_items", "b_" };
  mq_queue_info *list;
  size_t n;

  for (size_t q = 0; q < G_N_ELEMENTS (names); q++)
    for (size_t i = 0; i <= q; i++)
      push_str (c, names[q], "xy");
  pop_expect (c, "a", "xy");      /* a: 0 items, 1 total */
  for (size_t q = 0; q < G_N_ELEMENTS (names); q++)
    {
      mq_queue_info info = queue_info (c, names[q]);

      g_assert_cmpuint (info.total_items, ==, q + 1);
      g_assert_cmpuint (info.items, ==, q == 0 ? 0 : q + 1);
      g_assert_cmpuint (info.bytes, ==, 2 * info.items);
      g_assert_cmpuint (info.dequeued, ==, q == 0 ? 1 : 0);
    }
  assert_status (mq_list_queues (c, &list, &n), MQ_OK, c);
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (names));
  for (size_t i = 0; i < n; i++)
    {
      /* Sorted by bytes: a, a_items, a_total, a_total_items, b_. */
      static const size_t order[] = { 0, 3, 1, 2, 4 };
      size_t q = order[i];

      g_assert_cmpstr (list[i].name, ==, names[q]);
      g_assert_cmpuint (list[i].total_items, ==, q + 1);
      g_assert_cmpuint (list[i].items, ==, q == 0 ? 0 : q + 1);
    }
  mq_queue_list_free (list, n);
  mq_client_free (c);
  mqd_free (d);
}

static void
test_list_queues (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_queue_info *list = (mq_queue_info *) &list;
  size_t n = 99;
  mq_message *m;

  assert_status (mq_list_queues (c, &list, &n), MQ_OK, c);
  g_assert_cmpuint (n, ==, 0);
  g_assert_null (list);
  push_str (c, "zeta", "1");
  push_str (c, "alpha", "12");
  push_str (c, "alpha", "345");
  pop_expect (c, "alpha", "12");
  assert_status (mq_pop_open (c, "zeta", 0, &m), MQ_OK, c);
  mq_message_free (m);
  assert_status (mq_list_queues (c, &list, &n), MQ_OK, c);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpstr (list[0].name, ==, "alpha");
  g_assert_cmpuint (list[0].items, ==, 1);
  g_assert_cmpuint (list[0].bytes, ==, 3);
  g_assert_cmpuint (list[0].total_items, ==, 2);
  g_assert_cmpuint (list[0].dequeued, ==, 1);
  g_assert_cmpstr (list[1].name, ==, "zeta");
  g_assert_cmpuint (list[1].items, ==, 0);
  g_assert_cmpuint (list[1].open_transactions, ==, 1);
  mq_queue_list_free (list, n);
  mq_client_free (c);
  mqd_free (d);
}

/* ---- refusals --------------------------------------------------------------- */

static void
test_too_large (void)
{
  Mqd *d = mqd_new ("-B", "100", NULL);
  char data[101];
  mq_buffer three[3] = { { "ok", 2 }, { data, 101 }, { "ok too", 6 } };
  mq_status results[3];
  mq_client *c;
  size_t stored;

  memset (data, 'x', sizeof data);
  mqd_start (d);
  c = connect_to (d->sock);
  assert_status (mq_push (c, "q", data, 101, 0, 0), MQ_TOO_LARGE, c);
  g_assert_nonnull (strstr (mq_client_error (c),
                            "object too large for cache"));
  /* The connection stays in step. */
  assert_status (mq_push (c, "q", data, 100, 0, 0), MQ_OK, c);
  assert_status (mq_push_many (c, "q", three, 3, 0, 0, results, &stored),
                 MQ_TOO_LARGE, c);
  g_assert_cmpuint (stored, ==, 2);
  g_assert_cmpint (results[0], ==, MQ_OK);
  g_assert_cmpint (results[1], ==, MQ_TOO_LARGE);
  g_assert_cmpint (results[2], ==, MQ_OK);
  g_assert_nonnull (strstr (mq_client_error (c), "message 2 of 3"));
  g_assert_cmpuint (queue_info (c, "q").items, ==, 3);
  mq_client_free (c);
  mqd_free (d);
}

static void
test_not_stored (void)
{
  Mqd *d = mqd_new (NULL);
  g_autofree char *conf = g_build_filename (d->tmp, "mqd.conf", NULL);
  mq_client *c;

  g_assert_true (g_file_set_contents (conf, "[q]\nmax_items = 1\n", -1,
                                      NULL));
  g_ptr_array_add (d->args, g_strdup ("-f"));
  g_ptr_array_add (d->args, g_strdup (conf));
  mqd_start (d);
  c = connect_to (d->sock);
  push_str (c, "q", "first");
  assert_status (mq_push (c, "q", "second", 6, 0, 0), MQ_NOT_STORED, c);
  g_assert_nonnull (strstr (mq_client_error (c), "full"));
  push_str (c, "other", "fine");
  pop_expect (c, "q", "first");
  push_str (c, "q", "third");
  mq_client_free (c);
  mqd_free (d);
}

/* The newest generation file in dir (mqd-<N>.gdbm). */
static char *
newest_generation (const char *dir)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  g_autofree char *newest = NULL;
  const char *name;

  g_assert_nonnull (listing);
  while ((name = g_dir_read_name (listing)) != NULL)
    if (g_str_has_prefix (name, "mqd-") && g_str_has_suffix (name, ".gdbm")
        && (newest == NULL || strcmp (name, newest) > 0))
      {
        g_free (newest);
        newest = g_strdup (name);
      }
  g_assert_nonnull (newest);
  return g_build_filename (dir, newest, NULL);
}

/* A segment the daemon cannot read: its SERVER_ERROR text comes through. */
static void
test_server_error (void)
{
  Mqd *d = mqd_new (NULL);
  g_autofree char *file = NULL, *data = NULL;
  g_autofree char *text = g_strdup_printf ("a message soon damaged%040000d",
                                            0);
  mq_client *c;
  mq_message *m = NULL;
  gsize len;
  char *at;

  mqd_start (d);
  c = connect_to (d->sock);
  push_str (c, "bad", text);
  mq_client_free (c);
  mqd_stop (d);
  /* A clean stop seals it into the newest generation (a young tail of
   * 32 KiB or more is sealed, a smaller one carried over with its queue's
   * state): one byte of its payload changed there fails the segment's
   * checksum. */
  file = newest_generation (d->data);
  g_assert_true (g_file_get_contents (file, &data, &len, NULL));
  at = memmem (data, len, "soon damaged", 12);
  g_assert_nonnull (at);
  *at = 'S';
  g_assert_true (g_file_set_contents (file, data, len, NULL));

  mqd_start (d);
  c = connect_to (d->sock);
  assert_status (mq_pop (c, "bad", 0, &m), MQ_SERVER_ERROR, c);
  g_assert_null (m);
  g_assert_nonnull (strstr (mq_client_error (c), "pop from bad"));
  g_assert_nonnull (strstr (mq_client_error (c), "mqd-"));
  g_assert_nonnull (strstr (mq_client_error (c), "damaged segment"));
  assert_status (mq_pop_many (c, "bad", 0, &m, 1, &(size_t) { 0 }),
                 MQ_SERVER_ERROR, c);
  /* Still in step. */
  push_str (c, "good", "fine");
  pop_expect (c, "good", "fine");
  mq_client_free (c);
  mqd_free (d);
}

/* ---- broken connections -------------------------------------------------- */

/* Stop the daemon, start it again on the same socket: the next call
 * connects again by itself. */
static void
test_restart (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_message *m;

  push_str (c, "q", "before");
  push_str (c, "q", "open");
  mqd_stop (d);
  mqd_start (d);
  pop_expect (c, "q", "before");
  push_str (c, "q", "after");

  /* Down: calls fail and say so; up again: they work. */
  mqd_stop (d);
  assert_status (mq_push (c, "q", "x", 1, 0, 0), MQ_CONNECT, c);
  g_assert_nonnull (strstr (mq_client_error (c), "cannot connect"));
  assert_status (mq_pop (c, "q", 0, &m), MQ_CONNECT, c);
  mqd_start (d);

  /* A read open across a restart is given back, and the handle knows. */
  assert_status (mq_pop_open (c, "q", 0, &m), MQ_OK, c);
  g_assert_cmpstr (m->data, ==, "open");
  mq_message_free (m);
  mqd_stop (d);
  mqd_start (d);
  assert_status (mq_ack (c, "q"), MQ_NOT_FOUND, c);
  g_assert_nonnull (strstr (mq_client_error (c), "delivered again"));
  pop_expect (c, "q", "open");
  pop_expect (c, "q", "after");
  mq_client_free (c);
  mqd_free (d);
}

/* The answer to a push is lost: MQ_MAYBE_STORED, and it is not sent again. */
static void
test_push_connection_drops (void)
{
  Mqd *d = mqd_run ();
  Proxy *x = proxy_new (d);
  mq_client *c = connect_to (x->path);
  mq_client *direct = connect_to (d->sock);
  mq_buffer two[2] = { { "a", 1 }, { "b", 1 } };
  mq_status results[2];
  const char *version;
  size_t stored = 99;

  g_atomic_int_set (&x->armed, 1);
  assert_status (mq_push (c, "q", "once", 4, 0, 0), MQ_MAYBE_STORED, c);
  g_assert_nonnull (strstr (mq_client_error (c), "may or may not"));
  g_assert_nonnull (strstr (mq_client_error (c), "closed the connection"));
  g_assert_cmpint (g_atomic_int_get (&x->sets), ==, 1);
  /* It was stored, once. */
  g_assert_cmpuint (queue_info (direct, "q").items, ==, 1);
  /* The next call connects again, and sends only itself. */
  assert_status (mq_version (c, &version), MQ_OK, c);
  g_assert_cmpint (g_atomic_int_get (&x->connections), ==, 2);
  g_assert_cmpint (g_atomic_int_get (&x->sets), ==, 1);
  g_assert_cmpuint (queue_info (direct, "q").items, ==, 1);

  /* Pipelined: every message without an answer may be stored. */
  g_atomic_int_set (&x->armed, 1);
  assert_status (mq_push_many (c, "q", two, 2, 0, 0, results, &stored),
                 MQ_MAYBE_STORED, c);
  g_assert_cmpuint (stored, ==, 0);
  g_assert_cmpint (results[0], ==, MQ_MAYBE_STORED);
  g_assert_cmpint (results[1], ==, MQ_MAYBE_STORED);
  g_assert_cmpint (g_atomic_int_get (&x->sets), ==, 3);
  push_str (c, "q", "next");
  g_assert_cmpint (g_atomic_int_get (&x->sets), ==, 4);
  g_assert_cmpuint (queue_info (direct, "q").items, ==, 4);
  pop_expect (direct, "q", "once");
  pop_expect (direct, "q", "a");
  pop_expect (direct, "q", "b");
  pop_expect (direct, "q", "next");
  mq_client_free (direct);
  mq_client_free (c);
  proxy_free (x);
  mqd_free (d);
}

/* The answer to a get is lost: a plain pop's message is gone (at most
 * once), a reliable read's comes back. */
static void
test_pop_connection_drops (void)
{
  Mqd *d = mqd_run ();
  Proxy *x = proxy_new (d);
  mq_client *c = connect_to (x->path);
  mq_client *direct = connect_to (d->sock);
  mq_message *m = NULL;
  const char *version;

  push_str (direct, "q", "lost");
  push_str (direct, "q", "kept");
  g_atomic_int_set (&x->armed, 1);
  assert_status (mq_pop (c, "q", 0, &m), MQ_IO, c);
  g_assert_null (m);
  g_assert_nonnull (strstr (mq_client_error (c), "lost"));
  g_assert_cmpuint (queue_info (direct, "q").items, ==, 1);

  /* Connected again (the greeting must not be what is dropped). */
  assert_status (mq_version (c, &version), MQ_OK, c);
  g_atomic_int_set (&x->armed, 1);
  assert_status (mq_pop_open (c, "q", 0, &m), MQ_IO, c);
  g_assert_null (m);
  /* The daemon gives the read back when it sees the close. */
  wait_items (direct, "q", 1);
  pop_expect (c, "q", "kept");
  mq_client_free (direct);
  mq_client_free (c);
  proxy_free (x);
  mqd_free (d);
}

/* A connection that breaks before anything is sent: a pop is sent again on
 * a new connection; a push is not, and says it was not stored. */
static void
test_broken_before_send (void)
{
  Mqd *d = mqd_run ();
  Proxy *x = proxy_new (d);
  mq_client *direct = connect_to (d->sock);
  mq_client *c = connect_to (x->path);
  mq_message *m;

  push_str (direct, "q", "one");
  proxy_go_deaf (x);
  assert_status (mq_pop (c, "q", 0, &m), MQ_OK, c);
  g_assert_cmpstr (m->data, ==, "one");
  mq_message_free (m);
  g_assert_cmpint (g_atomic_int_get (&x->connections), ==, 2);

  proxy_go_deaf (x);
  assert_status (mq_push (c, "q", "two", 3, 0, 0), MQ_IO, c);
  g_assert_nonnull (strstr (mq_client_error (c), "not stored"));
  g_assert_cmpint (g_atomic_int_get (&x->connections), ==, 2);
  g_assert_cmpint (g_atomic_int_get (&x->sets), ==, 0);
  g_assert_cmpuint (queue_info (direct, "q").total_items, ==, 1);
  /* The next call is on a new connection. */
  push_str (c, "q", "three");
  g_assert_cmpint (g_atomic_int_get (&x->connections), ==, 3);
  pop_expect (direct, "q", "three");
  mq_client_free (c);
  mq_client_free (direct);
  proxy_free (x);
  mqd_free (d);
}

/* ---- the I/O timeout: a hung daemon (SIGSTOP) ---------------------------- */

/* Stops (SIGSTOP) or resumes (SIGCONT) the daemon, and returns once it has
 * (it is our child: waitpid reports both). */
static void
mqd_signal (Mqd *d, int sig)
{
  int status;

  g_assert_cmpint (kill (d->pid, sig), ==, 0);
  g_assert_cmpint (waitpid (d->pid, &status, sig == SIGSTOP ? WUNTRACED
                            : WCONTINUED), ==, d->pid);
  g_assert_true (sig == SIGSTOP ? WIFSTOPPED (status)
                 : WIFCONTINUED (status));
}

static gint64
elapsed_ms (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000;
}

/* A stopped daemon: the call gives up after the I/O timeout, and the next
 * call after SIGCONT works. */
static void
test_io_timeout_stopped (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  g_autofree char *want = g_strdup_printf ("peek at q: the connection broke "
                                           "before the whole answer came: "
                                           "no answer from the daemon at %s "
                                           "in 200 ms", d->sock);
  mq_message *m = NULL;
  gint64 start;

  assert_status (mq_set_io_timeout (c, -1), MQ_INVALID, c);
  g_assert_cmpstr (mq_client_error (c), ==, "invalid I/O timeout -1 ms: 0 "
                   "(none) to 2147483647");
  assert_status (mq_set_io_timeout (c, 200), MQ_OK, c);
  push_str (c, "q", "kept");
  mqd_signal (d, SIGSTOP);
  start = g_get_monotonic_time ();
  assert_status (mq_peek (c, "q", MQ_NO_WAIT, &m), MQ_IO, c);
  g_assert_cmpint (elapsed_ms (start), >=, 200);
  g_assert_cmpint (elapsed_ms (start), <, 2000);
  g_assert_cmpstr (mq_client_error (c), ==, want);
  g_assert_null (m);
  mqd_signal (d, SIGCONT);
  pop_expect (c, "q", "kept");
  g_assert_cmpuint (queue_info (c, "q").total_items, ==, 1);
  mq_client_free (c);
  mqd_free (d);
}

/* mq_connect_timeout bounds the first connection's handshake too; the
 * handle works once the daemon runs again. */
static void
test_io_timeout_connect (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = NULL;
  gint64 start;

  mqd_signal (d, SIGSTOP);
  start = g_get_monotonic_time ();
  assert_status (mq_connect_timeout (d->sock, 200, &c), MQ_CONNECT, c);
  g_assert_cmpint (elapsed_ms (start), >=, 200);
  g_assert_cmpint (elapsed_ms (start), <, 2000);
  g_assert_nonnull (strstr (mq_client_error (c), "no answer from the "
                            "daemon"));
  mqd_signal (d, SIGCONT);
  push_str (c, "q", "after");
  pop_expect (c, "q", "after");
  mq_client_free (c);
  assert_status (mq_connect_timeout (d->sock, -1, &c), MQ_INVALID, c);
  mq_client_free (c);
  mqd_free (d);
}

/* A blocking read may rightly get nothing for its own wait: the I/O
 * timeout counts only beyond it. */
static void
test_io_timeout_blocking_read (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_message *m = NULL;
  mq_message *window[4];
  size_t count = 9;
  gint64 start;

  assert_status (mq_set_io_timeout (c, 100), MQ_OK, c);
  start = g_get_monotonic_time ();
  assert_status (mq_pop (c, "q", 300, &m), MQ_EMPTY, c);
  g_assert_cmpint (elapsed_ms (start), >=, 300);
  g_assert_null (m);
  start = g_get_monotonic_time ();
  assert_status (mq_open_many (c, "q", 300, 4, window, &count), MQ_EMPTY, c);
  g_assert_cmpint (elapsed_ms (start), >=, 300);
  g_assert_cmpuint (count, ==, 0);
  /* Still the first connection: nothing was cut short. */
  g_assert_cmpuint (server_stat (c, "total_connections"), ==, 1);
  mq_client_free (c);
  mqd_free (d);
}

/* A push sent whole to a stopped daemon: MQ_MAYBE_STORED, not sent again;
 * the daemon, resumed, stores it once. */
static void
test_io_timeout_push (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  mq_message *m = NULL;

  assert_status (mq_set_io_timeout (c, 200), MQ_OK, c);
  mqd_signal (d, SIGSTOP);
  assert_status (mq_push (c, "q", "maybe", 5, 0, 0), MQ_MAYBE_STORED, c);
  g_assert_nonnull (strstr (mq_client_error (c), "no answer from the "
                            "daemon"));
  mqd_signal (d, SIGCONT);
  assert_status (mq_pop (c, "q", 5000, &m), MQ_OK, c);
  g_assert_cmpmem (m->data, m->len, "maybe", 5);
  mq_message_free (m);
  g_assert_cmpuint (queue_info (c, "q").total_items, ==, 1);
  mq_client_free (c);
  mqd_free (d);
}

static void
test_disconnect_and_shutdown (void)
{
  Mqd *d = mqd_run ();
  mq_client *c = connect_to (d->sock);
  const char *version;

  push_str (c, "q", "x");
  mq_disconnect (c);
  mq_disconnect (c);
  pop_expect (c, "q", "x");
  g_assert_cmpuint (server_stat (c, "total_connections"), ==, 2);

  assert_status (mq_server_shutdown (c), MQ_OK, c);
  mqd_wait_exit (d, 0);
  assert_status (mq_version (c, &version), MQ_CONNECT, c);
  mqd_start (d);
  assert_status (mq_version (c, &version), MQ_OK, c);
  mq_client_free (c);
  mqd_free (d);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  start_watchdog ();

  add_test ("/client/connect/missing-socket", test_connect_missing);
  add_test ("/client/connect/bad-path", test_connect_bad_path);
  add_test ("/client/connect/default-path", test_connect_default);
  add_test ("/client/connect/refused", test_connect_refused);
  add_test ("/client/errors/strerror", test_strerror);
  add_test ("/client/errors/null-arguments", test_null_arguments);
  add_test ("/client/errors/queue-names", test_queue_names);
  add_test ("/client/errors/too-large", test_too_large);
  add_test ("/client/errors/not-stored", test_not_stored);
  add_test ("/client/errors/server-error", test_server_error);
  add_test ("/client/push-pop/basic", test_push_pop);
  add_test ("/client/push-pop/expired", test_push_expired);
  add_test ("/client/push-pop/timeout", test_pop_timeout);
  add_test ("/client/push-pop/wait-released", test_pop_wait_released);
  add_test ("/client/push-pop/pop-many", test_pop_many);
  add_test ("/client/push-pop/pipelining-large",
                   test_pipelining_large);
  add_test ("/client/push-pop/answers-over-4mib",
            test_answers_over_daemon_limit);
  add_test ("/client/push-pop/peek", test_peek);
  add_test ("/client/eintr/blocking-pop", test_eintr_blocking_pop);
  add_test ("/client/eintr/storm", test_eintr_storm);
  add_test ("/client/reliable/open-ack-abort", test_reliable);
  add_test ("/client/reliable/window", test_window);
  add_test ("/client/delays/arguments", test_delay_lease_arguments);
  add_test ("/client/delays/requests", test_delay_lease_requests);
  add_test ("/client/queues/delete-flush", test_delete_flush);
  add_test ("/client/queues/list", test_list_queues);
  add_test ("/client/stats/server-and-queue", test_stats);
  add_test ("/client/stats/ambiguous-names",
                   test_stats_ambiguous_names);
  add_test ("/client/queues/version", test_version);
  add_test ("/client/connection/restart", test_restart);
  add_test ("/client/connection/push-drops", test_push_connection_drops);
  add_test ("/client/connection/pop-drops", test_pop_connection_drops);
  add_test ("/client/connection/broken-before-send",
                   test_broken_before_send);
  add_test ("/client/connection/disconnect-shutdown",
                   test_disconnect_and_shutdown);
  add_test ("/client/io-timeout/stopped-daemon", test_io_timeout_stopped);
  add_test ("/client/io-timeout/connect", test_io_timeout_connect);
  add_test ("/client/io-timeout/blocking-read",
            test_io_timeout_blocking_read);
  add_test ("/client/io-timeout/push-maybe-stored", test_io_timeout_push);
  return g_test_run ();
}
