/* daemon.c: process lifecycle; see daemon.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "daemon.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

static int ready_fd = -1;         /* the waiting parent's pipe, in the child */

gboolean
daemon_detach (GError **error)
{
  int fds[2];
  pid_t pid;
  ssize_t n;
  char byte = 0;

  if (pipe2 (fds, O_CLOEXEC) != 0 || (pid = fork ()) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot start in the background: %s", g_strerror (errno));
      return FALSE;
    }
  if (pid > 0)
    {
      close (fds[1]);
      /* One byte means ready; end of file means the child gave up. */
      do
        n = read (fds[0], &byte, 1);
      while (n < 0 && errno == EINTR);
      _exit (n == 1 && byte == 'R' ? 0 : 1);
    }
  close (fds[0]);
  ready_fd = fds[1];
  setsid ();
  return TRUE;
}

static void
redirect_stdio (gboolean keep_stdio)
{
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);

  if (null < 0)
    return;
  dup2 (null, STDIN_FILENO);
  if (!keep_stdio)
    {
      dup2 (null, STDOUT_FILENO);
      dup2 (null, STDERR_FILENO);
    }
  close (null);
}

#ifdef HAVE_LIBSYSTEMD
static void
notify (const char *state)
{
  int status = sd_notify (0, state);

  if (status < 0)
    g_warning ("cannot notify systemd: %s", g_strerror (-status));
}

int
daemon_activated_socket (GError **error)
{
  int n = sd_listen_fds (1);

  if (n <= 0)
    return -1;
  if (n > 1 || sd_is_socket_unix (SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL,
                                  0) <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "socket activation: expected one listening Unix stream "
                   "socket, got %d file descriptors", n);
      return -2;
    }
  return SD_LISTEN_FDS_START;
}
#else
/* systemd's readiness protocol without libsystemd: one datagram to
 * $NOTIFY_SOCKET. */
static void
notify (const char *state)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  socklen_t len;
  int fd;

  if (path == NULL || (path[0] != '/' && path[0] != '@')
      || strlen (path) >= sizeof addr.sun_path)
    return;
  memcpy (addr.sun_path, path, strlen (path));
  if (path[0] == '@')
    addr.sun_path[0] = '\0';      /* abstract namespace */
  len = offsetof (struct sockaddr_un, sun_path) + strlen (path);
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (sendto (fd, state, strlen (state), MSG_NOSIGNAL,
              (struct sockaddr *) &addr, len) < 0)
    g_warning ("cannot notify %s: %s", path, g_strerror (errno));
  close (fd);
}

int
daemon_activated_socket (GError **error)
{
  return -1;                      /* socket activation needs libsystemd */
}
#endif

void
daemon_ready (gboolean keep_stdio)
{
  g_autofree char *state = g_strdup_printf ("READY=1\nMAINPID=%ld",
                                            (long) getpid ());

  notify (state);
  if (ready_fd < 0)
    return;
  redirect_stdio (keep_stdio);
  if (write (ready_fd, "R", 1) != 1)
    g_warning ("cannot tell the starting process mqd is ready: %s",
               g_strerror (errno));
  close (ready_fd);
  ready_fd = -1;
}

void
daemon_stopping (void)
{
  notify ("STOPPING=1");
}

gboolean
daemon_write_pid_file (const char *path, GError **error)
{
  g_autofree char *pid = g_strdup_printf ("%ld\n", (long) getpid ());

  return g_file_set_contents_full (path, pid, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                   error);
}

gboolean
daemon_drop_privileges (const char *user, const char *const *paths,
                        GError **error)
{
  struct passwd *pw = getpwnam (user);

  if (pw == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "-u: no such user '%s'", user);
      return FALSE;
    }
  if (getuid () != 0)
    {
      g_warning ("-u %s ignored: mqd is not running as root", user);
      return TRUE;
    }
  for (guint i = 0; paths[i] != NULL; i++)
    if (lchown (paths[i], pw->pw_uid, pw->pw_gid) != 0 && errno != ENOENT)
      {
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                     "cannot hand %s to %s: %s", paths[i], user,
                     g_strerror (errno));
        return FALSE;
      }
  if (initgroups (user, pw->pw_gid) != 0 || setgid (pw->pw_gid) != 0
      || setuid (pw->pw_uid) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot switch to user %s: %s", user, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}
