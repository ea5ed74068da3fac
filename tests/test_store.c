/* test_store.c: unit tests for daemon/store.c (the generations of GDBM
 * files) and daemon/datadir.c (the data directory and its files), on real
 * files in a temporary directory.
 *
 * A checkpoint is made as the daemon makes it (checkpoint.c, syncer.c):
 * store_finish, then a survey, then the sync thread's part (sync, rename,
 * sync the directory, dispose of what the survey retired), then
 * store_completed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "datadir.h"
#include "store.h"
#include "testdir.h"

typedef struct {
  char *tmp;
  char *path;                     /* tmp/data, the data directory */
  MqDataDir *dir;
  MqStore *store;
  guint64 writing;                /* the generation begun last */
} Fixture;

/* store_open on the directory as it is now, as a start looks at it. */
static MqStore *
store_open_listed (Fixture *f, GError **error)
{
  g_autoptr (GPtrArray) names = datadir_list (f->dir, error);

  return names != NULL ? store_open (f->dir, names, error) : NULL;
}

static void
open_store (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->store = store_open_listed (f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->store);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->tmp = testdir_make ("mqd-test-store-XXXXXX");
  f->path = g_build_filename (f->tmp, "data", NULL);
  f->dir = datadir_open (f->path, G_MAXUINT32, &error);
  g_assert_no_error (error);
  open_store (f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->store, store_close);
  g_clear_pointer (&f->dir, datadir_free);
  testdir_remove (f->tmp);
  g_free (f->path);
  g_free (f->tmp);
}

static void
reopen (Fixture *f)
{
  store_close (f->store);
  open_store (f);
}

/* ---- segments --------------------------------------------------------- */

/* The value of the segment of count messages from first, len payload bytes
 * each, every byte following from the sequence number and tag. */
static GByteArray *
segment_of (guint64 first, guint count, gsize len, guint8 tag)
{
  MqRun *run = run_new (first);
  GByteArray *value = g_byte_array_new ();
  g_autofree guint8 *payload = g_malloc (len + 1);

  for (guint64 seq = first; seq < first + count; seq++)
    {
      MqMsgHeader header = { .len = (guint32) len, .flags = tag };

      memset (payload, (int) (seq + tag), len);
      run_append (run, &header, payload);
    }
  g_assert_cmpuint (run_encode_segment (run, G_MAXSIZE, value), ==,
                    first + count);
  run_unref (run);
  return value;
}

static void
assert_segment (MqRun *run, guint64 first, guint count, gsize len,
                guint8 tag)
{
  g_autofree guint8 *want = g_malloc (len + 1);

  g_assert_nonnull (run);
  g_assert_cmpuint (run_first (run), ==, first);
  g_assert_cmpuint (run_end (run), ==, first + count);
  for (guint64 seq = first; seq < first + count; seq++)
    {
      MqMsgHeader header;
      const guint8 *payload;

      g_assert_true (run_find (run, seq, &header, &payload));
      g_assert_cmpuint (header.len, ==, len);
      g_assert_cmpuint (header.flags, ==, tag);
      memset (want, (int) (seq + tag), len);
      g_assert_cmpmem (payload, len, want, len);
    }
}

/* Segments are named "name/inc/first" in the tests. */
static void
parse_id (const char *id, char **name, guint64 *inc, guint64 *first)
{
  g_auto (GStrv) parts = g_strsplit (id, "/", 3);

  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  *name = g_strdup (parts[0]);
  *inc = g_ascii_strtoull (parts[1], NULL, 10);
  *first = g_ascii_strtoull (parts[2], NULL, 10);
}

static char *
segment_id (const char *name, gsize name_len, guint64 inc, guint64 first)
{
  return g_strdup_printf ("%.*s/%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                          (int) name_len, name, inc, first);
}

/* The segments ids ("a/1/1 a/1/11"), 10 messages of 100 bytes each, into
 * the generation being written; their bytes tell which one it is. */
static void
put (Fixture *f, const char *ids)
{
  g_auto (GStrv) list = g_strsplit (ids, " ", 0);

  for (guint i = 0; list[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GByteArray) value = NULL;
      g_autofree char *name = NULL;
      guint64 inc, first;

      parse_id (list[i], &name, &inc, &first);
      value = segment_of (first, 10, 100, (guint8) f->writing);
      g_assert_true (store_put_segment (f->store, name, strlen (name), inc,
                                        first, value, &error));
      g_assert_no_error (error);
    }
}

static MqRun *
fetch (Fixture *f, const char *id, guint64 *hint)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;
  guint64 inc, first;
  MqRun *run;

  parse_id (id, &name, &inc, &first);
  run = store_fetch (f->store, name, strlen (name), inc, first, hint,
                     &error);
  g_assert_no_error (error);
  return run;
}

/* Segment id is found, as it was put into generation gen. */
static void
assert_fetched (Fixture *f, const char *id, guint64 gen, guint64 *hint)
{
  g_autofree char *name = NULL;
  guint64 inc, first;
  MqRun *run = fetch (f, id, hint);

  parse_id (id, &name, &inc, &first);
  assert_segment (run, first, 10, 100, (guint8) gen);
  run_unref (run);
}

static void
assert_missing (Fixture *f, const char *id)
{
  guint64 hint = 0;

  g_assert_null (fetch (f, id, &hint));
  g_assert_cmpuint (hint, ==, 0);
}

/* ---- generations ------------------------------------------------------ */

static void
begin (Fixture *f, guint64 number)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (store_begin (f->store, number, NULL, &error));
  g_assert_no_error (error);
  f->writing = number;
}

static const guint8 instance[MQ_INSTANCE_ID_SIZE] = { 0xa0, 1, 2, 3, 4, 5,
  6, 7, 8, 9, 10, 11, 12, 13, 14, 0xaf };

/* The states (record_queue_encode, one after the other) put one at a time,
 * as queues_save does, then store_finish, the catalog saying queues of
 * them. */
static void
finish_with (Fixture *f, GByteArray *states, guint64 queues)
{
  MqCatalog catalog = { .next_inc = 1000, .queues = queues };
  g_autoptr (GError) error = NULL;
  int fd = -1;

  g_autoptr (GByteArray) chunk = g_byte_array_new ();
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (MqHeld));

  for (gsize at = 0, used; at < states->len; at += used)
    {
      MqQueueMeta meta;
      const guint8 *tail;
      const char *name;
      gsize name_len, tail_len;

      used = record_queue_decode (states->data + at, states->len - at, &name,
                                  &name_len, &meta, held, &tail, &tail_len);
      g_assert_cmpuint (used, >, 0);
      g_byte_array_append (chunk, states->data + at, used);
      g_assert_true (store_put_states (f->store, chunk, FALSE, &error));
    }
  g_assert_true (store_put_states (f->store, chunk, TRUE, &error));
  g_assert_cmpuint (chunk->len, ==, 0);
  memcpy (catalog.instance, instance, sizeof instance);
  g_assert_true (store_finish (f->store, &catalog, &fd, &error));
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fsync (fd), ==, 0);
}

