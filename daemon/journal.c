/* journal.c: the write-ahead journal's file; see journal.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "datadir.h"
#include "journal.h"
#include "record.h"

#define JOURNAL_MAGIC "MQDJ"
#define JOURNAL_VERSION 2
#define JOURNAL_STARTS_RUN 1          /* flag byte */
/* Replay reads the file this much at a time (more for a larger entry). */
#define JOURNAL_READ_SIZE (1024 * 1024)
/* A buffer that grew past this for one big pass is given back after it. */
#define JOURNAL_BUFFER_KEEP (1024 * 1024)

struct _MqJournal {
  int fd;
  char *name;
  guint64 number;
  gboolean starts_run;
  guint64 written;                /* entries end here in the file */
  GByteArray *pending;            /* entries not yet written */
  gsize entry_at;                 /* the entry being made, in pending */
  GMutex lock;                    /* written, filled, filling */
  GCond filled_changed;
  guint64 filled;                 /* bytes exist up to here */
  gboolean filling;               /* journal_fill is writing past filled */
  gboolean topping_up;            /* filling back up to the whole reach */
  guint claims_waiting;           /* journal_claim waits for a fill */
};

char *
journal_file_name (guint64 number)
{
  return g_strdup_printf ("mqd-%06" G_GUINT64_FORMAT ".journal", number);
}

static gboolean
journal_error (GError **error, int saved, const char *doing,
               MqJournal *journal)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
               "cannot %s %s: %s", doing, journal->name, g_strerror (saved));
  return FALSE;
}

/* An entry's CRC covers the journal's number and the entry's offset
 * first, so that an entry is valid only where it was written. */
static guint32
entry_crc_start (guint64 number, guint64 offset)
{
  guint8 where[16];

  record_put_be (where, number, 8);
  record_put_be (where + 8, offset, 8);
  return crc32c_update (0, where, sizeof where);
}

static guint32
entry_crc (guint64 number, guint64 offset, const guint8 *body, gsize len)
{
  return crc32c_update (entry_crc_start (number, offset), body, len);
}

static void
header_encode (guint8 out[MQ_JOURNAL_HEADER_SIZE], guint64 number,
               gboolean starts_run)
{
  memset (out, 0, MQ_JOURNAL_HEADER_SIZE);
  memcpy (out, JOURNAL_MAGIC, 4);
  out[4] = JOURNAL_VERSION;
  out[5] = starts_run ? JOURNAL_STARTS_RUN : 0;
  record_put_be (out + 8, number, 8);
  record_put_be (out + 16, crc32c_update (0, out, 16), 4);
}

static gboolean
header_decode (const guint8 *in, gsize len, guint64 *number,
               gboolean *starts_run)
{
  if (len < 20 || memcmp (in, JOURNAL_MAGIC, 4) != 0
      || in[4] != JOURNAL_VERSION
      || record_get_be (in + 16, 4) != crc32c_update (0, in, 16))
    return FALSE;
  *number = record_get_be (in + 8, 8);
  *starts_run = (in[5] & JOURNAL_STARTS_RUN) != 0;
  return TRUE;
}

static MqJournal *
journal_new (int fd, const char *name, guint64 number, gboolean starts_run,
             guint64 size)
{
  MqJournal *journal = g_new0 (MqJournal, 1);

  journal->fd = fd;
  journal->name = g_strdup (name);
  journal->number = number;
  journal->starts_run = starts_run;
  journal->written = MQ_JOURNAL_HEADER_SIZE;
  journal->filled = MAX (size, MQ_JOURNAL_HEADER_SIZE);
  journal->pending = g_byte_array_new ();
  g_mutex_init (&journal->lock);
  g_cond_init (&journal->filled_changed);
  return journal;
}

static char *
scratch_name (guint64 number)
{
  g_autofree char *name = journal_file_name (number);

  return g_strconcat (name, MQ_JOURNAL_NEW_SUFFIX, NULL);
}

