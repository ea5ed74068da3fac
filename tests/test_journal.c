/* test_journal.c: unit tests for daemon/journal.c and daemon/entry.c on
 * real files in a temporary directory.
 *
 * Entries go in through entry_put and come back through journal_replay and
 * entry_decode.  Damage is made to the file between a journal_free and a
 * journal_open, as a kill or a power cut would leave it.  Failed writes are
 * injected through mq_file_ops (datadir.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "datadir.h"
#include "entry.h"
#include "journal.h"
#include "testdir.h"

typedef struct {
  char *tmp;
  int dirfd;
} Fixture;

static const MqFileOps real_ops = { pwrite, fdatasync, fsync };

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->tmp = testdir_make ("mqd-test-journal-XXXXXX");
  f->dirfd = open (f->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (f->dirfd, >=, 0);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  mq_file_ops = real_ops;
  g_assert_cmpint (close (f->dirfd), ==, 0);
  testdir_remove (f->tmp);
  g_free (f->tmp);
}

/* ---- helpers ---------------------------------------------------------- */

static MqJournal *
create (Fixture *f, guint64 number)
{
  g_autofree char *name = journal_file_name (number);
  g_autoptr (GError) error = NULL;
  MqJournal *journal = journal_create (f->dirfd, name, number, FALSE, &error);

  g_assert_no_error (error);
  g_assert_nonnull (journal);
  return journal;
}

static void
write_ok (MqJournal *journal)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (journal_write (journal, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (journal_pending (journal), ==, 0);
}

static void
fill_ok (MqJournal *journal, gsize chunk)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (journal_fill (journal, chunk, &error));
  g_assert_no_error (error);
}

/* Payload byte i of the message with sequence number seq. */
static guint8
payload_byte (guint64 seq, gsize i)
{
  return (guint8) (seq * 131 + i);
}

/* A PUSH of len bytes on queue "q": what most tests write. */
static void
put_push (MqJournal *journal, guint64 seq, gsize len)
{
  g_autofree guint8 *payload = g_malloc (len + 1);
  MqEntry entry = { .op = MQ_ENTRY_PUSH, .name = "q", .name_len = 1,
    .seq = seq, .payload = payload,
    .header = { .len = (guint32) len, .flags = (guint32) seq,
                .created_ms = (gint64) seq * 10 } };

  for (gsize i = 0; i < len; i++)
    payload[i] = payload_byte (seq, i);
  entry_put (journal, &entry);
}

/* The bytes put_push's entry takes in the file. */
static gsize
push_size (gsize len)
{
  return MQ_JOURNAL_ENTRY_PREFIX + 3 + 1 + 8 + MQ_MSG_HEADER_SIZE + len;
}

static void
assert_push (const guint8 *body, gsize body_len, guint64 seq, gsize len)
{
  MqEntry entry;

  g_assert_true (entry_decode (body, body_len, &entry));
  g_assert_cmpint (entry.op, ==, MQ_ENTRY_PUSH);
  g_assert_cmpmem (entry.name, entry.name_len, "q", 1);
  g_assert_cmpuint (entry.seq, ==, seq);
  g_assert_cmpuint (entry.header.len, ==, len);
  g_assert_cmpuint (entry.header.flags, ==, (guint32) seq);
  g_assert_cmpint (entry.header.created_ms, ==, (gint64) seq * 10);
  for (gsize i = 0; i < len; i++)
    if (entry.payload[i] != payload_byte (seq, i))
      g_assert_cmpuint (entry.payload[i], ==, payload_byte (seq, i));
}

static void
assert_push_bytes (GBytes *body, guint64 seq, gsize len)
{
  gsize body_len;
  const guint8 *p = g_bytes_get_data (body, &body_len);

  assert_push (p, body_len, seq, len);
}

static gboolean
collect (const guint8 *body, gsize len, gpointer user_data, GError **error)
{
  g_ptr_array_add (user_data, g_bytes_new (body, len));
  return TRUE;
}

static MqJournal *
open_ok (Fixture *f, guint64 number)
{
  g_autofree char *name = journal_file_name (number);
  g_autoptr (GError) error = NULL;
  MqJournal *journal = journal_open (f->dirfd, name, &error);

  g_assert_no_error (error);
  g_assert_nonnull (journal);
  g_assert_cmpuint (journal_number (journal), ==, number);
  return journal;
}

/* Replays an open journal: the bodies of its entries, in order. */
static GPtrArray *
replay_journal (MqJournal *journal)
{
  GPtrArray *bodies = g_ptr_array_new_with_free_func (
    (GDestroyNotify) g_bytes_unref);
  g_autoptr (GError) error = NULL;
  guint64 entries = G_MAXUINT64;

  g_assert_true (journal_replay (journal, collect, bodies, &entries,
                                 &error));
  g_assert_no_error (error);
  g_assert_cmpuint (entries, ==, bodies->len);
  return bodies;
}

/* Opens journal number and replays it. */
static GPtrArray *
replay (Fixture *f, guint64 number)
{
  MqJournal *journal = open_ok (f, number);
  GPtrArray *bodies = replay_journal (journal);

  journal_free (journal);
  return bodies;
}

/* Replay checks each entry as it comes, against pushes 1, 2, ... of the
 * lengths in lens: a long journal needs no copy in memory. */
typedef struct {
  GArray *lens;                   /* gsize */
  guint seen;
} Expected;

static gboolean
check_push (const guint8 *body, gsize len, gpointer user_data,
            GError **error)
{
  Expected *expected = user_data;

  g_assert_cmpuint (expected->seen, <, expected->lens->len);
  assert_push (body, len, expected->seen + 1,
               g_array_index (expected->lens, gsize, expected->seen));
  expected->seen++;
  return TRUE;
}

/* Journal 1 holds pushes 1.. of the lengths in lens, and nothing else. */
static void
assert_replays (Fixture *f, GArray *lens)
{
  g_autoptr (GError) error = NULL;
  MqJournal *journal = open_ok (f, 1);
  Expected expected = { lens, 0 };
  guint64 entries = 0;

  g_assert_true (journal_replay (journal, check_push, &expected, &entries,
                                 &error));
  g_assert_no_error (error);
  g_assert_cmpuint (entries, ==, lens->len);
  g_assert_cmpuint (expected.seen, ==, lens->len);
  journal_free (journal);
}