static void
finish (Fixture *f)
{
  g_autoptr (GByteArray) states = g_byte_array_new ();

  finish_with (f, states, 0);
}

/* The sync thread's part of checkpoint number, and store_completed. */
static void
complete (Fixture *f, guint64 number, GPtrArray *retired)
{
  g_autofree char *part = store_part_name (number);
  g_autofree char *final = store_file_name (number);
  g_autoptr (GError) error = NULL;

  g_assert_true (datadir_rename (f->dir, part, final, &error));
  g_assert_true (datadir_sync (f->dir, &error));
  g_assert_no_error (error);
  while (retired != NULL && retired->len > 0)
    store_retired_dispose (g_ptr_array_steal_index (retired, 0),
                           datadir_fd (f->dir));
  store_completed (f->store, number);
}

/* Generation number holding the segments ids, completed. */
static void
generation (Fixture *f, guint64 number, const char *ids)
{
  begin (f, number);
  put (f, ids);
  finish (f);
  complete (f, number, NULL);
}

/* A whole round of counting, one step at a time; returns the steps. */
static guint
survey_steps (Fixture *f, MqStoreLiveFunc live, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  guint steps = 0;

  store_survey_start (f->store);
  for (; store_surveying (f->store); steps++)
    {
      g_assert_true (store_survey_step (f->store, live, user_data, 1,
                                        &error));
      g_assert_no_error (error);
    }
  return steps;
}

/* A whole round of counting, then what a checkpoint retires. */
static GPtrArray *
survey (Fixture *f, MqStoreLiveFunc live, gpointer user_data)
{
  survey_steps (f, live, user_data);
  return store_retire_dead (f->store, FALSE);
}

/* The names in the data directory, in one string. */
static char *
listing (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) names = datadir_list (f->dir, &error);

  g_assert_no_error (error);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static void
assert_listing (Fixture *f, const char *want)
{
  g_autofree char *got = listing (f);

  g_assert_cmpstr (got, ==, want);
}

/* The generations retired are exactly want, space-separated, in order. */
static void
assert_retired (GPtrArray *retired, const char *want)
{
  g_autoptr (GString) got = g_string_new (NULL);

  for (guint i = 0; i < retired->len; i++)
    g_string_append_printf (got, "%s%s", i > 0 ? " " : "",
                            ((MqStoreRetired *)
                             g_ptr_array_index (retired, i))->name);
  g_assert_cmpstr (got->str, ==, want);
}

/* Live: the segments whose ids are in the set user_data. */
static gboolean
live_below (const char *name, gsize name_len, guint64 inc, guint64 first,
            gpointer user_data)
{
  return first < *(const guint64 *) user_data;
}

static gboolean
live_in (const char *name, gsize name_len, guint64 inc, guint64 first,
         gpointer user_data)
{
  g_autofree char *id = segment_id (name, name_len, inc, first);

  return g_hash_table_contains (user_data, id);
}

static GHashTable *
live_set (const char *first_id, ...)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           NULL);
  va_list ids;

  va_start (ids, first_id);
  for (const char *id = first_id; id != NULL; id = va_arg (ids, const char *))
    g_hash_table_add (set, g_strdup (id));
  va_end (ids);
  return set;
}

static void
note_segment (const char *name, gsize name_len, guint64 inc, guint64 first,
              gpointer user_data)
{
  g_ptr_array_add (user_data, segment_id (name, name_len, inc, first));
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The segments store_scan_segments reports, sorted, in one string. */
static char *
scan (Fixture *f)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  g_assert_true (store_scan_segments (f->store, note_segment, ids, &error));
  g_assert_no_error (error);
  g_ptr_array_sort (ids, compare_strings);
  g_ptr_array_add (ids, NULL);
  return g_strjoinv (" ", (char **) ids->pdata);
}

static void
assert_scan (Fixture *f, const char *want)
{
  g_autofree char *got = scan (f);

  g_assert_cmpstr (got, ==, want);
}

/* ---- names and an empty directory ------------------------------------- */

static void
test_names (void)
{
  const struct {
    const char *name, *suffix;
    gboolean ok;
    guint64 number;
  } cases[] = {
    { "mqd-000001.gdbm", "gdbm", TRUE, 1 },
    { "mqd-1.gdbm", "gdbm", TRUE, 1 },
    { "mqd-1234567.gdbm.part", "gdbm.part", TRUE, 1234567 },
    { "mqd-000042.journal", "journal", TRUE, 42 },
    { "mqd-000001.gdbm.part", "gdbm", FALSE, 0 },
    { "mqd-000001.gdbm", "gdbm.part", FALSE, 0 },
    { "mqd-000000.gdbm", "gdbm", FALSE, 0 },
    { "mqd-.gdbm", "gdbm", FALSE, 0 },
    { "mqd-1x.gdbm", "gdbm", FALSE, 0 },
    { "mqd- 1.gdbm", "gdbm", FALSE, 0 },
    { "mqd-+1.gdbm", "gdbm", FALSE, 0 },
    { "mqd-1", "gdbm", FALSE, 0 },
    { "mqd.gdbm", "gdbm", FALSE, 0 },
    { "xmqd-1.gdbm", "gdbm", FALSE, 0 },
    { "mqd-1.gdbmx", "gdbm", FALSE, 0 },
    { "mqd.lock", "gdbm", FALSE, 0 },
  };
  g_autofree char *file = store_file_name (7);
  g_autofree char *part = store_part_name (1234567);

  g_assert_cmpstr (file, ==, "mqd-000007.gdbm");
  g_assert_cmpstr (part, ==, "mqd-1234567.gdbm.part");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint64 number = 0;

      g_assert_cmpint (store_parse_name (cases[i].name, cases[i].suffix,
                                         &number), ==, cases[i].ok);
      if (cases[i].ok)
        g_assert_cmpuint (number, ==, cases[i].number);
    }
}

/* A number too large for a generation's is not a name of mqd's (it was
 * once taken for G_MAXUINT64, and highest + 1 wrapped to 0). */
static void
test_names_overflow (void)
{
  guint64 number = 0;

  g_assert_false (store_parse_name ("mqd-18446744073709551616.gdbm", "gdbm",
                                    &number));
  g_assert_false (store_parse_name ("mqd-99999999999999999999999.journal",
                                    "journal", &number));
}