gboolean
journal_recycle (int dirfd, const char *name, guint64 next, guint64 most)
{
  g_autofree char *scratch = scratch_name (next);
  struct stat st;

  return fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
    && S_ISREG (st.st_mode) && st.st_nlink == 1
    && (guint64) st.st_size <= most
    && renameat2 (dirfd, name, dirfd, scratch, RENAME_NOREPLACE) == 0;
}

/* The scratch file journal_recycle left, open, or -1.  Its pages are
 * read back now if they were dropped: writing part of a page that is
 * not in memory would read it in the loop. */
static int
scratch_reuse (int dirfd, const char *scratch, guint64 *size)
{
  int fd = file_open (dirfd, scratch, O_RDWR, NULL);
  struct stat st;

  if (fd < 0)
    return -1;
  if (fstat (fd, &st) != 0 || st.st_nlink != 1
      || st.st_size < MQ_JOURNAL_HEADER_SIZE)
    {
      close (fd);
      return -1;
    }
  posix_fadvise (fd, 0, 0, POSIX_FADV_WILLNEED);
  *size = (guint64) st.st_size;
  return fd;
}

MqJournal *
journal_create (int dirfd, const char *name, guint64 number,
                gboolean starts_run, GError **error)
{
  g_autofree char *scratch = scratch_name (number);
  const char *made = scratch;
  guint8 header[MQ_JOURNAL_HEADER_SIZE];
  guint64 size = MQ_JOURNAL_HEADER_SIZE;
  MqJournal *journal;
  int fd;

  /* Under its final name only once its header is on disk: a kill or a
   * power cut in between leaves a scratch file, removed at the next
   * start, never a journal that cannot be read. */
  fd = scratch_reuse (dirfd, scratch, &size);
  if (fd < 0)
    {
      unlinkat (dirfd, scratch, 0);
      fd = file_create (dirfd, scratch, error);
      if (fd < 0)
        return NULL;
    }
  journal = journal_new (fd, name, number, starts_run, size);
  header_encode (header, number, starts_run);
  if (!file_write_at (fd, header, sizeof header, 0)
      || mq_file_ops.fdatasync (fd) != 0
      || renameat2 (dirfd, scratch, dirfd, name, RENAME_NOREPLACE) != 0)
    goto failed;
  made = name;
  if (mq_file_ops.fsync (dirfd) != 0)
    goto failed;
  return journal;

failed:
  journal_error (error, errno, "create", journal);
  unlinkat (dirfd, made, 0);
  journal_free (journal);
  return NULL;
}

MqJournal *
journal_open (int dirfd, const char *name, GError **error)
{
  guint8 header[MQ_JOURNAL_HEADER_SIZE];
  int fd = file_open (dirfd, name, O_RDWR, error);
  gboolean starts_run;
  guint64 number;
  struct stat st;
  ssize_t n;

  if (fd < 0)
    return NULL;
  n = pread (fd, header, sizeof header, 0);
  if (n < 0 || fstat (fd, &st) != 0)
    {
      int saved = errno;

      close (fd);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "cannot read %s: %s", name, g_strerror (saved));
      return NULL;
    }
  if (!header_decode (header, (gsize) n, &number, &starts_run))
    {
      close (fd);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "%s is not a journal of this version of mqd", name);
      return NULL;
    }
  return journal_new (fd, name, number, starts_run, (guint64) st.st_size);
}

void
journal_free (MqJournal *journal)
{
  if (journal == NULL)
    return;
  close (journal->fd);
  g_byte_array_unref (journal->pending);
  g_mutex_clear (&journal->lock);
  g_cond_clear (&journal->filled_changed);
  g_free (journal->name);
  g_free (journal);
}

guint64
journal_number (MqJournal *journal)
{
  return journal->number;
}

gboolean
journal_starts_run (MqJournal *journal)
{
  return journal->starts_run;
}

int
journal_fd (MqJournal *journal)
{
  return journal->fd;
}

/* ---- replay --------------------------------------------------------- */

typedef struct {
  MqJournal *journal;
  GByteArray *buf;                /* file bytes from buf_at */
  guint64 buf_at;
  guint64 file_size;
} Reader;