/* Journal 1 with pushes 1..n of len bytes each, written and closed. */
static void
make_pushes (Fixture *f, guint n, gsize len)
{
  MqJournal *journal = create (f, 1);

  for (guint seq = 1; seq <= n; seq++)
    put_push (journal, seq, len);
  write_ok (journal);
  journal_free (journal);
}

static void
assert_pushes (GPtrArray *bodies, guint n, gsize len)
{
  g_assert_cmpuint (bodies->len, ==, n);
  for (guint i = 0; i < n; i++)
    assert_push_bytes (g_ptr_array_index (bodies, i), i + 1, len);
}

/* Journal 1 holds n pushes of len bytes. */
static void
assert_replays_pushes (Fixture *f, guint n, gsize len)
{
  g_autoptr (GArray) lens = g_array_new (FALSE, FALSE, sizeof (gsize));

  for (guint i = 0; i < n; i++)
    g_array_append_val (lens, len);
  assert_replays (f, lens);
}

static GByteArray *
read_file (Fixture *f, guint64 number)
{
  g_autofree char *name = journal_file_name (number);
  g_autoptr (GBytes) bytes = testdir_read (f->tmp, name);

  return g_bytes_unref_to_array (g_steal_pointer (&bytes));
}

static void
write_file (Fixture *f, guint64 number, const GByteArray *content)
{
  g_autofree char *name = journal_file_name (number);

  testdir_write (f->tmp, name, content->data, content->len);
}

static struct stat
stat_name (Fixture *f, const char *name)
{
  struct stat st;

  g_assert_cmpint (fstatat (f->dirfd, name, &st, AT_SYMLINK_NOFOLLOW), ==,
                   0);
  return st;
}

static off_t
file_size (Fixture *f, const char *name)
{
  return stat_name (f, name).st_size;
}

/* ---- the file --------------------------------------------------------- */

static void
test_file_name (void)
{
  g_autofree char *one = journal_file_name (1);
  g_autofree char *big = journal_file_name (G_GUINT64_CONSTANT (12345678));

  g_assert_cmpstr (one, ==, "mqd-000001.journal");
  g_assert_cmpstr (big, ==, "mqd-12345678.journal");
}

