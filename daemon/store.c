/* store.c: GDBM access for mqd; see store.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store.h"
#include "journal.h"
#include "protocol.h"
#include "syncer.h"

/* A bounded bucket cache keeps resident memory flat as the file grows
 * (about 9 MB at a million records instead of 41 MB). */
#define STORE_CACHE_BUCKETS 64
/* A write GDBM cannot finish (ENOSPC, EFBIG) leaves it needing recovery,
 * and every later read fails: so a set is refused while less than this
 * (plus three times its size) is free for the files to grow into. */
#define STORE_SPACE_MARGIN (128 * 1024)
/* How often the free space is read: see store_free_space. */
#define STORE_FREE_SLACK (64 * 1024 * 1024)
#define STORE_FREE_MAX_AGE (G_USEC_PER_SEC / 10)
/* A file this large is mapped afresh now and then (store_trim_mapping). */
#define STORE_MAP_TRIM_BYTES (32 * 1024 * 1024)
/* A replaced file this large is closed by a thread of its own. */
#define STORE_BACKGROUND_CLOSE_BYTES (16 * 1024 * 1024)
/* The journal is rewritten (garbage dropped) once it holds this much and
 * twice the data file's size. */
#define STORE_REWRITE_MIN_BYTES (64 * 1024 * 1024)
/* A rewrite writes its copy in pieces this large. */
#define STORE_REWRITE_CHUNK (1024 * 1024)

struct _MqStore {
  int lock_fd;                    /* flock on the data directory's lock file */
  GDBM_FILE dbf;
  char *dir;
  char *path;
  char *journal_path;
  MqJournal *journal;
  MqSyncer *syncer;               /* syncs the journal off the loop */
  gboolean marked_clean;          /* the journal still says "clean stop" */
  guint64 free_read;              /* free bytes on the file system, read at */
  gint64 free_read_at;            /* this monotonic time, */
  guint64 free_asked;             /* minus what sets asked for since */
  GByteArray *scratch;            /* one value being assembled, reused */
};

G_DEFINE_QUARK (mq-store-error-quark, mq_store_error)

static MqStoreError
store_error_code (gdbm_error code, int syserr)
{
  if (syserr == ENOSPC || syserr == EDQUOT || syserr == EFBIG)
    return MQ_STORE_ERROR_NO_SPACE;
  switch (code)
    {
    case GDBM_CANT_BE_WRITER:
    case GDBM_CANT_BE_READER:
      return MQ_STORE_ERROR_LOCKED;
    case GDBM_BAD_MAGIC_NUMBER:
    case GDBM_BAD_FILE_OFFSET:
    case GDBM_BAD_HEADER:
    case GDBM_BAD_BUCKET:
    case GDBM_BAD_AVAIL:
    case GDBM_BAD_DIR_ENTRY:
    case GDBM_BAD_HASH_TABLE:
    case GDBM_NEED_RECOVERY:
    case GDBM_BLOCK_SIZE_ERROR:
    case GDBM_FILE_EOF:
      return MQ_STORE_ERROR_CORRUPT;
    default:
      return MQ_STORE_ERROR_FAILED;
    }
}

static gboolean
store_set_error (MqStore *store, GError **error, const char *doing)
{
  gdbm_error code = gdbm_last_errno (store->dbf);
  int syserr = gdbm_last_syserr (store->dbf);

  g_set_error (error, MQ_STORE_ERROR, store_error_code (code, syserr),
               "%s %s: %s", doing, store->path, gdbm_db_strerror (store->dbf));
  return FALSE;
}

/* One daemon per data directory, checked before anything in it is touched
 * (a recovery replaces the data file). */
static int
store_lock (const char *dir, const char *path, GError **error)
{
  g_autofree char *lock_path = g_build_filename (dir, MQ_STORE_LOCK_FILE,
                                                 NULL);
  int fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED,
                   "cannot open %s: %s", lock_path, g_strerror (saved));
      return -1;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      close (fd);
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_LOCKED,
                   "%s is in use by another process (is another mqd "
                   "running on %s?)", path, dir);
      return -1;
    }
  return fd;
}

static GDBM_FILE
store_open_file (const char *path, int flags)
{
  size_t cache = STORE_CACHE_BUCKETS;
  GDBM_FILE dbf = gdbm_open (path, 0, flags | GDBM_CLOEXEC, 0600, NULL);

  if (dbf != NULL)
    gdbm_setopt (dbf, GDBM_SETCACHESIZE, &cache, sizeof cache);
  return dbf;
}

