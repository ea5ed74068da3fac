/* test_record.c: unit tests for daemon/record.c, the layouts of messages,
 * segment values, keys, queue states and the catalog (record.h).
 *
 * Decoders get exact-size heap copies, so the sanitizers catch a read one
 * byte past what they were given.
 */
#include "config.h"

#include <string.h>

#include "protocol.h"
#include "record.h"

#define HELD_SIZE 23   /* seq 8, seg_start 8, len 4, deliveries 2, open 1 */
#define STATE_FIXED(name_len) (3 + (name_len) + 9 * 8 + 4)

/* ---- helpers ---------------------------------------------------------- */

/* A valid name holding every byte a queue name may hold: 0x21..0xff but
 * for '/' and DEL (221 bytes). */
static GString *
every_valid_byte (void)
{
  GString *name = g_string_new (NULL);

  for (guint c = 0x21; c <= 0xff; c++)
    if (c != '/' && c != 0x7f)
      g_string_append_c (name, (char) c);
  g_assert_cmpuint (name->len, ==, 221);
  g_assert_true (protocol_valid_name (name->str, name->len));
  return name;
}

/* A key decoded from an exact-size copy, which name points into. */
typedef struct {
  GBytes *copy;
  MqKeyKind kind;
  const char *name;
  gsize name_len;
  guint64 inc, first;
} Decoded;

