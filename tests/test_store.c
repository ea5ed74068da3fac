/* test_store.c: unit tests for daemon/store.c against a real GDBM file.
 *
 * Each test gets a fresh directory from g_dir_make_tmp and removes it
 * afterwards.  The suite runs under ASan/LSan: everything is freed.
 */
#include "config.h"

#include <gdbm.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"
#include "record.h"
#include "store.h"

typedef struct {
  char *tmp;                      /* made by g_dir_make_tmp */
  char *dir;                      /* the data directory, below tmp */
  char *file;                     /* dir/mqd.gdbm */
  MqStore *store;
} Fixture;

/* ---- helpers ---- */

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_dir_close (dir);
      g_assert_cmpint (g_rmdir (path), ==, 0);
    }
  else
    g_assert_cmpint (g_unlink (path), ==, 0);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->tmp = g_dir_make_tmp ("mqd-test-store-XXXXXX", &error);
  g_assert_no_error (error);
  /* Two levels that do not exist yet: store_open makes both. */
  f->dir = g_build_filename (f->tmp, "data", "mqd", NULL);
  f->file = g_build_filename (f->dir, MQ_STORE_FILE, NULL);
  f->store = NULL;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (f->store != NULL)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (store_close (f->store, &error));
      g_assert_no_error (error);
    }
  remove_tree (f->tmp);
  g_free (f->file);
  g_free (f->dir);
  g_free (f->tmp);
}

static MqStore *
open_ok (const char *dir)
{
  g_autoptr (GError) error = NULL;
  MqStore *store = store_open (dir, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static void
close_ok (MqStore *store)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (store_close (store, &error));
  g_assert_no_error (error);
}

static void
fixture_open (Fixture *f)
{
  f->store = open_ok (f->dir);
}

static void
fixture_reopen (Fixture *f)
{
  close_ok (f->store);
  f->store = open_ok (f->dir);
}

static void
put_ok (MqStore *store, const char *name, guint64 seq,
        const MqRecordHeader *header, const char *data, gsize len)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (store_put_item (store, name, strlen (name), seq, header,
                                 data, len, &error));
  g_assert_no_error (error);
}

static void
assert_item (MqStore *store, const char *name, guint64 seq,
             const MqRecordHeader *header, const char *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  MqItem item;

  memset (&item, 0xa5, sizeof item);
  g_assert_true (store_fetch_item (store, name, strlen (name), seq, &item,
                                   &error));
  g_assert_no_error (error);
  g_assert_cmpuint (item.header.deliveries, ==, header->deliveries);
  g_assert_cmpuint (item.header.flags, ==, header->flags);
  g_assert_cmpint (item.header.created_ms, ==, header->created_ms);
  g_assert_cmpint (item.header.expires_ms, ==, header->expires_ms);
  g_assert_cmpuint (item.len, ==, len);
  g_assert_nonnull (item.raw);
  g_assert_true (item.data == item.raw + MQ_RECORD_HEADER_SIZE);
  if (len > 0)
    g_assert_cmpmem (item.data, item.len, data, len);
  item_clear (&item);
  g_assert_null (item.raw);
  g_assert_null (item.data);
  g_assert_cmpuint (item.len, ==, 0);
}

static void
assert_no_item (MqStore *store, const char *name, guint64 seq)
{
  g_autoptr (GError) error = NULL;
  MqItem item = { 0 };

  g_assert_false (store_fetch_item (store, name, strlen (name), seq, &item,
                                    &error));
  g_assert_no_error (error);
}

static void
put_meta_ok (MqStore *store, const char *name, const MqQueueMeta *meta)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (store_put_meta (store, name, strlen (name), meta, &error));
  g_assert_no_error (error);
}

static char *
pattern (gsize len)
{
  char *data = g_malloc (len > 0 ? len : 1);

  /* Every byte value, NUL, '\r' and '\n' included, in a long cycle. */
  for (gsize i = 0; i < len; i++)
    data[i] = (char) ((i * 7 + i / 251) & 0xff);
  return data;
}

static GBytes *
read_file_bytes (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  return g_bytes_new_take (contents, len);
}

