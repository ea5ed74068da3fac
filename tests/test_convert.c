/* test_convert.c: unit tests for the conversion of mqd's first format
 * (daemon/convert.c), against convert.h: a directory written here by hand
 * with GDBM and zlib, as the first release laid it out, is read by
 * storage_open into the new storage, every message in order with its
 * bytes, flags and times, and the old files removed once the first
 * checkpoint holds it all.
 *
 * The first format: mqd.gdbm with one record per message (key: queue
 * name, NUL, 8-byte sequence number; value: version 1, 0, deliveries
 * (2 bytes), flags (4), created and expiry times in ms (8 each), then the
 * payload) and each queue's counters under "\0Q" + name (version 1, then
 * head, tail, enqueued, dequeued, bytes, expired, discarded, 8 bytes
 * each); mqd.journal, a 16-byte header ("MQDJ", version 1, byte 5 the
 * clean mark) then entries: body length and zlib CRC-32 of the body (4
 * bytes each), body = op (1 put, 2 delete), key length (2), key, value.
 * Every number is big-endian.
 */
#include "config.h"

#include <gdbm.h>
#include <string.h>
#include <zlib.h>

#include "checkpoint.h"
#include "queue.h"
#include "record.h"
#include "storage.h"
#include "storagetest.h"

#define V1_PUT 1
#define V1_DELETE 2
#define EXPIRES_2100 G_GINT64_CONSTANT (4102444800000)

typedef struct {
  StorageDir dir;
  gint64 now_ms;
} Fixture;

/* One queue's counters as the first format kept them. */
typedef struct {
  guint64 head, tail, enqueued, dequeued, bytes, expired, discarded;
} V1Counters;

static void
set_up (Fixture *f, gconstpointer data)
{
  sdir_init (&f->dir, TRUE, NULL);
  f->now_ms = g_get_real_time () / 1000;
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  sdir_clear (&f->dir);
}

/* ---- the first format, by hand ---- */

static GBytes *
v1_item_key (const char *queue, guint64 seq)
{
  gsize len = strlen (queue);
  guint8 *key = g_malloc (len + 9);

  memcpy (key, queue, len);
  key[len] = 0;
  record_put_be (key + len + 1, seq, 8);
  return g_bytes_new_take (key, len + 9);
}

/* Message i's flags and times, as stored at seq: created a minute and i
 * milliseconds ago; every fifth one expires in 2100. */
static MqMsgHeader
v1_header (Fixture *f, guint i)
{
  MqMsgHeader header = {
    .len = (guint32) st_bytes (i, i),
    .flags = 1000 + i,
    .created_ms = f->now_ms - 60 * 1000 - i,
    .expires_ms = i % 5 == 0 ? EXPIRES_2100 : 0,
  };

  return header;
}

static GBytes *
v1_item_value (Fixture *f, guint i)
{
  MqMsgHeader header = v1_header (f, i);
  gsize len;
  g_autofree char *payload = st_payload (i, &len);
  guint8 *value = g_malloc0 (24 + len);

  value[0] = 1;
  record_put_be (value + 2, 3, 2);          /* deliveries: not kept */
  record_put_be (value + 4, header.flags, 4);
  record_put_be (value + 8, (guint64) header.created_ms, 8);
  record_put_be (value + 16, (guint64) header.expires_ms, 8);
  memcpy (value + 24, payload, len);
  return g_bytes_new_take (value, 24 + len);
}

static GBytes *
v1_counters_key (const char *queue)
{
  return g_bytes_new_take (g_strdup_printf ("%c%c%s", 0, 'Q', queue),
                           2 + strlen (queue));
}

static GBytes *
v1_counters_value (const V1Counters *c)
{
  const guint64 fields[] = { c->head, c->tail, c->enqueued, c->dequeued,
    c->bytes, c->expired, c->discarded };
  guint8 *value = g_malloc (1 + 8 * G_N_ELEMENTS (fields));

  value[0] = 1;
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    record_put_be (value + 1 + 8 * i, fields[i], 8);
  return g_bytes_new_take (value, 1 + 8 * G_N_ELEMENTS (fields));
}

/* ---- mqd.gdbm ---- */

static GDBM_FILE
v1_data_open (Fixture *f)
{
  g_autofree char *path = sdir_file_path (&f->dir, "mqd.gdbm");
  GDBM_FILE dbf = gdbm_open (path, 0, GDBM_NEWDB, 0600, NULL);

  g_assert_nonnull (dbf);
  return dbf;
}