static void
decoded_clear (Decoded *d)
{
  g_clear_pointer (&d->copy, g_bytes_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Decoded, decoded_clear)

static void
decode_key (const void *key, gsize len, Decoded *d)
{
  decoded_clear (d);
  d->copy = g_bytes_new (key, len);
  d->name = NULL;
  d->name_len = 0;
  d->inc = d->first = G_GUINT64_CONSTANT (0xdeadbeefdeadbeef);
  d->kind = record_key_decode (g_bytes_get_data (d->copy, NULL), len,
                               &d->name, &d->name_len, &d->inc, &d->first);
}

static void
assert_key_unknown (const void *key, gsize len)
{
  g_auto (Decoded) d = { 0 };

  decode_key (key, len, &d);
  g_assert_cmpint (d.kind, ==, MQ_KEY_UNKNOWN);
}

/* ---- numbers ---------------------------------------------------------- */

static void
test_be_widths (void)
{
  guint64 value = G_GUINT64_CONSTANT (0x0102030405060708);
  guint8 out[9];

  for (guint width = 1; width <= 8; width++)
    {
      guint64 mask = width == 8 ? G_MAXUINT64
        : (G_GUINT64_CONSTANT (1) << (8 * width)) - 1;

      memset (out, 0xee, sizeof out);
      record_put_be (out, value, width);
      for (guint i = 0; i < width; i++)
        g_assert_cmpuint (out[i], ==, 9 - width + i);
      g_assert_cmpuint (out[width], ==, 0xee);
      g_assert_cmphex (record_get_be (out, width), ==, value & mask);
    }
}

/* ---- message records -------------------------------------------------- */

static void
test_msg_layout (void)
{
  static const guint8 want[MQ_MSG_HEADER_SIZE] = {
    0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef,
    1, 2, 3, 4, 5, 6, 7, 8,
    0, 0, 0, 0, 0, 0, 0, 0,
  };
  MqMsgHeader header = { .len = 5, .flags = 0xdeadbeef,
    .created_ms = G_GINT64_CONSTANT (0x0102030405060708), .expires_ms = 0 };
  guint8 out[MQ_MSG_HEADER_SIZE];

  record_msg_encode (&header, out);
  g_assert_cmpmem (out, sizeof out, want, sizeof want);
}

static void
test_msg_round_trip (void)
{
  const MqMsgHeader cases[] = {
    { 0, 0, 0, 0 },
    { 3, G_MAXUINT32, G_GINT64_CONSTANT (1700000000123),
      G_GINT64_CONSTANT (1700000060123) },
    { 1, 1, -1, G_MAXINT64 },
    { 2, 0x80000000u, G_MININT64, G_MININT64 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len = MQ_MSG_HEADER_SIZE + cases[i].len;
      g_autofree guint8 *record = g_malloc0 (len);
      MqMsgHeader back = { 0 };

      record_msg_encode (&cases[i], record);
      g_assert_true (record_msg_decode (record, len, &back));
      g_assert_cmpuint (back.len, ==, cases[i].len);
      g_assert_cmpuint (back.flags, ==, cases[i].flags);
      g_assert_cmpint (back.created_ms, ==, cases[i].created_ms);
      g_assert_cmpint (back.expires_ms, ==, cases[i].expires_ms);
    }
}

/* A record is whole only with its whole payload; a length that runs past
 * the buffer (up to 4 GiB) is refused, not read. */
static void
test_msg_runs_past (void)
{
  MqMsgHeader header = { .len = 10 }, back;
  guint8 record[MQ_MSG_HEADER_SIZE + 10] = { 0 };

  record_msg_encode (&header, record);
  for (gsize avail = 0; avail < sizeof record; avail++)
    {
      g_autofree guint8 *copy = g_memdup2 (record, avail);

      g_assert_false (record_msg_decode (copy, avail, &back));
    }
  /* More bytes than the record is fine: the next record follows. */
  g_assert_true (record_msg_decode (record, sizeof record, &back));
  header.len = G_MAXUINT32;
  record_msg_encode (&header, record);
  g_assert_false (record_msg_decode (record, sizeof record, &back));
  header.len = 11;
  record_msg_encode (&header, record);
  g_assert_false (record_msg_decode (record, sizeof record, &back));
}

/* ---- segment headers -------------------------------------------------- */

static void
test_segment_header (void)
{
  static const guint8 want[MQ_SEGMENT_HEADER_SIZE] = {
    MQ_SEGMENT_VERSION, 0, 0, 0, 0x00, 0x01, 0x02, 0x03,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0xe3, 0x06, 0x92, 0x83, 0, 0, 0, 0,
  };
  guint8 out[MQ_SEGMENT_HEADER_SIZE];
  guint64 first = 0;
  guint32 count = 0, crc = 0;

  memset (out, 0xee, sizeof out);
  record_segment_header_encode (out, G_GUINT64_CONSTANT (0x1011121314151617),
                                0x010203, 0xe3069283u);
  g_assert_cmpmem (out, sizeof out, want, sizeof want);
  g_assert_true (record_segment_header_decode (out, sizeof out, &first,
                                               &count, &crc));
  g_assert_cmphex (first, ==, G_GUINT64_CONSTANT (0x1011121314151617));
  g_assert_cmpuint (count, ==, 0x010203);
  g_assert_cmphex (crc, ==, 0xe3069283u);
}

static void
test_segment_header_refused (void)
{
  guint8 header[MQ_SEGMENT_HEADER_SIZE];
  guint64 first;
  guint32 count, crc;

  record_segment_header_encode (header, 1, 1, 0);
  for (gsize len = 0; len < sizeof header; len++)
    {
      g_autofree guint8 *copy = g_memdup2 (header, len);

      g_assert_false (record_segment_header_decode (copy, len, &first,
                                                    &count, &crc));
    }
  for (guint version = 0; version < 256; version++)
    {
      header[0] = (guint8) version;
      g_assert_cmpint (record_segment_header_decode (header, sizeof header,
                                                     &first, &count, &crc),
                       ==, version == MQ_SEGMENT_VERSION);
    }
}

/* ---- keys ------------------------------------------------------------- */

static void
test_segment_key_layout (void)
{
  static const guint8 want[] = {
    'j', 'o', 'b', 's', 0,
    1, 2, 3, 4, 5, 6, 7, 8,
    0, 0, 0, 0, 0, 0, 0x30, 0x39,
  };
  guint8 key[MQ_SEGMENT_KEY_MAX];
  g_auto (Decoded) d = { 0 };

  g_assert_cmpuint (record_segment_key ("jobs", 4,
                                        G_GUINT64_CONSTANT (0x0102030405060708),
                                        12345, key), ==, sizeof want);
  g_assert_cmpmem (key, sizeof want, want, sizeof want);
  decode_key (key, sizeof want, &d);
  g_assert_cmpint (d.kind, ==, MQ_KEY_SEGMENT);
  g_assert_cmpmem (d.name, d.name_len, "jobs", 4);
  g_assert_cmphex (d.inc, ==, G_GUINT64_CONSTANT (0x0102030405060708));
  g_assert_cmpuint (d.first, ==, 12345);
}

static void
test_metadata_keys (void)
{
  static const guint8 chunk[] = { 0, 'M', 0x01, 0x02, 0x03, 0x04 };
  guint8 key[MQ_META_KEY_MAX];
  g_auto (Decoded) d = { 0 };
  gsize len;

  len = record_catalog_key (key);
  g_assert_cmpmem (key, len, "\0C", 2);
  decode_key (key, len, &d);
  g_assert_cmpint (d.kind, ==, MQ_KEY_CATALOG);

  len = record_meta_chunk_key (0x01020304, key);
  g_assert_cmpmem (key, len, chunk, sizeof chunk);
  g_assert_cmpuint (len, ==, MQ_META_KEY_MAX);
  decode_key (key, len, &d);
  g_assert_cmpint (d.kind, ==, MQ_KEY_META_CHUNK);
  g_assert_cmpuint (d.first, ==, 0x01020304);
  decode_key (key, record_meta_chunk_key (G_MAXUINT32, key), &d);
  g_assert_cmpint (d.kind, ==, MQ_KEY_META_CHUNK);
  g_assert_cmpuint (d.first, ==, G_MAXUINT32);
}

/* Every byte a name may hold survives a key; the longest name fills
 * MQ_SEGMENT_KEY_MAX; numbers at both extremes. */
static void
test_segment_key_names (void)
{
  g_autoptr (GString) all = every_valid_byte ();
  g_autofree char *longest = g_strnfill (MQ_MAX_NAME, '\xff');
  const struct {
    const char *name;
    gsize len;
    guint64 inc, first;
  } cases[] = {
    { all->str, all->len, 1, 1 },
    { longest, MQ_MAX_NAME, G_MAXUINT64, G_MAXUINT64 },
    { "C", 1, 0, 0 },
    { "M", 1, 0x100, 0x4d },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint8 key[MQ_SEGMENT_KEY_MAX];
      gsize len = record_segment_key (cases[i].name, cases[i].len,
                                      cases[i].inc, cases[i].first, key);
      g_auto (Decoded) d = { 0 };

      g_assert_cmpuint (len, ==, cases[i].len + 17);
      decode_key (key, len, &d);
      g_assert_cmpint (d.kind, ==, MQ_KEY_SEGMENT);
      g_assert_cmpmem (d.name, d.name_len, cases[i].name, cases[i].len);
      g_assert_cmpuint (d.inc, ==, cases[i].inc);
      g_assert_cmpuint (d.first, ==, cases[i].first);
    }
  g_assert_cmpuint (record_segment_key (longest, MQ_MAX_NAME, 1, 1,
                                        (guint8[MQ_SEGMENT_KEY_MAX]) { 0 }),
                    ==, MQ_MAX_NAME + 17);
}

/* A name no queue may have makes a key of no known kind: every byte a name
 * may not hold, in the middle, at the start and at the end. */
static void
test_segment_key_bad_names (void)
{
  g_autofree char *too_long = g_strnfill (MQ_MAX_NAME + 1, 'q');
  guint8 key[MQ_SEGMENT_KEY_MAX + 1];

  for (guint c = 0; c <= 0xff; c++)
    {
      char names[3][3] = { { 'a', (char) c, 'z' }, { (char) c, 'a', 'z' },
        { 'a', 'z', (char) c } };

      if (c > 0x20 && c != 0x7f && c != '/')
        continue;
      for (guint i = 0; i < 3; i++)
        assert_key_unknown (key, record_segment_key (names[i], 3, 1, 1, key));
    }
  /* Empty and too long. */
  assert_key_unknown (key, record_segment_key ("", 0, 1, 1, key));
  memcpy (key, too_long, MQ_MAX_NAME + 1);
  key[MQ_MAX_NAME + 1] = 0;
  memset (key + MQ_MAX_NAME + 2, 1, 16);
  assert_key_unknown (key, MQ_MAX_NAME + 18);
}

/* Keys of other layouts: mqd's earlier one (name, NUL, 8-byte sequence
 * number; NUL and name for counters), GDBM tools' and truncated ones. */
static void
test_foreign_keys (void)
{
  static const guint8 item_short[] = { 'q', 0, 0, 0, 0, 0, 0, 0, 0, 7 };
  static const guint8 item_long[] = { 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
    'i', 0, 0, 0, 0, 0, 0, 0, 0, 7 };
  static const guint8 counters[] = { 0, 'j', 'o', 'b', 's' };
  guint8 segment[MQ_SEGMENT_KEY_MAX];
  gsize len = record_segment_key ("jobs", 4, 1, 1, segment);

  assert_key_unknown (item_short, sizeof item_short);
  assert_key_unknown (item_long, sizeof item_long);
  assert_key_unknown (counters, sizeof counters);
  assert_key_unknown ("", 0);
  assert_key_unknown ("\0", 1);
  assert_key_unknown ("\0X", 2);
  assert_key_unknown ("C", 1);
  assert_key_unknown ("\0C\0", 3);
  assert_key_unknown ("\0M\0\0\0", 5);
  assert_key_unknown ("\0M\0\0\0\0\0", 7);
  assert_key_unknown ("\0N\0\0\0\0", 6);
  assert_key_unknown ("some key", 8);
  /* A segment key one byte short or long. */
  assert_key_unknown (segment, len - 1);
  segment[len] = 0;
  assert_key_unknown (segment, len + 1);
}

/* ---- queue states ----------------------------------------------------- */

static const MqQueueMeta sample_meta = {
  .inc = 7, .head = G_GUINT64_CONSTANT (0x0102030405060708),
  .tail = G_GUINT64_CONSTANT (0x0102030405060709), .head_seg = 3,
  .enqueued = 1000, .dequeued = 990, .bytes = G_MAXUINT64, .expired = 4,
  .discarded = 5,
};

static const MqHeld sample_held[] = {
  { 10, 9, 0, 0, TRUE },
  { 11, 9, 1048576, 65535, FALSE },
  { G_MAXUINT64, 0, G_MAXUINT32, 1, TRUE },
};

static void
assert_meta_equal (const MqQueueMeta *a, const MqQueueMeta *b)
{
  g_assert_cmpmem (a, sizeof *a, b, sizeof *b);
}

static void
assert_held_equal (GArray *got, const MqHeld *want, guint n)
{
  g_assert_cmpuint (got->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      const MqHeld *h = &g_array_index (got, MqHeld, i);

      g_assert_cmpuint (h->seq, ==, want[i].seq);
      g_assert_cmpuint (h->seg_start, ==, want[i].seg_start);
      g_assert_cmpuint (h->len, ==, want[i].len);
      g_assert_cmpuint (h->deliveries, ==, want[i].deliveries);
      g_assert_cmpint (h->open, ==, want[i].open);
    }
}

/* The bytes of a young tail, as record.c sees them: opaque. */
static const guint8 sample_tail[] = "segment\0\r\nbytes";

/* A state as version 1 wrote it: version 2's without the tail's length. */
static void
encode_v1 (GByteArray *out, const char *name, gsize name_len,
           const MqHeld *held, guint n_held)
{
  gsize at = out->len;

  record_queue_encode (out, name, name_len, &sample_meta, held, n_held, NULL,
                       0);
  g_byte_array_set_size (out, out->len - 4);
  out->data[at] = 1;
}

static void
test_queue_layout (void)
{
  static const guint8 want_start[] = { 2, 0, 2, 'q', '1', 0, 0, 0, 0, 0, 0,
    0, 7 };
  static const guint8 want_held[] = { 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 0, 0,
    0, 0, 9, 0, 0x10, 0, 0, 0xff, 0xff, 0 };
  g_autoptr (GByteArray) out = g_byte_array_new ();
  gsize fixed = STATE_FIXED (2), tail_at = 2 + fixed + 3 * HELD_SIZE;

  g_byte_array_append (out, (const guint8 *) "xy", 2);
  record_queue_encode (out, "q1", 2, &sample_meta, sample_held, 3,
                       sample_tail, sizeof sample_tail);
  g_assert_cmpuint (out->len, ==, tail_at + 4 + sizeof sample_tail);
  g_assert_cmpmem (out->data, 2, "xy", 2);
  g_assert_cmpmem (out->data + 2, sizeof want_start, want_start,
                   sizeof want_start);
  g_assert_cmpuint (record_get_be (out->data + 2 + fixed - 4, 4), ==, 3);
  g_assert_cmpmem (out->data + 2 + fixed + HELD_SIZE, HELD_SIZE, want_held,
                   sizeof want_held);
  g_assert_cmpuint (record_get_be (out->data + tail_at, 4), ==,
                    sizeof sample_tail);
  g_assert_cmpmem (out->data + tail_at + 4, sizeof sample_tail, sample_tail,
                   sizeof sample_tail);
}

/* Two states one after the other come back as they went, each decode
 * saying how many bytes it used; the tail points into the bytes read. */
static void
test_queue_round_trip (void)
{
  g_autoptr (GString) all = every_valid_byte ();
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (MqHeld));
  MqQueueMeta empty = { .inc = 1, .head = 1, .tail = 1, .head_seg = 1 };
  g_autoptr (GBytes) copy = NULL;
  const guint8 *in, *tail;
  MqQueueMeta meta;
  const char *name;
  gsize name_len, used, len, tail_len;

  record_queue_encode (out, all->str, all->len, &sample_meta, sample_held, 3,
                       sample_tail, sizeof sample_tail);
  record_queue_encode (out, "empty", 5, &empty, NULL, 0, NULL, 0);
  copy = g_bytes_new (out->data, out->len);
  in = g_bytes_get_data (copy, &len);

  used = record_queue_decode (in, len, &name, &name_len, &meta, held, &tail,
                              &tail_len);
  g_assert_cmpuint (used, ==, STATE_FIXED (all->len) + 3 * HELD_SIZE + 4
                    + sizeof sample_tail);
  g_assert_true (name == (const char *) in + 3);
  g_assert_cmpmem (name, name_len, all->str, all->len);
  assert_meta_equal (&meta, &sample_meta);
  assert_held_equal (held, sample_held, 3);
  g_assert_true (tail == in + used - sizeof sample_tail);
  g_assert_cmpmem (tail, tail_len, sample_tail, sizeof sample_tail);

  g_array_set_size (held, 0);
  g_assert_cmpuint (record_queue_decode (in + used, len - used, &name,
                                         &name_len, &meta, held, &tail,
                                         &tail_len), ==,
                    STATE_FIXED (5) + 4);
  g_assert_cmpmem (name, name_len, "empty", 5);
  assert_meta_equal (&meta, &empty);
  g_assert_cmpuint (held->len, ==, 0);
  g_assert_null (tail);
  g_assert_cmpuint (tail_len, ==, 0);
}

/* Every prefix of a state is refused, and adds nothing to held. */
static void
test_queue_truncated (void)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (MqHeld));
  const guint8 *tail;
  MqQueueMeta meta;
  const char *name;
  gsize name_len, tail_len;

  record_queue_encode (out, "q", 1, &sample_meta, sample_held, 3,
                       sample_tail, sizeof sample_tail);
  for (gsize len = 0; len < out->len; len++)
    {
      g_autofree guint8 *copy = g_memdup2 (out->data, len);

      g_assert_cmpuint (record_queue_decode (copy, len, &name, &name_len,
                                             &meta, held, &tail, &tail_len),
                        ==, 0);
      g_assert_cmpuint (held->len, ==, 0);
    }
}