static void
test_create (Fixture *f, gconstpointer data)
{
  static const guint8 want[20] = { 'M', 'Q', 'D', 'J', 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0x01, 0x02 };
  MqJournal *journal = create (f, 0x0102);
  g_autoptr (GByteArray) file = read_file (f, 0x0102);
  g_autoptr (GError) error = NULL;
  guint8 crc[4];
  struct stat st;

  g_assert_cmpuint (journal_number (journal), ==, 0x0102);
  g_assert_cmpuint (journal_end (journal), ==, MQ_JOURNAL_HEADER_SIZE);
  g_assert_cmpuint (journal_pending (journal), ==, 0);
  g_assert_cmpuint (file->len, ==, MQ_JOURNAL_HEADER_SIZE);
  g_assert_cmpmem (file->data, 16, want, 16);
  record_put_be (crc, crc32c_update (0, want, 16), 4);
  g_assert_cmpmem (file->data + 16, 4, crc, 4);
  for (gsize i = 20; i < file->len; i++)
    g_assert_cmpuint (file->data[i], ==, 0);
  g_assert_cmpint (fstat (journal_fd (journal), &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  journal_free (journal);

  /* A name that exists is never overwritten. */
  g_assert_null (journal_create (f->dirfd, "mqd-000258.journal", 1, FALSE,
                                 &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST);
  g_assert_cmpstr (error->message, ==,
                   "cannot create mqd-000258.journal: File exists");
  g_clear_pointer (&file, g_byte_array_unref);
  file = read_file (f, 0x0102);
  g_assert_cmpmem (file->data, 16, want, 16);
}

static int
fail_eio (int fd)
{
  errno = EIO;
  return -1;
}

/* A journal whose creation could not be synced is not left behind. */
static void
test_create_sync_fails (Fixture *f, gconstpointer data)
{
  guint fds = testdir_count_fds ();

  for (guint which = 0; which < 2; which++)
    {
      g_autoptr (GError) error = NULL;

      mq_file_ops = real_ops;
      if (which == 0)
        mq_file_ops.fdatasync = fail_eio;
      else
        mq_file_ops.fsync = fail_eio;
      g_assert_null (journal_create (f->dirfd, "mqd-000001.journal", 1,
                                     FALSE, &error));
      g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_IO);
      g_assert_cmpstr (error->message, ==, "cannot create mqd-000001.journal: "
                       "Input/output error");
      g_assert_cmpint (faccessat (f->dirfd, "mqd-000001.journal", F_OK, 0),
                       ==, -1);
      g_assert_cmpuint (testdir_count_fds (), ==, fds);
    }
}

/* Files that are not journals of this version, and a missing one: refused,
 * untouched, no descriptor left open. */
static void
test_open_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) v1 = g_byte_array_new ();
  g_autoptr (GByteArray) bad_crc = NULL;
  g_autoptr (GByteArray) v3 = NULL;
  g_autoptr (GByteArray) zeros = g_byte_array_new ();
  const GByteArray *cases[5];
  g_autoptr (GError) error = NULL;
  guint fds;

  journal_free (create (f, 1));
  fds = testdir_count_fds ();
  bad_crc = read_file (f, 1);
  bad_crc->data[19] ^= 1;
  v3 = read_file (f, 1);
  v3->data[4] = 3;
  record_put_be (v3->data + 16, crc32c_update (0, v3->data, 16), 4);
  /* mqd's version 1: "MQDJ", 1, the clean mark, 10 zeros, then entries. */
  g_byte_array_append (v1, (const guint8 *) "MQDJ\1\1\0\0\0\0\0\0\0\0\0\0"
                       "\0\0\0\5\0\0\0\0\1\0\1q\0", 29);
  g_byte_array_set_size (zeros, MQ_JOURNAL_HEADER_SIZE);
  memset (zeros->data, 0, zeros->len);
  cases[0] = v1;
  cases[1] = bad_crc;
  cases[2] = v3;
  cases[3] = zeros;
  cases[4] = g_byte_array_new ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GByteArray) after = NULL;

      write_file (f, 1, cases[i]);
      g_assert_null (journal_open (f->dirfd, "mqd-000001.journal", &error));
      g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
      g_assert_cmpstr (error->message, ==, "mqd-000001.journal is not a "
                       "journal of this version of mqd");
      g_clear_error (&error);
      after = read_file (f, 1);
      g_assert_cmpmem (after->data, after->len, cases[i]->data,
                       cases[i]->len);
      g_assert_cmpuint (testdir_count_fds (), ==, fds);
    }
  g_byte_array_unref ((GByteArray *) cases[4]);
  testdir_write (f->tmp, "foreign", "not a journal\n", 14);
  g_assert_null (journal_open (f->dirfd, "foreign", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
  g_clear_error (&error);
  g_assert_null (journal_open (f->dirfd, "mqd-000009.journal", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_cmpstr (error->message, ==, "cannot open mqd-000009.journal: "
                   "No such file or directory");
  g_assert_cmpuint (testdir_count_fds (), ==, fds);
}

/* ---- entries ---------------------------------------------------------- */

typedef struct {
  MqEntry entry;
  const char *body;               /* the layout of entry.h, by hand */
  gsize body_len;
} Sample;

#define BODY(s) s, sizeof s - 1

static const guint8 binary[] = { 0, 0xff, '\r', '\n', 'E', 'N', 'D', 0x80 };

static const Sample samples[] = {
  { { .op = MQ_ENTRY_CREATE, .name = "jobs", .name_len = 4,
      .inc = G_GUINT64_CONSTANT (0x0102030405060708) },
    BODY ("\1\0\4jobs\1\2\3\4\5\6\7\10") },
  { { .op = MQ_ENTRY_PUSH, .name = "jobs", .name_len = 4, .seq = 258,
      .header = { .len = sizeof binary, .flags = 0xfffffffe,
                  .created_ms = 1, .expires_ms = 2 }, .payload = binary },
    BODY ("\2\0\4jobs\0\0\0\0\0\0\1\2" "\0\0\0\10\377\377\377\376"
          "\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\2" "\0\0\0\0\0\0\0\0"
          "\0\377\r\nEND\200") },
  { { .op = MQ_ENTRY_PUSH, .name = "q", .name_len = 1, .seq = 3,
      .header = { .len = 0, .flags = 7 } },
    BODY ("\2\0\1q\0\0\0\0\0\0\0\3" "\0\0\0\0\0\0\0\7"
          "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0") },
  { { .op = MQ_ENTRY_TAKE, .name = "q", .name_len = 1, .seq = 4,
      .mode = MQ_TAKE_POP, .len = 0x01020304 },
    BODY ("\3\0\1q\0\0\0\0\0\0\0\4\1\1\2\3\4\0\0") },
  { { .op = MQ_ENTRY_TAKE, .name = "q", .name_len = 1, .seq = 5,
      .mode = MQ_TAKE_OPEN, .len = 0, .deliveries = 0x0102 },
    BODY ("\3\0\1q\0\0\0\0\0\0\0\5\2\0\0\0\0\1\2") },
  { { .op = MQ_ENTRY_TAKE, .name = "q", .name_len = 1, .seq = 6,
      .mode = MQ_TAKE_DISCARD, .len = 1 },
    BODY ("\3\0\1q\0\0\0\0\0\0\0\6\3\0\0\0\1\0\0") },
  { { .op = MQ_ENTRY_TAKE, .name = "q", .name_len = 1, .seq = 7,
      .mode = MQ_TAKE_EXPIRE, .len = G_MAXUINT32, .deliveries = 0xffff },
    BODY ("\3\0\1q\0\0\0\0\0\0\0\7\4\377\377\377\377\377\377") },
  { { .op = MQ_ENTRY_TAKE, .name = "q/d1.64", .name_len = 7, .seq = 1,
      .mode = MQ_TAKE_MOVE, .len = 2, .deliveries = 3 },
    BODY ("\3\0\7q/d1.64\0\0\0\0\0\0\0\1\5\0\0\0\2\0\3") },
  { { .op = MQ_ENTRY_CLOSE, .name = "q", .name_len = 1, .seq = 8 },
    BODY ("\4\0\1q\0\0\0\0\0\0\0\10") },
  { { .op = MQ_ENTRY_ABORT, .name = "q", .name_len = 1, .seq = 9 },
    BODY ("\5\0\1q\0\0\0\0\0\0\0\11") },
  { { .op = MQ_ENTRY_BURY, .name = "q", .name_len = 1,
      .seq = G_MAXUINT64 },
    BODY ("\6\0\1q\377\377\377\377\377\377\377\377") },
  { { .op = MQ_ENTRY_FLUSH, .name = "q", .name_len = 1 },
    BODY ("\7\0\1q") },
  { { .op = MQ_ENTRY_DROP, .name = "q", .name_len = 1 },
    BODY ("\10\0\1q") },
  { { .op = MQ_ENTRY_END }, BODY ("\11\0\0") },
  { { .op = MQ_ENTRY_REFUSE, .name = "q", .name_len = 1 },
    BODY ("\12\0\1q") },
  { { .op = MQ_ENTRY_RETRY, .name = "q", .name_len = 1, .seq = 10 },
    BODY ("\13\0\1q\0\0\0\0\0\0\0\12") },
  { { .op = MQ_ENTRY_MOVE, .name = "q/d0.5", .name_len = 6, .seq = 2,
      .header = { .len = 1, .created_ms = 1, .due_ms = 5,
                  .deliveries = 2 }, .payload = binary },
    BODY ("\14\0\6q/d0.5\0\0\0\0\0\0\0\2" "\0\0\0\1\0\0\0\0"
          "\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\0" "\0\0\0\0\0\5\0\2" "\0") },
};

static void
assert_entry_equal (const MqEntry *got, const MqEntry *want)
{
  g_assert_cmpint (got->op, ==, want->op);
  g_assert_cmpmem (got->name, got->name_len, want->name, want->name_len);
  g_assert_cmpuint (got->seq, ==, want->seq);
  g_assert_cmpuint (got->inc, ==, want->inc);
  g_assert_cmpint (got->mode, ==, want->mode);
  g_assert_cmpuint (got->len, ==, want->len);
  g_assert_cmpuint (got->header.len, ==, want->header.len);
  g_assert_cmpuint (got->header.flags, ==, want->header.flags);
  g_assert_cmpint (got->header.created_ms, ==, want->header.created_ms);
  g_assert_cmpint (got->header.expires_ms, ==, want->header.expires_ms);
  g_assert_cmpint (got->header.due_ms, ==, want->header.due_ms);
  g_assert_cmpuint (got->header.deliveries, ==, want->header.deliveries);
  g_assert_cmpuint (got->deliveries, ==, want->deliveries);
  g_assert_cmpmem (got->payload, got->header.len, want->payload,
                   want->header.len);
}

/* Every op, and every way to TAKE, into the file and back byte for byte. */
static void
test_every_op (Fixture *f, gconstpointer data)
{
  MqJournal *journal = create (f, 1);
  g_autoptr (GPtrArray) bodies = NULL;
  guint64 end = MQ_JOURNAL_HEADER_SIZE;

  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      entry_put (journal, &samples[i].entry);
      end += MQ_JOURNAL_ENTRY_PREFIX + samples[i].body_len;
      g_assert_cmpuint (journal_end (journal), ==, end);
    }
  g_assert_cmpuint (journal_pending (journal), ==,
                    end - MQ_JOURNAL_HEADER_SIZE);
  write_ok (journal);
  g_assert_cmpuint (journal_end (journal), ==, end);
  journal_free (journal);

  journal = open_ok (f, 1);
  bodies = replay_journal (journal);
  g_assert_cmpuint (journal_end (journal), ==, end);
  journal_free (journal);
  g_assert_cmpuint (bodies->len, ==, G_N_ELEMENTS (samples));
  for (guint i = 0; i < bodies->len; i++)
    {
      gsize len;
      const guint8 *body = g_bytes_get_data (g_ptr_array_index (bodies, i),
                                             &len);
      MqEntry back;

      g_assert_cmpmem (body, len, samples[i].body, samples[i].body_len);
      g_assert_true (entry_decode (body, len, &back));
      assert_entry_equal (&back, &samples[i].entry);
    }
}

static void
assert_refused (const void *body, gsize len)
{
  g_autofree guint8 *copy = g_memdup2 (body, len);
  MqEntry entry;

  g_assert_false (entry_decode (copy, len, &entry));
}

/* Bodies that are not whole entries of a known kind. */
static void
test_decode_refused (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      const Sample *s = &samples[i];
      g_autofree guint8 *longer = g_malloc0 (s->body_len + 1);

      /* Every prefix, and one byte more (a PUSH's payload length then
       * disagrees with its header). */
      for (gsize len = 0; len < s->body_len; len++)
        assert_refused (s->body, len);
      memcpy (longer, s->body, s->body_len);
      assert_refused (longer, s->body_len + 1);
    }
  assert_refused ("\0\0\1q", 4);
  assert_refused ("\77\0\1q", 4);
  assert_refused ("\377\0\1q", 4);
  /* A TAKE of no known mode. */
  assert_refused ("\3\0\1q\0\0\0\0\0\0\0\4\0\1\2\3\4\0\0", 19);
  assert_refused ("\3\0\1q\0\0\0\0\0\0\0\4\6\1\2\3\4\0\0", 19);
  /* A name longer than the body. */
  assert_refused ("\7\1\0q", 4);
  /* END names no queue; everything else names one. */
  assert_refused ("\11\0\1q", 4);
  assert_refused ("\7\0\0", 3);
  assert_refused ("\4\0\0\0\0\0\0\0\0\0\10", 11);
}

/* ---- replay and damage ------------------------------------------------ */

/* Replay ends at the zeros written ahead; appends after a replay go where
 * it ended. */
static void
test_replay_stops_at_zeros (Fixture *f, gconstpointer data)
{
  MqJournal *journal = create (f, 1);
  g_autoptr (GPtrArray) bodies = NULL;

  while (journal_wants_fill (journal))
    fill_ok (journal, 1024 * 1024);
  for (guint seq = 1; seq <= 50; seq++)
    put_push (journal, seq, 100);
  write_ok (journal);
  journal_free (journal);
  g_assert_cmpint (file_size (f, "mqd-000001.journal"), ==,
                   MQ_JOURNAL_HEADER_SIZE + MQ_JOURNAL_FILL_AHEAD);

  journal = open_ok (f, 1);
  bodies = replay_journal (journal);
  assert_pushes (bodies, 50, 100);
  g_assert_cmpuint (journal_end (journal), ==,
                    MQ_JOURNAL_HEADER_SIZE + 50 * push_size (100));
  for (guint seq = 51; seq <= 60; seq++)
    put_push (journal, seq, 100);
  write_ok (journal);
  journal_free (journal);
  assert_replays_pushes (f, 60, 100);
}

/* A kill in the middle of a write: the file cut in the last entry's body
 * or prefix, or that entry's end never written (zeros). */
static void
test_replay_cut_short (Fixture *f, gconstpointer data)
{
  gsize fifth = MQ_JOURNAL_HEADER_SIZE + 4 * push_size (40);
  g_autoptr (GByteArray) whole = NULL;
  const gsize cuts[] = { fifth + push_size (40) - 1, fifth + 20, fifth + 7,
    fifth + 4, fifth + 1 };

  make_pushes (f, 5, 40);
  whole = read_file (f, 1);
  g_assert_cmpuint (whole->len, ==, fifth + push_size (40));
  for (guint i = 0; i < G_N_ELEMENTS (cuts); i++)
    {
      g_autoptr (GByteArray) cut = g_byte_array_new ();

      g_byte_array_append (cut, whole->data, cuts[i]);
      write_file (f, 1, cut);
      assert_replays_pushes (f, 4, 40);
      g_byte_array_set_size (cut, whole->len);
      memset (cut->data + cuts[i], 0, whole->len - cuts[i]);
      write_file (f, 1, cut);
      assert_replays_pushes (f, 4, 40);
    }
  write_file (f, 1, whole);
  assert_replays_pushes (f, 5, 40);
}

/* One byte changed in the third entry's body, CRC or length: replay ends
 * before it. */
static void
test_replay_flipped_byte (Fixture *f, gconstpointer data)
{
  gsize third = MQ_JOURNAL_HEADER_SIZE + 2 * push_size (40);
  g_autoptr (GByteArray) file = NULL;

  make_pushes (f, 5, 40);
  file = read_file (f, 1);
  for (gsize at = third; at < third + push_size (40); at++)
    for (guint bit = 0; bit < 8; bit += 3)
      {
        file->data[at] ^= 1u << bit;
        write_file (f, 1, file);
        assert_replays_pushes (f, 2, 40);
        file->data[at] ^= 1u << bit;
      }
  write_file (f, 1, file);
  assert_replays_pushes (f, 5, 40);
}

/* Whole entries where they were not written: an entry's CRC binds it to
 * its offset. */
static void
test_replay_moved_entry (Fixture *f, gconstpointer data)
{
  gsize size = push_size (40);
  g_autoptr (GByteArray) file = NULL;
  g_autofree guint8 *second = NULL;
  guint8 *entries;

  make_pushes (f, 4, 40);
  file = read_file (f, 1);
  entries = file->data + MQ_JOURNAL_HEADER_SIZE;
  second = g_memdup2 (entries + size, size);
  /* The second and third swapped. */
  memcpy (entries + size, entries + 2 * size, size);
  memcpy (entries + 2 * size, second, size);
  write_file (f, 1, file);
  assert_replays_pushes (f, 1, 40);
  /* The first again in the third's place. */
  memcpy (entries + 2 * size, entries, size);
  memcpy (entries + size, second, size);
  write_file (f, 1, file);
  assert_replays_pushes (f, 2, 40);
}

/* A journal's entries under another journal's header (a file reused):
 * none of them is replayed. */
static void
test_replay_other_number (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) five = NULL;
  g_autoptr (GByteArray) six = NULL;
  g_autoptr (GPtrArray) bodies = NULL;
  MqJournal *journal = create (f, 5);

  for (guint seq = 1; seq <= 3; seq++)
    put_push (journal, seq, 40);
  write_ok (journal);
  journal_free (journal);
  journal_free (create (f, 6));
  five = read_file (f, 5);
  six = read_file (f, 6);
  g_byte_array_append (six, five->data + MQ_JOURNAL_HEADER_SIZE,
                       five->len - MQ_JOURNAL_HEADER_SIZE);
  write_file (f, 6, six);
  bodies = replay (f, 6);
  g_assert_cmpuint (bodies->len, ==, 0);
  g_clear_pointer (&bodies, g_ptr_array_unref);
  bodies = replay (f, 5);
  assert_pushes (bodies, 3, 40);
}