static void
v1_data_put (GDBM_FILE dbf, GBytes *key, GBytes *value)
{
  gsize key_len, value_len;
  datum k = { (char *) g_bytes_get_data (key, &key_len), 0 };
  datum v = { (char *) g_bytes_get_data (value, &value_len), 0 };

  k.dsize = (int) key_len;
  v.dsize = (int) value_len;
  g_assert_cmpint (gdbm_store (dbf, k, v, GDBM_REPLACE), ==, 0);
  g_bytes_unref (key);
  g_bytes_unref (value);
}

static void
v1_data_item (Fixture *f, GDBM_FILE dbf, const char *queue, guint64 seq,
              guint i)
{
  v1_data_put (dbf, v1_item_key (queue, seq), v1_item_value (f, i));
}

static void
v1_data_counters (GDBM_FILE dbf, const char *queue, const V1Counters *c)
{
  v1_data_put (dbf, v1_counters_key (queue), v1_counters_value (c));
}

/* A data file holding queue q alone: its counters, messages 1 to n. */
static void
v1_data_queue (Fixture *f, const V1Counters *c, guint n)
{
  GDBM_FILE dbf = v1_data_open (f);

  v1_data_counters (dbf, "q", c);
  for (guint i = 1; i <= n; i++)
    v1_data_item (f, dbf, "q", i, i);
  gdbm_close (dbf);
}

/* ---- mqd.journal ---- */

static GByteArray *
v1_journal_new (gboolean clean)
{
  GByteArray *journal = g_byte_array_new ();

  g_byte_array_set_size (journal, 16);
  memset (journal->data, 0, 16);
  memcpy (journal->data, "MQDJ", 4);
  journal->data[4] = 1;
  journal->data[5] = clean ? 1 : 0;
  return journal;
}

/* Appends an entry; a torn one gets a CRC that does not match. */
static void
v1_journal_entry (GByteArray *journal, guint8 op, GBytes *key, GBytes *value,
                  gboolean torn)
{
  gsize key_len, value_len = 0;
  const guint8 *k = g_bytes_get_data (key, &key_len);
  const guint8 *v = value != NULL ? g_bytes_get_data (value, &value_len)
    : NULL;
  gsize body_len = 3 + key_len + value_len;
  g_autofree guint8 *entry = g_malloc (8 + body_len);
  guint8 *body = entry + 8;

  body[0] = op;
  record_put_be (body + 1, key_len, 2);
  memcpy (body + 3, k, key_len);
  if (value_len > 0)
    memcpy (body + 3 + key_len, v, value_len);
  record_put_be (entry, body_len, 4);
  record_put_be (entry + 4, crc32 (0, body, (uInt) body_len) ^ torn, 4);
  g_byte_array_append (journal, entry, 8 + body_len);
  g_bytes_unref (key);
  if (value != NULL)
    g_bytes_unref (value);
}

static void
v1_journal_item (Fixture *f, GByteArray *journal, const char *queue,
                 guint64 seq, guint i)
{
  v1_journal_entry (journal, V1_PUT, v1_item_key (queue, seq),
                    v1_item_value (f, i), FALSE);
}

static void
v1_journal_counters (GByteArray *journal, const char *queue,
                     const V1Counters *c)
{
  v1_journal_entry (journal, V1_PUT, v1_counters_key (queue),
                    v1_counters_value (c), FALSE);
}

static void
v1_journal_write (Fixture *f, GByteArray *journal)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = sdir_file_path (&f->dir, "mqd.journal");

  g_assert_true (g_file_set_contents (path, (const char *) journal->data,
                                      journal->len, &error));
  g_assert_no_error (error);
  g_byte_array_unref (journal);
}

/* ---- checks ---- */

/* The next message of queue is message i, with its flags and times. */
static void
expect_converted (Fixture *f, const char *queue, guint i)
{
  MqMsgHeader expected = v1_header (f, i);
  MqMsgHeader got = st_expect_pop (queue, i);

  g_assert_cmpuint (got.len, ==, expected.len);
  g_assert_cmpuint (got.flags, ==, expected.flags);
  g_assert_cmpint (got.created_ms, ==, expected.created_ms);
  g_assert_cmpint (got.expires_ms, ==, expected.expires_ms);
  g_assert_cmpint (got.due_ms, ==, 0);
  g_assert_cmpuint (got.deliveries, ==, 0);
}