/* The bytes a decode of state used; tail_len is set to the tail's. */
static gsize
decode_state (GByteArray *state, GArray *held, gsize *tail_len)
{
  g_autoptr (GBytes) copy = g_bytes_new (state->data, state->len);
  const guint8 *tail;
  MqQueueMeta meta;
  const char *name;
  gsize name_len, ignored;

  return record_queue_decode (g_bytes_get_data (copy, NULL), state->len,
                              &name, &name_len, &meta, held, &tail,
                              tail_len != NULL ? tail_len : &ignored);
}

/* Version 1 (written before young tails were carried over) reads as a
 * state without a tail; no other version reads at all. */
static void
test_queue_bad_version (void)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (MqHeld));
  gsize tail_len = 99;

  encode_v1 (out, "q", 1, sample_held, 1);
  g_assert_cmpuint (out->len, ==, STATE_FIXED (1) + HELD_SIZE);
  g_assert_cmpuint (decode_state (out, held, &tail_len), ==, out->len);
  g_assert_cmpuint (tail_len, ==, 0);
  assert_held_equal (held, sample_held, 1);
  g_array_set_size (held, 0);
  g_byte_array_set_size (out, 0);
  record_queue_encode (out, "q", 1, &sample_meta, sample_held, 1,
                       sample_tail, sizeof sample_tail);
  for (guint version = 0; version < 256; version++)
    if (version != 2)
      {
        g_autoptr (GByteArray) bad = g_byte_array_new ();

        g_byte_array_append (bad, out->data, out->len);
        bad->data[0] = (guint8) version;
        /* As version 1 the tail's length would be left over, unread. */
        g_assert_cmpuint (decode_state (bad, held, NULL), ==,
                          version == 1 ? STATE_FIXED (1) + HELD_SIZE : 0);
        g_array_set_size (held, 0);
      }
}

