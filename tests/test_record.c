/* test_record.c: unit tests for daemon/record.c, the byte layout of keys and
 * values in the GDBM file.
 *
 * Every buffer handed to the code under test is an exact-size heap copy, so
 * the sanitizers catch a read or write one byte past what it was given.
 */
#include "config.h"

#include <string.h>

#include "protocol.h"
#include "record.h"

/* ---- helpers ---- */

static void
assert_bytes (const guint8 *got, gsize got_len, const char *want,
              gsize want_len)
{
  g_assert_cmpmem (got, got_len, want, want_len);
}

/* The item key of name/seq, in an exact-size buffer; *len is its length. */
static guint8 *
item_key (const char *name, gsize name_len, guint64 seq, gsize *len)
{
  guint8 *key = g_malloc (name_len + 9);

  *len = record_item_key (name, name_len, seq, key);
  g_assert_cmpuint (*len, ==, name_len + 9);
  return key;
}

static guint8 *
meta_key (const char *name, gsize name_len, gsize *len)
{
  guint8 *key = g_malloc (name_len + 2);

  *len = record_meta_key (name, name_len, key);
  g_assert_cmpuint (*len, ==, name_len + 2);
  return key;
}

typedef struct {
  MqKeyKind kind;
  const char *name;
  gsize name_len;
  guint64 seq;
} Decoded;

/* Decodes a private copy of key[0..len). */
static Decoded
decode_copy (const void *key, gsize len, guint8 **copy)
{
  Decoded d = { 0, NULL, 0, G_GUINT64_CONSTANT (0xdeadbeefdeadbeef) };

  *copy = g_memdup2 (key, len);
  d.kind = record_key_decode (*copy, len, &d.name, &d.name_len, &d.seq);
  return d;
}

static void
assert_unknown (const void *key, gsize len)
{
  g_autofree guint8 *copy = NULL;
  Decoded d = decode_copy (key, len, &copy);

  g_assert_cmpint (d.kind, ==, MQ_KEY_UNKNOWN);
}

static char *
repeat_char (char c, gsize n)
{
  char *s = g_malloc (n + 1);

  memset (s, c, n);
  s[n] = '\0';
  return s;
}

/* ---- item keys ---- */

static void
test_item_key_layout (void)
{
  gsize len;
  g_autofree guint8 *key = item_key ("q", 1,
                                     G_GUINT64_CONSTANT (0x0102030405060708),
                                     &len);

  assert_bytes (key, len, "q\0\1\2\3\4\5\6\7\10", 10);
}

static void
test_item_key_layout_name (void)
{
  gsize len;
  g_autofree guint8 *key = item_key ("jobs.mail", 9,
                                     G_GUINT64_CONSTANT (0x1122334455667788),
                                     &len);

  assert_bytes (key, len,
                "jobs.mail\0\x11\x22\x33\x44\x55\x66\x77\x88", 18);
}

static void
test_item_key_layout_seq_extremes (void)
{
  gsize len;
  g_autofree guint8 *zero = item_key ("ab", 2, 0, &len);
  g_autofree guint8 *one = NULL;
  g_autofree guint8 *max = NULL;
  g_autofree guint8 *high = NULL;

  assert_bytes (zero, len, "ab\0\0\0\0\0\0\0\0\0", 11);
  one = item_key ("ab", 2, 1, &len);
  assert_bytes (one, len, "ab\0\0\0\0\0\0\0\0\1", 11);
  max = item_key ("ab", 2, G_MAXUINT64, &len);
  assert_bytes (max, len, "ab\0\xff\xff\xff\xff\xff\xff\xff\xff", 11);
  /* Only the top byte set: shows the byte order, not just its symmetry. */
  high = item_key ("ab", 2, G_GUINT64_CONSTANT (0x8000000000000000), &len);
  assert_bytes (high, len, "ab\0\x80\0\0\0\0\0\0\0", 11);
}