/* More than the replay's 1 MiB window, and an entry larger than it. */
static void
test_replay_large (Fixture *f, gconstpointer data)
{
  MqJournal *journal = create (f, 1);
  g_autoptr (GArray) lens = g_array_new (FALSE, FALSE, sizeof (gsize));

  for (guint seq = 1; seq <= 3010; seq++)
    {
      gsize len = seq == 3001 ? 2 * 1024 * 1024 + 3 : 1000;

      g_array_append_val (lens, len);
      put_push (journal, seq, len);
      if (seq == 3000)
        write_ok (journal);
    }
  write_ok (journal);
  journal_free (journal);
  assert_replays (f, lens);
}

static glong
peak_kib (void)
{
  struct rusage usage;

  g_assert_cmpint (getrusage (RUSAGE_SELF, &usage), ==, 0);
  return usage.ru_maxrss;
}

/* Past the end, the bytes of a journal this file held before (written
 * over) whose length fits in the file: replay ends there without taking
 * that length into memory.  In a child, so that the peak is its own. */
static void
test_replay_stale_length (Fixture *f, gconstpointer data)
{
  const gsize stale = 48 * 1024 * 1024;
  g_autofree char *name = journal_file_name (1);
  g_autoptr (GByteArray) file = NULL;
  g_autoptr (GPtrArray) bodies = NULL;
  MqJournal *journal;
  glong before;
  int fd;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  make_pushes (f, 5, 40);
  file = read_file (f, 1);
  g_byte_array_set_size (file, file->len + MQ_JOURNAL_ENTRY_PREFIX);
  record_put_be (file->data + file->len - 8, stale, 4);
  record_put_be (file->data + file->len - 4, 0x5eed, 4);
  write_file (f, 1, file);
  fd = openat (f->dirfd, name, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 64 * 1024 * 1024), ==, 0);
  g_assert_cmpint (close (fd), ==, 0);

  journal = open_ok (f, 1);
  before = peak_kib ();
  bodies = replay_journal (journal);
  assert_pushes (bodies, 5, 40);
  g_assert_cmpuint (journal_end (journal), ==,
                    MQ_JOURNAL_HEADER_SIZE + 5 * push_size (40));
  g_assert_cmpint (peak_kib () - before, <, 8 * 1024);
  journal_free (journal);
}

