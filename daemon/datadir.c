/* datadir.c: the data directory; see datadir.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"

G_DEFINE_QUARK (mq-store-error-quark, mq_store_error)

MqFileOps mq_file_ops = { pwrite, fdatasync, fsync };

struct _MqDataDir {
  int fd;
  int lock_fd;
  char *path;
};

static gboolean
errno_error (GError **error, int saved, const char *doing, const char *dir,
             const char *name)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
               "cannot %s %s%s%s: %s", doing, dir, name ? "/" : "",
               name ? name : "", g_strerror (saved));
  return FALSE;
}

/* Opened with O_NOFOLLOW, a name that is a link fails with ELOOP: say what
 * that means, since whoever planted the link may have aimed it anywhere. */
static gboolean
open_error (GError **error, int saved, const char *dir, const char *name)
{
  if (saved != ELOOP)
    return errno_error (error, saved, "open", dir, name);
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_LOOP,
               "cannot open %s%s%s: it is a symbolic link, and mqd follows "
               "none in its data directory", dir, name ? "/" : "",
               name ? name : "");
  return FALSE;
}

static gboolean
datadir_check (MqDataDir *dir, guint32 owner_uid, GError **error)
{
  struct stat st;

  if (fstat (dir->fd, &st) != 0)
    return errno_error (error, errno, "examine", dir->path, NULL);
  if (st.st_uid != geteuid () && st.st_uid != owner_uid)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_UNSAFE,
                   "data directory %s belongs to uid %u, not to the daemon's "
                   "user: refusing to use it", dir->path, (guint) st.st_uid);
      return FALSE;
    }
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_UNSAFE,
                   "data directory %s is writable by its group or by others "
                   "(mode %04o): anyone who can write there could make the "
                   "daemon overwrite or hand out other files; chmod go-w it",
                   dir->path, (guint) (st.st_mode & 07777));
      return FALSE;
    }
  return TRUE;
}

static gboolean
datadir_lock (MqDataDir *dir, GError **error)
{
  dir->lock_fd = openat (dir->fd, MQ_LOCK_FILE,
                         O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (dir->lock_fd < 0)
    return open_error (error, errno, dir->path, MQ_LOCK_FILE);
  if (flock (dir->lock_fd, LOCK_EX | LOCK_NB) != 0)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_LOCKED,
                   "%s is in use by another process (is another mqd running "
                   "on it?)", dir->path);
      return FALSE;
    }
  return TRUE;
}

MqDataDir *
datadir_open (const char *path, guint32 owner_uid, GError **error)
{
  MqDataDir *dir = g_new0 (MqDataDir, 1);

  dir->path = g_strdup (path);
  dir->fd = dir->lock_fd = -1;
  if (g_mkdir_with_parents (path, 0700) != 0)
    errno_error (error, errno, "create data directory", path, NULL);
  else if ((dir->fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    errno_error (error, errno, "open data directory", path, NULL);
  else if (datadir_check (dir, owner_uid, error) && datadir_lock (dir, error))
    return dir;
  datadir_free (dir);
  return NULL;
}

void
datadir_free (MqDataDir *dir)
{
  if (dir == NULL)
    return;
  if (dir->lock_fd >= 0)
    close (dir->lock_fd);
  if (dir->fd >= 0)
    close (dir->fd);
  g_free (dir->path);
  g_free (dir);
}

int
datadir_fd (MqDataDir *dir)
{
  return dir->fd;
}

const char *
datadir_path (MqDataDir *dir)
{
  return dir->path;
}

int
datadir_lock_fd (MqDataDir *dir)
{
  return dir->lock_fd;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
datadir_list (MqDataDir *dir, GError **error)
{
  int fd = fcntl (dir->fd, F_DUPFD_CLOEXEC, 0);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  DIR *stream = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *entry;

  if (stream == NULL)
    {
      errno_error (error, errno, "list", dir->path, NULL);
      if (fd >= 0)
        close (fd);
      g_ptr_array_unref (names);
      return NULL;
    }
  rewinddir (stream);
  while ((entry = readdir (stream)) != NULL)
    if (entry->d_name[0] != '.')
      g_ptr_array_add (names, g_strdup (entry->d_name));
  closedir (stream);
  g_ptr_array_sort (names, compare_names);
  return names;
}

gboolean
datadir_exists (MqDataDir *dir, const char *name)
{
  struct stat st;

  return fstatat (dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

gboolean
datadir_rename (MqDataDir *dir, const char *from, const char *to,
                GError **error)
{
  if (renameat (dir->fd, from, dir->fd, to) != 0)
    return errno_error (error, errno, "rename", dir->path, from);
  return TRUE;
}

gboolean
datadir_remove (MqDataDir *dir, const char *name, GError **error)
{
  if (unlinkat (dir->fd, name, 0) != 0 && errno != ENOENT)
    return errno_error (error, errno, "remove", dir->path, name);
  return TRUE;
}

/* Only a file whose one name is this one is the daemon's to hand over: a
 * hard link may have been made to any file of the file system (where
 * fs.protected_hardlinks is off).  Checked and changed through the same
 * descriptor, so the name cannot be swapped in between. */
static gboolean
hand_over_file (MqDataDir *dir, const char *name, guint32 uid, guint32 gid,
                GError **error)
{
  int fd = openat (dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  gboolean ok = TRUE;

  if (fd < 0)
    return TRUE;                  /* gone meanwhile */
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    ;                             /* not a file of the daemon's */
  else if (st.st_nlink != 1)
    g_warning ("not handing %s/%s over: it has %lu names, so it may not be "
               "the daemon's", dir->path, name, (unsigned long) st.st_nlink);
  else if (fchownat (fd, "", uid, gid, AT_EMPTY_PATH) != 0)
    ok = errno_error (error, errno, "hand over", dir->path, name);
  close (fd);
  return ok;
}

gboolean
datadir_hand_over (MqDataDir *dir, guint32 uid, guint32 gid, GError **error)
{
  g_autoptr (GPtrArray) names = datadir_list (dir, error);

  if (names == NULL)
    return FALSE;
  if (fchown (dir->fd, uid, gid) != 0)
    return errno_error (error, errno, "hand over", dir->path, NULL);
  for (guint i = 0; i < names->len; i++)
    if (!hand_over_file (dir, g_ptr_array_index (names, i), uid, gid, error))
      return FALSE;
  return TRUE;
}

gboolean
datadir_sync (MqDataDir *dir, GError **error)
{
  if (mq_file_ops.fsync (dir->fd) != 0)
    return errno_error (error, errno, "sync", dir->path, NULL);
  return TRUE;
}

int
file_open (int dirfd, const char *name, int flags, GError **error)
{
  /* O_NONBLOCK: a FIFO planted at the name must not hang the open; it is
   * refused below, and a regular file ignores the flag. */
  int fd = openat (dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  struct stat st;

  if (fd < 0)
    {
      open_error (error, errno, name, NULL);
      return -1;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "%s is not a regular file", name);
      return -1;
    }
  return fd;
}

int
file_create (int dirfd, const char *name, GError **error)
{
  int fd = openat (dirfd, name,
                   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

  if (fd < 0)
    errno_error (error, errno, "create", name, NULL);
  return fd;
}

gboolean
file_write_at (int fd, const void *data, gsize len, guint64 offset)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = mq_file_ops.pwrite (fd, p, len, (off_t) offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
      offset += (guint64) n;
    }
  return TRUE;
}
