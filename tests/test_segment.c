/* test_segment.c: unit tests for daemon/segment.c, runs of messages in
 * memory and the segment values they are written to and read from.
 *
 * Every message's header and payload follow from its sequence number
 * (msg_make), so a message found anywhere is checked byte for byte.
 */
#include "config.h"

#include <string.h>

#include "crc32c.h"
#include "segment.h"

#define TARGET (32 * 1024)

typedef gsize (*LenFunc) (guint64 seq);

static gsize
len_100 (guint64 seq)
{
  return 100;
}

/* 0 to 300 bytes, zero-length ones included. */
static gsize
len_varied (guint64 seq)
{
  return (gsize) (seq * 37 % 301);
}

/* 0 to 5000 bytes. */
static gsize
len_wide (guint64 seq)
{
  return (gsize) (seq * 7919 % 5001);
}

static gsize
len_1000 (guint64 seq)
{
  return 1000;
}

static void
msg_make (guint64 seq, gsize len, MqMsgHeader *header, guint8 *payload)
{
  header->len = (guint32) len;
  header->flags = (guint32) (seq * 2654435761u);
  header->created_ms = (gint64) (seq * 1000);
  header->expires_ms = seq % 2 ? 0 : (gint64) (seq * 1000 + 60000);
  for (gsize i = 0; i < len; i++)
    payload[i] = (guint8) (seq * 31 + i * 7);
}

static void
append (MqRun *run, guint64 n, LenFunc len_of)
{
  for (guint64 i = 0; i < n; i++)
    {
      guint64 seq = run_end (run);
      gsize len = len_of (seq);
      g_autofree guint8 *payload = g_malloc (len + 1);
      MqMsgHeader header;

      msg_make (seq, len, &header, payload);
      run_append (run, &header, payload);
      g_assert_cmpuint (run_end (run), ==, seq + 1);
    }
}

static void
assert_msg (MqRun *run, guint64 seq, LenFunc len_of)
{
  gsize len = len_of (seq);
  g_autofree guint8 *want = g_malloc (len + 1);
  MqMsgHeader header, want_header;
  const guint8 *payload = NULL;

  msg_make (seq, len, &want_header, want);
  g_assert_true (run_find (run, seq, &header, &payload));
  g_assert_cmpuint (header.len, ==, want_header.len);
  g_assert_cmpuint (header.flags, ==, want_header.flags);
  g_assert_cmpint (header.created_ms, ==, want_header.created_ms);
  g_assert_cmpint (header.expires_ms, ==, want_header.expires_ms);
  g_assert_cmpmem (payload, len, want, len);
}

static void
assert_absent (MqRun *run, guint64 seq)
{
  MqMsgHeader header;
  const guint8 *payload;

  g_assert_false (run_find (run, seq, &header, &payload));
}

static gsize
records_bytes (guint64 from, guint64 to, LenFunc len_of)
{
  gsize total = 0;

  for (guint64 seq = from; seq < to; seq++)
    total += MQ_MSG_HEADER_SIZE + len_of (seq);
  return total;
}

/* A run read back from a private copy of value. */
static MqRun *
decode (const GByteArray *value)
{
  g_autoptr (GError) error = NULL;
  MqRun *run = run_from_segment (g_memdup2 (value->data, value->len),
                                 value->len, &error);

  g_assert_no_error (error);
  g_assert_nonnull (run);
  return run;
}

/* ---- runs --------------------------------------------------------- */

static void
test_empty (void)
{
  MqRun *run = run_new (5);
  g_autoptr (GByteArray) out = g_byte_array_new ();

  g_assert_cmpuint (run_first (run), ==, 5);
  g_assert_cmpuint (run_end (run), ==, 5);
  g_assert_cmpuint (run_bytes (run), ==, 0);
  assert_absent (run, 4);
  assert_absent (run, 5);
  g_assert_cmpuint (run_encode_segment (run, TARGET, out), ==, 5);
  run_drop_before (run, 9);
  g_assert_cmpuint (run_first (run), ==, 5);
  run_unref (run);
}

static void
test_find_in_order (void)
{
  MqRun *run = run_new (1);

  append (run, 200, len_varied);
  g_assert_cmpuint (run_first (run), ==, 1);
  g_assert_cmpuint (run_end (run), ==, 201);
  g_assert_cmpuint (run_bytes (run), ==, records_bytes (1, 201, len_varied));
  for (guint64 seq = 1; seq <= 200; seq++)
    assert_msg (run, seq, len_varied);
  assert_absent (run, 0);
  assert_absent (run, 201);
  assert_absent (run, G_MAXUINT64);
  run_unref (run);
}

