/* test_journal.c: unit tests for daemon/journal.c on real files. */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

typedef struct {
  char *tmp;
  char *path;
  MqJournal *journal;
} Fixture;

typedef struct {
  MqJournalOp op;
  GBytes *key;
  GBytes *value;
} Entry;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->tmp = g_dir_make_tmp ("mqd-test-journal-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->tmp, MQ_JOURNAL_FILE, NULL);
  f->journal = journal_create (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->journal);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (f->journal != NULL)
    journal_free (f->journal);
  g_unlink (f->path);
  g_assert_cmpint (g_rmdir (f->tmp), ==, 0);
  g_free (f->path);
  g_free (f->tmp);
}

static void
entry_free (gpointer p)
{
  Entry *e = p;

  g_bytes_unref (e->key);
  g_bytes_unref (e->value);
  g_free (e);
}

static gboolean
collect (MqJournalOp op, const guint8 *key, gsize key_len,
         const guint8 *value, gsize value_len, gpointer user_data,
         GError **error)
{
  Entry *e = g_new0 (Entry, 1);

  e->op = op;
  e->key = g_bytes_new (key, key_len);
  e->value = g_bytes_new (value, value_len);
  g_ptr_array_add (user_data, e);
  return TRUE;
}

/* Opens the fixture's journal as a start after a kill does, and replays
 * it, expecting success. */
static GPtrArray *
replay_ok (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *entries = g_ptr_array_new_with_free_func (entry_free);
  guint64 replayed = 99;
  gboolean clean = TRUE;
  MqJournal *journal = journal_open (f->path, &clean, &error);

  g_assert_no_error (error);
  g_assert_nonnull (journal);
  g_assert_false (clean);
  g_assert_true (journal_replay (journal, collect, entries, &replayed,
                                 &error));
  g_assert_no_error (error);
  g_assert_cmpuint (replayed, ==, entries->len);
  journal_free (journal);
  return entries;
}

static void
assert_bytes (GBytes *bytes, const void *expected, gsize len)
{
  gsize size;
  const void *data = g_bytes_get_data (bytes, &size);

  g_assert_cmpmem (data, size, expected, len);
}

static void
assert_entry (GPtrArray *entries, guint i, MqJournalOp op, const char *key,
              const char *value)
{
  Entry *e = g_ptr_array_index (entries, i);

  g_assert_cmpint (e->op, ==, op);
  assert_bytes (e->key, key, strlen (key));
  assert_bytes (e->value, value, strlen (value));
}

static void
append_put (MqJournal *journal, const char *key, const char *value)
{
  journal_append (journal, MQ_JOURNAL_PUT, (const guint8 *) key,
                  strlen (key), (const guint8 *) value, strlen (value));
}

static void
write_ok (MqJournal *journal, gboolean sync)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (journal_write (journal, sync, &error));
  g_assert_no_error (error);
}

static gsize
file_size (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (gsize) st.st_size;
}

/* ---- tests ---- */

static void
test_crc32 (void)
{
  /* The check value of CRC-32/ISO-HDLC, zlib's crc32. */
  g_assert_cmphex (journal_crc32 ((const guint8 *) "123456789", 9), ==,
                   0xcbf43926);
  g_assert_cmphex (journal_crc32 (NULL, 0), ==, 0);
}

static void
test_header_on_disk (Fixture *f, gconstpointer data)
{
  g_autofree char *contents = NULL;
  gsize len;
  const guint8 expected[MQ_JOURNAL_HEADER_SIZE] = {
    'M', 'Q', 'D', 'J', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
  };

  g_assert_true (g_file_get_contents (f->path, &contents, &len, NULL));
  g_assert_cmpmem (contents, len, expected, sizeof expected);
  g_assert_cmpuint (journal_size (f->journal), ==, MQ_JOURNAL_HEADER_SIZE);
}

static void
test_entry_on_disk (Fixture *f, gconstpointer data)
{
  g_autofree char *contents = NULL;
  gsize len;
  /* length 6 = op, key length, "k", "vv"; then the CRC of those 6. */
  const guint8 body[] = { 1, 0, 1, 'k', 'v', 'v' };
  guint32 crc = journal_crc32 (body, sizeof body);
  const guint8 prefix[] = { 0, 0, 0, 6, crc >> 24, (crc >> 16) & 0xff,
    (crc >> 8) & 0xff, crc & 0xff };

  append_put (f->journal, "k", "vv");
  write_ok (f->journal, TRUE);
  g_assert_true (g_file_get_contents (f->path, &contents, &len, NULL));
  g_assert_cmpuint (len, ==, MQ_JOURNAL_HEADER_SIZE + 8 + 6);
  g_assert_cmpuint (journal_size (f->journal), ==, len);
  g_assert_cmpmem (contents + MQ_JOURNAL_HEADER_SIZE, 8, prefix, 8);
  g_assert_cmpmem (contents + MQ_JOURNAL_HEADER_SIZE + 8, 6, body, 6);
}

