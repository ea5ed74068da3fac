/* journal.c: the store's write-ahead journal; see journal.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "journal.h"
#include "record.h"

#define JOURNAL_MAGIC "MQDJ"
#define JOURNAL_VERSION 1
#define JOURNAL_CLEAN_OFFSET 5
#define ENTRY_PREFIX_SIZE 8             /* body length, CRC */
#define ENTRY_FIXED_SIZE 3              /* op, key length */
/* A buffer that grew past this for one big pass is given back after it. */
#define JOURNAL_BUFFER_KEEP (1024 * 1024)

struct _MqJournal {
  int fd;
  char *path;
  guint64 size;                         /* bytes in the file */
  GByteArray *pending;                  /* entries not yet written */
};

guint32
journal_crc32 (const guint8 *data, gsize len)
{
  uLong crc = crc32 (0, Z_NULL, 0);

  /* zlib takes at most a uInt at a time. */
  while (len > 0)
    {
      uInt chunk = (uInt) MIN (len, G_MAXUINT32);

      crc = crc32 (crc, data, chunk);
      data += chunk;
      len -= chunk;
    }
  return (guint32) crc;
}

static gboolean
set_errno_error (GError **error, int saved, const char *doing,
                 const char *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
               "cannot %s %s: %s", doing, path, g_strerror (saved));
  return FALSE;
}

static gboolean
write_at (int fd, const guint8 *data, gsize len, guint64 offset)
{
  while (len > 0)
    {
      ssize_t n = pwrite (fd, data, len, (off_t) offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
      offset += (guint64) n;
    }
  return TRUE;
}

/* Makes the file's name durable too: without it a machine crash could
 * lose the mark of an unclean stop. */
static void
sync_parent_dir (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

static MqJournal *
journal_new (int fd, const char *path)
{
  MqJournal *journal = g_new0 (MqJournal, 1);

  journal->fd = fd;
  journal->path = g_strdup (path);
  journal->pending = g_byte_array_new ();
  return journal;
}

MqJournal *
journal_create (const char *path, GError **error)
{
  guint8 header[MQ_JOURNAL_HEADER_SIZE] = JOURNAL_MAGIC;
  int fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  MqJournal *journal;

  if (fd < 0)
    {
      set_errno_error (error, errno, "create", path);
      return NULL;
    }
  journal = journal_new (fd, path);
  header[4] = JOURNAL_VERSION;
  if (!write_at (fd, header, sizeof header, 0) || fdatasync (fd) != 0)
    {
      set_errno_error (error, errno, "write", path);
      journal_discard (journal);
      return NULL;
    }
  journal->size = sizeof header;
  sync_parent_dir (path);
  return journal;
}

static gboolean
journal_set_clean (MqJournal *journal, gboolean clean, GError **error)
{
  guint8 mark = clean ? 1 : 0;

  if (!write_at (journal->fd, &mark, 1, JOURNAL_CLEAN_OFFSET)
      || fdatasync (journal->fd) != 0)
    return set_errno_error (error, errno, "write", journal->path);
  return TRUE;
}

MqJournal *
journal_open (const char *path, gboolean *was_clean, GError **error)
{
  guint8 header[MQ_JOURNAL_HEADER_SIZE];
  int fd = open (path, O_RDWR | O_CLOEXEC);
  MqJournal *journal;
  struct stat st;
  ssize_t n;

  if (fd < 0)
    {
      set_errno_error (error, errno, "open", path);
      return NULL;
    }
  journal = journal_new (fd, path);
  n = pread (fd, header, sizeof header, 0);
  if (n < 0 || fstat (fd, &st) != 0)
    {
      set_errno_error (error, errno, "read", path);
      journal_free (journal);
      return NULL;
    }
  if (n < (ssize_t) sizeof header || memcmp (header, JOURNAL_MAGIC, 4) != 0
      || header[4] != JOURNAL_VERSION)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "%s is not a journal of this version of mqd", path);
      journal_free (journal);
      return NULL;
    }
  *was_clean = header[JOURNAL_CLEAN_OFFSET] == 1;
  journal->size = (guint64) st.st_size;
  return journal;
}

gboolean
journal_clear_clean (MqJournal *journal, GError **error)
{
  return journal_set_clean (journal, FALSE, error);
}

void
journal_free (MqJournal *journal)
{
  if (journal == NULL)
    return;
  close (journal->fd);
  g_byte_array_unref (journal->pending);
  g_free (journal->path);
  g_free (journal);
}

gboolean
journal_install (MqJournal *journal, const char *path, GError **error)
{
  if (g_rename (journal->path, path) != 0)
    return set_errno_error (error, errno, "rename", journal->path);
  g_free (journal->path);
  journal->path = g_strdup (path);
  sync_parent_dir (path);
  return TRUE;
}

gboolean
journal_close_clean (MqJournal *journal, GError **error)
{
  gboolean ok = journal_write (journal, FALSE, error)
    && journal_set_clean (journal, TRUE, error);

  journal_free (journal);
  return ok;
}