/* Backwards, jumping about, the same one twice: the cursor must not lead
 * a search astray. */
static void
test_find_out_of_order (void)
{
  MqRun *run = run_new (1000);
  guint32 x = 1;

  append (run, 300, len_varied);
  for (guint64 seq = 1299; seq >= 1000; seq--)
    assert_msg (run, seq, len_varied);
  for (guint i = 0; i < 2000; i++)
    {
      x = x * 1103515245u + 12345u;
      assert_msg (run, 1000 + (x >> 8) % 300, len_varied);
    }
  assert_msg (run, 1150, len_varied);
  assert_msg (run, 1150, len_varied);
  assert_msg (run, 1000, len_varied);
  assert_msg (run, 1299, len_varied);
  assert_absent (run, 999);
  assert_absent (run, 1300);
  run_unref (run);
}

/* Appends move the buffer; finds before and after each still agree. */
static void
test_find_while_appending (void)
{
  MqRun *run = run_new (1);

  for (guint64 seq = 1; seq <= 300; seq++)
    {
      append (run, 1, len_wide);
      assert_msg (run, seq, len_wide);
      assert_msg (run, (seq + 1) / 2, len_wide);
      assert_absent (run, seq + 1);
    }
  run_unref (run);
}

/* A run partly consumed: what is before the drop is gone, what follows is
 * intact, and a drop past the end empties it for appends to go on. */
static void
test_drop_before (void)
{
  MqRun *run = run_new (1);

  append (run, 10, len_varied);
  assert_msg (run, 7, len_varied);
  run_drop_before (run, 4);
  g_assert_cmpuint (run_first (run), ==, 4);
  g_assert_cmpuint (run_end (run), ==, 11);
  g_assert_cmpuint (run_bytes (run), ==, records_bytes (4, 11, len_varied));
  assert_absent (run, 3);
  for (guint64 seq = 10; seq >= 4; seq--)
    assert_msg (run, seq, len_varied);
  run_drop_before (run, 2);
  run_drop_before (run, 4);
  g_assert_cmpuint (run_first (run), ==, 4);
  assert_msg (run, 4, len_varied);
  run_drop_before (run, 100);
  g_assert_cmpuint (run_first (run), ==, 11);
  g_assert_cmpuint (run_end (run), ==, 11);
  g_assert_cmpuint (run_bytes (run), ==, 0);
  assert_absent (run, 10);
  append (run, 3, len_varied);
  g_assert_cmpuint (run_bytes (run), ==, records_bytes (11, 14, len_varied));
  for (guint64 seq = 11; seq < 14; seq++)
    assert_msg (run, seq, len_varied);
  run_unref (run);
}

/* A copy from a message on holds the whole messages that fit, in bytes
 * of its own: the run it came from can go.  None fit: no copy. */
static void
test_copy_from (void)
{
  MqRun *run = run_new (1), *copy;

  append (run, 40, len_100);
  copy = run_copy_from (run, 7, 1000);
  run_unref (run);
  /* 132-byte records: seven fit in 1,000 bytes. */
  g_assert_cmpuint (run_first (copy), ==, 7);
  g_assert_cmpuint (run_end (copy), ==, 14);
  g_assert_cmpuint (run_bytes (copy), ==, records_bytes (7, 14, len_100));
  assert_absent (copy, 6);
  assert_absent (copy, 14);
  for (guint64 seq = 13; seq >= 7; seq--)
    assert_msg (copy, seq, len_100);
  run_unref (copy);

  run = run_new (1);
  append (run, 5, len_wide);
  g_assert_null (run_copy_from (run, 5, 10));
  copy = run_copy_from (run, 2, 1 << 20);      /* to the run's end */
  g_assert_cmpuint (run_end (copy), ==, 6);
  g_assert_cmpuint (run_bytes (copy), ==, records_bytes (2, 6, len_wide));
  run_unref (copy);
  run_unref (run);
}

/* A young tail that grew past 64 KiB and was mostly consumed gives the
 * consumed bytes back; the messages kept are found as before. */