static void
test_open_empty (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  MqCatalog catalog;

  g_assert_cmpuint (store_newest (f->store), ==, 0);
  g_assert_cmpuint (store_highest (f->store), ==, 0);
  g_assert_false (store_holds_segments (f->store));
  g_assert_cmpuint (store_disk_bytes (f->store), ==, 0);
  g_assert_false (store_load (f->store, &catalog, NULL, NULL, &error));
  assert_scan (f, "");
  assert_listing (f, "mqd.lock");
  /* A generation begun and closed with nothing in it leaves nothing. */
  begin (f, 1);
  assert_listing (f, "mqd-000001.gdbm.part mqd.lock");
  g_assert_cmpuint (store_highest (f->store), ==, 1);
  g_assert_cmpuint (store_part_bytes (f->store), ==, 0);
  reopen (f);
  assert_listing (f, "mqd.lock");
}

/* ---- checkpoints and loading ------------------------------------------ */

/* What store_load called back, in order. */
typedef struct {
  GString *names;                 /* "a b c" */
  GArray *metas;                  /* MqQueueMeta */
  GPtrArray *helds;               /* GArray of MqHeld */
  GPtrArray *tails;               /* GBytes */
  const char *refuse;             /* the callback fails on this queue */
} Loaded;

static gboolean
note_queue (const char *name, gsize name_len, const MqQueueMeta *meta,
            GArray *held, const guint8 *tail, gsize tail_len,
            gpointer user_data, GError **error)
{
  Loaded *loaded = user_data;
  GArray *copy = g_array_sized_new (FALSE, FALSE, sizeof (MqHeld),
                                    held->len);

  g_ptr_array_add (loaded->tails, g_bytes_new (tail, tail_len));
  if (loaded->metas->len > 0)
    g_string_append_c (loaded->names, ' ');
  g_string_append_len (loaded->names, name, (gssize) name_len);
  g_array_append_val (loaded->metas, *meta);
  g_array_append_vals (copy, held->data, held->len);
  g_ptr_array_add (loaded->helds, copy);
  if (g_strcmp0 (loaded->refuse, name) != 0)
    return TRUE;
  g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_STATE, "refused %s",
               name);
  return FALSE;
}

static void
loaded_clear (Loaded *loaded)
{
  if (loaded->names != NULL)
    g_string_free (loaded->names, TRUE);
  g_clear_pointer (&loaded->metas, g_array_unref);
  g_clear_pointer (&loaded->helds, g_ptr_array_unref);
  g_clear_pointer (&loaded->tails, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Loaded, loaded_clear)

static gboolean
load (Fixture *f, MqCatalog *catalog, Loaded *loaded, GError **error)
{
  loaded->names = g_string_new (NULL);
  loaded->metas = g_array_new (FALSE, FALSE, sizeof (MqQueueMeta));
  loaded->helds = g_ptr_array_new_with_free_func (
    (GDestroyNotify) g_array_unref);
  loaded->tails = g_ptr_array_new_with_free_func (
    (GDestroyNotify) g_bytes_unref);
  return store_load (f->store, catalog, note_queue, loaded, error);
}

static void
assert_meta (Loaded *loaded, guint i, const MqQueueMeta *want)
{
  const MqQueueMeta *got = &g_array_index (loaded->metas, MqQueueMeta, i);

  g_assert_cmpmem (got, sizeof *got, want, sizeof *want);
}

static const MqQueueMeta meta_a = { .inc = 1, .head = 5, .tail = 31,
  .head_seg = 1, .enqueued = 30, .dequeued = 4, .bytes = 2600, .expired = 1,
  .discarded = 2 };
static const MqQueueMeta meta_b = { .inc = 2, .head = 1, .tail = 11,
  .head_seg = 1 };
static const MqQueueMeta meta_c = { .inc = 3, .head = 1, .tail = 1 };
static const MqHeld held_a[] = { { 3, 1, 100, 0, TRUE },
  { 4, 1, 100, 2, FALSE } };

static void
assert_tail (Loaded *loaded, guint i, const char *want)
{
  GBytes *got = g_ptr_array_index (loaded->tails, i);

  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got),
                   want, strlen (want));
}

/* A generation finished with its catalog and queue states (a young tail
 * with them), then read back after a restart. */
static void
test_checkpoint_reopen (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) states = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_auto (Loaded) loaded = { 0 };
  MqCatalog catalog = { 0 };
  GArray *held;
  guint64 hint = 0;

  begin (f, 1);
  put (f, "a/1/1 a/1/11 a/1/21 b/2/1");
  g_assert_true (store_holds_segments (f->store));
  /* Keys and values of four segments of ten 100-byte messages. */
  g_assert_cmpuint (store_part_bytes (f->store), ==,
                    4 * (18 + MQ_SEGMENT_HEADER_SIZE
                         + 10 * (MQ_MSG_HEADER_SIZE + 100)));
  record_queue_encode (states, "a", 1, &meta_a, held_a, 2, NULL, 0);
  record_queue_encode (states, "b", 1, &meta_b, NULL, 0,
                       (const guint8 *) "tail of b", 9);
  record_queue_encode (states, "c", 1, &meta_c, NULL, 0, NULL, 0);
  finish_with (f, states, 3);
  g_assert_cmpuint (store_newest (f->store), ==, 0);
  complete (f, 1, NULL);
  g_assert_cmpuint (store_newest (f->store), ==, 1);
  assert_listing (f, "mqd-000001.gdbm mqd.lock");

  reopen (f);
  g_assert_cmpuint (store_newest (f->store), ==, 1);
  g_assert_cmpuint (store_highest (f->store), ==, 1);
  g_assert_true (store_holds_segments (f->store));
  g_assert_cmpuint (store_disk_bytes (f->store), >,
                    4 * (MQ_SEGMENT_HEADER_SIZE
                         + 10 * (MQ_MSG_HEADER_SIZE + 100)));
  g_assert_true (load (f, &catalog, &loaded, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (catalog.generation, ==, 1);
  g_assert_cmpuint (catalog.next_inc, ==, 1000);
  g_assert_cmpuint (catalog.meta_chunks, ==, 1);
  g_assert_cmpuint (catalog.queues, ==, 3);
  g_assert_cmpmem (catalog.instance, MQ_INSTANCE_ID_SIZE, instance,
                   MQ_INSTANCE_ID_SIZE);
  g_assert_cmpstr (loaded.names->str, ==, "a b c");
  assert_meta (&loaded, 0, &meta_a);
  assert_meta (&loaded, 1, &meta_b);
  assert_meta (&loaded, 2, &meta_c);
  assert_tail (&loaded, 0, "");
  assert_tail (&loaded, 1, "tail of b");
  assert_tail (&loaded, 2, "");
  held = g_ptr_array_index (loaded.helds, 0);
  g_assert_cmpuint (held->len, ==, G_N_ELEMENTS (held_a));
  for (guint i = 0; i < held->len; i++)
    {
      const MqHeld *h = &g_array_index (held, MqHeld, i);

      g_assert_cmpuint (h->seq, ==, held_a[i].seq);
      g_assert_cmpuint (h->seg_start, ==, held_a[i].seg_start);
      g_assert_cmpuint (h->len, ==, held_a[i].len);
      g_assert_cmpuint (h->deliveries, ==, held_a[i].deliveries);
      g_assert_cmpint (h->open, ==, held_a[i].open);
    }
  g_assert_cmpuint (((GArray *) g_ptr_array_index (loaded.helds, 1))->len,
                    ==, 0);
  assert_fetched (f, "a/1/21", 1, &hint);
  g_assert_cmpuint (hint, ==, 1);
  assert_fetched (f, "b/2/1", 1, &hint);
}

/* Queue states past one 64 KiB chunk are split between queues; every one
 * is called back, in order. */
static void
test_load_many_chunks (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) states = g_byte_array_new ();
  g_autoptr (GString) want = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_auto (Loaded) loaded = { 0 };
  MqCatalog catalog = { 0 };

  begin (f, 1);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *name = g_strdup_printf ("%0200u", i);
      MqQueueMeta meta = { .inc = i + 1, .head = 1, .tail = 1 };

      record_queue_encode (states, name, 200, &meta, NULL, 0, NULL, 0);
      g_string_append_printf (want, "%s%s", i > 0 ? " " : "", name);
    }
  finish_with (f, states, 1000);
  complete (f, 1, NULL);
  reopen (f);
  g_assert_true (load (f, &catalog, &loaded, &error));
  g_assert_no_error (error);
  /* 282 bytes a state: chunks of 233 (65,706 bytes), 4 of them and 68. */
  g_assert_cmpuint (catalog.meta_chunks, ==, 5);
  g_assert_cmpuint (loaded.metas->len, ==, 1000);
  g_assert_cmpstr (loaded.names->str, ==, want->str);
  g_assert_cmpuint (g_array_index (loaded.metas, MqQueueMeta, 999).inc, ==,
                    1000);
}