static gboolean
exists (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* ---- the scan recorder ---- */

typedef struct {
  GHashTable *seen;               /* "item NAME SEQ" / "meta NAME" -> count */
  GHashTable *metas;              /* NAME -> MqQueueMeta copy */
  guint calls;
} Scan;

static void
scan_init (Scan *scan)
{
  scan->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  scan->metas = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       g_free);
  scan->calls = 0;
}

static void
scan_clear (Scan *scan)
{
  g_hash_table_unref (scan->seen);
  g_hash_table_unref (scan->metas);
}

static void
on_scan (const char *name, gsize name_len, guint64 seq,
         const MqQueueMeta *meta, gpointer user_data)
{
  Scan *scan = user_data;
  g_autofree char *copy = g_strndup (name, name_len);
  char *what;
  guint count;

  /* The name is exactly name_len bytes of a valid name. */
  g_assert_cmpuint (strlen (copy), ==, name_len);
  scan->calls++;
  if (meta != NULL)
    {
      g_assert_cmpuint (seq, ==, 0);
      what = g_strdup_printf ("meta %s", copy);
      g_hash_table_replace (scan->metas, g_strdup (copy),
                            g_memdup2 (meta, sizeof *meta));
    }
  else
    what = g_strdup_printf ("item %s %" G_GUINT64_FORMAT, copy, seq);
  count = GPOINTER_TO_UINT (g_hash_table_lookup (scan->seen, what));
  g_hash_table_replace (scan->seen, what, GUINT_TO_POINTER (count + 1));
}

static void
scan_ok (MqStore *store, Scan *scan)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (store_scan (store, on_scan, scan, &error));
  g_assert_no_error (error);
}

static void
assert_seen_once (Scan *scan, const char *what)
{
  gpointer count = g_hash_table_lookup (scan->seen, what);

  if (GPOINTER_TO_UINT (count) != 1)
    g_error ("scan saw '%s' %u times, not once", what,
             GPOINTER_TO_UINT (count));
}

static void
assert_meta_equal (const MqQueueMeta *a, const MqQueueMeta *b)
{
  g_assert_nonnull (a);
  g_assert_cmpmem (a, sizeof *a, b, sizeof *b);
}

/* ---- the raw GDBM file, as another reader sees it ---- */

static GDBM_FILE
raw_open (const char *file, int mode)
{
  GDBM_FILE dbf = gdbm_open (file, 0, mode, 0600, NULL);

  if (dbf == NULL)
    g_error ("gdbm_open %s: %s", file, gdbm_strerror (gdbm_errno));
  return dbf;
}

static void
raw_store (const char *file, const void *key, gsize key_len,
           const void *value, gsize value_len)
{
  GDBM_FILE dbf = raw_open (file, GDBM_WRITER);
  datum k = { (char *) key, (int) key_len };
  datum v = { (char *) value, (int) value_len };

  g_assert_cmpint (gdbm_store (dbf, k, v, GDBM_REPLACE), ==, 0);
  g_assert_cmpint (gdbm_close (dbf), ==, 0);
}

/* ---- tests ---- */