/* Big-endian keys of one queue sort in sequence order, byte for byte. */
static void
test_item_key_order (void)
{
  const guint64 seqs[] = { 0, 1, 255, 256, 65535, 65536,
    G_GUINT64_CONSTANT (0x00ffffffffffffff),
    G_GUINT64_CONSTANT (0x0100000000000000), G_MAXUINT64 - 1, G_MAXUINT64 };

  for (guint i = 0; i + 1 < G_N_ELEMENTS (seqs); i++)
    {
      gsize a_len, b_len;
      g_autofree guint8 *a = item_key ("q", 1, seqs[i], &a_len);
      g_autofree guint8 *b = item_key ("q", 1, seqs[i + 1], &b_len);

      g_assert_cmpuint (a_len, ==, b_len);
      g_assert_cmpint (memcmp (a, b, a_len), <, 0);
    }
}

static void
test_item_key_longest_name (void)
{
  g_autofree char *name = repeat_char ('n', MQ_MAX_NAME);
  gsize len;
  g_autofree guint8 *key = item_key (name, MQ_MAX_NAME,
                                     G_GUINT64_CONSTANT (0x0102030405060708),
                                     &len);

  g_assert_cmpuint (len, ==, MQ_MAX_NAME + 9);
  g_assert_cmpmem (key, MQ_MAX_NAME, name, MQ_MAX_NAME);
  assert_bytes (key + MQ_MAX_NAME, 9, "\0\1\2\3\4\5\6\7\10", 9);
}

/* ---- meta keys ---- */

static void
test_meta_key_layout (void)
{
  gsize len;
  g_autofree guint8 *key = meta_key ("q", 1, &len);
  g_autofree guint8 *key2 = NULL;

  assert_bytes (key, len, "\0Qq", 3);
  key2 = meta_key ("jobs.mail", 9, &len);
  assert_bytes (key2, len, "\0Qjobs.mail", 11);
}

static void
test_meta_key_longest_name (void)
{
  g_autofree char *name = repeat_char ('m', MQ_MAX_NAME);
  gsize len;
  g_autofree guint8 *key = meta_key (name, MQ_MAX_NAME, &len);

  g_assert_cmpuint (len, ==, MQ_MAX_NAME + 2);
  assert_bytes (key, 2, "\0Q", 2);
  g_assert_cmpmem (key + 2, MQ_MAX_NAME, name, MQ_MAX_NAME);
}

/* ---- item headers ---- */

static void
test_header_layout (void)
{
  const MqRecordHeader header = {
    .deliveries = 0x0102,
    .flags = 0x03040506,
    .created_ms = G_GINT64_CONSTANT (0x0708090a0b0c0d0e),
    .expires_ms = G_GINT64_CONSTANT (0x0f10111213141516),
  };
  guint8 *out = g_malloc (MQ_RECORD_HEADER_SIZE);

  g_assert_cmpint (MQ_RECORD_HEADER_SIZE, ==, 24);
  g_assert_cmpint (MQ_RECORD_VERSION, ==, 1);
  /* Garbage first: every byte, the reserved one included, must be set. */
  memset (out, 0xa5, MQ_RECORD_HEADER_SIZE);
  record_header_encode (&header, out);
  assert_bytes (out, MQ_RECORD_HEADER_SIZE,
                "\1\0"
                "\x01\x02"
                "\x03\x04\x05\x06"
                "\x07\x08\x09\x0a\x0b\x0c\x0d\x0e"
                "\x0f\x10\x11\x12\x13\x14\x15\x16", 24);
  g_free (out);
}

static void
assert_header_round_trip (const MqRecordHeader *in)
{
  guint8 *buf = g_malloc (MQ_RECORD_HEADER_SIZE);
  MqRecordHeader out;

  memset (&out, 0x5a, sizeof out);
  record_header_encode (in, buf);
  g_assert_cmpint (buf[0], ==, MQ_RECORD_VERSION);
  g_assert_true (record_header_decode (buf, MQ_RECORD_HEADER_SIZE, &out));
  g_assert_cmpuint (out.deliveries, ==, in->deliveries);
  g_assert_cmpuint (out.flags, ==, in->flags);
  g_assert_cmpint (out.created_ms, ==, in->created_ms);
  g_assert_cmpint (out.expires_ms, ==, in->expires_ms);
  g_free (buf);
}

