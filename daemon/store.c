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
#include "protocol.h"

/* A bounded bucket cache keeps resident memory flat as the file grows
 * (about 9 MB at a million records instead of 41 MB). */
#define STORE_CACHE_BUCKETS 64
/* A write GDBM cannot finish (ENOSPC, EFBIG) leaves it needing recovery,
 * and every later read fails: so a set is refused while less than this
 * (plus twice its size) is free for the file to grow into. */
#define STORE_SPACE_MARGIN (128 * 1024)

struct _MqStore {
  int lock_fd;                    /* flock on the data directory's lock file */
  GDBM_FILE dbf;
  char *path;
  gboolean crash_tolerant;
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

static void
store_set_error (MqStore *store, GError **error, const char *doing)
{
  gdbm_error code = gdbm_last_errno (store->dbf);
  int syserr = gdbm_last_syserr (store->dbf);

  g_set_error (error, MQ_STORE_ERROR, store_error_code (code, syserr),
               "%s %s: %s", doing, store->path, gdbm_db_strerror (store->dbf));
}

static char *
snapshot_path (const char *path, const char *which)
{
  return g_strconcat (path, which, NULL);
}

/* Snapshots exist only after an unclean stop with crash tolerance on: the
 * latest good one replaces the data file before it is opened. */
static gboolean
store_restore_snapshot (const char *path, GError **error)
{
  g_autofree char *even = snapshot_path (path, ".even");
  g_autofree char *odd = snapshot_path (path, ".odd");
  const char *chosen = NULL;

  struct stat even_st, odd_st;

  if (!g_file_test (even, G_FILE_TEST_EXISTS)
      && !g_file_test (odd, G_FILE_TEST_EXISTS))
    return TRUE;
  /* Empty ones are what a kill leaves between a failed attempt at crash
   * tolerance (no reflinks) and their removal: nothing to restore. */
  if ((g_stat (even, &even_st) != 0 || even_st.st_size == 0)
      && (g_stat (odd, &odd_st) != 0 || odd_st.st_size == 0))
    {
      g_unlink (even);
      g_unlink (odd);
      return TRUE;
    }
  /* GDBM keeps snapshots read-only: the restored file must be writable. */
  if (gdbm_latest_snapshot (even, odd, &chosen) != GDBM_SNAPSHOT_OK
      || g_chmod (chosen, 0600) != 0 || g_rename (chosen, path) != 0)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT,
                   "%s: crash-tolerance snapshots %s and %s are left from an "
                   "unclean stop and neither can be used safely: see "
                   "RECOVERY in mqd(8)", path, even, odd);
      return FALSE;
    }
  g_message ("%s restored from its crash-tolerance snapshot", path);
  g_unlink (even);
  g_unlink (odd);
  return TRUE;
}

static void
store_try_crash_tolerance (MqStore *store)
{
  g_autofree char *even = snapshot_path (store->path, ".even");
  g_autofree char *odd = snapshot_path (store->path, ".odd");

  /* Needs a reflink file system (XFS, Btrfs); elsewhere it fails, leaving
   * the empty snapshot files it made. */
  store->crash_tolerant = gdbm_failure_atomic (store->dbf, even, odd) == 0;
  if (!store->crash_tolerant)
    {
      g_unlink (even);
      g_unlink (odd);
    }
}

/* A clean stop leaves no snapshots, so the next start need not restore. */
static void
store_drop_snapshots (MqStore *store)
{
  g_autofree char *even = snapshot_path (store->path, ".even");
  g_autofree char *odd = snapshot_path (store->path, ".odd");

  if (!store->crash_tolerant)
    return;
  g_unlink (even);
  g_unlink (odd);
}

/* One daemon per data directory, checked before anything in it is touched
 * (a snapshot restore replaces the data file). */
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

