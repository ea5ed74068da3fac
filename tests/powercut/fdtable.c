/* fdtable.c: which descriptors the recorder follows, and which paths are
 * under the watched directory. */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recorder.h"

/* mqd raises its soft limit to -c + 64: far below this. */
#define MAX_FDS 65536

static struct pc_fd table[MAX_FDS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct pc_fd
lookup (int fd, bool forget)
{
  struct pc_fd entry = { PC_FD_NONE, false, 0 };

  if (fd < 0 || fd >= MAX_FDS)
    return entry;
  pthread_mutex_lock (&table_lock);
  entry = table[fd];
  if (forget)
    table[fd] = (struct pc_fd) { PC_FD_NONE, false, 0 };
  pthread_mutex_unlock (&table_lock);
  return entry;
}

struct pc_fd
pc_fd_get (int fd)
{
  return lookup (fd, false);
}

/* The entry of a descriptor being closed, forgotten. */
struct pc_fd
pc_fd_take (int fd)
{
  return lookup (fd, true);
}

void
pc_fd_set (int fd, struct pc_fd entry)
{
  if (fd < 0 || fd >= MAX_FDS)
    pc_die ("a descriptor past the table: its calls would go unrecorded");
  pthread_mutex_lock (&table_lock);
  table[fd] = entry;
  pthread_mutex_unlock (&table_lock);
}

/* abs with its directories' symbolic links resolved; the last component
 * is kept as it is (rename and unlink act on a link itself), and need not
 * exist. */
bool
pc_canonical (const char *abs, char *out, size_t size)
{
  char parent[PATH_MAX], real[PATH_MAX];
  const char *last;
  size_t len = strlen (abs);

  while (len > 1 && abs[len - 1] == '/')
    len--;
  if (len >= sizeof parent)
    return false;
  memcpy (parent, abs, len);
  parent[len] = '\0';
  last = strrchr (parent, '/') + 1;
  if (*last == '\0' || strcmp (last, ".") == 0 || strcmp (last, "..") == 0)
    return realpath (parent, real) != NULL
      && snprintf (out, size, "%s", real) < (int) size;
  parent[last - parent - 1] = '\0';
  if (realpath (parent[0] != '\0' ? parent : "/", real) == NULL)
    return false;
  return snprintf (out, size, "%s/%s", strcmp (real, "/") == 0 ? "" : real,
                   last) < (int) size;
}

/* The path of dirfd/path relative to the watched directory ("" for the
 * directory itself) in rel; false when it is elsewhere. */
bool
pc_resolve (int dirfd, const char *path, char *rel, size_t size)
{
  const char *root = pc_root ();
  char base[PATH_MAX], abs[2 * PATH_MAX], canon[PATH_MAX];
  size_t root_len;

  if (root == NULL || path == NULL)
    return false;
  if (path[0] == '/')
    snprintf (abs, sizeof abs, "%s", path);
  else
    {
      if (dirfd == AT_FDCWD)
        {
          if (getcwd (base, sizeof base) == NULL)
            return false;
        }
      else
        {
          char link[64];
          ssize_t n;

          snprintf (link, sizeof link, "/proc/self/fd/%d", dirfd);
          n = readlink (link, base, sizeof base - 1);
          if (n < 0)
            return false;
          base[n] = '\0';
        }
      snprintf (abs, sizeof abs, "%s/%s", base, path);
    }
  if (!pc_canonical (abs, canon, sizeof canon))
    return false;
  root_len = strlen (root);
  if (strcmp (canon, root) == 0)
    return snprintf (rel, size, "%s", "") >= 0;
  if (strncmp (canon, root, root_len) != 0 || canon[root_len] != '/')
    return false;
  return snprintf (rel, size, "%s", canon + root_len + 1) < (int) size;
}