/* A held count the bytes cannot hold is refused, however large; in a
 * version 1 state a smaller one reads what it says and leaves the rest. */
static void
test_queue_held_count (void)
{
  const guint32 counts[] = { 4, 5, 0x10000, G_MAXUINT32 / HELD_SIZE + 1,
    G_MAXUINT32 };
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GByteArray) v2 = g_byte_array_new ();
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (MqHeld));
  gsize count_at = STATE_FIXED (1) - 4;

  encode_v1 (out, "q", 1, sample_held, 3);
  record_queue_encode (v2, "q", 1, &sample_meta, sample_held, 3, NULL, 0);
  /* A fourth held message's worth of bytes, short by one. */
  g_byte_array_set_size (out, out->len + HELD_SIZE - 1);
  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      record_put_be (out->data + count_at, counts[i], 4);
      record_put_be (v2->data + count_at, counts[i], 4);
      g_assert_cmpuint (decode_state (out, held, NULL), ==, 0);
      g_assert_cmpuint (decode_state (v2, held, NULL), ==, 0);
      g_assert_cmpuint (held->len, ==, 0);
    }
  record_put_be (out->data + count_at, 2, 4);
  g_assert_cmpuint (decode_state (out, held, NULL), ==, STATE_FIXED (1)
                    + 2 * HELD_SIZE);
  assert_held_equal (held, sample_held, 2);
}