static gboolean
store_open_error (const char *path, const char *dir, GError **error)
{
  int saved = errno;
  gdbm_error code = gdbm_errno;
  MqStoreError kind = store_error_code (code, saved);

  if (kind == MQ_STORE_ERROR_LOCKED)
    g_set_error (error, MQ_STORE_ERROR, kind,
                 "%s is in use by another process (is another mqd running "
                 "on %s?)", path, dir);
  else
    g_set_error (error, MQ_STORE_ERROR, kind, "cannot open %s: %s%s%s",
                 path, gdbm_strerror (code),
                 gdbm_check_syserr (code) ? ": " : "",
                 gdbm_check_syserr (code) ? g_strerror (saved) : "");
  return FALSE;
}

/* Closing a file that was replaced can take long: GDBM syncs its file
 * first, and the last close of a file no longer linked frees its blocks
 * (hundreds of milliseconds for a few hundred megabytes).  A thread of its
 * own does either, off the main loop. */
static gpointer
close_fd_thread (gpointer data)
{
  close (GPOINTER_TO_INT (data));
  return NULL;
}

static gpointer
close_dbf_thread (gpointer data)
{
  gdbm_close (data);
  return NULL;
}

/* Closes a duplicate of fd, so that the caller's close is not the last. */
static void
close_fd_in_background (int fd)
{
  int copy = fcntl (fd, F_DUPFD_CLOEXEC, 0);

  if (copy >= 0)
    g_thread_unref (g_thread_new ("mqd-close", close_fd_thread,
                                  GINT_TO_POINTER (copy)));
}

static gboolean
store_apply_put (MqStore *store, const guint8 *key, gsize key_len,
                 const guint8 *value, gsize value_len, GError **error)
{
  datum k = { (char *) key, (int) key_len };
  datum v = { (char *) value, (int) value_len };

  if (gdbm_store (store->dbf, k, v, GDBM_REPLACE) != 0)
    return store_set_error (store, error, "cannot write to");
  return TRUE;
}

/* FALSE without an error when there was no such key. */
static gboolean
store_apply_delete (MqStore *store, const guint8 *key, gsize key_len,
                    GError **error)
{
  datum k = { (char *) key, (int) key_len };

  if (gdbm_delete (store->dbf, k) == 0)
    return TRUE;
  if (gdbm_last_errno (store->dbf) != GDBM_ITEM_NOT_FOUND)
    store_set_error (store, error, "cannot delete from");
  return FALSE;
}