static void
test_drop_large_prefix (void)
{
  MqRun *run = run_new (1);

  append (run, 100, len_1000);
  assert_msg (run, 50, len_1000);
  run_drop_before (run, 30);        /* 30 KiB dropped: kept as it is */
  assert_msg (run, 60, len_1000);
  run_drop_before (run, 81);        /* 80 KiB dropped, 20 KiB kept */
  g_assert_cmpuint (run_bytes (run), ==, records_bytes (81, 101, len_1000));
  assert_absent (run, 80);
  for (guint64 seq = 81; seq <= 100; seq++)
    assert_msg (run, seq, len_1000);
  append (run, 100, len_1000);
  for (guint64 seq = 200; seq >= 81; seq--)
    assert_msg (run, seq, len_1000);
  run_unref (run);
}

static void
test_refs (void)
{
  MqRun *run = run_new (1);
  MqMsgHeader header;
  const guint8 *payload;

  append (run, 3, len_100);
  g_assert_true (run_ref (run) == run);
  g_assert_true (run_find (run, 2, &header, &payload));
  run_unref (run);
  /* The reference taken keeps the run and the payload found in it. */
  g_assert_cmpuint (payload[0], ==, (guint8) (2 * 31));
  assert_msg (run, 3, len_100);
  run_unref (run);
  run_unref (NULL);
}

/* A young tail takes at most twice the bytes it holds, and its array no
 * more: when the run asked for twice its room and GArray rounded that up
 * to a power of two, 1,000 tails of 6 KiB took 17 MB. */
static void
test_memory (void)
{
  MqRun *run = run_new (1);

  for (guint i = 0; i < 3000; i++)
    {
      append (run, 1, len_100);
      g_assert_cmpuint (run_memory (run), <=, 2 * run_bytes (run) + 64);
    }
  run_unref (run);
}

/* A lent payload keeps its bytes through whatever its run does after:
 * emptied and filled again, grown, a large prefix dropped, freed. */
static GBytes *
lend (MqRun *run, guint64 seq)
{
  MqMsgHeader header;
  const guint8 *payload;

  g_assert_true (run_find (run, seq, &header, &payload));
  return run_lend (run, payload, header.len);
}

static void
assert_loan (GBytes *loan, guint64 seq, LenFunc len_of)
{
  gsize len = len_of (seq);
  g_autofree guint8 *want = g_malloc (len + 1);
  MqMsgHeader header;

  msg_make (seq, len, &header, want);
  g_assert_cmpmem (g_bytes_get_data (loan, NULL), g_bytes_get_size (loan),
                   want, len);
}

static void
test_lend (void)
{
  MqRun *run = run_new (1);
  GBytes *emptied, *grown, *shrunk, *freed;

  append (run, 2, len_1000);
  emptied = lend (run, 2);
  run_drop_before (run, 3);         /* the tail's usual get: now empty */
  append (run, 2, len_1000);        /* where 1 and 2 were */
  grown = lend (run, 4);
  append (run, 200, len_1000);      /* moves a growing array */
  assert_msg (run, 3, len_1000);
  shrunk = lend (run, 150);
  run_drop_before (run, 140);       /* 137 KiB dropped, 66 KiB kept */
  freed = lend (run, 200);
  for (guint64 seq = 140; seq < 205; seq++)
    assert_msg (run, seq, len_1000);
  run_unref (run);
  assert_loan (emptied, 2, len_1000);
  assert_loan (grown, 4, len_1000);
  assert_loan (shrunk, 150, len_1000);
  assert_loan (freed, 200, len_1000);
  g_bytes_unref (emptied);
  g_bytes_unref (grown);
  g_bytes_unref (shrunk);
  g_bytes_unref (freed);
}

/* A young tail that keeps 20 messages while a pair load takes from its
 * head and adds to its end takes memory for what it keeps, not for what
 * went through it or what it once held: its array grew to 128 KiB before
 * the rest moved down, and kept its size after, and 1,000 such tails took
 * 37 MB.  With loans (each get's payload lent until the next round's
 * append) as without. */
static void
assert_steady_tail (gboolean loans)
{
  MqRun *run = run_new (1);
  GBytes *loan = NULL;
  guint64 head = 1;

  append (run, 2000, len_100);     /* 260 KiB, then 20 messages kept */
  if (loans)
    loan = lend (run, head);
  head = 1981;
  run_drop_before (run, head);
  for (guint i = 0; i < 10000; i++)
    {
      append (run, 1, len_100);
      g_clear_pointer (&loan, g_bytes_unref);
      if (loans)
        loan = lend (run, head);
      run_drop_before (run, ++head);
      g_assert_cmpuint (run_bytes (run), ==,
                        records_bytes (head, head + 20, len_100));
      /* Twice what it keeps, doubled by the power of two, and the 4 KiB
       * of dropped prefix it waits for before moving. */
      g_assert_cmpuint (run_memory (run), <=, 4 * run_bytes (run) + 8192);
    }
  for (guint64 seq = head; seq < head + 20; seq++)
    assert_msg (run, seq, len_100);
  g_clear_pointer (&loan, g_bytes_unref);
  run_unref (run);
}