/* A generation written before young tails were carried over: its states
 * (version 1, no tail's length) load as states without a tail. */
static void
test_load_version_1 (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) states = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_auto (Loaded) loaded = { 0 };
  MqCatalog catalog = { 0 };

  begin (f, 1);
  record_queue_encode (states, "a", 1, &meta_a, held_a, 2, NULL, 0);
  g_byte_array_set_size (states, states->len - 4);
  states->data[0] = 1;
  finish_with (f, states, 1);
  complete (f, 1, NULL);
  reopen (f);
  g_assert_true (load (f, &catalog, &loaded, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (loaded.names->str, ==, "a");
  assert_meta (&loaded, 0, &meta_a);
  g_assert_cmpuint (((GArray *) g_ptr_array_index (loaded.helds, 0))->len,
                    ==, 2);
  assert_tail (&loaded, 0, "");
}

/* ---- fetching --------------------------------------------------------- */

/* Newest generation first, the hint tried first and set; the generation
 * being written too; a key held nowhere is no error. */
static void
test_fetch (Fixture *f, gconstpointer data)
{
  guint64 hint = 0;

  generation (f, 1, "a/1/1 a/1/11");
  /* a/1/11 again: a copy, as evacuation makes. */
  generation (f, 2, "a/1/21 a/1/11");
  reopen (f);
  assert_fetched (f, "a/1/1", 1, &hint);
  g_assert_cmpuint (hint, ==, 1);
  assert_fetched (f, "a/1/21", 2, &hint);
  g_assert_cmpuint (hint, ==, 2);
  hint = 0;
  assert_fetched (f, "a/1/11", 2, &hint);
  g_assert_cmpuint (hint, ==, 2);
  hint = 1;
  assert_fetched (f, "a/1/11", 1, &hint);
  g_assert_cmpuint (hint, ==, 1);
  hint = 99;
  assert_fetched (f, "a/1/1", 1, &hint);
  g_assert_cmpuint (hint, ==, 1);
  assert_missing (f, "a/1/31");
  assert_missing (f, "a/1/2");
  assert_missing (f, "a/2/1");
  assert_missing (f, "b/1/1");

  begin (f, 3);
  put (f, "a/1/31");
  assert_fetched (f, "a/1/31", 3, &hint);
  g_assert_cmpuint (hint, ==, 3);
}

static void
put_value (Fixture *f, guint64 first, const guint8 *value, gsize len)
{
  g_autoptr (GByteArray) copy = g_byte_array_new ();
  g_autoptr (GError) error = NULL;

  g_byte_array_append (copy, value, (guint) len);
  g_assert_true (store_put_segment (f->store, "d", 1, 1, first, copy,
                                    &error));
  g_assert_no_error (error);
}

static void
assert_fetch_fails (Fixture *f, guint64 first, const char *file,
                    const char *why)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *want = g_strdup_printf ("%s/%s: damaged segment: %s",
                                           f->path, file, why);
  guint64 hint = 0;

  g_assert_null (store_fetch (f->store, "d", 1, 1, first, &hint, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, want);
}

/* A damaged value is refused with an error that names its file, in the
 * generation being written and in a complete one. */
static void
test_fetch_damaged (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) value = segment_of (1, 10, 100, 0);

  begin (f, 1);
  value->data[MQ_SEGMENT_HEADER_SIZE + 500] ^= 4;
  put_value (f, 1, value->data, value->len);
  put_value (f, 11, value->data, 10);
  assert_fetch_fails (f, 1, "mqd-000001.gdbm.part", "checksum mismatch");
  finish (f);
  complete (f, 1, NULL);
  reopen (f);
  assert_fetch_fails (f, 1, "mqd-000001.gdbm", "checksum mismatch");
  assert_fetch_fails (f, 11, "mqd-000001.gdbm", "unknown header");
}

/* A segment must start where its key says: the CRC covers the records,
 * not the header, so a value whose header names another first message (a
 * bit flipped in it, a value stored under the wrong key) would otherwise
 * serve another message's record for a sequence number. */
static void
test_fetch_first_mismatch (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) value = segment_of (1, 10, 100, 0);
  g_autoptr (GError) error = NULL;
  guint64 hint = 0;
  MqRun *run;

  begin (f, 1);
  record_put_be (value->data + 8, 2, 8);
  put_value (f, 1, value->data, value->len);
  run = store_fetch (f->store, "d", 1, 1, 1, &hint, &error);
  if (run != NULL)
    g_test_message ("asked for the segment from 1, got one from %"
                    G_GUINT64_FORMAT, run_first (run));
  g_clear_pointer (&run, run_unref);
  g_assert_nonnull (error);
}

/* ---- unfinished and foreign files ------------------------------------- */