/* A tail's length past the bytes there is refused; one that leaves bytes
 * over reads what it says. */
static void
test_queue_tail_length (void)
{
  const guint32 lengths[] = { sizeof sample_tail + 1, 0x10000, G_MAXUINT32 };
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (MqHeld));
  gsize length_at = STATE_FIXED (1) + HELD_SIZE, tail_len = 0;

  record_queue_encode (out, "q", 1, &sample_meta, sample_held, 1,
                       sample_tail, sizeof sample_tail);
  for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      record_put_be (out->data + length_at, lengths[i], 4);
      g_assert_cmpuint (decode_state (out, held, NULL), ==, 0);
      g_assert_cmpuint (held->len, ==, 0);
    }
  record_put_be (out->data + length_at, 3, 4);
  g_assert_cmpuint (decode_state (out, held, &tail_len), ==, length_at + 4
                    + 3);
  g_assert_cmpuint (tail_len, ==, 3);
}

static void
test_queue_bad_name (void)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (MqHeld));

  record_queue_encode (out, "a b", 3, &sample_meta, NULL, 0, NULL, 0);
  g_assert_cmpuint (decode_state (out, held, NULL), ==, 0);
  g_byte_array_set_size (out, 0);
  record_queue_encode (out, "", 0, &sample_meta, NULL, 0, NULL, 0);
  g_assert_cmpuint (decode_state (out, held, NULL), ==, 0);
  g_byte_array_set_size (out, 0);
  record_queue_encode (out, "a/b", 3, &sample_meta, NULL, 0, NULL, 0);
  g_assert_cmpuint (decode_state (out, held, NULL), ==, 0);
}