static void
test_steady_tail (void)
{
  assert_steady_tail (FALSE);
}

static void
test_steady_tail_lent (void)
{
  assert_steady_tail (TRUE);
}

/* ---- segment values ----------------------------------------------- */

static void
test_encode_layout (void)
{
  MqRun *run = run_new (7);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint8 want[MQ_SEGMENT_HEADER_SIZE + 2 * MQ_MSG_HEADER_SIZE + 3];
  guint8 *records = want + MQ_SEGMENT_HEADER_SIZE;
  MqMsgHeader header;
  MqRun *back;

  /* From the first message kept, replacing what out held. */
  append (run, 3, len_varied);
  run_drop_before (run, 8);
  g_byte_array_append (out, (const guint8 *) "old", 3);
  g_assert_cmpuint (run_encode_segment (run, 1, out), ==, 9);
  g_assert_cmpuint (out->len, ==, MQ_SEGMENT_HEADER_SIZE
                    + records_bytes (8, 9, len_varied));
  g_assert_cmpuint (out->data[0], ==, MQ_SEGMENT_VERSION);
  g_assert_cmpuint (record_get_be (out->data + 4, 4), ==, 1);
  g_assert_cmpuint (record_get_be (out->data + 8, 8), ==, 8);
  g_assert_cmphex (record_get_be (out->data + 16, 4), ==,
                   crc32c_update (0, out->data + MQ_SEGMENT_HEADER_SIZE,
                                  out->len - MQ_SEGMENT_HEADER_SIZE));
  back = decode (out);
  assert_msg (back, 8, len_varied);
  run_unref (back);
  run_unref (run);

  /* Two short messages, byte for byte. */
  run = run_new (3);
  memset (want, 0, sizeof want);
  header = (MqMsgHeader) { .len = 3, .flags = 9, .created_ms = 1 };
  run_append (run, &header, (const guint8 *) "abc");
  record_msg_encode (&header, records);
  memcpy (records + MQ_MSG_HEADER_SIZE, "abc", 3);
  header = (MqMsgHeader) { .len = 0, .expires_ms = 2 };
  run_append (run, &header, NULL);
  record_msg_encode (&header, records + MQ_MSG_HEADER_SIZE + 3);
  record_segment_header_encode (want, 3, 2,
                                crc32c_update (0, records, sizeof want
                                               - MQ_SEGMENT_HEADER_SIZE));
  g_assert_cmpuint (run_encode_segment (run, TARGET, out), ==, 5);
  g_assert_cmpmem (out->data, out->len, want, sizeof want);
  /* Encoding takes nothing out of the run. */
  g_assert_cmpuint (run_first (run), ==, 3);
  g_assert_cmpuint (run_end (run), ==, 5);
  run_unref (run);
}

/* Seals the whole run into segments of about target bytes, checking each
 * against the rule: the messages up to the first that reaches target, or
 * to the end of the run; each read back whole and exact.  Returns the
 * number of segments. */
static guint
seal_all (MqRun *run, gsize target, LenFunc len_of)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint segments = 0;

  while (run_first (run) < run_end (run))
    {
      guint64 first = run_first (run);
      guint64 end = run_encode_segment (run, target, out);
      gsize records = out->len - MQ_SEGMENT_HEADER_SIZE;
      gsize last = MQ_MSG_HEADER_SIZE + len_of (end - 1);
      MqRun *back;

      g_assert_cmpuint (end, >, first);
      g_assert_cmpuint (records, ==, records_bytes (first, end, len_of));
      g_assert_cmpuint (records - last, <, MAX (target, 1));
      if (end < run_end (run))
        g_assert_cmpuint (records, >=, target);
      back = decode (out);
      g_assert_cmpuint (run_first (back), ==, first);
      g_assert_cmpuint (run_end (back), ==, end);
      g_assert_cmpuint (run_bytes (back), ==, records);
      for (guint64 seq = first; seq < end; seq++)
        assert_msg (back, seq, len_of);
      assert_absent (back, end);
      run_unref (back);
      run_drop_before (run, end);
      segments++;
    }
  return segments;
}

