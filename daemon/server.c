/* server.c: the listening socket; see server.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "dispatch.h"
#include "server.h"

#define SERVER_BACKLOG 1024
#define SERVER_ACCEPTS_PER_PASS 64

static MqServerOptions options;
static MqWatch listener = { .fd = -1 };
static char *socket_path;
static char *created_dir;         /* the socket's directory, if mqd made it */
static int spare_fd = -1;         /* given up to refuse a client when out of
                                     descriptors */
static gint64 fd_warned_us;

static gboolean
fill_address (struct sockaddr_un *addr, const char *path, GError **error)
{
  memset (addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (strlen (path) >= sizeof addr->sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   "socket path %s is longer than the %zu bytes a Unix "
                   "socket allows", path, sizeof addr->sun_path - 1);
      return FALSE;
    }
  strcpy (addr->sun_path, path);
  return TRUE;
}

/* A socket file is stale when nothing accepts on it: the daemon that made
 * it is gone.  A live one belongs to another daemon; anything else at the
 * path is not ours to touch.  *stale: a socket file is there to replace. */
static gboolean
socket_path_free (const char *path, gboolean *stale, GError **error)
{
  struct sockaddr_un addr;
  struct stat st;
  int fd, status;

  *stale = FALSE;
  if (g_lstat (path, &st) != 0)
    return TRUE;
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "%s exists and is not a socket: not touching it", path);
      return FALSE;
    }
  if (!fill_address (&addr, path, error))
    return FALSE;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  status = connect (fd, (struct sockaddr *) &addr, sizeof addr);
  close (fd);
  if (status == 0 || errno == EAGAIN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                   "another mqd is already listening on %s", path);
      return FALSE;
    }
  *stale = TRUE;
  return TRUE;
}

gboolean
server_check_path (const char *path, GError **error)
{
  gboolean stale;

  return socket_path_free (path, &stale, error);
}

static gboolean
clear_stale_socket (const char *path, GError **error)
{
  gboolean stale;

  if (!socket_path_free (path, &stale, error))
    return FALSE;
  if (!stale)
    return TRUE;
  g_message ("replacing stale socket %s", path);
  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot remove stale socket %s: %s", path,
                   g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static int
bind_socket (const char *path, guint mode, GError **error)
{
  struct sockaddr_un addr;
  int fd, status, saved;
  mode_t old_umask;

  if (!fill_address (&addr, path, error))
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "socket: %s", g_strerror (errno));
      return -1;
    }
  /* The file is created by bind: the umask makes it no wider than mode
   * from its first moment. */
  old_umask = umask (~mode & 0777);
  status = bind (fd, (struct sockaddr *) &addr, sizeof addr);
  saved = errno;
  umask (old_umask);
  if (status == 0 && listen (fd, SERVER_BACKLOG) != 0)
    {
      saved = errno;
      status = -1;
      g_unlink (path);
    }
  if (status != 0)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot listen on %s: %s", path, g_strerror (saved));
      return -1;
    }
  return fd;
}

static gboolean
in_list (GArray *list, guint32 id)
{
  for (guint i = 0; i < list->len; i++)
    if (g_array_index (list, guint32, i) == id)
      return TRUE;
  return FALSE;
}

/* With no allow-list any peer the socket mode lets in is welcome; with
 * lists, its uid or its gid must be on one. */
static gboolean
peer_allowed (GSocket *socket)
{
  g_autoptr (GCredentials) creds = NULL;
  g_autoptr (GError) error = NULL;
  uid_t uid;
  pid_t pid;
  gid_t gid;

  if (options.allow_uids->len == 0 && options.allow_gids->len == 0)
    return TRUE;
  creds = g_socket_get_credentials (socket, &error);
  if (creds == NULL)
    {
      g_warning ("cannot read a peer's credentials: %s", error->message);
      return FALSE;
    }
  uid = g_credentials_get_unix_user (creds, NULL);
  pid = g_credentials_get_unix_pid (creds, NULL);
  gid = ((struct ucred *) g_credentials_get_native (creds,
                                                    G_CREDENTIALS_TYPE_LINUX_UCRED))->gid;
  if (in_list (options.allow_uids, uid) || in_list (options.allow_gids, gid))
    return TRUE;
  g_info ("access denied to uid %u gid %u pid %d", (guint) uid, (guint) gid,
          (int) pid);
  return FALSE;
}