MqStore *
store_open (const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, MQ_STORE_FILE, NULL);
  MqStore *store;
  GDBM_FILE dbf;
  int lock_fd;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED,
                   "cannot create data directory %s: %s", dir,
                   g_strerror (saved));
      return NULL;
    }
  lock_fd = store_lock (dir, path, error);
  if (lock_fd < 0)
    return NULL;
  if (!store_restore_snapshot (path, error))
    {
      close (lock_fd);
      return NULL;
    }
  dbf = store_open_file (path, GDBM_WRCREAT);
  if (dbf == NULL)
    {
      int saved = errno;
      gdbm_error code = gdbm_errno;
      MqStoreError kind = store_error_code (code, saved);

      if (kind == MQ_STORE_ERROR_LOCKED)
        g_set_error (error, MQ_STORE_ERROR, kind,
                     "%s is in use by another process (is another mqd "
                     "running on %s?)", path, dir);
      else
        g_set_error (error, MQ_STORE_ERROR, kind, "cannot open %s: %s%s%s",
                     path, gdbm_strerror (code),
                     gdbm_check_syserr (code) ? ": " : "",
                     gdbm_check_syserr (code) ? g_strerror (saved) : "");
      close (lock_fd);
      return NULL;
    }
  store = g_new0 (MqStore, 1);
  store->lock_fd = lock_fd;
  store->dbf = dbf;
  store->path = g_steal_pointer (&path);
  store->scratch = g_byte_array_new ();
  store_try_crash_tolerance (store);
  return store;
}

gboolean
store_close (MqStore *store, GError **error)
{
  gboolean ok = store_sync (store, error);

  ok = gdbm_close (store->dbf) == 0 && ok;
  if (ok)
    store_drop_snapshots (store);
  close (store->lock_fd);
  g_byte_array_unref (store->scratch);
  g_free (store->path);
  g_free (store);
  return ok;
}

const char *
store_path (MqStore *store)
{
  return store->path;
}

gboolean
store_crash_tolerant (MqStore *store)
{
  return store->crash_tolerant;
}

static gboolean
store_put (MqStore *store, const guint8 *key, gsize key_len,
           const guint8 *value, gsize value_len, GError **error)
{
  datum k = { (char *) key, (int) key_len };
  datum v = { (char *) value, (int) value_len };

  if (gdbm_store (store->dbf, k, v, GDBM_REPLACE) != 0)
    {
      store_set_error (store, error, "cannot write to");
      return FALSE;
    }
  return TRUE;
}

static gboolean
store_delete (MqStore *store, const guint8 *key, gsize key_len,
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
store_check_space (MqStore *store, gsize len, GError **error)
{
  guint64 need = 2 * (guint64) len + STORE_SPACE_MARGIN;
  struct statvfs fs;
  struct rlimit limit;

  if (fstatvfs (gdbm_fdesc (store->dbf), &fs) == 0
      && (guint64) fs.f_bavail * fs.f_frsize < need)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_SPACE,
                   "cannot write to %s: %s (%" G_GUINT64_FORMAT " KiB free)",
                   store->path, g_strerror (ENOSPC),
                   (guint64) fs.f_bavail * fs.f_frsize / 1024);
      return FALSE;
    }
  if (getrlimit (RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
      && store_file_size (store) + need > limit.rlim_cur)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_SPACE,
                   "cannot write to %s: %s (file size limit %" G_GUINT64_FORMAT
                   " KiB)", store->path, g_strerror (EFBIG),
                   (guint64) limit.rlim_cur / 1024);
      return FALSE;
    }
  return TRUE;
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
store_sync (MqStore *store, GError **error)
{
  if (gdbm_sync (store->dbf) != 0)
    {
      store_set_error (store, error, "cannot sync");
      return FALSE;
    }
  return TRUE;
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
 * put in its place does the same at once. */
gboolean
store_reset (MqStore *store, GError **error)
{
  g_autofree char *fresh_path = g_strconcat (store->path, ".new", NULL);
  GDBM_FILE fresh;

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
  store_drop_snapshots (store);
  gdbm_close (store->dbf);
  store->dbf = fresh;
  store_try_crash_tolerance (store);
  return TRUE;
}

/* The start-up scan maps every page of the file, and a mapped page counts
 * as resident (190 MB at a million messages): mapping it afresh leaves only
 * the pages the queues touch from now on.  Reading without mmap instead
 * would keep memory flat but costs about 40% of throughput. */
void
store_remap (MqStore *store)
{
  int off = 0, on = 1;

  gdbm_setopt (store->dbf, GDBM_SETMMAP, &off, sizeof off);
  gdbm_setopt (store->dbf, GDBM_SETMMAP, &on, sizeof on);
}