static gboolean
refuse_third (const guint8 *body, gsize len, gpointer user_data,
              GError **error)
{
  guint *seen = user_data;

  if (++*seen < 3)
    return TRUE;
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "no");
  return FALSE;
}

/* A replay whose callback fails stops there with its error. */
static void
test_replay_callback_fails (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  MqJournal *journal;
  guint64 entries = 0;
  guint seen = 0;

  make_pushes (f, 5, 10);
  journal = open_ok (f, 1);
  g_assert_false (journal_replay (journal, refuse_third, &seen, &entries,
                                  &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED);
  g_assert_cmpuint (seen, ==, 3);
  g_assert_cmpuint (entries, ==, 2);
  journal_free (journal);
}

/* ---- writing ahead ---------------------------------------------------- */

static gboolean
all_zero (const guint8 *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (p[i] != 0)
      return FALSE;
  return TRUE;
}

/* Pushes of 1,000 bytes that use more than half of the zeros ahead. */
#define FILL_HALF_PUSHES (MQ_JOURNAL_FILL_AHEAD / 2 / 1000 + 1)

/* journal_fill keeps MQ_JOURNAL_FILL_AHEAD of zeros past the entries, in
 * chunks, and no more; it tops them up once half of them are used, not
 * after every write. */
static void
test_fill_ahead (Fixture *f, gconstpointer data)
{
  const char *name = "mqd-000001.journal";
  MqJournal *journal = create (f, 1);
  g_autoptr (GByteArray) file = NULL;
  guint chunks = 0;

  g_assert_true (journal_wants_fill (journal));
  fill_ok (journal, 64 * 1024);
  g_assert_cmpint (file_size (f, name), ==, MQ_JOURNAL_HEADER_SIZE
                   + 64 * 1024);
  while (journal_wants_fill (journal))
    {
      fill_ok (journal, 1000 * 1000);
      chunks++;
    }
  g_assert_cmpuint (chunks, ==, 5);
  g_assert_cmpint (file_size (f, name), ==, MQ_JOURNAL_HEADER_SIZE
                   + MQ_JOURNAL_FILL_AHEAD);
  fill_ok (journal, 1000);
  g_assert_cmpint (file_size (f, name), ==, MQ_JOURNAL_HEADER_SIZE
                   + MQ_JOURNAL_FILL_AHEAD);
  file = read_file (f, 1);
  g_assert_true (all_zero (file->data + 20, file->len - 20));

  /* Entries move the end; the zeros follow it once half are used. */
  for (guint seq = 1; seq <= 10; seq++)
    put_push (journal, seq, 1000);
  write_ok (journal);
  g_assert_false (journal_wants_fill (journal));
  for (guint seq = 11; seq <= FILL_HALF_PUSHES; seq++)
    put_push (journal, seq, 1000);
  write_ok (journal);
  while (journal_wants_fill (journal))
    fill_ok (journal, 1024 * 1024);
  g_assert_cmpint (file_size (f, name), ==, MQ_JOURNAL_HEADER_SIZE
                   + FILL_HALF_PUSHES * push_size (1000)
                   + MQ_JOURNAL_FILL_AHEAD);
  journal_free (journal);
  assert_replays_pushes (f, FILL_HALF_PUSHES, 1000);
}

/* Fills and writes taking turns, entries reaching past the zeros written
 * so far: no fill writes over an entry. */
static void
test_fill_interleaved (Fixture *f, gconstpointer data)
{
  MqJournal *journal = create (f, 1);
  g_autoptr (GByteArray) file = NULL;
  gsize end = MQ_JOURNAL_HEADER_SIZE + 300 * push_size (100);

  for (guint seq = 1; seq <= 300; seq++)
    {
      put_push (journal, seq, 100);
      if (seq % 3 == 0)
        fill_ok (journal, 100);
      if (seq % 2 == 0)
        write_ok (journal);
      fill_ok (journal, seq % 5 == 0 ? 1000 : 50);
    }
  write_ok (journal);
  fill_ok (journal, 4096);
  journal_free (journal);
  assert_replays_pushes (f, 300, 100);
  file = read_file (f, 1);
  g_assert_cmpuint (file->len, >=, end + 4096);
  g_assert_true (all_zero (file->data + end, file->len - end));
}

typedef struct {
  MqJournal *journal;
  gint stop;
  gint fills;
} Filler;

/* The sync thread's part: fill whenever there is something to do, in its
 * chunks of 1 MiB. */
static gpointer
filler_run (gpointer data)
{
  Filler *filler = data;

  while (!g_atomic_int_get (&filler->stop))
    if (journal_wants_fill (filler->journal))
      {
        fill_ok (filler->journal, 1024 * 1024);
        g_atomic_int_inc (&filler->fills);
      }
    else
      g_thread_yield ();
  return NULL;
}

/* A second thread fills in a loop while this one appends: small writes,
 * and bursts that reach past the zeros written ahead while a fill is
 * under way.  Replay finds every entry. */
static void
test_fill_concurrent (Fixture *f, gconstpointer data)
{
  Filler filler = { create (f, 1), 0, 0 };
  GThread *thread = g_thread_new ("filler", filler_run, &filler);
  g_autoptr (GArray) lens = g_array_new (FALSE, FALSE, sizeof (gsize));

  for (guint round = 0; round < 24; round++)
    {
      gboolean burst = round % 3 != 0;
      gsize len = burst ? 4000 : 200;

      /* A burst is 4.7 MiB, past MQ_JOURNAL_FILL_AHEAD. */
      for (guint i = 0; i < (burst ? 1200 : 300); i++)
        {
          g_array_append_val (lens, len);
          put_push (filler.journal, lens->len, len);
        }
      write_ok (filler.journal);
      /* On a busy machine the filler may not have run yet: the rounds
       * that follow the first burst are the ones that overlap its fills. */
      while (round == 1 && g_atomic_int_get (&filler.fills) == 0)
        g_thread_yield ();
    }
  g_atomic_int_set (&filler.stop, 1);
  g_thread_join (thread);
  g_test_message ("%u entries, %d fills", lens->len, filler.fills);
  g_assert_cmpint (filler.fills, >, 0);
  journal_free (filler.journal);
  assert_replays (f, lens);
}

/* A fill held in its first write while another thread writes entries
 * that reach into the range being filled.  The hook sees the writer's
 * first write and how much the fill had written by then. */
typedef struct {
  MqJournal *journal;
  GMutex lock;
  GCond changed;
  gpointer filler;                /* the GThread filling */
  gboolean paused, released;
  gint zeroed;                    /* bytes the fill wrote */
  gint writer_wrote;
  gint writer_saw;                /* zeroed when the writer first wrote */
  pid_t writer_tid;
} Rendezvous;

static Rendezvous *rendezvous;

static ssize_t
pwrite_rendezvous (int fd, const void *buf, size_t len, off_t offset)
{
  Rendezvous *r = rendezvous;
  ssize_t n;

  /* The writer's side takes no lock: it must not sleep but in the
   * journal. */
  if (g_atomic_pointer_get (&r->filler) != g_thread_self ())
    {
      if (g_atomic_int_compare_and_exchange (&r->writer_wrote, 0, 1))
        g_atomic_int_set (&r->writer_saw, g_atomic_int_get (&r->zeroed));
      return pwrite (fd, buf, len, offset);
    }
  g_mutex_lock (&r->lock);
  r->paused = TRUE;
  g_cond_broadcast (&r->changed);
  while (!r->released)
    g_cond_wait (&r->changed, &r->lock);
  g_mutex_unlock (&r->lock);
  n = pwrite (fd, buf, len, offset);
  if (n > 0)
    g_atomic_int_add (&r->zeroed, (gint) n);
  return n;
}

static gpointer
rendezvous_fill (gpointer data)
{
  Rendezvous *r = data;

  g_atomic_pointer_set (&r->filler, g_thread_self ());
  fill_ok (r->journal, 1024 * 1024);
  return NULL;
}

static gpointer
rendezvous_write (gpointer data)
{
  Rendezvous *r = data;

  g_mutex_lock (&r->lock);
  r->writer_tid = gettid ();
  g_cond_broadcast (&r->changed);
  g_mutex_unlock (&r->lock);
  write_ok (r->journal);
  return NULL;
}

/* Whether thread tid of this process sleeps ('S' in its stat). */
static gboolean
thread_sleeps (pid_t tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/stat",
                                           (int) tid);
  g_autofree char *stat = NULL;
  const char *end;

  g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
  end = strrchr (stat, ')');
  g_assert_nonnull (end);
  return end[1] == ' ' && end[2] == 'S';
}