static void
expect_counters (const char *name, guint64 count, guint64 enqueued,
                 guint64 dequeued, guint64 expired, guint64 discarded)
{
  MqQueue *queue = queue_lookup (name, strlen (name));

  g_assert_nonnull (queue);
  g_assert_true (queue->persistent);
  g_assert_cmpuint (queue->count, ==, count);
  g_assert_cmpuint (queue->meta.enqueued, ==, enqueued);
  g_assert_cmpuint (queue->meta.dequeued, ==, dequeued);
  g_assert_cmpuint (queue->meta.expired, ==, expired);
  g_assert_cmpuint (queue->meta.discarded, ==, discarded);
}

/* Whether any file of the first format, or of its conversion, is left. */
static gboolean
has_first_format (StorageDir *d)
{
  static const char *const names[] = { "mqd.gdbm", "mqd.journal",
    "mqd.gdbm.convert" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = sdir_file_path (d, names[i]);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
    }
  return FALSE;
}

/* "jobs": reads 1 and 2 were out when it stopped (2 was closed since),
 * 3 to 7 wait; "mail": 1 and 2 wait; "idle": empty, counters only.  The
 * journal is marked clean: the data file holds the state. */
static void
write_clean_directory (Fixture *f)
{
  V1Counters jobs = { 3, 8, 12, 5, 0, 2, 1 };
  V1Counters mail = { 1, 3, 2, 0, 0, 0, 0 };
  V1Counters idle = { 5, 5, 4, 4, 0, 0, 0 };
  GDBM_FILE dbf = v1_data_open (f);

  jobs.bytes = st_bytes (3, 7);
  v1_data_counters (dbf, "jobs", &jobs);
  v1_data_item (f, dbf, "jobs", 1, 1);
  for (guint i = 3; i <= 7; i++)
    v1_data_item (f, dbf, "jobs", i, i);
  mail.bytes = st_bytes (11, 12);
  v1_data_counters (dbf, "mail", &mail);
  v1_data_item (f, dbf, "mail", 1, 11);
  v1_data_item (f, dbf, "mail", 2, 12);
  v1_data_counters (dbf, "idle", &idle);
  gdbm_close (dbf);
  v1_journal_write (f, v1_journal_new (TRUE));
}

static void
expect_clean_directory (Fixture *f)
{
  expect_counters ("jobs", 6, 12, 5, 2, 1);
  expect_counters ("mail", 2, 2, 0, 0, 0);
  expect_counters ("idle", 0, 4, 4, 0, 0);
  g_assert_cmpuint (st_queue ("jobs")->meta.bytes, ==, st_bytes (1, 1)
                    + st_bytes (3, 7));
  expect_converted (f, "jobs", 1);
  for (guint i = 3; i <= 7; i++)
    expect_converted (f, "jobs", i);
  expect_converted (f, "mail", 11);
  expect_converted (f, "mail", 12);
  st_expect_empty ("jobs");
  st_expect_empty ("mail");
  st_expect_empty ("idle");
}

/* ---- the tests ---- */

/* A clean first-format directory: every queue, message and counter,
 * reads that were out first; the old files gone once the first
 * checkpoint is durable; a later start has nothing to convert. */
static void
test_clean (Fixture *f, gconstpointer data)
{
  g_autofree char *said = NULL;
  g_autofree char *expected = NULL;
  gint64 before, age, after;

  write_clean_directory (f);
  sdir_open (&f->dir);
  said = st_log_take ();
  expected = g_strdup_printf ("%s holds data of mqd's first format: "
                              "converting it\nconverted 3 queues and 8 "
                              "messages from the first format\n",
                              f->dir.path);
  g_assert_cmpstr (said, ==, expected);
  g_assert_false (has_first_format (&f->dir));
  g_assert_cmpuint (checkpoint_done (), ==, 1);
  before = g_get_real_time () / 1000;
  age = queue_age_ms (st_queue ("jobs"));
  after = g_get_real_time () / 1000;
  g_assert_cmpint (age, >=, before - v1_header (f, 1).created_ms);
  g_assert_cmpint (age, <=, after - v1_header (f, 1).created_ms);
  sdir_stop (&f->dir);
  sdir_open (&f->dir);
  g_free (said);
  said = st_log_take ();
  g_assert_null (strstr (said, "first format"));
  expect_clean_directory (f);
}

/* A journal not marked clean is the state: replayed into a scratch file
 * in order (a put the data file never got, a delete of an item it still
 * has), up to the first entry that is not whole. */