/* ---- catalog ---------------------------------------------------------- */

static const MqCatalog sample_catalog = {
  .generation = 42, .next_inc = G_GUINT64_CONSTANT (0x0102030405060708),
  .meta_chunks = 3, .queues = 1000,
  .instance = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xff },
};

static void
test_catalog_round_trip (void)
{
  guint8 out[MQ_CATALOG_SIZE];
  g_autoptr (GBytes) copy = NULL;
  MqCatalog back = { 0 };

  g_assert_cmpuint (MQ_CATALOG_SIZE, ==, 45);
  record_catalog_encode (&sample_catalog, out);
  g_assert_cmpuint (out[0], ==, 1);
  g_assert_cmpuint (record_get_be (out + 1, 8), ==, 42);
  g_assert_cmpmem (out + 29, MQ_INSTANCE_ID_SIZE, sample_catalog.instance,
                   MQ_INSTANCE_ID_SIZE);
  copy = g_bytes_new (out, sizeof out);
  g_assert_true (record_catalog_decode (g_bytes_get_data (copy, NULL),
                                        sizeof out, &back));
  g_assert_cmpuint (back.generation, ==, sample_catalog.generation);
  g_assert_cmpuint (back.next_inc, ==, sample_catalog.next_inc);
  g_assert_cmpuint (back.meta_chunks, ==, sample_catalog.meta_chunks);
  g_assert_cmpuint (back.queues, ==, sample_catalog.queues);
  g_assert_cmpmem (back.instance, MQ_INSTANCE_ID_SIZE,
                   sample_catalog.instance, MQ_INSTANCE_ID_SIZE);
}