/* The writer, held by nothing but the journal, either writes at once (the
 * fill is still held: a write under the zeros to come) or sleeps; only
 * then is the fill let go.  The entries must be written after the whole
 * fill, never under it. */
static void
test_write_waits_for_fill (Fixture *f, gconstpointer data)
{
  Rendezvous r = { create (f, 1) };
  GThread *filler, *writer;

  g_mutex_init (&r.lock);
  g_cond_init (&r.changed);
  for (guint seq = 1; seq <= 100; seq++)
    put_push (r.journal, seq, 2000);
  rendezvous = &r;
  mq_file_ops.pwrite = pwrite_rendezvous;
  filler = g_thread_new ("filler", rendezvous_fill, &r);
  g_mutex_lock (&r.lock);
  while (!r.paused)
    g_cond_wait (&r.changed, &r.lock);
  writer = g_thread_new ("writer", rendezvous_write, &r);
  while (r.writer_tid == 0)
    g_cond_wait (&r.changed, &r.lock);
  g_mutex_unlock (&r.lock);
  while (!g_atomic_int_get (&r.writer_wrote) && !thread_sleeps (r.writer_tid))
    g_thread_yield ();
  g_mutex_lock (&r.lock);
  r.released = TRUE;
  g_cond_broadcast (&r.changed);
  g_mutex_unlock (&r.lock);
  g_thread_join (filler);
  g_thread_join (writer);
  mq_file_ops = real_ops;
  g_assert_cmpint (r.writer_wrote, ==, 1);
  g_assert_cmpint (r.writer_saw, ==, 1024 * 1024);
  journal_free (r.journal);
  g_mutex_clear (&r.lock);
  g_cond_clear (&r.changed);
  assert_replays_pushes (f, 100, 2000);
}