static void
test_unclean_journal (Fixture *f, gconstpointer data)
{
  V1Counters three = { 1, 4, 3, 0, 0, 0, 0 };
  V1Counters four = { 1, 5, 4, 0, 0, 0, 0 };
  V1Counters popped = { 2, 5, 4, 1, 0, 0, 0 };
  V1Counters six = { 2, 7, 6, 1, 0, 0, 0 };
  GByteArray *journal = v1_journal_new (FALSE);

  three.bytes = st_bytes (1, 3);
  v1_data_queue (f, &three, 3);
  v1_journal_counters (journal, "q", &three);
  for (guint i = 1; i <= 3; i++)
    v1_journal_item (f, journal, "q", i, i);
  v1_journal_item (f, journal, "q", 4, 4);
  v1_journal_counters (journal, "q", &four);
  v1_journal_entry (journal, V1_DELETE, v1_item_key ("q", 1), NULL, FALSE);
  v1_journal_counters (journal, "q", &popped);
  /* Cut short by a kill: neither it nor anything after it counts. */
  v1_journal_entry (journal, V1_PUT, v1_item_key ("q", 5),
                    v1_item_value (f, 5), TRUE);
  v1_journal_item (f, journal, "q", 6, 6);
  v1_journal_counters (journal, "q", &six);
  v1_journal_write (f, journal);
  sdir_open (&f->dir);
  g_assert_false (has_first_format (&f->dir));
  expect_counters ("q", 3, 4, 1, 0, 0);
  for (guint i = 2; i <= 4; i++)
    expect_converted (f, "q", i);
  st_expect_empty ("q");
}

/* Enough messages that the conversion seals segments as it goes. */
static void
test_many (Fixture *f, gconstpointer data)
{
  V1Counters c = { 1, 10001, 10000, 0, 0, 0, 0 };

  c.bytes = st_bytes (1, 10000);
  v1_data_queue (f, &c, 10000);
  sdir_open (&f->dir);
  g_assert_cmpuint (st_queue ("q")->meta.bytes, ==, c.bytes);
  g_assert_cmpuint (st_queue ("q")->tail_start, ==, 10001);
  sdir_crash (&f->dir);
  sdir_open (&f->dir);
  for (guint i = 1; i <= 10000; i++)
    {
      expect_converted (f, "q", i);
      if (i % 100 == 0)
        st_pass_end ();
    }
  st_expect_empty ("q");
  expect_counters ("q", 0, 10000, 10000, 0, 0);
}

/* The first checkpoint fails (its generation cannot be synced): the start
 * fails, the old files stay, and the next start converts again, each
 * message once. */
static void
test_interrupted (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  write_clean_directory (f);
  st_fault_set (ST_FAULT_FSYNC, ".gdbm.part", ST_ANY_THREAD, 1);
  g_assert_false (sdir_try_open (&f->dir, &error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "checkpoint 1 failed: cannot sync "
                   "mqd-000001.gdbm.part: Input/output error");
  g_assert_cmpuint (st_fault_hits (), ==, 1);
  g_assert_true (has_first_format (&f->dir));
  sdir_open (&f->dir);
  g_assert_false (has_first_format (&f->dir));
  expect_clean_directory (f);
}

/* The start after one that failed, in a new process as the daemon's is:
 * convert.c's "converted" flag from the failed start must not count. */
static void
next_start_in_child (void)
{
  StorageDir next = {
    .path = g_strdup (g_getenv ("MQD_TEST_NEXT_START")),
    .rules = rules_new (),
    .no_sync = TRUE,
  };

  sdir_open (&next);
  /* storage_recover converts only when no generation is complete, and
   * convert_finish removes the old files only after a conversion: with
   * the first checkpoint's generation renamed, they stay for good. */
  g_assert_false (has_first_format (&next));
  storage_close ();
  g_free (next.path);
  rules_free (next.rules);
}

/* The same, the first checkpoint's generation renamed but the directory
 * not synced after: the next start finds that generation, which holds
 * everything. */
static void
test_interrupted_after_rename (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir_name = g_path_get_basename (f->dir.path);

  if (g_test_subprocess ())
    {
      next_start_in_child ();
      return;
    }
  write_clean_directory (f);
  st_fault_set (ST_FAULT_FSYNC, dir_name, ST_SYNCER_THREADS, 1);
  g_assert_false (sdir_try_open (&f->dir, &error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED);
  g_assert_cmpuint (st_fault_hits (), ==, 1);
  g_setenv ("MQD_TEST_NEXT_START", f->dir.path, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  sdir_open (&f->dir);
  expect_clean_directory (f);
}

#define ADD(path, func) \
  g_test_add ("/convert/" path, Fixture, NULL, set_up, func, tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("clean", test_clean);
  ADD ("unclean-journal", test_unclean_journal);
  ADD ("many", test_many);
  ADD ("interrupted", test_interrupted);
  ADD ("interrupted-after-rename", test_interrupted_after_rename);
  return g_test_run ();
}