static gboolean
store_replay_entry (MqJournalOp op, const guint8 *key, gsize key_len,
                    const guint8 *value, gsize value_len, gpointer user_data,
                    GError **error)
{
  MqStore *store = user_data;
  g_autoptr (GError) local = NULL;

  if (op == MQ_JOURNAL_PUT)
    return store_apply_put (store, key, key_len, value, value_len, error);
  if (store_apply_delete (store, key, key_len, &local) || local == NULL)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

/* A new journal holding a copy of every record, in place of the old one:
 * what the old one held beyond that was garbage.  The copy is synced
 * before it replaces the old journal, in one rename. */
static gboolean
store_rewrite_journal (MqStore *store, GError **error)
{
  g_autofree char *fresh_path = g_strconcat (store->journal_path, ".new",
                                             NULL);
  MqJournal *fresh = journal_create (fresh_path, error);
  datum key;

  if (fresh == NULL)
    return FALSE;
  for (key = gdbm_firstkey (store->dbf); key.dptr != NULL;)
    {
      datum value = gdbm_fetch (store->dbf, key);
      datum next;

      if (value.dptr == NULL)
        break;
      journal_append (fresh, MQ_JOURNAL_PUT, (const guint8 *) key.dptr,
                      key.dsize, (const guint8 *) value.dptr, value.dsize);
      free (value.dptr);
      next = gdbm_nextkey (store->dbf, key);
      free (key.dptr);
      key = next;
      if (journal_pending (fresh) >= STORE_REWRITE_CHUNK
          && !journal_write (fresh, FALSE, error))
        goto failed;
    }
  free (key.dptr);
  if (gdbm_last_errno (store->dbf) != GDBM_ITEM_NOT_FOUND
      && gdbm_last_errno (store->dbf) != GDBM_NO_ERROR)
    {
      store_set_error (store, error, "cannot read the keys of");
      goto failed;
    }
  if (!journal_write (fresh, TRUE, error)
      || !journal_install (fresh, store->journal_path, error))
    goto failed;
  /* The new journal is synced: so is everything the old one was. */
  if (store->syncer != NULL)
    syncer_set_fd (store->syncer, journal_fd (fresh));
  if (store->journal != NULL)
    {
      if (journal_size (store->journal) >= STORE_BACKGROUND_CLOSE_BYTES)
        close_fd_in_background (journal_fd (store->journal));
      journal_free (store->journal);
    }
  store->journal = fresh;
  store->marked_clean = FALSE;
  return TRUE;

failed:
  journal_discard (fresh);
  return FALSE;
}

/* After an unclean stop the file may be damaged where the daemon was
 * writing when it died: it is not read at all, but built anew from the
 * journal, then put in its place. */
static gboolean
store_rebuild (MqStore *store, GError **error)
{
  g_autofree char *fresh_path = g_strconcat (store->path, ".rebuild", NULL);
  guint64 replayed;

  g_unlink (fresh_path);
  store->dbf = store_open_file (fresh_path, GDBM_NEWDB);
  if (store->dbf == NULL)
    return store_open_error (fresh_path, store->dir, error);
  if (!journal_replay (store->journal, store_replay_entry, store, &replayed,
                       error))
    return FALSE;
  if (gdbm_sync (store->dbf) != 0)
    return store_set_error (store, error, "cannot sync");
  if (g_rename (fresh_path, store->path) != 0)
    {
      int saved = errno;

      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED,
                   "cannot replace %s: %s", store->path, g_strerror (saved));
      return FALSE;
    }
  g_message ("%s rebuilt from %s after an unclean stop: %" G_GUINT64_FORMAT
             " journal entries", store->path, store->journal_path, replayed);
  /* Only the live records, so that the next rebuild reads no garbage. */
  return store_rewrite_journal (store, error);
}

/* Whichever way the last stop went, this ends with a file and a journal
 * that agree.  A journal marked clean leaves the file as it is (a missing
 * file is rebuilt); without a journal (a new directory, or files from
 * before the journal) the file is copied into a new one, which reads every
 * record first: a damaged file is refused untouched. */
static gboolean
store_start (MqStore *store, GError **error)
{
  g_autofree char *leftover = g_strconcat (store->journal_path, ".new",
                                           NULL);
  gboolean clean;

  g_unlink (leftover);          /* a rewrite a kill interrupted */
  if (!g_file_test (store->journal_path, G_FILE_TEST_EXISTS))
    {
      store->dbf = store_open_file (store->path, GDBM_WRCREAT);
      if (store->dbf == NULL)
        return store_open_error (store->path, store->dir, error);
      return store_rewrite_journal (store, error);
    }
  store->journal = journal_open (store->journal_path, &clean, error);
  if (store->journal == NULL)
    return FALSE;
  store->marked_clean = clean;
  if (!clean || !g_file_test (store->path, G_FILE_TEST_EXISTS))
    return store_rebuild (store, error);
  store->dbf = store_open_file (store->path, GDBM_WRITER);
  if (store->dbf == NULL)
    return store_open_error (store->path, store->dir, error);
  return TRUE;
}

/* Before the first write after a clean start: until then, a start refused
 * for a damaged file (found by the scan) leaves everything as it was. */
static gboolean
store_begin_writing (MqStore *store, GError **error)
{
  if (!store->marked_clean)
    return TRUE;
  if (!journal_clear_clean (store->journal, error))
    return FALSE;
  store->marked_clean = FALSE;
  return TRUE;
}

static void
store_free (MqStore *store)
{
  if (store->syncer != NULL)
    syncer_free (store->syncer);
  if (store->dbf != NULL)
    gdbm_close (store->dbf);
  if (store->journal != NULL)
    journal_free (store->journal);
  close (store->lock_fd);
  g_byte_array_unref (store->scratch);
  g_free (store->journal_path);
  g_free (store->dir);
  g_free (store->path);
  g_free (store);
}