static void
test_write_replay (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) entries = NULL;

  append_put (f->journal, "q1", "first");
  append_put (f->journal, "q2", "");
  journal_append (f->journal, MQ_JOURNAL_DELETE, (const guint8 *) "q2", 2,
                  NULL, 0);
  write_ok (f->journal, FALSE);
  append_put (f->journal, "q3", "later");
  write_ok (f->journal, TRUE);
  entries = replay_ok (f);
  g_assert_cmpuint (entries->len, ==, 4);
  assert_entry (entries, 0, MQ_JOURNAL_PUT, "q1", "first");
  assert_entry (entries, 1, MQ_JOURNAL_PUT, "q2", "");
  assert_entry (entries, 2, MQ_JOURNAL_DELETE, "q2", "");
  assert_entry (entries, 3, MQ_JOURNAL_PUT, "q3", "later");
}

static void
test_key_bytes_kept (Fixture *f, gconstpointer data)
{
  /* An item key: name, NUL, sequence number with NUL bytes in it. */
  const guint8 key[] = { 'q', 0, 0, 0, 0, 0, 0, 0, 0, 0x2a };
  const guint8 value[] = { 0, '\r', '\n', 0xff };
  g_autoptr (GPtrArray) entries = NULL;

  journal_append (f->journal, MQ_JOURNAL_PUT, key, sizeof key, value,
                  sizeof value);
  write_ok (f->journal, FALSE);
  entries = replay_ok (f);
  g_assert_cmpuint (entries->len, ==, 1);
  assert_bytes (((Entry *) entries->pdata[0])->key, key, sizeof key);
  assert_bytes (((Entry *) entries->pdata[0])->value, value, sizeof value);
}

static void
test_buffered_not_in_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) entries = NULL;

  append_put (f->journal, "a", "1");
  write_ok (f->journal, FALSE);
  append_put (f->journal, "b", "2");          /* never written */
  entries = replay_ok (f);
  g_assert_cmpuint (entries->len, ==, 1);
  assert_entry (entries, 0, MQ_JOURNAL_PUT, "a", "1");
}

/* Whatever a kill in the middle of a write leaves, the whole entries before
 * it are replayed and the rest is ignored. */
static void
test_torn_tail (Fixture *f, gconstpointer data)
{
  g_autofree char *contents = NULL;
  gsize whole, len;

  append_put (f->journal, "a", "one");
  write_ok (f->journal, FALSE);
  whole = file_size (f->path);
  append_put (f->journal, "b", "two two two");
  write_ok (f->journal, FALSE);
  g_assert_true (g_file_get_contents (f->path, &contents, &len, NULL));
  for (gsize cut = len - 1; cut > whole; cut--)
    {
      g_autoptr (GPtrArray) entries = NULL;

      g_assert_true (g_file_set_contents (f->path, contents, cut, NULL));
      entries = replay_ok (f);
      g_assert_cmpuint (entries->len, ==, 1);
      assert_entry (entries, 0, MQ_JOURNAL_PUT, "a", "one");
      /* Cut back to the last whole entry, for the next ones to follow. */
      g_assert_cmpuint (file_size (f->path), ==, whole);
    }
}

/* New entries after a replay follow the last whole one, not the torn
 * bytes after it. */
static void
test_append_after_torn_tail (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GPtrArray) ignored = g_ptr_array_new_with_free_func (entry_free);
  guint64 replayed;
  gboolean clean;
  MqJournal *journal;
  int fd;

  append_put (f->journal, "a", "one");
  write_ok (f->journal, FALSE);
  fd = g_open (f->path, O_WRONLY | O_APPEND, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, "\0\0\0\x40garbage", 11), ==, 11);
  close (fd);
  journal = journal_open (f->path, &clean, &error);
  g_assert_nonnull (journal);
  g_assert_true (journal_replay (journal, collect, ignored, &replayed,
                                 &error));
  append_put (journal, "b", "two");
  write_ok (journal, FALSE);
  journal_free (journal);
  entries = replay_ok (f);
  g_assert_cmpuint (entries->len, ==, 2);
  assert_entry (entries, 0, MQ_JOURNAL_PUT, "a", "one");
  assert_entry (entries, 1, MQ_JOURNAL_PUT, "b", "two");
}

static void
test_bad_crc_ends_replay (Fixture *f, gconstpointer data)
{
  g_autofree char *contents = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  gsize len;

  append_put (f->journal, "a", "one");
  append_put (f->journal, "b", "two");
  append_put (f->journal, "c", "three");
  write_ok (f->journal, FALSE);
  g_assert_true (g_file_get_contents (f->path, &contents, &len, NULL));
  /* Each entry is 8 + 3 + 1 + 3 bytes; the second's "two" becomes "twx". */
  contents[MQ_JOURNAL_HEADER_SIZE + 15 + 8 + 3 + 1 + 2] = 'x';
  g_assert_true (g_file_set_contents (f->path, contents, len, NULL));
  entries = replay_ok (f);
  g_assert_cmpuint (entries->len, ==, 1);
  assert_entry (entries, 0, MQ_JOURNAL_PUT, "a", "one");
}