/* A generation being written when the daemon died is thrown away. */
static void
test_part_removed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_auto (Loaded) loaded = { 0 };
  MqCatalog catalog;

  generation (f, 1, "a/1/1 a/1/11");
  begin (f, 2);
  put (f, "a/1/21");
  store_close (f->store);
  f->store = NULL;
  assert_listing (f, "mqd-000001.gdbm mqd-000002.gdbm.part mqd.lock");
  open_store (f);
  assert_listing (f, "mqd-000001.gdbm mqd.lock");
  g_assert_cmpuint (store_newest (f->store), ==, 1);
  g_assert_cmpuint (store_highest (f->store), ==, 2);
  assert_missing (f, "a/1/21");
  assert_fetched (f, "a/1/11", 1, &(guint64) { 0 });
  g_assert_true (load (f, &catalog, &loaded, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (catalog.generation, ==, 1);
}

/* A file named like a generation that is no GDBM file stops the open;
 * its error names it, and it is left as it was.  (An empty one gets
 * MQ_STORE_ERROR_FAILED: GDBM_EMPTY_DATABASE is not among the codes
 * store_error_code calls damage.) */
static void
test_foreign_file (Fixture *f, gconstpointer data)
{
  static const char text[] = "not a generation\n";
  g_autofree char *zeros = g_malloc0 (8192);
  const struct {
    const char *data;
    gsize len;
    MqStoreError code;
  } files[] = { { text, sizeof text - 1, MQ_STORE_ERROR_CORRUPT },
    { zeros, 8192, MQ_STORE_ERROR_CORRUPT },
    { "", 0, MQ_STORE_ERROR_FAILED } };
  g_autofree char *prefix = g_strdup_printf ("cannot open %s/mqd-000002.gdbm"
                                             ": ", f->path);

  generation (f, 1, "a/1/1 a/1/11");
  store_close (f->store);
  f->store = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) after = NULL;
      guint fds = testdir_count_fds ();

      testdir_write (f->path, "mqd-000002.gdbm", files[i].data,
                     files[i].len);
      g_assert_null (store_open_listed (f, &error));
      g_assert_error (error, MQ_STORE_ERROR, (gint) files[i].code);
      g_assert_true (g_str_has_prefix (error->message, prefix));
      g_test_message ("%s", error->message);
      g_assert_cmpuint (testdir_count_fds (), ==, fds);
      after = testdir_read (f->path, "mqd-000002.gdbm");
      g_assert_cmpmem (g_bytes_get_data (after, NULL),
                       g_bytes_get_size (after), files[i].data, files[i].len);
    }
  assert_listing (f, "mqd-000001.gdbm mqd-000002.gdbm mqd.lock");
}

/* Replaces key's value in the generation file name (the store closed). */
static void
gdbm_replace (Fixture *f, const char *name, const void *key, gsize key_len,
              const void *value, gsize len)
{
  g_autofree char *path = g_build_filename (f->path, name, NULL);
  GDBM_FILE dbf = gdbm_open (path, 0, GDBM_WRCREAT | GDBM_NOLOCK, 0600,
                             NULL);
  datum k = { (char *) key, (int) key_len };
  datum v = { (char *) value, (int) len };

  g_assert_nonnull (dbf);
  g_assert_cmpint (gdbm_store (dbf, k, v, GDBM_REPLACE), ==, 0);
  g_assert_cmpint (gdbm_close (dbf), ==, 0);
}

/* The load fails with why; refuse names a queue the callback fails on. */
static void
assert_load_fails (Fixture *f, const char *why, const char *refuse)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *want = g_strdup_printf ("%s/%s", f->path, why);
  g_auto (Loaded) loaded = { .refuse = refuse };
  MqCatalog catalog;

  reopen (f);
  g_assert_false (load (f, &catalog, &loaded, &error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_STATE);
  g_assert_cmpstr (error->message, ==, want);
}

/* GDBM files that are not whole generations: no catalog, the catalog of
 * another generation (a file copied or renamed), damaged queue states (by
 * their layout, or by what the callback found in them). */
static void
test_lost_state (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) states = g_byte_array_new ();
  g_autoptr (GBytes) one = NULL;

  begin (f, 1);
  record_queue_encode (states, "a", 1, &meta_a, held_a, 2, NULL, 0);
  finish_with (f, states, 1);
  complete (f, 1, NULL);
  one = testdir_read (f->path, "mqd-000001.gdbm");

  assert_load_fails (f, "mqd-000001.gdbm: queue states (part 0): refused a",
                     "a");
  gdbm_replace (f, "mqd-000001.gdbm", "\0M\0\0\0\0", 6, "\1\1a", 3);
  assert_load_fails (f, "mqd-000001.gdbm: queue states (part 0) missing "
                     "or damaged", NULL);
  gdbm_replace (f, "mqd-000001.gdbm", "\0C", 2, "\1", 1);
  assert_load_fails (f, "mqd-000001.gdbm has no catalog: not a generation "
                     "of mqd's", NULL);
  testdir_write (f->path, "mqd-000003.gdbm", g_bytes_get_data (one, NULL),
                 g_bytes_get_size (one));
  assert_load_fails (f, "mqd-000003.gdbm has no catalog: not a generation "
                     "of mqd's", NULL);
}

/* ---- reclaiming space ------------------------------------------------- */

/* A generation with no live segment is retired, one with a live segment
 * kept; the retired file is removed once the next checkpoint is durable. */
static void
test_survey (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) live = live_set ("b/2/1", "c/3/1", NULL);
  g_autoptr (GPtrArray) retired = NULL;
  MqStoreRetired *gone;

  generation (f, 1, "a/1/1 a/1/11");
  generation (f, 2, "b/2/1");
  generation (f, 3, "c/3/1 c/3/11");
  reopen (f);
  begin (f, 4);
  finish (f);
  retired = survey (f, live_in, live);
  g_assert_cmpuint (retired->len, ==, 1);
  gone = g_ptr_array_index (retired, 0);
  g_assert_cmpstr (gone->name, ==, "mqd-000001.gdbm");
  assert_listing (f, "mqd-000001.gdbm mqd-000002.gdbm mqd-000003.gdbm "
                  "mqd-000004.gdbm.part mqd.lock");
  complete (f, 4, retired);
  assert_listing (f, "mqd-000002.gdbm mqd-000003.gdbm mqd-000004.gdbm "
                  "mqd.lock");
  assert_missing (f, "a/1/1");
  assert_fetched (f, "b/2/1", 2, &(guint64) { 0 });
  assert_fetched (f, "c/3/11", 3, &(guint64) { 0 });
  g_assert_cmpuint (store_newest (f->store), ==, 4);

  /* b's last segment dies: generation 2 goes at the next checkpoint. */
  g_hash_table_remove (live, "b/2/1");
  g_clear_pointer (&retired, g_ptr_array_unref);
  begin (f, 5);
  finish (f);
  retired = survey (f, live_in, live);
  assert_retired (retired, "mqd-000002.gdbm mqd-000004.gdbm");
  complete (f, 5, retired);
  assert_listing (f, "mqd-000003.gdbm mqd-000005.gdbm mqd.lock");
}