static void
test_encode_split (void)
{
  MqRun *run = run_new (1);
  g_autoptr (GByteArray) out = g_byte_array_new ();

  /* 132-byte records: 249 reach 32 KiB (32,868 bytes). */
  append (run, 1000, len_100);
  g_assert_cmpuint (run_encode_segment (run, TARGET, out), ==, 250);
  g_assert_cmpuint (out->len, ==, MQ_SEGMENT_HEADER_SIZE + 249 * 132);
  g_assert_cmpuint (seal_all (run, TARGET, len_100), ==, 5);
  g_assert_cmpuint (run_first (run), ==, 1001);
  run_unref (run);

  /* A target met exactly: ten records of 132 bytes. */
  run = run_new (1);
  append (run, 100, len_100);
  g_assert_cmpuint (seal_all (run, 1320, len_100), ==, 10);
  run_unref (run);

  run = run_new (1);
  append (run, 2000, len_wide);
  g_assert_cmpuint (seal_all (run, TARGET, len_wide), >, 100);
  run_unref (run);

  run = run_new (G_GUINT64_CONSTANT (1) << 40);
  append (run, 500, len_varied);
  seal_all (run, 1000, len_varied);
  run_unref (run);
}

/* 100 KiB, then 100-byte messages, then 100 KiB again. */
static gsize
len_large_first (guint64 seq)
{
  return seq == 1 || seq == 12 ? 100 * 1024 : 100;
}

/* A message larger than the target is one segment by itself. */
static void
test_encode_large_message (void)
{
  MqRun *run = run_new (1);
  g_autoptr (GByteArray) out = g_byte_array_new ();

  append (run, 12, len_large_first);
  g_assert_cmpuint (run_encode_segment (run, TARGET, out), ==, 2);
  g_assert_cmpuint (out->len, ==, MQ_SEGMENT_HEADER_SIZE
                    + MQ_MSG_HEADER_SIZE + 100 * 1024);
  g_assert_cmpuint (seal_all (run, TARGET, len_large_first), ==, 2);
  run_unref (run);

  /* A target of zero: one message a segment. */
  run = run_new (1);
  append (run, 5, len_varied);
  g_assert_cmpuint (seal_all (run, 0, len_varied), ==, 5);
  run_unref (run);
}

/* A segment read back and partly consumed, then written again: the new
 * value starts at the first message kept. */
static void
test_segment_partly_consumed (void)
{
  MqRun *run = run_new (100);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  MqRun *back;

  append (run, 50, len_varied);
  g_assert_cmpuint (run_encode_segment (run, G_MAXSIZE, out), ==, 150);
  run_unref (run);
  back = decode (out);
  assert_msg (back, 149, len_varied);
  run_drop_before (back, 120);
  g_assert_cmpuint (run_first (back), ==, 120);
  g_assert_cmpuint (run_bytes (back), ==, records_bytes (120, 150,
                                                         len_varied));
  assert_absent (back, 119);
  assert_msg (back, 135, len_varied);
  g_assert_cmpuint (seal_all (back, G_MAXSIZE, len_varied), ==, 1);
  run_unref (back);
}

/* ---- damaged values ------------------------------------------------ */

/* A segment of messages 10..19 of len_varied. */
static GByteArray *
sample_segment (void)
{
  MqRun *run = run_new (10);
  GByteArray *out = g_byte_array_new ();

  append (run, 10, len_varied);
  g_assert_cmpuint (run_encode_segment (run, G_MAXSIZE, out), ==, 20);
  run_unref (run);
  return out;
}

/* The CRC made right again after the records were changed. */
static void
reseal (GByteArray *value)
{
  record_put_be (value->data + 16,
                 crc32c_update (0, value->data + MQ_SEGMENT_HEADER_SIZE,
                                value->len - MQ_SEGMENT_HEADER_SIZE), 4);
}