/* ---- failures --------------------------------------------------------- */

static ssize_t
pwrite_enospc (int fd, const void *buf, size_t len, off_t offset)
{
  errno = ENOSPC;
  return -1;
}

/* Writes half of what it is asked, then fails. */
static ssize_t
pwrite_half (int fd, const void *buf, size_t len, off_t offset)
{
  mq_file_ops.pwrite = pwrite_enospc;
  return pwrite (fd, buf, len / 2, offset);
}

/* A write the disk refused keeps its entries, and a later write puts them
 * where they belonged, with those made since. */
static void
test_write_fails (Fixture *f, gconstpointer data)
{
  ssize_t (*const failures[]) (int, const void *, size_t, off_t) = {
    pwrite_enospc, pwrite_half };
  MqJournal *journal = create (f, 1);
  guint seq = 0;

  put_push (journal, ++seq, 50);
  write_ok (journal);
  for (guint i = 0; i < G_N_ELEMENTS (failures); i++)
    {
      g_autoptr (GError) error = NULL;
      guint64 end;
      gsize pending;

      put_push (journal, ++seq, 50);
      put_push (journal, ++seq, 50);
      end = journal_end (journal);
      pending = journal_pending (journal);
      mq_file_ops.pwrite = failures[i];
      g_assert_false (journal_write (journal, &error));
      g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOSPC);
      g_assert_cmpstr (error->message, ==, "cannot write to "
                       "mqd-000001.journal: No space left on device");
      g_assert_cmpuint (journal_pending (journal), ==, pending);
      g_assert_cmpuint (journal_end (journal), ==, end);
      mq_file_ops = real_ops;
      put_push (journal, ++seq, 50);
      write_ok (journal);
    }
  journal_free (journal);
  assert_replays_pushes (f, seq, 50);
}