/* Tells a refused peer why, without waiting on it. */
static void
refuse (int fd, const char *line)
{
  g_autofree char *msg = g_strconcat (line, "\r\n", NULL);

  if (send (fd, msg, strlen (msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
    g_info ("could not tell a refused client why: %s", g_strerror (errno));
}

static void
accept_one (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  if (socket == NULL)
    {
      g_warning ("cannot use an accepted connection: %s", error->message);
      close (fd);
      return;
    }
  if (conns_count () >= options.max_conns)
    {
      g_info ("refusing a connection: %u open (-c)", options.max_conns);
      refuse (fd, "SERVER_ERROR too many open connections");
      return;
    }
  if (!peer_allowed (socket))
    {
      refuse (fd, "SERVER_ERROR access denied");
      return;
    }
  dispatch_accept (g_steal_pointer (&socket));
}

/* Out of file descriptors, a pending client would stay in the backlog and
 * wake the loop forever: the spare descriptor makes room to accept it, tell
 * it why, and close it. */
static gboolean
refuse_out_of_fds (int listen_fd)
{
  int fd;

  if (spare_fd < 0)
    return FALSE;
  close (spare_fd);
  fd = accept4 (listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0)
    {
      refuse (fd, "SERVER_ERROR too many open connections");
      close (fd);
    }
  spare_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (g_get_monotonic_time () - fd_warned_us > G_USEC_PER_SEC)
    {
      fd_warned_us = g_get_monotonic_time ();
      g_warning ("out of file descriptors: refusing connections (raise the "
                 "open files limit, or lower -c)");
    }
  return fd >= 0;
}

static void
server_on_event (MqWatch *watch, guint32 events)
{
  for (int i = 0; i < SERVER_ACCEPTS_PER_PASS; i++)
    {
      int fd = accept4 (watch->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (fd >= 0)
        {
          accept_one (fd);
          continue;
        }
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE)
        {
          if (refuse_out_of_fds (watch->fd))
            continue;
          return;                 /* refuse_out_of_fds said it, once a second */
        }
      if (errno != EAGAIN)
        g_warning ("accept: %s", g_strerror (errno));
      return;
    }
}

gboolean
server_listen (const MqServerOptions *the_options, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (the_options->path);
  int fd;

  options = *the_options;
  spare_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (the_options->activated_fd >= 0)
    {
      /* systemd made the socket with the unit's SocketMode= and removes it:
       * mqd only accepts on it. */
      g_unix_set_fd_nonblocking (the_options->activated_fd, TRUE, NULL);
      loop_watch (&listener, the_options->activated_fd, EPOLLIN,
                  server_on_event);
      return TRUE;
    }
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    created_dir = g_strdup (dir);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot create socket directory %s: %s", dir,
                   g_strerror (errno));
      return FALSE;
    }
  if (!clear_stale_socket (the_options->path, error))
    return FALSE;
  fd = bind_socket (the_options->path, the_options->mode, error);
  if (fd < 0)
    return FALSE;
  socket_path = g_strdup (the_options->path);
  loop_watch (&listener, fd, EPOLLIN, server_on_event);
  return TRUE;
}

void
server_close (void)
{
  int fd = listener.fd;

  if (fd < 0)
    return;
  if (spare_fd >= 0)
    close (spare_fd);
  spare_fd = -1;
  loop_unwatch (&listener);
  close (fd);
  if (socket_path != NULL)
    g_unlink (socket_path);
  g_clear_pointer (&socket_path, g_free);
  g_clear_pointer (&created_dir, g_free);
}

const char *
server_created_dir (void)
{
  return created_dir;
}

const char *
server_socket_path (void)
{
  return socket_path;
}