void
journal_discard (MqJournal *journal)
{
  g_unlink (journal->path);
  journal_free (journal);
}

void
journal_append (MqJournal *journal, MqJournalOp op, const guint8 *key,
                gsize key_len, const guint8 *value, gsize value_len)
{
  GByteArray *out = journal->pending;
  gsize at = out->len;
  gsize body_len = ENTRY_FIXED_SIZE + key_len + value_len;
  guint8 *entry;

  g_byte_array_set_size (out, at + ENTRY_PREFIX_SIZE + body_len);
  entry = out->data + at;
  record_put_be (entry, body_len, 4);
  entry[8] = (guint8) op;
  record_put_be (entry + 9, key_len, 2);
  memcpy (entry + 8 + ENTRY_FIXED_SIZE, key, key_len);
  if (value_len > 0)
    memcpy (entry + 8 + ENTRY_FIXED_SIZE + key_len, value, value_len);
  record_put_be (entry + 4, journal_crc32 (entry + 8, body_len), 4);
}

gboolean
journal_write (MqJournal *journal, gboolean sync, GError **error)
{
  GByteArray *out = journal->pending;

  if (out->len > 0)
    {
      if (!write_at (journal->fd, out->data, out->len, journal->size))
        {
          int saved = errno;

          /* The entries stay buffered for the next try, which writes
           * them over whatever part of them got in. */
          return set_errno_error (error, saved, "write to", journal->path);
        }
      journal->size += out->len;
      if (out->len > JOURNAL_BUFFER_KEEP)
        {
          g_byte_array_unref (out);
          journal->pending = g_byte_array_new ();
        }
      else
        g_byte_array_set_size (out, 0);
    }
  if (sync && fdatasync (journal->fd) != 0)
    return set_errno_error (error, errno, "sync", journal->path);
  return TRUE;
}

guint64
journal_size (MqJournal *journal)
{
  return journal->size;
}

int
journal_fd (MqJournal *journal)
{
  return journal->fd;
}

gsize
journal_pending (MqJournal *journal)
{
  return journal->pending->len;
}

/* The length of the whole entries at the start of data. */
static gsize
journal_replay_entries (const guint8 *data, gsize len, MqJournalFunc func,
                        gpointer user_data, guint64 *replayed,
                        GError **error)
{
  const guint8 *at = data, *end = data + len;

  while (at < end)
    {
      gsize left = (gsize) (end - at);
      gsize body_len, key_len;
      const guint8 *body = at + ENTRY_PREFIX_SIZE;

      if (left < ENTRY_PREFIX_SIZE + ENTRY_FIXED_SIZE)
        break;
      body_len = record_get_be (at, 4);
      if (body_len < ENTRY_FIXED_SIZE
          || body_len > left - ENTRY_PREFIX_SIZE
          || journal_crc32 (body, body_len) != record_get_be (at + 4, 4))
        break;
      key_len = record_get_be (body + 1, 2);
      if (key_len > body_len - ENTRY_FIXED_SIZE
          || (body[0] != MQ_JOURNAL_PUT && body[0] != MQ_JOURNAL_DELETE))
        break;
      if (!func ((MqJournalOp) body[0], body + ENTRY_FIXED_SIZE, key_len,
                 body + ENTRY_FIXED_SIZE + key_len,
                 body_len - ENTRY_FIXED_SIZE - key_len, user_data, error))
        return G_MAXSIZE;
      (*replayed)++;
      at = body + body_len;
    }
  return (gsize) (at - data);
}

gboolean
journal_replay (MqJournal *journal, MqJournalFunc func, gpointer user_data,
                guint64 *replayed, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GMappedFile) file = g_mapped_file_new (journal->path, FALSE,
                                                    &local);
  const guint8 *data;
  gsize len, whole;

  *replayed = 0;
  if (file == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  "cannot replay the journal: ");
      return FALSE;
    }
  data = (const guint8 *) g_mapped_file_get_contents (file);
  len = g_mapped_file_get_length (file);
  g_assert (len >= MQ_JOURNAL_HEADER_SIZE);   /* checked by journal_open */
  whole = journal_replay_entries (data + MQ_JOURNAL_HEADER_SIZE,
                                  len - MQ_JOURNAL_HEADER_SIZE, func,
                                  user_data, replayed, error);
  if (whole == G_MAXSIZE)
    return FALSE;
  journal->size = MQ_JOURNAL_HEADER_SIZE + whole;
  if (journal->size < len)
    {
      g_message ("%s: ignoring its last %" G_GUINT64_FORMAT " bytes, a write "
                 "the stop interrupted", journal->path, len - journal->size);
      if (ftruncate (journal->fd, (off_t) journal->size) != 0
          || fdatasync (journal->fd) != 0)
        return set_errno_error (error, errno, "truncate", journal->path);
    }
  return TRUE;
}