/* A fill the disk refused moves nothing: the next one starts over. */
static void
test_fill_fails (Fixture *f, gconstpointer data)
{
  MqJournal *journal = create (f, 1);
  g_autoptr (GError) error = NULL;

  mq_file_ops.pwrite = pwrite_enospc;
  g_assert_false (journal_fill (journal, 8192, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOSPC);
  g_assert_cmpstr (error->message, ==, "cannot extend mqd-000001.journal: "
                   "No space left on device");
  mq_file_ops = real_ops;
  g_assert_true (journal_wants_fill (journal));
  g_assert_cmpint (file_size (f, "mqd-000001.journal"), ==,
                   MQ_JOURNAL_HEADER_SIZE);
  put_push (journal, 1, 10);
  write_ok (journal);
  fill_ok (journal, 8192);
  g_assert_cmpint (file_size (f, "mqd-000001.journal"), ==,
                   MQ_JOURNAL_HEADER_SIZE + push_size (10) + 8192);
  journal_free (journal);
  assert_replays_pushes (f, 1, 10);
}

/* Entries dropped before they were written leave no trace; the next ones
 * take their place. */
static void
test_drop_pending (Fixture *f, gconstpointer data)
{
  MqJournal *journal = create (f, 1);
  guint64 end;

  put_push (journal, 1, 30);
  put_push (journal, 2, 30);
  write_ok (journal);
  end = journal_end (journal);
  put_push (journal, 100, 500);
  put_push (journal, 101, 500);
  journal_drop_pending (journal);
  g_assert_cmpuint (journal_pending (journal), ==, 0);
  g_assert_cmpuint (journal_end (journal), ==, end);
  write_ok (journal);
  put_push (journal, 3, 30);
  g_assert_cmpuint (journal_end (journal), ==, end + push_size (30));
  write_ok (journal);
  journal_free (journal);
  assert_replays_pushes (f, 3, 30);
}

/* ---- recycling -------------------------------------------------------- */

static gboolean
exists (Fixture *f, const char *name)
{
  struct stat st;

  return fstatat (f->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Journal 1, with 200 pushes, is kept for journal 3 and written over with
 * 50 pushes of the same length: its entries 51..200 lie just where the new
 * journal's 51st would start, whole, yet replay stops after the 50th. */
static void
test_recycle_written_over (Fixture *f, gconstpointer data)
{
  g_autofree char *one = journal_file_name (1);
  g_autofree char *three = journal_file_name (3);
  g_autoptr (GPtrArray) bodies = NULL;
  struct stat old, now;
  MqJournal *journal;

  make_pushes (f, 200, 300);
  old = stat_name (f, one);
  g_assert_true (journal_recycle (f->dirfd, one, 3, old.st_size));
  g_assert_false (exists (f, one));
  g_assert_true (exists (f, "mqd-000003.journal.new"));
  journal = create (f, 3);
  g_assert_false (exists (f, "mqd-000003.journal.new"));
  for (guint seq = 1; seq <= 50; seq++)
    put_push (journal, seq, 300);
  write_ok (journal);
  journal_free (journal);
  now = stat_name (f, three);
  g_assert_cmpuint (now.st_ino, ==, old.st_ino);
  g_assert_cmpint (now.st_size, ==, old.st_size);
  bodies = replay (f, 3);
  assert_pushes (bodies, 50, 300);
}

/* A symbolic link, a file with two names, a file too large: each is left
 * where it is, for the caller to remove. */
static void
test_recycle_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *one = journal_file_name (1);
  g_autofree char *path = g_build_filename (f->tmp, one, NULL);
  g_autofree char *other = g_build_filename (f->tmp, "other", NULL);
  g_autofree char *planted = g_build_filename (f->tmp, "mqd-000002.journal",
                                               NULL);
  off_t size;

  make_pushes (f, 10, 100);
  size = file_size (f, one);
  g_assert_false (journal_recycle (f->dirfd, one, 3, size - 1));
  g_assert_cmpint (symlink (path, planted), ==, 0);
  g_assert_false (journal_recycle (f->dirfd, "mqd-000002.journal", 3,
                                   G_MAXUINT64));
  g_assert_cmpint (link (path, other), ==, 0);
  g_assert_false (journal_recycle (f->dirfd, one, 3, G_MAXUINT64));
  g_assert_false (exists (f, "mqd-000003.journal.new"));
  g_assert_cmpint (file_size (f, one), ==, size);
  assert_replays_pushes (f, 10, 100);
}

/* journal_create writes over a scratch file only if it is a regular file
 * of one name: a link planted there is replaced, its target untouched. */
static void
test_create_over_planted_scratch (Fixture *f, gconstpointer data)
{
  g_autofree char *victim = g_build_filename (f->tmp, "victim", NULL);
  g_autofree char *three = g_build_filename (f->tmp,
                                             "mqd-000003.journal.new", NULL);
  g_autofree char *four = g_build_filename (f->tmp,
                                            "mqd-000004.journal.new", NULL);
  g_autofree char *precious = g_strnfill (2 * MQ_JOURNAL_HEADER_SIZE, 'p');
  g_autofree char *content = NULL;
  g_autoptr (GPtrArray) bodies = NULL;
  MqJournal *journal;

  g_assert_true (g_file_set_contents (victim, precious, -1, NULL));
  g_assert_cmpint (symlink (victim, three), ==, 0);
  g_assert_cmpint (link (victim, four), ==, 0);
  journal = create (f, 3);
  put_push (journal, 1, 10);
  write_ok (journal);
  journal_free (journal);
  journal_free (create (f, 4));
  g_assert_false (exists (f, "mqd-000003.journal.new"));
  g_assert_false (exists (f, "mqd-000004.journal.new"));
  g_assert_true (g_file_get_contents (victim, &content, NULL, NULL));
  g_assert_true (g_str_equal (content, precious));
  g_assert_cmpuint (stat_name (f, "victim").st_nlink, ==, 1);
  bodies = replay (f, 3);
  assert_pushes (bodies, 1, 10);
  g_clear_pointer (&bodies, g_ptr_array_unref);
  bodies = replay (f, 4);
  g_assert_cmpuint (bodies->len, ==, 0);
}

#define ADD(path, func) \
  g_test_add ("/journal/" path, Fixture, NULL, fixture_set_up, func, \
              fixture_tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/journal/file-name", test_file_name);
  ADD ("create", test_create);
  ADD ("create-sync-fails", test_create_sync_fails);
  ADD ("open-refused", test_open_refused);
  ADD ("entry/every-op", test_every_op);
  g_test_add_func ("/journal/entry/decode-refused", test_decode_refused);
  ADD ("replay/stops-at-zeros", test_replay_stops_at_zeros);
  ADD ("replay/cut-short", test_replay_cut_short);
  ADD ("replay/flipped-byte", test_replay_flipped_byte);
  ADD ("replay/moved-entry", test_replay_moved_entry);
  ADD ("replay/other-number", test_replay_other_number);
  ADD ("replay/large", test_replay_large);
  ADD ("replay/stale-length", test_replay_stale_length);
  ADD ("replay/callback-fails", test_replay_callback_fails);
  ADD ("fill/ahead", test_fill_ahead);
  ADD ("fill/interleaved", test_fill_interleaved);
  ADD ("fill/concurrent", test_fill_concurrent);
  ADD ("fill/write-waits", test_write_waits_for_fill);
  ADD ("write/fails", test_write_fails);
  ADD ("fill/fails", test_fill_fails);
  ADD ("drop-pending", test_drop_pending);
  ADD ("recycle/written-over", test_recycle_written_over);
  ADD ("recycle/refused", test_recycle_refused);
  ADD ("recycle/planted-scratch", test_create_over_planted_scratch);
  return g_test_run ();
}