static void
test_clean_mark (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gboolean clean = FALSE;
  MqJournal *journal;
  gsize len;

  append_put (f->journal, "a", "1");           /* written by the close */
  g_assert_true (journal_close_clean (f->journal, &error));
  g_assert_no_error (error);
  f->journal = NULL;
  g_assert_true (g_file_get_contents (f->path, &contents, &len, NULL));
  g_assert_cmpint (contents[5], ==, 1);
  g_assert_cmpuint (len, >, MQ_JOURNAL_HEADER_SIZE);
  journal = journal_open (f->path, &clean, &error);
  g_assert_no_error (error);
  g_assert_true (clean);
  /* Opening leaves the mark; clearing it is on disk when it returns. */
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (f->path, &contents, &len, NULL));
  g_assert_cmpint (contents[5], ==, 1);
  g_assert_true (journal_clear_clean (journal, &error));
  g_assert_no_error (error);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (f->path, &contents, &len, NULL));
  g_assert_cmpint (contents[5], ==, 0);
  g_assert_cmpuint (journal_size (journal), ==, len);
  journal_free (journal);
  journal = journal_open (f->path, &clean, &error);
  g_assert_false (clean);
  journal_free (journal);
}

static void
test_pending (Fixture *f, gconstpointer data)
{
  g_assert_cmpuint (journal_pending (f->journal), ==, 0);
  append_put (f->journal, "a", "1");
  g_assert_cmpuint (journal_pending (f->journal), ==, 8 + 3 + 1 + 1);
  write_ok (f->journal, TRUE);
  g_assert_cmpuint (journal_pending (f->journal), ==, 0);
  g_assert_cmpuint (journal_size (f->journal), ==,
                    MQ_JOURNAL_HEADER_SIZE + 13);
}

static void
test_open_errors (Fixture *f, gconstpointer data)
{
  const char *contents[] = { "", "MQDJ\001", "GDBM is not a journal" };
  gboolean clean;

  for (guint i = 0; i < G_N_ELEMENTS (contents); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (g_file_set_contents (f->path, contents[i], -1, NULL));
      g_assert_null (journal_open (f->path, &clean, &error));
      g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
      g_assert_nonnull (strstr (error->message, f->path));
    }
}

static void
test_open_missing (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gboolean clean;

  g_assert_cmpint (g_unlink (f->path), ==, 0);
  g_assert_null (journal_open (f->path, &clean, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

static void
test_install (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *fresh_path = g_strconcat (f->path, ".new", NULL);
  g_autoptr (GPtrArray) entries = NULL;
  MqJournal *fresh = journal_create (fresh_path, &error);

  g_assert_nonnull (fresh);
  append_put (f->journal, "old", "x");
  write_ok (f->journal, FALSE);
  append_put (fresh, "new", "y");
  write_ok (fresh, TRUE);
  g_assert_true (journal_install (fresh, f->path, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (fresh_path, G_FILE_TEST_EXISTS));
  journal_free (f->journal);
  f->journal = fresh;
  append_put (f->journal, "after", "z");
  write_ok (f->journal, FALSE);
  entries = replay_ok (f);
  g_assert_cmpuint (entries->len, ==, 2);
  assert_entry (entries, 0, MQ_JOURNAL_PUT, "new", "y");
  assert_entry (entries, 1, MQ_JOURNAL_PUT, "after", "z");
}

static void
test_discard (Fixture *f, gconstpointer data)
{
  journal_discard (f->journal);
  f->journal = NULL;
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
}

/* A journal left by a crash is emptied, not appended to, by a
 * journal_create of the same name. */
static void
test_create_empties (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;

  append_put (f->journal, "a", "1");
  write_ok (f->journal, FALSE);
  journal_free (f->journal);
  f->journal = journal_create (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (file_size (f->path), ==, MQ_JOURNAL_HEADER_SIZE);
  entries = replay_ok (f);
  g_assert_cmpuint (entries->len, ==, 0);
}

#define ADD(path, func) \
  g_test_add ("/journal/" path, Fixture, NULL, fixture_set_up, func, \
              fixture_tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/journal/crc32", test_crc32);
  ADD ("header-on-disk", test_header_on_disk);
  ADD ("entry-on-disk", test_entry_on_disk);
  ADD ("write-replay", test_write_replay);
  ADD ("key-bytes-kept", test_key_bytes_kept);
  ADD ("buffered-not-in-file", test_buffered_not_in_file);
  ADD ("torn-tail", test_torn_tail);
  ADD ("append-after-torn-tail", test_append_after_torn_tail);
  ADD ("bad-crc-ends-replay", test_bad_crc_ends_replay);
  ADD ("clean-mark", test_clean_mark);
  ADD ("pending", test_pending);
  ADD ("open-errors", test_open_errors);
  ADD ("open-missing", test_open_missing);
  ADD ("install", test_install);
  ADD ("discard", test_discard);
  ADD ("create-empties", test_create_empties);
  return g_test_run ();
}