static void
test_catalog_refused (void)
{
  guint8 out[MQ_CATALOG_SIZE];
  MqCatalog back;

  record_catalog_encode (&sample_catalog, out);
  for (gsize len = 0; len < sizeof out; len++)
    {
      g_autofree guint8 *copy = g_memdup2 (out, len);

      g_assert_false (record_catalog_decode (copy, len, &back));
    }
  out[0] = 0;
  g_assert_false (record_catalog_decode (out, sizeof out, &back));
  out[0] = 2;
  g_assert_false (record_catalog_decode (out, sizeof out, &back));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/record/be-widths", test_be_widths);
  g_test_add_func ("/record/msg/layout", test_msg_layout);
  g_test_add_func ("/record/msg/round-trip", test_msg_round_trip);
  g_test_add_func ("/record/msg/runs-past", test_msg_runs_past);
  g_test_add_func ("/record/segment-header/layout", test_segment_header);
  g_test_add_func ("/record/segment-header/refused",
                   test_segment_header_refused);
  g_test_add_func ("/record/key/segment-layout", test_segment_key_layout);
  g_test_add_func ("/record/key/metadata", test_metadata_keys);
  g_test_add_func ("/record/key/names", test_segment_key_names);
  g_test_add_func ("/record/key/bad-names", test_segment_key_bad_names);
  g_test_add_func ("/record/key/foreign", test_foreign_keys);
  g_test_add_func ("/record/queue/layout", test_queue_layout);
  g_test_add_func ("/record/queue/round-trip", test_queue_round_trip);
  g_test_add_func ("/record/queue/truncated", test_queue_truncated);
  g_test_add_func ("/record/queue/bad-version", test_queue_bad_version);
  g_test_add_func ("/record/queue/held-count", test_queue_held_count);
  g_test_add_func ("/record/queue/tail-length", test_queue_tail_length);
  g_test_add_func ("/record/queue/bad-name", test_queue_bad_name);
  g_test_add_func ("/record/catalog/round-trip", test_catalog_round_trip);
  g_test_add_func ("/record/catalog/refused", test_catalog_refused);
  return g_test_run ();
}
