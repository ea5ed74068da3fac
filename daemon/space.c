/* space.c: free space and the file size limit; see space.h. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include "space.h"
#include "datadir.h"

/* Kept free for what must be written whatever happens: journal entries of
 * gets, the journal written ahead, a checkpoint's queue states. */
#define SPACE_MARGIN (6 * 1024 * 1024)

static int space_fd = -1;
static guint64 free_read;         /* free bytes at the last reading */
static guint64 asked;             /* bytes asked for since */
static guint64 file_limit = G_MAXUINT64;
static guint64 largest_file;

void
space_start (int fd)
{
  space_fd = fd;
  space_refresh ();
}

void
space_refresh (void)
{
  struct statvfs fs;
  struct rlimit limit;

  if (space_fd >= 0 && fstatvfs (space_fd, &fs) == 0)
    free_read = (guint64) fs.f_bavail * fs.f_frsize;
  else
    free_read = G_MAXUINT64;
  asked = 0;
  file_limit = getrlimit (RLIMIT_FSIZE, &limit) == 0
    && limit.rlim_cur != RLIM_INFINITY ? (guint64) limit.rlim_cur
    : G_MAXUINT64;
}

guint64
space_file_limit (void)
{
  return file_limit;
}

/* need: what must be free; uses: what the write will take of it. */
static gboolean
space_room (guint64 need, guint64 uses, GError **error)
{
  if (free_read >= asked && free_read - asked >= need)
    {
      asked += uses;
      return TRUE;
    }
  space_refresh ();
  if (free_read >= need)
    {
      asked = uses;
      return TRUE;
    }
  g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_SPACE,
               "cannot store: %s (%" G_GUINT64_FORMAT " KiB free, %"
               G_GUINT64_FORMAT " KiB needed)", g_strerror (ENOSPC),
               free_read / 1024, need / 1024);
  return FALSE;
}

void
space_note_files (guint64 largest)
{
  largest_file = largest;
}

gboolean
space_check_set (gsize len, gsize reserve, GError **error)
{
  /* A checkpoint starts new files long before the limit: only a message
   * too large for them is refused. */
  if (len > file_limit / 4 || largest_file + 2 * (guint64) len > file_limit)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_SPACE,
                   "cannot store: %s (file size limit %" G_GUINT64_FORMAT
                   " KiB)", g_strerror (EFBIG), file_limit / 1024);
      return FALSE;
    }
  /* The journal's copy now, the segment's later. */
  return space_room (SPACE_MARGIN + reserve + 3 * (guint64) len,
                     2 * (guint64) len, error);
}

gboolean
space_check_write (gsize len, GError **error)
{
  return space_room (SPACE_MARGIN / 2 + len, len, error);
}