MqStore *
store_open (const char *dir, GError **error)
{
  MqStore *store;
  int lock_fd;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED,
                   "cannot create data directory %s: %s", dir,
                   g_strerror (saved));
      return NULL;
    }
  store = g_new0 (MqStore, 1);
  store->dir = g_strdup (dir);
  store->path = g_build_filename (dir, MQ_STORE_FILE, NULL);
  store->journal_path = g_build_filename (dir, MQ_JOURNAL_FILE, NULL);
  store->scratch = g_byte_array_new ();
  store->lock_fd = lock_fd = store_lock (dir, store->path, error);
  if (lock_fd < 0 || !store_start (store, error))
    {
      store_free (store);
      return NULL;
    }
  store->syncer = syncer_new (journal_fd (store->journal), error);
  if (store->syncer == NULL)
    {
      store_free (store);
      return NULL;
    }
  return store;
}

gboolean
store_close (MqStore *store, GError **error)
{
  gboolean ok;

  g_clear_pointer (&store->syncer, syncer_free);
  ok = journal_write (store->journal, TRUE, error);

  if (ok && gdbm_sync (store->dbf) != 0)
    ok = store_set_error (store, error, "cannot sync");
  ok = gdbm_close (store->dbf) == 0 && ok;
  store->dbf = NULL;
  /* Marked clean only when the file holds all the journal does. */
  if (ok)
    ok = journal_close_clean (store->journal, error);
  else
    journal_free (store->journal);
  store->journal = NULL;
  store_free (store);
  return ok;
}

const char *
store_path (MqStore *store)
{
  return store->path;
}

const char *
store_journal_path (MqStore *store)
{
  return store->journal_path;
}

static gboolean
store_put (MqStore *store, const guint8 *key, gsize key_len,
           const guint8 *value, gsize value_len, GError **error)
{
  if (!store_begin_writing (store, error)
      || !store_apply_put (store, key, key_len, value, value_len, error))
    return FALSE;
  journal_append (store->journal, MQ_JOURNAL_PUT, key, key_len, value,
                  value_len);
  return TRUE;
}

static gboolean
store_delete (MqStore *store, const guint8 *key, gsize key_len,
              GError **error)
{
  if (!store_begin_writing (store, error)
      || !store_apply_delete (store, key, key_len, error))
    return FALSE;
  journal_append (store->journal, MQ_JOURNAL_DELETE, key, key_len, NULL, 0);
  return TRUE;
}

/* The free space on the file system, read again (a system call) only when
 * what was asked for since could have used up all but STORE_FREE_SLACK of
 * it, or STORE_FREE_MAX_AGE after the last reading.  Another program would
 * have to fill the slack in that time to make a write fail. */
static guint64
store_free_space (MqStore *store, guint64 need)
{
  gint64 now = g_get_monotonic_time ();
  struct statvfs fs;

  store->free_asked += need;
  if (store->free_asked + STORE_FREE_SLACK <= store->free_read
      && now - store->free_read_at < STORE_FREE_MAX_AGE)
    return store->free_read - store->free_asked + need;
  if (fstatvfs (gdbm_fdesc (store->dbf), &fs) != 0)
    return G_MAXUINT64;
  store->free_read = (guint64) fs.f_bavail * fs.f_frsize;
  store->free_read_at = now;
  store->free_asked = 0;
  return store->free_read;
}

static gboolean
store_has_room (MqStore *store, guint64 need, GError **error)
{
  guint64 journal = store->journal != NULL ? journal_size (store->journal) : 0;
  guint64 free_space = store_free_space (store, need);
  struct rlimit limit;

  if (free_space < need)
    {
      store->free_read_at = 0;  /* read it again next time */
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_SPACE,
                   "cannot write to %s: %s (%" G_GUINT64_FORMAT " KiB free)",
                   store->path, g_strerror (ENOSPC), free_space / 1024);
      return FALSE;
    }
  if (getrlimit (RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
      && MAX (store_file_size (store), journal) + need > limit.rlim_cur)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_SPACE,
                   "cannot write to %s: %s (file size limit %" G_GUINT64_FORMAT
                   " KiB)", store->path, g_strerror (EFBIG),
                   (guint64) limit.rlim_cur / 1024);
      return FALSE;
    }
  return TRUE;
}