/* Five segments, of which the tests keep two or one live. */
static const char evacuee[] = "x/1/1 x/1/11 x/1/21 x/1/31 x/1/41";

/* A generation mostly dead is picked; its live segments, and only those,
 * are copied into the generation being written, within the budget; the
 * next survey retires it. */
static void
test_evacuate (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) live = live_set ("x/1/11", "x/1/31", "b/2/1", NULL);
  g_autoptr (GPtrArray) retired = NULL;
  g_autoptr (GError) error = NULL;
  gsize one = 18 + MQ_SEGMENT_HEADER_SIZE + 10 * (MQ_MSG_HEADER_SIZE + 100);
  guint64 hint = 1;

  generation (f, 1, evacuee);
  generation (f, 2, "b/2/1");
  begin (f, 3);
  finish (f);
  retired = survey (f, live_in, live);
  g_assert_cmpuint (retired->len, ==, 0);
  complete (f, 3, retired);
  /* Nothing to copy into while no generation is being written. */
  g_assert_true (store_evacuate (f->store, live_in, live, G_MAXSIZE,
                                 &error));
  begin (f, 4);
  g_assert_cmpuint (store_part_bytes (f->store), ==, 0);
  /* A budget of one byte copies one segment a call. */
  g_assert_true (store_evacuate (f->store, live_in, live, 1, &error));
  g_assert_cmpuint (store_part_bytes (f->store), ==, one);
  g_assert_true (store_evacuate (f->store, live_in, live, G_MAXSIZE,
                                 &error));
  g_assert_no_error (error);
  g_assert_cmpuint (store_part_bytes (f->store), ==, 2 * one);
  finish (f);
  g_clear_pointer (&retired, g_ptr_array_unref);
  retired = survey (f, live_in, live);
  /* Generation 3 goes too: it holds no segment at all. */
  assert_retired (retired, "mqd-000001.gdbm mqd-000003.gdbm");
  complete (f, 4, retired);
  assert_listing (f, "mqd-000002.gdbm mqd-000004.gdbm mqd.lock");
  assert_fetched (f, "x/1/11", 1, &hint);
  g_assert_cmpuint (hint, ==, 4);
  assert_fetched (f, "x/1/31", 1, &hint);
  assert_missing (f, "x/1/1");
  assert_missing (f, "x/1/21");
  assert_scan (f, "b/2/1 x/1/11 x/1/31");
  reopen (f);
  assert_scan (f, "b/2/1 x/1/11 x/1/31");
}

/* Every segment key of every generation, and no other key. */
static void
test_scan_segments (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) states = g_byte_array_new ();

  generation (f, 1, "jobs/7/1 jobs/7/11 \xc3\xa9t\xc3\xa9/1/1");
  begin (f, 2);
  put (f, "jobs/8/1 jobs/7/11");
  record_queue_encode (states, "jobs", 4, &meta_a, held_a, 2, NULL, 0);
  finish_with (f, states, 1);
  complete (f, 2, NULL);
  reopen (f);
  assert_scan (f, "jobs/7/1 jobs/7/11 jobs/7/11 jobs/8/1 "
               "\xc3\xa9t\xc3\xa9/1/1");
}

/* Whether any generation still holds a segment. */
static void
test_holds_segments (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) none = live_set (NULL);
  g_autoptr (GPtrArray) retired = NULL;

  g_assert_false (store_holds_segments (f->store));
  begin (f, 1);
  g_assert_false (store_holds_segments (f->store));
  put (f, "a/1/1");
  g_assert_true (store_holds_segments (f->store));
  finish (f);
  complete (f, 1, NULL);
  reopen (f);
  g_assert_true (store_holds_segments (f->store));
  begin (f, 2);
  finish (f);
  retired = survey (f, live_in, none);
  g_assert_cmpuint (retired->len, ==, 1);
  complete (f, 2, retired);
  g_assert_false (store_holds_segments (f->store));
  reopen (f);
  /* Not counted yet after a start: generation 2 may hold segments. */
  g_assert_true (store_holds_segments (f->store));
  begin (f, 3);
  finish (f);
  g_clear_pointer (&retired, g_ptr_array_unref);
  retired = survey (f, live_in, none);
  g_assert_cmpuint (retired->len, ==, 1);
  g_assert_false (store_holds_segments (f->store));
  complete (f, 3, retired);
}

/* Segments copied out of an evacuated generation are counted in the one
 * they go to: once the survey retires the old one, store_holds_segments
 * still says TRUE while generation 3 holds a live copy. */
static void
test_holds_evacuated (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) live = live_set ("x/1/11", NULL);
  g_autoptr (GPtrArray) retired = NULL;
  g_autoptr (GError) error = NULL;

  generation (f, 1, evacuee);
  begin (f, 2);
  finish (f);
  retired = survey (f, live_in, live);
  complete (f, 2, retired);
  begin (f, 3);
  g_assert_true (store_evacuate (f->store, live_in, live, G_MAXSIZE,
                                 &error));
  finish (f);
  g_clear_pointer (&retired, g_ptr_array_unref);
  retired = survey (f, live_in, live);
  g_assert_cmpuint (retired->len, ==, 2);
  complete (f, 3, retired);
  assert_fetched (f, "x/1/11", 1, &(guint64) { 0 });
  g_assert_true (store_holds_segments (f->store));
}

/* A generation's keys are read from its file by its first count only, a
 * key (and its segment) a step; the rounds after it count the live keys
 * from a list, 64 a step, and one written since the start has its list
 * from the writing.  A round: a step to begin each generation, its keys,
 * a step to end it, and one that finds no more. */
static void
test_survey_key_list (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) ids = g_string_new (NULL);
  guint64 below = G_MAXUINT64;

  for (guint i = 0; i < 100; i++)
    g_string_append_printf (ids, "%sa/1/%u", i > 0 ? " " : "", 1 + 10 * i);
  generation (f, 1, ids->str);
  g_assert_cmpuint (survey_steps (f, live_below, &below), ==, 1 + 2 + 2);
  reopen (f);
  /* The 100 segments' keys and the catalog's. */
  g_assert_cmpuint (survey_steps (f, live_below, &below), ==, 1 + 101 + 2);
  g_assert_cmpuint (survey_steps (f, live_below, &below), ==, 1 + 2 + 2);
  /* 60 live: the dead ones leave the list (40 % dead: not evacuated). */
  below = 601;
  g_assert_cmpuint (survey_steps (f, live_below, &below), ==, 1 + 2 + 2);
  g_assert_cmpuint (survey_steps (f, live_below, &below), ==, 1 + 1 + 2);
}

/* Counting goes a few keys a step: a generation is retired only once a
 * count that ended found it dead, one just completed counts as all live,
 * and a checkpoint with no segment needed retires every complete one. */