static void
test_open_creates (Fixture *f, gconstpointer data)
{
  GStatBuf st;

  g_assert_false (g_file_test (f->dir, G_FILE_TEST_EXISTS));
  fixture_open (f);
  g_assert_true (g_file_test (f->dir, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (f->file, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpstr (store_path (f->store), ==, f->file);

  /* Private to the daemon's user whatever the umask lets through. */
  g_assert_cmpint (g_stat (f->dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 077, ==, 0);
  g_assert_cmpint (g_stat (f->file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 077, ==, 0);
}

/* An existing directory, as on every start after the first. */
static void
test_open_existing_dir (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (g_mkdir_with_parents (f->dir, 0700), ==, 0);
  fixture_open (f);
  g_assert_true (g_file_test (f->file, G_FILE_TEST_IS_REGULAR));
}

static void
test_open_bad_dir (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *blocker = g_build_filename (f->tmp, "data", NULL);
  MqStore *store;

  /* "data" is a file, so tmp/data/mqd cannot be a directory. */
  g_assert_true (g_file_set_contents (blocker, "x", 1, NULL));
  store = store_open (f->dir, &error);
  g_assert_null (store);
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, f->dir));
}

static char
journal_clean_byte (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->dir, MQ_JOURNAL_FILE, NULL);
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpuint (len, >=, MQ_JOURNAL_HEADER_SIZE);
  return contents[5];
}

static void
test_journal_file (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h = { 0 };

  fixture_open (f);
  g_assert_true (exists (f->dir, MQ_JOURNAL_FILE));
  g_assert_cmpint (journal_clean_byte (f), ==, 0);
  close_ok (f->store);
  g_assert_cmpint (journal_clean_byte (f), ==, 1);
  /* The mark stays until the first write: a start refused later (a
   * damaged bucket found by the scan) leaves everything as it was. */
  f->store = open_ok (f->dir);
  g_assert_cmpint (journal_clean_byte (f), ==, 1);
  put_ok (f->store, "q", 1, &h, "x", 1);
  g_assert_cmpint (journal_clean_byte (f), ==, 0);
}

/* A child process writes messages first..last, deletes those up to
 * deleted and commits, then dies without closing: what a kill -9 leaves. */
static void
write_then_die (Fixture *f, guint first, guint last, guint deleted)
{
  pid_t pid = fork ();
  int status;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      const MqRecordHeader h = { .flags = 3 };
      MqStore *store = store_open (f->dir, NULL);

      if (store == NULL)
        _exit (1);
      for (guint seq = first; seq <= last; seq++)
        {
          g_autofree char *data = g_strdup_printf ("message %u", seq);

          if (!store_put_item (store, "q", 1, seq, &h, data, strlen (data),
                               NULL))
            _exit (2);
        }
      for (guint seq = 1; seq <= deleted; seq++)
        if (!store_delete_item (store, "q", 1, seq, NULL))
          _exit (3);
      _exit (store_commit (store, FALSE, NULL) ? 0 : 4);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

static void
assert_messages (MqStore *store, guint first, guint last)
{
  const MqRecordHeader h = { .flags = 3 };

  for (guint seq = 1; seq < first; seq++)
    assert_no_item (store, "q", seq);
  for (guint seq = first; seq <= last; seq++)
    {
      g_autofree char *data = g_strdup_printf ("message %u", seq);

      assert_item (store, "q", seq, &h, data, strlen (data));
    }
  assert_no_item (store, "q", last + 1);
}

static void
test_unclean_stop (Fixture *f, gconstpointer data)
{
  write_then_die (f, 1, 50, 10);
  g_assert_cmpint (journal_clean_byte (f), ==, 0);
  fixture_open (f);
  assert_messages (f->store, 11, 50);
}

static void
zero_file (const char *path)
{
  g_autoptr (GBytes) before = read_file_bytes (path);
  gsize len = g_bytes_get_size (before);
  g_autofree char *zeros = g_malloc0 (len);

  g_assert_cmpuint (len, >, 8192);
  g_assert_true (g_file_set_contents (path, zeros, len, NULL));
}

/* The whole file destroyed after the kill, messages stored before the last
 * clean stop included: the journal alone brings everything back. */
static void
test_unclean_stop_destroyed_file (Fixture *f, gconstpointer data)
{
  write_then_die (f, 1, 200, 0);
  fixture_open (f);
  close_ok (f->store);
  f->store = NULL;
  write_then_die (f, 201, 300, 100);
  zero_file (f->file);
  fixture_open (f);
  assert_messages (f->store, 101, 300);
}

/* A clean journal beside no data file at all (moved away by hand, the
 * documented way out of a damaged one): rebuilt too. */
static void
test_missing_file_rebuilt (Fixture *f, gconstpointer data)
{
  write_then_die (f, 1, 20, 5);
  fixture_open (f);
  close_ok (f->store);
  g_assert_cmpint (g_unlink (f->file), ==, 0);
  f->store = open_ok (f->dir);
  assert_messages (f->store, 6, 20);
}

/* A kill in the middle of a rewrite leaves mqd.journal.new: the old journal
 * is still whole, and the leftover goes. */
static void
test_rewrite_leftover (Fixture *f, gconstpointer data)
{
  g_autofree char *leftover = g_build_filename (f->dir, MQ_JOURNAL_FILE ".new",
                                                NULL);

  write_then_die (f, 1, 10, 0);
  g_assert_true (g_file_set_contents (leftover, "MQDJ\001", 5, NULL));
  fixture_open (f);
  g_assert_false (exists (f->dir, MQ_JOURNAL_FILE ".new"));
  assert_messages (f->store, 1, 10);
}

static void
test_item_round_trip (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h1 = { 0, 0, 1700000000000, 0 };
  const MqRecordHeader h2 = { 65535, 0xffffffff, G_MININT64, G_MAXINT64 };
  const MqRecordHeader h3 = { 3, 42, -1, 1700000060000 };
  const char binary[] = "a\0b\r\nEND\r\n\0\r\n\xff";
  const gsize binary_len = sizeof binary - 1;

  fixture_open (f);
  put_ok (f->store, "q", 1, &h1, "hello", 5);
  put_ok (f->store, "q", 2, &h2, binary, binary_len);
  put_ok (f->store, "q", 3, &h3, "", 0);
  put_ok (f->store, "other", 1, &h3, "other queue", 11);

  assert_item (f->store, "q", 1, &h1, "hello", 5);
  assert_item (f->store, "q", 2, &h2, binary, binary_len);
  assert_item (f->store, "q", 3, &h3, "", 0);
  assert_item (f->store, "other", 1, &h3, "other queue", 11);
  /* Fetching does not remove. */
  assert_item (f->store, "q", 1, &h1, "hello", 5);
}

static void
test_item_large (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h = { 1, 2, 3, 4 };
  const gsize len = 1024 * 1024;
  g_autofree char *big = pattern (len);
  g_autofree char *big2 = pattern (len + 1);

  fixture_open (f);
  put_ok (f->store, "big", 7, &h, big, len);
  put_ok (f->store, "big", 8, &h, big2, len + 1);
  assert_item (f->store, "big", 7, &h, big, len);
  assert_item (f->store, "big", 8, &h, big2, len + 1);
  fixture_reopen (f);
  assert_item (f->store, "big", 7, &h, big, len);
  assert_item (f->store, "big", 8, &h, big2, len + 1);
}

/* The same key twice: the second write wins, shorter or longer. */
static void
test_item_replace (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h1 = { 0, 1, 10, 0 };
  const MqRecordHeader h2 = { 1, 2, 20, 30 };

  fixture_open (f);
  put_ok (f->store, "q", 5, &h1, "a long first value", 18);
  put_ok (f->store, "q", 5, &h2, "short", 5);
  assert_item (f->store, "q", 5, &h2, "short", 5);
  put_ok (f->store, "q", 5, &h1, "", 0);
  assert_item (f->store, "q", 5, &h1, "", 0);
}

static void
test_item_fetch_missing (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h = { 0 };

  fixture_open (f);
  assert_no_item (f->store, "q", 1);          /* an empty file */
  put_ok (f->store, "q", 1, &h, "x", 1);
  assert_no_item (f->store, "q", 2);          /* another seq */
  assert_no_item (f->store, "q", 0);
  assert_no_item (f->store, "q2", 1);         /* another queue */
  assert_no_item (f->store, "Q", 1);
  /* The failed look-ups leave nothing behind that disturbs the next. */
  assert_item (f->store, "q", 1, &h, "x", 1);
}

static void
test_item_delete (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h = { 0, 9, 1, 0 };
  g_autoptr (GError) error = NULL;

  fixture_open (f);
  put_ok (f->store, "q", 1, &h, "one", 3);
  put_ok (f->store, "q", 2, &h, "two", 3);

  g_assert_true (store_delete_item (f->store, "q", 1, 1, &error));
  g_assert_no_error (error);
  assert_no_item (f->store, "q", 1);
  assert_item (f->store, "q", 2, &h, "two", 3);

  /* Gone already, never there, another queue: FALSE and no error. */
  g_assert_false (store_delete_item (f->store, "q", 1, 1, &error));
  g_assert_no_error (error);
  g_assert_false (store_delete_item (f->store, "q", 1, 99, &error));
  g_assert_no_error (error);
  g_assert_false (store_delete_item (f->store, "nope", 4, 2, &error));
  g_assert_no_error (error);

  /* Deleted stays deleted across a restart. */
  fixture_reopen (f);
  assert_no_item (f->store, "q", 1);
  assert_item (f->store, "q", 2, &h, "two", 3);
}

/* What is in the file is exactly the documented layout. */
static void
test_item_layout_on_disk (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h = { 0x0102, 0x03040506, 0x0708090a0b0c0d0e,
    0x0f10111213141516 };
  const guint64 seq = 0x2122232425262728;
  const char key[] = "jobs\0\x21\x22\x23\x24\x25\x26\x27\x28";
  const char value[] = "\1\0\x01\x02\x03\x04\x05\x06"
    "\x07\x08\x09\x0a\x0b\x0c\x0d\x0e" "\x0f\x10\x11\x12\x13\x14\x15\x16"
    "pay\0load\r\n";
  const MqQueueMeta meta = { 1, 2, 3, 4, 5, 6, 7 };
  guint8 meta_value[MQ_META_SIZE];
  GDBM_FILE dbf;
  datum k, v;

  fixture_open (f);
  put_ok (f->store, "jobs", seq, &h, "pay\0load\r\n", 10);
  put_meta_ok (f->store, "jobs", &meta);
  close_ok (f->store);
  f->store = NULL;

  dbf = raw_open (f->file, GDBM_READER);
  k = (datum) { (char *) key, sizeof key - 1 };
  v = gdbm_fetch (dbf, k);
  g_assert_nonnull (v.dptr);
  g_assert_cmpmem (v.dptr, v.dsize, value, sizeof value - 1);
  free (v.dptr);

  k = (datum) { (char *) "\0Qjobs", 6 };
  v = gdbm_fetch (dbf, k);
  g_assert_nonnull (v.dptr);
  record_meta_encode (&meta, meta_value);
  g_assert_cmpmem (v.dptr, v.dsize, meta_value, sizeof meta_value);
  free (v.dptr);
  gdbm_close (dbf);
}

/* A value too short for a header, or of an unknown version, is reported,
 * not handed out. */
static void
test_item_fetch_corrupt (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h = { 0 };
  guint8 future[MQ_RECORD_HEADER_SIZE + 3];
  g_autoptr (GError) error = NULL;
  MqItem item = { 0 };

  fixture_open (f);
  put_ok (f->store, "q", 1, &h, "x", 1);
  close_ok (f->store);
  f->store = NULL;

  raw_store (f->file, "q\0\0\0\0\0\0\0\0\2", 10, "short", 5);
  record_header_encode (&h, future);
  future[0] = MQ_RECORD_VERSION + 1;
  memcpy (future + MQ_RECORD_HEADER_SIZE, "abc", 3);
  raw_store (f->file, "q\0\0\0\0\0\0\0\0\3", 10, future, sizeof future);

  fixture_open (f);
  g_assert_false (store_fetch_item (f->store, "q", 1, 2, &item, &error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, f->file));
  g_clear_error (&error);
  g_assert_false (store_fetch_item (f->store, "q", 1, 3, &item, &error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT);
  g_clear_error (&error);
  assert_item (f->store, "q", 1, &h, "x", 1);
}

static void
test_meta_put_scan (Fixture *f, gconstpointer data)
{
  const MqQueueMeta m1 = { 1, 5, 4, 0, 400, 0, 0 };
  const MqQueueMeta m2 = { G_MAXUINT64, G_MAXUINT64, 1, 2, 3, 4, 5 };
  const MqQueueMeta m3 = { 7, 7, 6, 6, 0, 1, 1 };
  Scan scan;

  fixture_open (f);
  put_meta_ok (f->store, "a", &m1);
  put_meta_ok (f->store, "b", &m2);
  put_meta_ok (f->store, "a", &m3);       /* replaces */

  scan_init (&scan);
  scan_ok (f->store, &scan);
  g_assert_cmpuint (scan.calls, ==, 2);
  assert_seen_once (&scan, "meta a");
  assert_seen_once (&scan, "meta b");
  assert_meta_equal (g_hash_table_lookup (scan.metas, "a"), &m3);
  assert_meta_equal (g_hash_table_lookup (scan.metas, "b"), &m2);
  scan_clear (&scan);
}

static void
test_meta_delete (Fixture *f, gconstpointer data)
{
  const MqQueueMeta m = { 1, 1, 0, 0, 0, 0, 0 };
  const MqRecordHeader h = { 0 };
  g_autoptr (GError) error = NULL;
  Scan scan;

  fixture_open (f);
  put_meta_ok (f->store, "a", &m);
  put_meta_ok (f->store, "b", &m);
  put_ok (f->store, "a", 1, &h, "x", 1);
  g_assert_true (store_delete_meta (f->store, "a", 1, &error));
  g_assert_no_error (error);
  /* Counters that are not there: nothing to do, not an error. */
  g_assert_true (store_delete_meta (f->store, "a", 1, &error));
  g_assert_no_error (error);
  g_assert_true (store_delete_meta (f->store, "never", 5, &error));
  g_assert_no_error (error);

  scan_init (&scan);
  scan_ok (f->store, &scan);
  g_assert_cmpuint (scan.calls, ==, 2);
  assert_seen_once (&scan, "meta b");
  assert_seen_once (&scan, "item a 1");   /* the items are not touched */
  scan_clear (&scan);
}

static void
test_scan_empty (Fixture *f, gconstpointer data)
{
  Scan scan;

  fixture_open (f);
  scan_init (&scan);
  scan_ok (f->store, &scan);
  g_assert_cmpuint (scan.calls, ==, 0);
  scan_clear (&scan);
}

typedef struct {
  const char *name;
  guint64 seq;
} ItemRef;

static const ItemRef scan_items[] = {
  { "a", 1 }, { "a", 2 }, { "a", 3 }, { "a", 4 }, { "a", 5 },
  { "b", 1 }, { "b", G_GUINT64_CONSTANT (1) << 40 }, { "b", G_MAXUINT64 },
  { "Q", 1 },                           /* no confusion with the meta tag */
  { "queue.with-punct_uation:1", 42 },
  { "\xc3\xa9t\xc3\xa9", 9 },
};

static void
fill_for_scan (MqStore *store, MqQueueMeta *ma, MqQueueMeta *mb)
{
  for (guint i = 0; i < G_N_ELEMENTS (scan_items); i++)
    {
      const MqRecordHeader h = { (guint16) i, (guint32) i, i, 0 };
      g_autofree char *payload = g_strdup_printf ("payload %u", i);

      put_ok (store, scan_items[i].name, scan_items[i].seq, &h, payload,
              strlen (payload));
    }
  /* Also many of one queue, so the keys fill several buckets. */
  for (guint64 seq = 100; seq < 1100; seq++)
    {
      const MqRecordHeader h = { 0 };

      put_ok (store, "many", seq, &h, "m", 1);
    }
  *ma = (MqQueueMeta) { 1, 6, 5, 0, 45, 0, 0 };
  *mb = (MqQueueMeta) { 1, G_MAXUINT64, 3, 0, 27, 0, 0 };
  put_meta_ok (store, "a", ma);
  put_meta_ok (store, "b", mb);
  /* Counters of a queue with no items left. */
  put_meta_ok (store, "empty", mb);
}

static void
assert_scan_complete (MqStore *store, const MqQueueMeta *ma,
                      const MqQueueMeta *mb)
{
  Scan scan;

  scan_init (&scan);
  scan_ok (store, &scan);
  for (guint i = 0; i < G_N_ELEMENTS (scan_items); i++)
    {
      g_autofree char *what = g_strdup_printf ("item %s %" G_GUINT64_FORMAT,
                                               scan_items[i].name,
                                               scan_items[i].seq);
      assert_seen_once (&scan, what);
    }
  for (guint64 seq = 100; seq < 1100; seq++)
    {
      g_autofree char *what = g_strdup_printf ("item many %" G_GUINT64_FORMAT,
                                               seq);
      assert_seen_once (&scan, what);
    }
  assert_seen_once (&scan, "meta a");
  assert_seen_once (&scan, "meta b");
  assert_seen_once (&scan, "meta empty");
  assert_meta_equal (g_hash_table_lookup (scan.metas, "a"), ma);
  assert_meta_equal (g_hash_table_lookup (scan.metas, "b"), mb);
  assert_meta_equal (g_hash_table_lookup (scan.metas, "empty"), mb);
  /* Nothing else, and nothing twice. */
  g_assert_cmpuint (g_hash_table_size (scan.seen), ==,
                    G_N_ELEMENTS (scan_items) + 1000 + 3);
  g_assert_cmpuint (scan.calls, ==, G_N_ELEMENTS (scan_items) + 1000 + 3);
  scan_clear (&scan);
}

static void
test_scan_all (Fixture *f, gconstpointer data)
{
  MqQueueMeta ma, mb;

  fixture_open (f);
  fill_for_scan (f->store, &ma, &mb);
  assert_scan_complete (f->store, &ma, &mb);
  /* A second scan sees the same. */
  assert_scan_complete (f->store, &ma, &mb);
}

static void
test_reopen_keeps_everything (Fixture *f, gconstpointer data)
{
  MqQueueMeta ma, mb;

  fixture_open (f);
  fill_for_scan (f->store, &ma, &mb);
  fixture_reopen (f);
  assert_scan_complete (f->store, &ma, &mb);
  for (guint i = 0; i < G_N_ELEMENTS (scan_items); i++)
    {
      const MqRecordHeader h = { (guint16) i, (guint32) i, i, 0 };
      g_autofree char *payload = g_strdup_printf ("payload %u", i);

      assert_item (f->store, scan_items[i].name, scan_items[i].seq, &h,
                   payload, strlen (payload));
    }
  /* And a third start, with nothing written in between. */
  fixture_reopen (f);
  assert_scan_complete (f->store, &ma, &mb);
}

/* Warnings the store is expected to log: collected instead of aborting. */
static GPtrArray *logged_warnings;

static void
collect_warning (const char *domain, GLogLevelFlags level,
                 const char *message, gpointer user_data)
{
  g_ptr_array_add (logged_warnings, g_strdup (message));
}

/* Keeps the collected warnings from aborting the test (they are fatal
 * under g_test_init); anything else stays fatal. */
static gboolean
warning_not_fatal (const char *domain, GLogLevelFlags level,
                   const char *message, gpointer user_data)
{
  return !(g_strcmp0 (domain, G_LOG_DOMAIN) == 0
           && (level & G_LOG_LEVEL_WARNING));
}

static gboolean
warning_logged (const char *pattern)
{
  for (guint i = 0; i < logged_warnings->len; i++)
    if (g_pattern_match_simple (pattern,
                                g_ptr_array_index (logged_warnings, i)))
      return TRUE;
  return FALSE;
}

/* Keys that are not mqd's, and counters that cannot be read, are skipped
 * with a warning; everything else is still visited. */
static void
test_scan_skips_foreign_keys (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h = { 0 };
  const MqQueueMeta m = { 1, 2, 1, 0, 1, 0, 0 };
  guint handler;
  Scan scan;

  fixture_open (f);
  put_ok (f->store, "q", 1, &h, "x", 1);
  put_meta_ok (f->store, "q", &m);
  close_ok (f->store);
  f->store = NULL;

  raw_store (f->file, "hello", 5, "world", 5);
  raw_store (f->file, "\0Qbad", 5, "short", 5);   /* counters cut short */

  fixture_open (f);
  scan_init (&scan);
  logged_warnings = g_ptr_array_new_with_free_func (g_free);
  handler = g_log_set_handler (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING
                               | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                               collect_warning, NULL);
  g_test_log_set_fatal_handler (warning_not_fatal, NULL);
  scan_ok (f->store, &scan);
  g_test_log_set_fatal_handler (NULL, NULL);
  g_log_remove_handler (G_LOG_DOMAIN, handler);

  g_assert_cmpuint (logged_warnings->len, ==, 2);
  g_assert_true (warning_logged ("*not mqd's*"));
  g_assert_true (warning_logged ("*unreadable counters*bad*"));
  g_clear_pointer (&logged_warnings, g_ptr_array_unref);

  g_assert_cmpuint (scan.calls, ==, 2);
  assert_seen_once (&scan, "item q 1");
  assert_seen_once (&scan, "meta q");
  assert_meta_equal (g_hash_table_lookup (scan.metas, "q"), &m);
  scan_clear (&scan);
}

static void
test_second_open_locked (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  MqStore *second;
  const MqRecordHeader h = { 0 };

  fixture_open (f);
  put_ok (f->store, "q", 1, &h, "x", 1);
  second = store_open (f->dir, &error);
  g_assert_null (second);
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_LOCKED);
  g_assert_nonnull (strstr (error->message, f->file));
  g_assert_nonnull (strstr (error->message, "in use"));
  /* The first store is unharmed. */
  assert_item (f->store, "q", 1, &h, "x", 1);

  /* Once the first is closed the directory can be opened again. */
  close_ok (f->store);
  f->store = open_ok (f->dir);
  assert_item (f->store, "q", 1, &h, "x", 1);
}

static void
assert_foreign_refused (Fixture *f, const char *contents, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) before = NULL;
  g_autoptr (GBytes) after = NULL;
  MqStore *store;

  g_assert_cmpint (g_mkdir_with_parents (f->dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (f->file, contents, len, NULL));
  before = read_file_bytes (f->file);

  store = store_open (f->dir, &error);
  g_assert_null (store);
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, f->file));

  /* Not a byte changed, nothing added beside it. */
  after = read_file_bytes (f->file);
  g_assert_true (g_bytes_equal (before, after));
  g_assert_false (exists (f->dir, MQ_JOURNAL_FILE));
}

static void
test_open_foreign_file (Fixture *f, gconstpointer data)
{
  GString *text = g_string_new (NULL);

  while (text->len < 4096)
    g_string_append (text, "This is not a GDBM file, it is someone's notes.\n");
  g_string_truncate (text, 4096);
  assert_foreign_refused (f, text->str, text->len);
  g_string_free (text, TRUE);
}

static void
test_open_foreign_short_file (Fixture *f, gconstpointer data)
{
  assert_foreign_refused (f, "notes\n", 6);
}

static void
test_sync (Fixture *f, gconstpointer data)
{
  const MqRecordHeader h = { 0 };
  g_autoptr (GError) error = NULL;

  fixture_open (f);
  g_assert_true (store_commit (f->store, TRUE, &error));      /* nothing written */
  g_assert_no_error (error);
  put_ok (f->store, "q", 1, &h, "x", 1);
  g_assert_true (store_commit (f->store, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (store_commit (f->store, TRUE, &error));      /* twice in a row */
  g_assert_no_error (error);
  assert_item (f->store, "q", 1, &h, "x", 1);
}

#define ADD(path, func) \
  g_test_add ("/store/" path, Fixture, NULL, fixture_set_up, func, \
              fixture_tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("open/creates", test_open_creates);
  ADD ("open/existing-dir", test_open_existing_dir);
  ADD ("open/bad-dir", test_open_bad_dir);
  ADD ("open/journal-file", test_journal_file);
  ADD ("journal/unclean-stop", test_unclean_stop);
  ADD ("journal/unclean-stop-destroyed-file",
       test_unclean_stop_destroyed_file);
  ADD ("journal/missing-file-rebuilt", test_missing_file_rebuilt);
  ADD ("journal/rewrite-leftover", test_rewrite_leftover);
  ADD ("open/locked", test_second_open_locked);
  ADD ("open/foreign-file", test_open_foreign_file);
  ADD ("open/foreign-short-file", test_open_foreign_short_file);
  ADD ("item/round-trip", test_item_round_trip);
  ADD ("item/large", test_item_large);
  ADD ("item/replace", test_item_replace);
  ADD ("item/fetch-missing", test_item_fetch_missing);
  ADD ("item/delete", test_item_delete);
  ADD ("item/layout-on-disk", test_item_layout_on_disk);
  ADD ("item/fetch-corrupt", test_item_fetch_corrupt);
  ADD ("meta/put-scan", test_meta_put_scan);
  ADD ("meta/delete", test_meta_delete);
  ADD ("scan/empty", test_scan_empty);
  ADD ("scan/all", test_scan_all);
  ADD ("scan/foreign-keys", test_scan_skips_foreign_keys);
  ADD ("reopen/keeps-everything", test_reopen_keeps_everything);
  ADD ("sync", test_sync);

  return g_test_run ();
}