static gboolean
store_check_space (MqStore *store, gsize len, GError **error)
{
  /* Room for GDBM's copy, the journal's, and GDBM growing its file. */
  guint64 need = 3 * (guint64) len + STORE_SPACE_MARGIN;

  if (store_has_room (store, need, NULL))
    return TRUE;
  /* Garbage in the journal is what a rewrite gives back; a journal no
   * longer than the file is mostly live data. */
  if (journal_size (store->journal) > store_file_size (store)
      && !store_rewrite_journal (store, error))
    return FALSE;
  return store_has_room (store, need, error);
}

gboolean
store_put_item (MqStore *store, const char *name, gsize name_len,
                guint64 seq, const MqRecordHeader *header, const char *data,
                gsize len, GError **error)
{
  guint8 key[MQ_MAX_NAME + 9];
  gsize key_len = record_item_key (name, name_len, seq, key);
  GByteArray *value = store->scratch;

  if (!store_check_space (store, len, error))
    return FALSE;
  g_byte_array_set_size (value, MQ_RECORD_HEADER_SIZE);
  record_header_encode (header, value->data);
  g_byte_array_append (value, (const guint8 *) data, len);
  return store_put (store, key, key_len, value->data, value->len, error);
}

gboolean
store_fetch_item (MqStore *store, const char *name, gsize name_len,
                  guint64 seq, MqItem *item, GError **error)
{
  guint8 key[MQ_MAX_NAME + 9];
  datum k = { (char *) key, 0 };
  datum v;

  k.dsize = (int) record_item_key (name, name_len, seq, key);
  v = gdbm_fetch (store->dbf, k);
  if (v.dptr == NULL)
    {
      if (gdbm_last_errno (store->dbf) != GDBM_ITEM_NOT_FOUND)
        store_set_error (store, error, "cannot read from");
      return FALSE;
    }
  if (!record_header_decode ((const guint8 *) v.dptr, v.dsize, &item->header))
    {
      free (v.dptr);
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT,
                   "%s: message %" G_GUINT64_FORMAT " of queue %.*s has an "
                   "unknown format", store->path, seq, (int) name_len, name);
      return FALSE;
    }
  item->raw = v.dptr;
  item->data = v.dptr + MQ_RECORD_HEADER_SIZE;
  item->len = v.dsize - MQ_RECORD_HEADER_SIZE;
  return TRUE;
}

gboolean
store_delete_item (MqStore *store, const char *name, gsize name_len,
                   guint64 seq, GError **error)
{
  guint8 key[MQ_MAX_NAME + 9];
  gsize key_len = record_item_key (name, name_len, seq, key);

  return store_delete (store, key, key_len, error);
}

void
item_clear (MqItem *item)
{
  /* GDBM allocates fetched values with malloc. */
  free (item->raw);
  item->raw = NULL;
  item->data = NULL;
  item->len = 0;
}

gboolean
store_put_meta (MqStore *store, const char *name, gsize name_len,
                const MqQueueMeta *meta, GError **error)
{
  guint8 key[MQ_MAX_NAME + 2];
  gsize key_len = record_meta_key (name, name_len, key);
  guint8 value[MQ_META_SIZE];

  record_meta_encode (meta, value);
  return store_put (store, key, key_len, value, sizeof value, error);
}