static void
test_survey_steps (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) none = live_set (NULL);
  g_autoptr (GPtrArray) retired = NULL;
  g_autoptr (GError) error = NULL;

  generation (f, 1, "a/1/1 a/1/11 a/1/21");
  generation (f, 2, "b/2/1");
  reopen (f);
  begin (f, 3);
  finish (f);
  store_survey_start (f->store);
  /* Begin generation 1, read two of its four keys (three segments and
   * the catalog): not counted yet. */
  g_assert_true (store_survey_step (f->store, live_in, none, 3, &error));
  retired = store_retire_dead (f->store, FALSE);
  g_assert_cmpuint (retired->len, ==, 0);
  complete (f, 3, retired);
  /* Starting again does not restart a round under way. */
  store_survey_start (f->store);
  g_assert_true (store_survey_step (f->store, live_in, none, 3, &error));
  g_assert_true (store_surveying (f->store));
  begin (f, 4);
  finish (f);
  g_clear_pointer (&retired, g_ptr_array_unref);
  retired = store_retire_dead (f->store, FALSE);
  /* Generation 1 counted dead; 3 holds none; 2 is not counted yet. */
  assert_retired (retired, "mqd-000001.gdbm mqd-000003.gdbm");
  complete (f, 4, retired);
  /* Generation 5 is written with a segment: all live until counted. */
  begin (f, 5);
  put (f, "c/3/1");
  finish (f);
  complete (f, 5, NULL);
  begin (f, 6);
  finish (f);
  g_clear_pointer (&retired, g_ptr_array_unref);
  retired = store_retire_dead (f->store, FALSE);
  assert_retired (retired, "mqd-000004.gdbm");
  complete (f, 6, retired);
  assert_listing (f, "mqd-000002.gdbm mqd-000005.gdbm mqd-000006.gdbm "
                  "mqd.lock");
  /* The round was counting generation 2: retiring it mid-count is safe. */
  g_assert_true (store_survey_step (f->store, live_in, none, 1, &error));
  begin (f, 7);
  finish (f);
  g_clear_pointer (&retired, g_ptr_array_unref);
  retired = store_retire_dead (f->store, TRUE);
  g_assert_cmpuint (retired->len, ==, 3);
  complete (f, 7, retired);
  assert_listing (f, "mqd-000007.gdbm mqd.lock");
  while (store_surveying (f->store))
    g_assert_true (store_survey_step (f->store, live_in, none, 1, &error));
  g_assert_no_error (error);
  g_assert_false (store_holds_segments (f->store));
}

/* ---- the data directory ----------------------------------------------- */

static MqDataDir *
datadir_ok (const char *path, guint32 owner_uid)
{
  g_autoptr (GError) error = NULL;
  MqDataDir *dir = datadir_open (path, owner_uid, &error);

  g_assert_no_error (error);
  g_assert_nonnull (dir);
  return dir;
}

static void
assert_mode (const char *path, mode_t want)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, want);
}

/* A missing directory is made, parents too, mode 0700 whatever the
 * umask; the lock file is made 0600. */
static void
test_datadir_makes_missing (Fixture *f, gconstpointer data)
{
  g_autofree char *parent = g_build_filename (f->tmp, "new", NULL);
  g_autofree char *path = g_build_filename (parent, "data", NULL);
  g_autofree char *lock = g_build_filename (path, MQ_LOCK_FILE, NULL);
  mode_t umask_was = umask (0);
  MqDataDir *dir = datadir_ok (path, G_MAXUINT32);

  umask (umask_was);
  g_assert_cmpstr (datadir_path (dir), ==, path);
  g_assert_cmpint (datadir_fd (dir), >=, 0);
  g_assert_cmpint (datadir_lock_fd (dir), >=, 0);
  assert_mode (parent, 0700);
  assert_mode (path, 0700);
  assert_mode (lock, 0600);
  datadir_free (dir);
}

/* A directory others may write to is refused, and nothing is made in it. */
static void
test_datadir_writable (Fixture *f, gconstpointer data)
{
  const mode_t refused[] = { 0770, 0720, 0702, 0777, 01777, 0722 };
  g_autofree char *path = g_build_filename (f->tmp, "w", NULL);
  guint fds = testdir_count_fds ();

  g_assert_cmpint (mkdir (path, 0700), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *want = g_strdup_printf ("data directory %s is "
        "writable by its group or by others (mode %04o): anyone who can "
        "write there could make the daemon overwrite or hand out other "
        "files; chmod go-w it", path, (guint) refused[i]);

      g_assert_cmpint (chmod (path, refused[i]), ==, 0);
      g_assert_null (datadir_open (path, G_MAXUINT32, &error));
      g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_UNSAFE);
      g_assert_cmpstr (error->message, ==, want);
      g_assert_cmpuint (testdir_count_fds (), ==, fds);
    }
  g_assert_cmpint (chmod (path, 0755), ==, 0);
  datadir_free (datadir_ok (path, G_MAXUINT32));
  g_assert_cmpint (chmod (path, 0700), ==, 0);
}

/* A directory that belongs to another user is refused unless it is -u's
 * (owner_uid); one of the daemon's user is taken whatever owner_uid is. */
static void
test_datadir_other_owner (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->tmp, "theirs", NULL);
  g_autofree char *want = g_strdup_printf ("data directory %s belongs to uid "
                                           "65534, not to the daemon's user: "
                                           "refusing to use it", path);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (mkdir (path, 0700), ==, 0);
  datadir_free (datadir_ok (path, 65534));
  if (geteuid () != 0)
    {
      g_test_message ("a directory owned by another user can only be made "
                      "by root: that case needs root and is not run here");
      return;
    }
  g_assert_cmpint (chown (path, 65534, 65534), ==, 0);
  g_assert_null (datadir_open (path, G_MAXUINT32, &error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_UNSAFE);
  g_assert_cmpstr (error->message, ==, want);
  datadir_free (datadir_ok (path, 65534));
}

/* One daemon per directory: a second open fails while the first holds it,
 * and succeeds once it is let go. */