/* Makes buf hold the file's bytes [at, at + len); FALSE past the end. */
static gboolean
reader_get (Reader *r, guint64 at, gsize len, GError **error)
{
  gsize have;

  if (at + len > r->file_size)
    return FALSE;
  if (at >= r->buf_at && at + len <= r->buf_at + r->buf->len)
    return TRUE;
  if (at < r->buf_at || at > r->buf_at + r->buf->len)
    g_byte_array_set_size (r->buf, 0);
  else
    g_byte_array_remove_range (r->buf, 0, (guint) (at - r->buf_at));
  r->buf_at = at;
  have = r->buf->len;
  while (have < len)
    {
      gsize want = MAX (len, JOURNAL_READ_SIZE) - have;
      ssize_t n;

      g_byte_array_set_size (r->buf, have + want);
      n = pread (r->journal->fd, r->buf->data + have, want,
                 (off_t) (at + have));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_byte_array_set_size (r->buf, have);
          if (n < 0)
            return journal_error (error, errno, "read", r->journal);
          return FALSE;
        }
      have += (gsize) n;
    }
  g_byte_array_set_size (r->buf, have);
  return TRUE;
}

/* Whether the CRC of a body longer than the read window matches, read a
 * window at a time.  A journal written over holds the old journal's bytes
 * past its end, and a length read there must not make the reader hold up
 * to the rest of the file before the CRC rejects it. */
static gboolean
reader_crc_matches (Reader *r, guint64 offset, gsize body_len, guint32 crc,
                    GError **error)
{
  guint64 at = offset + MQ_JOURNAL_ENTRY_PREFIX;
  guint64 end = at + body_len;
  guint32 sum = entry_crc_start (r->journal->number, offset);

  while (at < end)
    {
      gsize piece = (gsize) MIN (end - at, JOURNAL_READ_SIZE);

      if (!reader_get (r, at, piece, error))
        return FALSE;
      sum = crc32c_update (sum, r->buf->data + (at - r->buf_at), piece);
      at += piece;
    }
  return sum == crc;
}

/* The body of the entry at offset, or NULL: the end. */
static const guint8 *
reader_entry (Reader *r, guint64 offset, gsize *len, GError **error)
{
  const guint8 *prefix, *body;
  gsize body_len;
  guint32 crc;

  if (!reader_get (r, offset, MQ_JOURNAL_ENTRY_PREFIX, error))
    return NULL;
  prefix = r->buf->data + (offset - r->buf_at);
  body_len = record_get_be (prefix, 4);
  crc = record_get_be (prefix + 4, 4);
  if (body_len == 0
      || (body_len > JOURNAL_READ_SIZE
          && !reader_crc_matches (r, offset, body_len, crc, error))
      || !reader_get (r, offset, MQ_JOURNAL_ENTRY_PREFIX + body_len, error))
    return NULL;
  body = r->buf->data + (offset - r->buf_at) + MQ_JOURNAL_ENTRY_PREFIX;
  if (entry_crc (r->journal->number, offset, body, body_len) != crc)
    return NULL;
  *len = body_len;
  return body;
}

gboolean
journal_replay (MqJournal *journal, MqJournalFunc func, gpointer user_data,
                guint64 *entries, GError **error)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  Reader r = { journal, buf, MQ_JOURNAL_HEADER_SIZE, journal->filled };
  guint64 at = MQ_JOURNAL_HEADER_SIZE;
  GError *local = NULL;
  const guint8 *body;
  gsize len;

  *entries = 0;
  while ((body = reader_entry (&r, at, &len, &local)) != NULL)
    {
      if (!func (body, len, user_data, error))
        return FALSE;
      (*entries)++;
      at += MQ_JOURNAL_ENTRY_PREFIX + len;
    }
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  journal->written = at;
  return TRUE;
}

/* ---- appending ------------------------------------------------------ */