static void
test_header_round_trip (void)
{
  const MqRecordHeader cases[] = {
    { 0, 0, 0, 0 },
    { 65535, 0xffffffff, G_MAXINT64, G_MAXINT64 },
    { 65535, 0xffffffff, G_MININT64, G_MININT64 },
    { 1, 1, -1, -1 },
    { 0x8000, 0x80000000, G_GINT64_CONSTANT (1700000000000),
      G_GINT64_CONSTANT (1700000030000) },
    { 12345, 42, -G_GINT64_CONSTANT (86400000), 0 },
    { 0, 0xdeadbeef, G_MININT64 + 1, G_MAXINT64 - 1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_header_round_trip (&cases[i]);
}

/* A stored value is the header then the payload: decode reads a prefix. */
static void
test_header_decode_with_payload (void)
{
  const MqRecordHeader in = { 3, 7, 1000, 2000 };
  const gsize len = MQ_RECORD_HEADER_SIZE + 5;
  guint8 *buf = g_malloc (len);
  MqRecordHeader out;

  record_header_encode (&in, buf);
  memcpy (buf + MQ_RECORD_HEADER_SIZE, "a\0b\r\n", 5);
  g_assert_true (record_header_decode (buf, len, &out));
  g_assert_cmpuint (out.deliveries, ==, 3);
  g_assert_cmpuint (out.flags, ==, 7);
  g_assert_cmpint (out.created_ms, ==, 1000);
  g_assert_cmpint (out.expires_ms, ==, 2000);
  g_free (buf);
}

static void
test_header_decode_short (void)
{
  const MqRecordHeader in = { 1, 2, 3, 4 };
  guint8 full[MQ_RECORD_HEADER_SIZE];

  record_header_encode (&in, full);
  for (gsize len = 0; len < MQ_RECORD_HEADER_SIZE; len++)
    {
      /* An exact-size copy: a decoder that read past len would be caught. */
      g_autofree guint8 *copy = g_memdup2 (full, len == 0 ? 1 : len);
      MqRecordHeader out;

      g_assert_false (record_header_decode (copy, len, &out));
    }
}

static void
test_header_decode_version (void)
{
  const MqRecordHeader in = { 1, 2, 3, 4 };
  const guint8 versions[] = { 0, 2, 3, 0x7f, 0x80, 0xff };

  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      guint8 *buf = g_malloc (MQ_RECORD_HEADER_SIZE + 8);
      MqRecordHeader out;

      record_header_encode (&in, buf);
      memset (buf + MQ_RECORD_HEADER_SIZE, 'x', 8);
      buf[0] = versions[i];
      g_assert_false (record_header_decode (buf, MQ_RECORD_HEADER_SIZE, &out));
      g_assert_false (record_header_decode (buf, MQ_RECORD_HEADER_SIZE + 8,
                                            &out));
      g_free (buf);
    }
}

/* ---- queue metadata ---- */

static void
assert_meta_equal (const MqQueueMeta *a, const MqQueueMeta *b)
{
  g_assert_cmpuint (a->head, ==, b->head);
  g_assert_cmpuint (a->tail, ==, b->tail);
  g_assert_cmpuint (a->enqueued, ==, b->enqueued);
  g_assert_cmpuint (a->dequeued, ==, b->dequeued);
  g_assert_cmpuint (a->bytes, ==, b->bytes);
  g_assert_cmpuint (a->expired, ==, b->expired);
  g_assert_cmpuint (a->discarded, ==, b->discarded);
}

static void
test_meta_layout (void)
{
  const MqQueueMeta meta = {
    .head = 0x0102030405060708,
    .tail = 0x1112131415161718,
    .enqueued = 0x2122232425262728,
    .dequeued = 0x3132333435363738,
    .bytes = 0x4142434445464748,
    .expired = 0x5152535455565758,
    .discarded = 0x6162636465666768,
  };
  guint8 *out = g_malloc (MQ_META_SIZE);

  g_assert_cmpint (MQ_META_SIZE, ==, 57);
  memset (out, 0xa5, MQ_META_SIZE);
  record_meta_encode (&meta, out);
  assert_bytes (out, MQ_META_SIZE,
                "\1"
                "\x01\x02\x03\x04\x05\x06\x07\x08"
                "\x11\x12\x13\x14\x15\x16\x17\x18"
                "\x21\x22\x23\x24\x25\x26\x27\x28"
                "\x31\x32\x33\x34\x35\x36\x37\x38"
                "\x41\x42\x43\x44\x45\x46\x47\x48"
                "\x51\x52\x53\x54\x55\x56\x57\x58"
                "\x61\x62\x63\x64\x65\x66\x67\x68", 57);
  g_free (out);
}

static void
test_meta_round_trip (void)
{
  const MqQueueMeta cases[] = {
    { 0, 0, 0, 0, 0, 0, 0 },
    { 1, 1, 0, 0, 0, 0, 0 },
    { G_MAXUINT64, G_MAXUINT64, G_MAXUINT64, G_MAXUINT64, G_MAXUINT64,
      G_MAXUINT64, G_MAXUINT64 },
    { 17, 42, 41, 24, 1 << 20, 3, 2 },
    { G_GUINT64_CONSTANT (0x8000000000000000), 1, 2, 3, 4, 5, 6 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint8 *buf = g_malloc (MQ_META_SIZE);
      MqQueueMeta out;

      memset (&out, 0x5a, sizeof out);
      record_meta_encode (&cases[i], buf);
      g_assert_true (record_meta_decode (buf, MQ_META_SIZE, &out));
      assert_meta_equal (&out, &cases[i]);
      g_free (buf);
    }
}

static void
test_meta_decode_short (void)
{
  const MqQueueMeta in = { 1, 2, 3, 4, 5, 6, 7 };
  guint8 full[MQ_META_SIZE];

  record_meta_encode (&in, full);
  for (gsize len = 0; len < MQ_META_SIZE; len++)
    {
      g_autofree guint8 *copy = g_memdup2 (full, len == 0 ? 1 : len);
      MqQueueMeta out;

      g_assert_false (record_meta_decode (copy, len, &out));
    }
}

static void
test_meta_decode_version_zero (void)
{
  const MqQueueMeta in = { 1, 2, 3, 4, 5, 6, 7 };
  guint8 *buf = g_malloc (MQ_META_SIZE);
  MqQueueMeta out;

  record_meta_encode (&in, buf);
  buf[0] = 0;
  g_assert_false (record_meta_decode (buf, MQ_META_SIZE, &out));
  g_free (buf);
}

/* A later version may append fields: this one reads the fields it knows. */
static void
test_meta_decode_future (void)
{
  const MqQueueMeta in = { 10, 20, 30, 40, 50, 60, 70 };
  const gsize extra = 24;
  guint8 *buf = g_malloc (MQ_META_SIZE + extra);
  MqQueueMeta out;

  record_meta_encode (&in, buf);
  memset (buf + MQ_META_SIZE, 0xee, extra);

  /* The same version, longer. */
  g_assert_true (record_meta_decode (buf, MQ_META_SIZE + extra, &out));
  assert_meta_equal (&out, &in);

  /* A later version, longer. */
  buf[0] = MQ_META_VERSION + 1;
  memset (&out, 0, sizeof out);
  g_assert_true (record_meta_decode (buf, MQ_META_SIZE + extra, &out));
  assert_meta_equal (&out, &in);

  /* A later version of exactly today's size. */
  g_assert_true (record_meta_decode (buf, MQ_META_SIZE, &out));
  assert_meta_equal (&out, &in);

  /* A later version cut short is still refused. */
  g_assert_false (record_meta_decode (buf, MQ_META_SIZE - 1, &out));
  g_free (buf);
}

/* ---- classifying stored keys ---- */

static void
assert_item (const char *name, gsize name_len, guint64 seq)
{
  gsize len;
  g_autofree guint8 *key = item_key (name, name_len, seq, &len);
  const char *got_name = NULL;
  gsize got_len = 0;
  guint64 got_seq = 0;

  g_assert_cmpint (record_key_decode (key, len, &got_name, &got_len, &got_seq),
                   ==, MQ_KEY_ITEM);
  /* The name points into the key, not into a copy. */
  g_assert_true (got_name == (const char *) key);
  g_assert_cmpmem (got_name, got_len, name, name_len);
  g_assert_cmpuint (got_seq, ==, seq);
}

static void
test_key_decode_item (void)
{
  g_autofree char *longest = repeat_char ('z', MQ_MAX_NAME);

  assert_item ("q", 1, G_GUINT64_CONSTANT (0x0102030405060708));
  assert_item ("q", 1, 0);
  assert_item ("q", 1, 1);
  assert_item ("jobs.mail", 9, G_MAXUINT64);
  assert_item ("Q", 1, 7);            /* no confusion with the meta tag */
  assert_item ("\xc3\xa9t\xc3\xa9", 5, 99);     /* UTF-8 is allowed */
  assert_item ("~!@#$%^&*()_+-=[]{}|;:'\",.<>?", 29, 5);
  assert_item (longest, MQ_MAX_NAME, 123456789);
}

static void
assert_meta (const char *name, gsize name_len)
{
  gsize len;
  g_autofree guint8 *key = meta_key (name, name_len, &len);
  const char *got_name = NULL;
  gsize got_len = 0;
  guint64 seq = 0;

  g_assert_cmpint (record_key_decode (key, len, &got_name, &got_len, &seq),
                   ==, MQ_KEY_META);
  g_assert_true (got_name == (const char *) key + 2);
  g_assert_cmpmem (got_name, got_len, name, name_len);
}

static void
test_key_decode_meta (void)
{
  g_autofree char *longest = repeat_char ('y', MQ_MAX_NAME);

  assert_meta ("q", 1);
  assert_meta ("Q", 1);
  assert_meta ("jobs.mail", 9);
  /* Ten bytes, as long as the shortest item key. */
  assert_meta ("abcdefgh", 8);
  assert_meta (longest, MQ_MAX_NAME);
}

static void
test_key_decode_too_short (void)
{
  assert_unknown ("", 0);
  assert_unknown ("q", 1);
  assert_unknown ("\0", 1);
  assert_unknown ("\0Q", 2);          /* a meta key without a name */
  /* An item key without a name: a NUL and the 8-byte seq. */
  assert_unknown ("\0\1\2\3\4\5\6\7\10", 9);
  /* One byte short of an item key. */
  assert_unknown ("q\0\1\2\3\4\5\6\7", 9);
}

static void
test_key_decode_no_separator (void)
{
  /* The byte 9 from the end must be the NUL after the name. */
  assert_unknown ("abcdefghijk", 11);
  assert_unknown ("q\1\1\2\3\4\5\6\7\10", 10);
  /* The NUL one byte too early, then one byte too late. */
  assert_unknown ("q\0\1\2\3\4\5\6\7\10\11", 11);
  assert_unknown ("qq\1\0\3\4\5\6\7\10\11", 11);
  /* Only the byte 9 from the end counts: this one is an item "qq". */
  {
    g_autofree guint8 *copy = NULL;
    Decoded d = decode_copy ("qq\0\1\2\3\4\5\6\7\10", 11, &copy);

    g_assert_cmpint (d.kind, ==, MQ_KEY_ITEM);
    g_assert_cmpmem (d.name, d.name_len, "qq", 2);
    g_assert_cmpuint (d.seq, ==, G_GUINT64_CONSTANT (0x0102030405060708));
  }
}

static void
test_key_decode_bad_item_name (void)
{
  g_autofree char *too_long = repeat_char ('x', MQ_MAX_NAME + 1);
  gsize len;
  g_autofree guint8 *long_key = NULL;
  const char *bad[] = { "a b", "a\tb", "a/b", "/", "a\nb", "a\rb", "\x7f",
    "a\x01", "\x1f" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree guint8 *key = item_key (bad[i], strlen (bad[i]), 1, &len);

      assert_unknown (key, len);
    }
  /* NUL inside the name (a name is never allowed one). */
  {
    g_autofree guint8 *key = item_key ("a\0b", 3, 1, &len);

    assert_unknown (key, len);
  }
  long_key = item_key (too_long, MQ_MAX_NAME + 1, 1, &len);
  assert_unknown (long_key, len);
}

static void
test_key_decode_bad_meta_name (void)
{
  g_autofree char *too_long = repeat_char ('x', MQ_MAX_NAME + 1);
  gsize len;
  g_autofree guint8 *long_key = NULL;
  const char *bad[] = { "a b", "a/b", "/", "\t", "a\x7f" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree guint8 *key = meta_key (bad[i], strlen (bad[i]), &len);

      assert_unknown (key, len);
    }
  long_key = meta_key (too_long, MQ_MAX_NAME + 1, &len);
  assert_unknown (long_key, len);
  /* Other reserved tags are not counters. */
  assert_unknown ("\0Rq", 3);
  assert_unknown ("\0qq", 3);
  assert_unknown ("\0\0q", 3);
}

/* A reserved key with a NUL and 8 bytes at its end is neither kind: its
 * would-be item name starts with a NUL, its would-be meta name holds one. */
static void
test_key_decode_reserved_like_item (void)
{
  assert_unknown ("\0Qab\0\1\2\3\4\5\6\7\10", 13);
  assert_unknown ("\0ab\0\1\2\3\4\5\6\7\10", 12);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/record/item-key/layout", test_item_key_layout);
  g_test_add_func ("/record/item-key/layout-name", test_item_key_layout_name);
  g_test_add_func ("/record/item-key/seq-extremes",
                   test_item_key_layout_seq_extremes);
  g_test_add_func ("/record/item-key/order", test_item_key_order);
  g_test_add_func ("/record/item-key/longest-name",
                   test_item_key_longest_name);
  g_test_add_func ("/record/meta-key/layout", test_meta_key_layout);
  g_test_add_func ("/record/meta-key/longest-name",
                   test_meta_key_longest_name);
  g_test_add_func ("/record/header/layout", test_header_layout);
  g_test_add_func ("/record/header/round-trip", test_header_round_trip);
  g_test_add_func ("/record/header/with-payload",
                   test_header_decode_with_payload);
  g_test_add_func ("/record/header/short", test_header_decode_short);
  g_test_add_func ("/record/header/version", test_header_decode_version);
  g_test_add_func ("/record/meta/layout", test_meta_layout);
  g_test_add_func ("/record/meta/round-trip", test_meta_round_trip);
  g_test_add_func ("/record/meta/short", test_meta_decode_short);
  g_test_add_func ("/record/meta/version-zero", test_meta_decode_version_zero);
  g_test_add_func ("/record/meta/future", test_meta_decode_future);
  g_test_add_func ("/record/key/item", test_key_decode_item);
  g_test_add_func ("/record/key/meta", test_key_decode_meta);
  g_test_add_func ("/record/key/too-short", test_key_decode_too_short);
  g_test_add_func ("/record/key/no-separator", test_key_decode_no_separator);
  g_test_add_func ("/record/key/bad-item-name", test_key_decode_bad_item_name);
  g_test_add_func ("/record/key/bad-meta-name", test_key_decode_bad_meta_name);
  g_test_add_func ("/record/key/reserved-like-item",
                   test_key_decode_reserved_like_item);

  return g_test_run ();
}