static void
test_datadir_locked (Fixture *f, gconstpointer data)
{
  g_autofree char *want = g_strdup_printf ("%s is in use by another process "
                                           "(is another mqd running on it?)",
                                           f->path);
  g_autoptr (GError) error = NULL;
  guint fds = testdir_count_fds ();

  g_assert_null (datadir_open (f->path, G_MAXUINT32, &error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_LOCKED);
  g_assert_cmpstr (error->message, ==, want);
  g_assert_cmpuint (testdir_count_fds (), ==, fds);
  g_clear_pointer (&f->store, store_close);
  g_clear_pointer (&f->dir, datadir_free);
  f->dir = datadir_ok (f->path, G_MAXUINT32);
}

static void
assert_open_refused (Fixture *f, const char *name, int flags, GQuark domain,
                     gint code, const char *message)
{
  g_autoptr (GError) error = NULL;
  guint fds = testdir_count_fds ();

  g_assert_cmpint (file_open (datadir_fd (f->dir), name, flags, &error), ==,
                   -1);
  g_assert_error (error, domain, code);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_cmpuint (testdir_count_fds (), ==, fds);
}

/* file_open: regular files only, never through a link. */
static void
test_file_open (Fixture *f, gconstpointer data)
{
  g_autofree char *target = g_build_filename (f->tmp, "elsewhere", NULL);
  g_autofree char *socket_path = g_build_filename (f->path, "sock", NULL);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int dirfd = datadir_fd (f->dir), fd, sock;
  g_autoptr (GError) error = NULL;

  testdir_write (f->path, "file", "x", 1);
  testdir_write (f->tmp, "elsewhere", "y", 1);
  fd = file_open (dirfd, "file", O_RDONLY, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fcntl (fd, F_GETFD), ==, FD_CLOEXEC);
  g_assert_cmpint (close (fd), ==, 0);

  g_assert_cmpint (symlinkat ("file", dirfd, "link"), ==, 0);
  g_assert_cmpint (symlinkat (target, dirfd, "out"), ==, 0);
  assert_open_refused (f, "link", O_RDONLY, G_FILE_ERROR, G_FILE_ERROR_LOOP,
                       "cannot open link: it is a symbolic link, and mqd "
                       "follows none in its data directory");
  assert_open_refused (f, "out", O_RDWR, G_FILE_ERROR, G_FILE_ERROR_LOOP,
                       "cannot open out: it is a symbolic link, and mqd "
                       "follows none in its data directory");
  g_assert_cmpint (mkdirat (dirfd, "sub", 0700), ==, 0);
  assert_open_refused (f, "sub", O_RDONLY, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       "sub is not a regular file");
  assert_open_refused (f, "sub", O_RDWR, G_FILE_ERROR, G_FILE_ERROR_ISDIR,
                       "cannot open sub: Is a directory");
  g_assert_cmpint (mkfifoat (dirfd, "fifo", 0600), ==, 0);
  assert_open_refused (f, "fifo", O_RDWR, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       "fifo is not a regular file");
  sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_strlcpy (addr.sun_path, socket_path, sizeof addr.sun_path);
  g_assert_cmpint (bind (sock, (struct sockaddr *) &addr, sizeof addr), ==,
                   0);
  assert_open_refused (f, "sock", O_RDONLY, G_FILE_ERROR, G_FILE_ERROR_NXIO,
                       "cannot open sock: No such device or address");
  g_assert_cmpint (close (sock), ==, 0);
  assert_open_refused (f, "missing", O_RDONLY, G_FILE_ERROR,
                       G_FILE_ERROR_NOENT,
                       "cannot open missing: No such file or directory");
}

/* A FIFO named like a generation is refused, not waited on: opened for
 * reading without O_NONBLOCK it would block the start until a writer came.
 * Run in a child that is given 5 s. */
static void
test_file_open_fifo (Fixture *f, gconstpointer data)
{
  if (g_test_subprocess ())
    {
      g_assert_cmpint (mkfifoat (datadir_fd (f->dir), "fifo", 0600), ==, 0);
      assert_open_refused (f, "fifo", O_RDONLY, G_FILE_ERROR,
                           G_FILE_ERROR_INVAL, "fifo is not a regular file");
      return;
    }
  g_test_trap_subprocess (NULL, 5 * G_USEC_PER_SEC, 0);
  g_assert_false (g_test_trap_reached_timeout ());
  g_test_trap_assert_passed ();
}

/* file_create: only where no name exists, a dangling link included, whose
 * target is not made. */
static void
test_file_create (Fixture *f, gconstpointer data)
{
  g_autofree char *outside = g_build_filename (f->tmp, "outside", NULL);
  const char *refused[] = { "file", "dangling", "out" };
  int dirfd = datadir_fd (f->dir), fd;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) after = NULL;
  struct stat st;

  fd = file_create (dirfd, "new", &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (fcntl (fd, F_GETFD), ==, FD_CLOEXEC);
  g_assert_cmpint (close (fd), ==, 0);

  testdir_write (f->path, "file", "keep", 4);
  g_assert_cmpint (symlinkat ("target", dirfd, "dangling"), ==, 0);
  g_assert_cmpint (symlinkat (outside, dirfd, "out"), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *want = g_strdup_printf ("cannot create %s: File "
                                               "exists", refused[i]);
      guint fds = testdir_count_fds ();

      g_clear_error (&error);
      g_assert_cmpint (file_create (dirfd, refused[i], &error), ==, -1);
      g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST);
      g_assert_cmpstr (error->message, ==, want);
      g_assert_cmpuint (testdir_count_fds (), ==, fds);
    }
  after = testdir_read (f->path, "file");
  g_assert_cmpmem (g_bytes_get_data (after, NULL), g_bytes_get_size (after),
                   "keep", 4);
  g_assert_cmpint (faccessat (dirfd, "target", F_OK, AT_SYMLINK_NOFOLLOW),
                   ==, -1);
  g_assert_cmpint (errno, ==, ENOENT);
  g_assert_cmpint (access (outside, F_OK), ==, -1);
  g_assert_cmpint (errno, ==, ENOENT);
}

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/names", test_names);
  ADD ("/store/open-empty", test_open_empty);
  ADD ("/store/checkpoint-reopen", test_checkpoint_reopen);
  ADD ("/store/load-many-chunks", test_load_many_chunks);
  ADD ("/store/load-version-1", test_load_version_1);
  ADD ("/store/fetch", test_fetch);
  ADD ("/store/fetch-damaged", test_fetch_damaged);
  ADD ("/store/part-removed", test_part_removed);
  ADD ("/store/foreign-file", test_foreign_file);
  ADD ("/store/lost-state", test_lost_state);
  ADD ("/store/survey", test_survey);
  ADD ("/store/evacuate", test_evacuate);
  ADD ("/store/scan-segments", test_scan_segments);
  ADD ("/store/holds-segments", test_holds_segments);
  ADD ("/datadir/makes-missing", test_datadir_makes_missing);
  ADD ("/datadir/writable", test_datadir_writable);
  ADD ("/datadir/other-owner", test_datadir_other_owner);
  ADD ("/datadir/locked", test_datadir_locked);
  ADD ("/datadir/file-open", test_file_open);
  ADD ("/datadir/file-create", test_file_create);
  g_test_add_func ("/store/names-overflow", test_names_overflow);
  ADD ("/store/fetch-first", test_fetch_first_mismatch);
  ADD ("/store/holds-evacuated", test_holds_evacuated);
  ADD ("/store/survey-steps", test_survey_steps);
  ADD ("/store/survey-key-list", test_survey_key_list);
  ADD ("/datadir/file-open-fifo", test_file_open_fifo);
  return g_test_run ();
}