guint8 *
journal_begin (MqJournal *journal, gsize len)
{
  GByteArray *out = journal->pending;

  journal->entry_at = out->len;
  g_byte_array_set_size (out, out->len + MQ_JOURNAL_ENTRY_PREFIX + len);
  record_put_be (out->data + journal->entry_at, len, 4);
  return out->data + journal->entry_at + MQ_JOURNAL_ENTRY_PREFIX;
}

void
journal_finish (MqJournal *journal)
{
  guint8 *entry = journal->pending->data + journal->entry_at;
  gsize len = journal->pending->len - journal->entry_at
    - MQ_JOURNAL_ENTRY_PREFIX;

  record_put_be (entry + 4,
                 entry_crc (journal->number,
                            journal->written + journal->entry_at,
                            entry + MQ_JOURNAL_ENTRY_PREFIX, len), 4);
}

gsize
journal_pending (MqJournal *journal)
{
  return journal->pending->len;
}

guint64
journal_end (MqJournal *journal)
{
  return journal->written + journal->pending->len;
}

/* The bytes about to be written must not be where a fill is writing
 * zeros; and a fill that follows starts after them. */
static void
journal_claim (MqJournal *journal, guint64 end)
{
  g_mutex_lock (&journal->lock);
  journal->claims_waiting++;
  while (journal->filling && end > journal->filled)
    g_cond_wait (&journal->filled_changed, &journal->lock);
  journal->claims_waiting--;
  journal->filled = MAX (journal->filled, end);
  g_mutex_unlock (&journal->lock);
}

gboolean
journal_write (MqJournal *journal, GError **error)
{
  GByteArray *out = journal->pending;

  if (out->len == 0)
    return TRUE;
  journal_claim (journal, journal->written + out->len);
  if (!file_write_at (journal->fd, out->data, out->len, journal->written))
    return journal_error (error, errno, "write to", journal);
  g_mutex_lock (&journal->lock);
  journal->written += out->len;
  g_mutex_unlock (&journal->lock);
  if (out->len > JOURNAL_BUFFER_KEEP)
    {
      g_byte_array_unref (out);
      journal->pending = g_byte_array_new ();
    }
  else
    g_byte_array_set_size (out, 0);
  return TRUE;
}

void
journal_drop_pending (MqJournal *journal)
{
  g_byte_array_set_size (journal->pending, 0);
}

/* Once half the reach is used, back up to all of it: a fill after every
 * write would cost the sync thread a pwrite and a wake-up per sync. */
gboolean
journal_wants_fill (MqJournal *journal)
{
  gboolean wants;

  g_mutex_lock (&journal->lock);
  if (journal->filled < journal->written + MQ_JOURNAL_FILL_AHEAD / 2)
    journal->topping_up = TRUE;
  else if (journal->filled >= journal->written + MQ_JOURNAL_FILL_AHEAD)
    journal->topping_up = FALSE;
  wants = journal->topping_up;
  g_mutex_unlock (&journal->lock);
  return wants;
}

gboolean
journal_fill (MqJournal *journal, gsize chunk, GError **error)
{
  static const guint8 zeros[64 * 1024];
  guint64 from, to;
  gboolean ok = TRUE;
  int saved;

  g_mutex_lock (&journal->lock);
  from = journal->filled;
  to = MIN (from + chunk, journal->written + MQ_JOURNAL_FILL_AHEAD);
  journal->filling = from < to;
  g_mutex_unlock (&journal->lock);
  if (from >= to)
    return TRUE;
  for (guint64 at = from; ok && at < to; at += sizeof zeros)
    ok = file_write_at (journal->fd, zeros,
                        (gsize) MIN (sizeof zeros, to - at), at);
  saved = errno;
  g_mutex_lock (&journal->lock);
  if (ok)
    journal->filled = MAX (journal->filled, to);
  journal->filling = FALSE;
  if (journal->claims_waiting > 0)
    g_cond_broadcast (&journal->filled_changed);
  g_mutex_unlock (&journal->lock);
  return ok ? TRUE : journal_error (error, saved, "extend", journal);
}