gboolean
store_delete_meta (MqStore *store, const char *name, gsize name_len,
                   GError **error)
{
  guint8 key[MQ_MAX_NAME + 2];
  gsize key_len = record_meta_key (name, name_len, key);
  g_autoptr (GError) local = NULL;

  if (store_delete (store, key, key_len, &local) || local == NULL)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

gboolean
store_commit (MqStore *store, gboolean sync, GError **error)
{
  guint64 size;

  if (!journal_write (store->journal, sync, error))
    return FALSE;
  size = journal_size (store->journal);
  if (size >= STORE_REWRITE_MIN_BYTES && size >= 2 * store_file_size (store))
    return store_rewrite_journal (store, error);
  return TRUE;
}

guint64
store_request_sync (MqStore *store)
{
  return syncer_request (store->syncer);
}

guint64
store_synced (MqStore *store, guint64 *failed)
{
  return syncer_done (store->syncer, failed);
}

int
store_sync_wake_fd (MqStore *store)
{
  return syncer_wake_fd (store->syncer);
}

void
store_sync_ack (MqStore *store)
{
  syncer_ack (store->syncer);
}

static void
store_scan_key (MqStore *store, datum key, MqStoreScanFunc func,
                gpointer user_data)
{
  const char *name;
  gsize name_len;
  guint64 seq = 0;
  MqQueueMeta meta;
  datum value;

  switch (record_key_decode ((const guint8 *) key.dptr, key.dsize, &name,
                             &name_len, &seq))
    {
    case MQ_KEY_ITEM:
      func (name, name_len, seq, NULL, user_data);
      break;
    case MQ_KEY_META:
      value = gdbm_fetch (store->dbf, key);
      if (value.dptr != NULL
          && record_meta_decode ((const guint8 *) value.dptr, value.dsize,
                                 &meta))
        func (name, name_len, 0, &meta, user_data);
      else
        g_warning ("%s: ignoring unreadable counters of queue %.*s",
                   store->path, (int) name_len, name);
      free (value.dptr);
      break;
    case MQ_KEY_UNKNOWN:
      g_warning ("%s: ignoring a key that is not mqd's (%d bytes)",
                 store->path, key.dsize);
      break;
    }
}

gboolean
store_scan (MqStore *store, MqStoreScanFunc func, gpointer user_data,
            GError **error)
{
  datum key = gdbm_firstkey (store->dbf);

  while (key.dptr != NULL)
    {
      datum next;

      store_scan_key (store, key, func, user_data);
      next = gdbm_nextkey (store->dbf, key);
      free (key.dptr);
      key = next;
    }
  if (gdbm_last_errno (store->dbf) != GDBM_ITEM_NOT_FOUND
      && gdbm_last_errno (store->dbf) != GDBM_NO_ERROR)
    {
      store_set_error (store, error, "cannot read the keys of");
      return FALSE;
    }
  return TRUE;
}

guint64
store_file_size (MqStore *store)
{
  struct stat st;

  return fstat (gdbm_fdesc (store->dbf), &st) == 0 ? (guint64) st.st_size : 0;
}

/* gdbm_reorganize reads every bucket of the file, which stalls the daemon
 * for as long as the file is large; when nothing is stored, an empty file
 * put in its place does the same at once.  The journal needs no change: it
 * rebuilds the same (empty) state. */
gboolean
store_reset (MqStore *store, GError **error)
{
  g_autofree char *fresh_path = g_strconcat (store->path, ".new", NULL);
  GDBM_FILE fresh;

  if (!store_begin_writing (store, error))
    return FALSE;
  g_unlink (fresh_path);
  fresh = store_open_file (fresh_path, GDBM_NEWDB);
  if (fresh == NULL)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED,
                   "cannot create %s: %s", fresh_path,
                   gdbm_strerror (gdbm_errno));
      return FALSE;
    }
  if (g_rename (fresh_path, store->path) != 0)
    {
      int saved = errno;

      gdbm_close (fresh);
      g_unlink (fresh_path);
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED,
                   "cannot replace %s: %s", store->path, g_strerror (saved));
      return FALSE;
    }
  if (store_file_size (store) >= STORE_BACKGROUND_CLOSE_BYTES)
    g_thread_unref (g_thread_new ("mqd-close", close_dbf_thread, store->dbf));
  else
    gdbm_close (store->dbf);
  store->dbf = fresh;
  return TRUE;
}

/* The start-up scan maps every page of the file, and a mapped page counts
 * as resident (190 MB at a million messages): mapping it afresh leaves only
 * the pages the queues touch from now on.  Reading without mmap instead
 * would keep memory flat but halves the throughput of shallow queues; a
 * bounded window (GDBM_SETMAXMAPSIZE, 16 MiB) lost messages in a fill of a
 * million (bench/RESULTS.md). */
void
store_remap (MqStore *store)
{
  int off = 0, on = 1;

  gdbm_setopt (store->dbf, GDBM_SETMMAP, &off, sizeof off);
  gdbm_setopt (store->dbf, GDBM_SETMMAP, &on, sizeof on);
}

/* Mapped pages count as resident, and a load on a large file touches them
 * all over it (66 MiB after 3 s at a million messages): a file past
 * STORE_MAP_TRIM_BYTES is mapped afresh, which leaves only the pages
 * touched since.  (Reading it with read(2) instead keeps memory flat but
 * halves the durable throughput at depth.) */
void
store_trim_mapping (MqStore *store)
{
  if (store_file_size (store) >= STORE_MAP_TRIM_BYTES)
    store_remap (store);
}