static void
assert_damaged (const guint8 *value, gsize len, const char *why)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *message = g_strconcat ("damaged segment: ", why, NULL);

  g_assert_null (run_from_segment (g_memdup2 (value, len), len, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_damaged_header (void)
{
  g_autoptr (GByteArray) value = sample_segment ();

  for (guint version = 0; version < 256; version++)
    if (version != MQ_SEGMENT_VERSION)
      {
        value->data[0] = (guint8) version;
        assert_damaged (value->data, value->len, "unknown header");
      }
  value->data[0] = MQ_SEGMENT_VERSION;
  assert_damaged (value->data, 0, "unknown header");
  assert_damaged (value->data, MQ_SEGMENT_HEADER_SIZE - 1, "unknown header");
  /* A header and nothing after it holds no message. */
  record_segment_header_encode (value->data, 10, 0, 0);
  assert_damaged (value->data, MQ_SEGMENT_HEADER_SIZE, "no messages");
}

/* Torn writes: the value cut short, a block of it zeros, a byte changed
 * anywhere in the records. */
static void
test_damaged_crc (void)
{
  g_autoptr (GByteArray) value = sample_segment ();
  g_autofree guint8 *zeroed = g_memdup2 (value->data, value->len);

  for (gsize len = MQ_SEGMENT_HEADER_SIZE; len < value->len; len += 7)
    assert_damaged (value->data, len, "checksum mismatch");
  assert_damaged (value->data, value->len - 1, "checksum mismatch");
  memset (zeroed + 512, 0, value->len - 512);
  assert_damaged (zeroed, value->len, "checksum mismatch");
  for (gsize at = MQ_SEGMENT_HEADER_SIZE; at < value->len; at += 13)
    {
      value->data[at] ^= 0x20;
      assert_damaged (value->data, value->len, "checksum mismatch");
      value->data[at] ^= 0x20;
    }
  value->data[16] ^= 1;
  assert_damaged (value->data, value->len, "checksum mismatch");
  value->data[16] ^= 1;
  run_unref (decode (value));
}

/* A count that does not match the records (the CRC covers the records, not
 * the header), bytes after the last record, a record running past the
 * end, a first sequence number of 0. */
static void
test_damaged_count (void)
{
  g_autoptr (GByteArray) value = sample_segment ();
  guint8 *count = value->data + 4;

  record_put_be (count, 11, 4);
  assert_damaged (value->data, value->len, "a message runs past its end");
  record_put_be (count, G_MAXUINT32, 4);
  assert_damaged (value->data, value->len, "a message runs past its end");
  record_put_be (count, 9, 4);
  assert_damaged (value->data, value->len, "bytes after its messages");
  record_put_be (count, 1, 4);
  assert_damaged (value->data, value->len, "bytes after its messages");
  record_put_be (count, 0, 4);
  assert_damaged (value->data, value->len, "no messages");
  record_put_be (count, 10, 4);
  record_put_be (value->data + 8, 0, 8);
  assert_damaged (value->data, value->len, "no messages");
  record_put_be (value->data + 8, 10, 8);

  g_byte_array_append (value, (const guint8 *) "\0\0\0", 3);
  reseal (value);
  assert_damaged (value->data, value->len, "bytes after its messages");
  g_byte_array_set_size (value, value->len - 3);
  /* The last record's length one more than its payload. */
  record_put_be (value->data + MQ_SEGMENT_HEADER_SIZE
                 + records_bytes (10, 19, len_varied), len_varied (19) + 1, 4);
  reseal (value);
  assert_damaged (value->data, value->len, "a message runs past its end");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/segment/run/empty", test_empty);
  g_test_add_func ("/segment/run/find-in-order", test_find_in_order);
  g_test_add_func ("/segment/run/find-out-of-order", test_find_out_of_order);
  g_test_add_func ("/segment/run/find-while-appending",
                   test_find_while_appending);
  g_test_add_func ("/segment/run/drop-before", test_drop_before);
  g_test_add_func ("/segment/run/drop-large-prefix", test_drop_large_prefix);
  g_test_add_func ("/segment/run/refs", test_refs);
  g_test_add_func ("/segment/run/memory", test_memory);
  g_test_add_func ("/segment/run/lend", test_lend);
  g_test_add_func ("/segment/run/steady-tail", test_steady_tail);
  g_test_add_func ("/segment/run/steady-tail-lent", test_steady_tail_lent);
  g_test_add_func ("/segment/run/copy-from", test_copy_from);
  g_test_add_func ("/segment/encode/layout", test_encode_layout);
  g_test_add_func ("/segment/encode/split", test_encode_split);
  g_test_add_func ("/segment/encode/large-message",
                   test_encode_large_message);
  g_test_add_func ("/segment/encode/partly-consumed",
                   test_segment_partly_consumed);
  g_test_add_func ("/segment/damaged/header", test_damaged_header);
  g_test_add_func ("/segment/damaged/crc", test_damaged_crc);
  g_test_add_func ("/segment/damaged/count", test_damaged_count);
  return g_test_run ();
}
