/* test_protocol_binary.c: unit tests for daemon/protocol_binary.c, the
 * memcache binary protocol's requests and responses. */
#include "protocol_binary.h"

#include <string.h>

#include "parsed.h"

/* A request as a client builds it; the length fields hold the true lengths
 * unless a test sets them (to other values than 0). */
typedef struct {
  guint8 opcode;
  const char *key;
  gsize key_len;
  const char *extras;
  gsize extras_len;
  const char *value;
  gsize value_len;
  guint32 opaque;
  guint64 cas;
  guint32 key_len_field;
  guint32 body_len_field;
} Request;

#define REQUEST(op, ...) ((Request) { .opcode = (op), __VA_ARGS__ })

static void
put_be (guint8 *p, guint64 v, guint width)
{
  for (guint i = width; i-- > 0; v >>= 8)
    p[i] = (guint8) v;
}

static GByteArray *
encode (const Request *r)
{
  GByteArray *b = g_byte_array_new ();
  guint8 h[24] = { 0x80, r->opcode };
  gsize key_len = r->key ? (r->key_len ? r->key_len : strlen (r->key)) : 0;
  gsize body = r->extras_len + key_len + r->value_len;

  put_be (h + 2, r->key_len_field ? r->key_len_field : key_len, 2);
  h[4] = (guint8) r->extras_len;
  put_be (h + 8, r->body_len_field ? r->body_len_field : body, 4);
  put_be (h + 12, r->opaque, 4);
  put_be (h + 16, r->cas, 8);
  g_byte_array_append (b, h, sizeof h);
  g_byte_array_append (b, (const guint8 *) r->extras, (guint) r->extras_len);
  g_byte_array_append (b, (const guint8 *) r->key, (guint) key_len);
  g_byte_array_append (b, (const guint8 *) r->value, (guint) r->value_len);
  return b;
}

static Parsed *
parse_bytes (const guint8 *data, gsize len)
{
  return parsed_new (protocol_binary_parse, data, len);
}

static Parsed *
parse_request (const Request *r)
{
  g_autoptr (GByteArray) b = encode (r);

  return parse_bytes (b->data, b->len);
}

static Parsed *
parse_ok (const Request *r, MqCommandType type)
{
  Parsed *p = parse_request (r);

  g_assert_cmpint (p->status, ==, MQ_PARSE_COMMAND);
  g_assert_null (p->error);
  g_assert_cmpint (p->cmd.type, ==, type);
  g_assert_cmpint (p->cmd.form.wire, ==, MQ_WIRE_BINARY);
  g_assert_cmpuint (p->cmd.form.opcode, ==, r->opcode);
  g_assert_cmpuint (p->cmd.form.opaque, ==, r->opaque);
  g_assert_cmpuint (p->cmd.form.status, ==, 0);
  g_assert_false (p->cmd.noreply);
  g_assert_cmpuint (p->cmd.data_end, ==, 0);
  return p;
}

/* The response bytes a form and a reply line give. */
static GString *
response (MqReplyForm *form, const char *line)
{
  GString *out = g_string_new (NULL);

  protocol_binary_append_line (out, form, line);
  return out;
}

/* A response header, then its extras, key and value. */
static GString *
expected (guint8 opcode, guint16 status, guint32 opaque, guint64 cas,
          const char *extras, gsize extras_len, const char *key,
          const char *value, gsize value_len)
{
  GString *s = g_string_new (NULL);
  guint8 h[24] = { 0x81, opcode };
  gsize key_len = key ? strlen (key) : 0;

  put_be (h + 2, key_len, 2);
  h[4] = (guint8) extras_len;
  put_be (h + 6, status, 2);
  put_be (h + 8, extras_len + key_len + value_len, 4);
  put_be (h + 12, opaque, 4);
  put_be (h + 16, cas, 8);
  g_string_append_len (s, (const char *) h, 24);
  g_string_append_len (s, extras, (gssize) extras_len);
  g_string_append_len (s, key, (gssize) key_len);
  g_string_append_len (s, value, (gssize) value_len);
  return s;
}

static void
assert_gstrings (const GString *got, const GString *want)
{
  g_assert_cmpmem (got->str, got->len, want->str, want->len);
}

/* An error that the parser answers from what it read, with status, and
 * skip bytes of the request still to be skipped. */
static void
check_error (const Request *r, const char *error, guint16 status,
             gsize consumed, gsize skip)
{
  g_autoptr (Parsed) p = parse_request (r);
  g_autoptr (GString) got = NULL;
  g_autoptr (GString) want = NULL;
  const char *text = strchr (error, ' ');

  g_assert_cmpint (p->status, ==, MQ_PARSE_ERROR);
  g_assert_cmpstr (p->error, ==, error);
  g_assert_cmpuint (p->consumed, ==, consumed);
  g_assert_cmpuint (p->cmd.data_len, ==, skip);
  g_assert_cmpuint (p->cmd.data_end, ==, 0);
  g_assert_cmpint (p->cmd.type, ==, MQ_CMD_NONE);
  g_assert_cmpuint (p->cmd.n_keys, ==, 0);
  /* Errors are answered even by quiet opcodes, with the opaque. */
  got = response (&p->cmd.form, p->error);
  text = text ? text + 1 : "Unknown command";
  want = expected (r->opcode, status, r->opaque, 0, NULL, 0, NULL, text,
                   strlen (text));
  assert_gstrings (got, want);
}

static const char flags_ttl[8] = { 0, 0, 0, 42, 0, 0, 0x0e, 0x10 };

/* ---- requests ---- */

static void
test_get_family (void)
{
  static const struct {
    guint8 opcode;
    gboolean quiet;
  } gets[] = { { 0x00, FALSE }, { 0x09, TRUE }, { 0x0c, FALSE },
               { 0x0d, TRUE } };

  for (gsize i = 0; i < G_N_ELEMENTS (gets); i++)
    {
      Request r = REQUEST (gets[i].opcode, .key = "jobs/t=500/open",
                           .opaque = 0xdeadbeef);
      g_autoptr (Parsed) p = parse_ok (&r, MQ_CMD_GET);
      const MqGetKey *k = &p->cmd.keys[0];

      g_assert_cmpuint (p->consumed, ==, 24 + 15);
      g_assert_cmpuint (p->cmd.n_keys, ==, 1);
      g_assert_cmpmem (k->name, k->name_len, "jobs", 4);
      g_assert_cmpuint (k->key_len, ==, 15);
      g_assert_cmpint (k->timeout_ms, ==, 500);
      g_assert_cmpuint (k->options, ==, MQ_GET_OPEN);
      g_assert_cmpint (p->cmd.form.quiet, ==, gets[i].quiet);
      g_assert_cmpmem (p->cmd.form.key, p->cmd.form.key_len,
                       "jobs/t=500/open", 15);
      g_assert_true (k->name == p->buf + 24);
    }
}

static void
test_set (void)
{
  Request r = REQUEST (0x01, .key = "q", .extras = flags_ttl,
                       .extras_len = 8, .value = "hello\0\r\n", .value_len = 8,
                       .opaque = 7);
  Request q = REQUEST (0x11, .key = "q", .extras = flags_ttl,
                       .extras_len = 8);
  g_autoptr (Parsed) p = parse_ok (&r, MQ_CMD_SET);
  g_autoptr (Parsed) pq = parse_ok (&q, MQ_CMD_SET);

  /* The value is the caller's to read, as a text set's data block. */
  g_assert_cmpuint (p->consumed, ==, 24 + 8 + 1);
  g_assert_cmpuint (p->cmd.data_len, ==, 8);
  g_assert_cmpmem (p->cmd.name, p->cmd.name_len, "q", 1);
  g_assert_cmpuint (p->cmd.flags, ==, 42);
  g_assert_cmpint (p->cmd.exptime, ==, 3600);
  g_assert_true (protocol_takes_data (&p->cmd));
  g_assert_false (p->cmd.form.quiet);
  g_assert_true (pq->cmd.form.quiet);
  g_assert_cmpuint (pq->cmd.data_len, ==, 0);

  /* Expiry is unsigned on the wire: 0xffffffff is a time, not -1. */
  static const char far[8] = { 0, 0, 0, 0, (char) 0xff, (char) 0xff,
                               (char) 0xff, (char) 0xff };
  Request f = REQUEST (0x01, .key = "q", .extras = far, .extras_len = 8);
  g_autoptr (Parsed) pf = parse_ok (&f, MQ_CMD_SET);
  g_assert_cmpint (pf->cmd.exptime, ==, G_MAXUINT32);
}

/* A set's key may carry /delay=<ms>; the name is the queue's, the key
 * (echoed by GETK-style replies) stays as sent. */
static void
test_set_delay (void)
{
  Request r = REQUEST (0x01, .key = "jobs/delay=5000", .extras = flags_ttl,
                       .extras_len = 8, .value = "hello", .value_len = 5);
  Request q = REQUEST (0x11, .key = "q/delay=0", .extras = flags_ttl,
                       .extras_len = 8);
  Request plain = REQUEST (0x01, .key = "q", .extras = flags_ttl,
                           .extras_len = 8);
  g_autoptr (Parsed) p = parse_ok (&r, MQ_CMD_SET);
  g_autoptr (Parsed) pq = parse_ok (&q, MQ_CMD_SET);
  g_autoptr (Parsed) pp = parse_ok (&plain, MQ_CMD_SET);

  g_assert_cmpuint (p->consumed, ==, 24 + 8 + 15);
  g_assert_cmpmem (p->cmd.name, p->cmd.name_len, "jobs", 4);
  g_assert_true (p->cmd.name == p->buf + 24 + 8);
  g_assert_cmpint (p->cmd.delay_ms, ==, 5000);
  g_assert_cmpuint (p->cmd.data_len, ==, 5);
  g_assert_cmpuint (p->cmd.flags, ==, 42);
  g_assert_cmpmem (p->cmd.form.key, p->cmd.form.key_len, "jobs/delay=5000",
                   15);
  g_assert_cmpmem (pq->cmd.name, pq->cmd.name_len, "q", 1);
  g_assert_cmpint (pq->cmd.delay_ms, ==, 0);
  g_assert_true (pq->cmd.form.quiet);
  g_assert_cmpint (pp->cmd.delay_ms, ==, -1);
}

static void
test_set_delay_errors (void)
{
  static const KeyError bad[] = {
    { "q/bogus", "CLIENT_ERROR bad set option: a set takes only "
      "/delay=<ms>" },
    { "q/open", "CLIENT_ERROR bad set option: a set takes only "
      "/delay=<ms>" },
    { "q/delay=x", "CLIENT_ERROR bad delay: 0 to 315360000000 ms" },
    { "q/delay=315360000001", "CLIENT_ERROR bad delay: 0 to 315360000000 "
      "ms" },
    { "q/delay=1/delay=1", "CLIENT_ERROR duplicate option" },
    { "/delay=1", "CLIENT_ERROR invalid queue name" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gsize key_len = strlen (bad[i].key);
      Request set = REQUEST (0x01, .key = bad[i].key, .extras = flags_ttl,
                             .extras_len = 8, .value = "hello",
                             .value_len = 5, .opaque = 3);
      Request setq = REQUEST (0x11, .key = bad[i].key, .extras = flags_ttl,
                              .extras_len = 8, .value = "hello",
                              .value_len = 5, .opaque = 4);

      /* Answered with its opaque, quiet or not, and the value skipped. */
      check_error (&set, bad[i].error, 0x0004, 24 + 8 + key_len, 5);
      check_error (&setq, bad[i].error, 0x0004, 24 + 8 + key_len, 5);
    }
}

/* The get keys' lease=, touch and delay= are the text protocol's. */
static void
test_get_lease_touch_delay (void)
{
  static const struct {
    guint8 opcode;
    const char *key;
    gint64 lease_ms, delay_ms;
    guint options;
  } good[] = {
    { 0x00, "jobs/open/lease=500", 500, -1, MQ_GET_OPEN },
    { 0x0c, "jobs/touch", -1, -1, MQ_GET_TOUCH },
    { 0x0d, "jobs/touch/lease=60000", 60000, -1, MQ_GET_TOUCH },
    { 0x09, "jobs/abort/delay=5000", -1, 5000, MQ_GET_ABORT },
  };
  Request alone = REQUEST (0x00, .key = "q/lease=5", .opaque = 8);
  Request touch = REQUEST (0x0c, .key = "q/touch/peek");

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      Request r = REQUEST (good[i].opcode, .key = good[i].key);
      g_autoptr (Parsed) p = parse_ok (&r, MQ_CMD_GET);
      const MqGetKey *k = &p->cmd.keys[0];

      g_assert_cmpmem (k->name, k->name_len, "jobs", 4);
      g_assert_cmpuint (k->key_len, ==, strlen (good[i].key));
      g_assert_cmpint (k->lease_ms, ==, good[i].lease_ms);
      g_assert_cmpint (k->delay_ms, ==, good[i].delay_ms);
      g_assert_cmpuint (k->options, ==, good[i].options);
      g_assert_cmpmem (p->cmd.form.key, p->cmd.form.key_len, good[i].key,
                       strlen (good[i].key));
    }
  check_error (&alone, "CLIENT_ERROR lease= needs /open or /touch", 0x0004,
               24 + 9, 0);
  check_error (&touch, "CLIENT_ERROR /touch takes no other option but "
               "lease=", 0x0004, 24 + 12, 0);
}

static void
test_other_opcodes (void)
{
  static const char delay[4] = { 0, 0, 0, 5 };
  Request del = REQUEST (0x04, .key = "gone");
  Request delq = REQUEST (0x14, .key = "gone");
  Request flush = REQUEST (0x08);
  Request flush_delay = REQUEST (0x08, .extras = delay, .extras_len = 4);
  Request flushq = REQUEST (0x18);
  Request noop = REQUEST (0x0a, .opaque = 3);
  Request version = REQUEST (0x0b);
  Request stat = REQUEST (0x10);
  Request stat_queue = REQUEST (0x10, .key = "queue");
  Request quit = REQUEST (0x07);
  Request quitq = REQUEST (0x17);
  g_autoptr (Parsed) d = parse_ok (&del, MQ_CMD_DELETE);
  g_autoptr (Parsed) dq = parse_ok (&delq, MQ_CMD_DELETE);
  g_autoptr (Parsed) f = parse_ok (&flush, MQ_CMD_FLUSH_ALL);
  g_autoptr (Parsed) fd = parse_ok (&flush_delay, MQ_CMD_FLUSH_ALL);
  g_autoptr (Parsed) fq = parse_ok (&flushq, MQ_CMD_FLUSH_ALL);
  g_autoptr (Parsed) n = parse_ok (&noop, MQ_CMD_NOOP);
  g_autoptr (Parsed) v = parse_ok (&version, MQ_CMD_VERSION);
  g_autoptr (Parsed) s = parse_ok (&stat, MQ_CMD_STATS);
  g_autoptr (Parsed) sq = parse_ok (&stat_queue, MQ_CMD_STATS);
  g_autoptr (Parsed) qu = parse_ok (&quit, MQ_CMD_QUIT);
  g_autoptr (Parsed) qq = parse_ok (&quitq, MQ_CMD_QUIT);

  g_assert_cmpmem (d->cmd.name, d->cmd.name_len, "gone", 4);
  g_assert_false (d->cmd.form.quiet);
  g_assert_true (dq->cmd.form.quiet);
  g_assert_false (f->cmd.form.quiet);
  g_assert_cmpuint (fd->consumed, ==, 28);
  g_assert_true (fq->cmd.form.quiet);
  g_assert_cmpuint (n->consumed, ==, 24);
  g_assert_cmpuint (v->consumed, ==, 24);
  g_assert_null (s->cmd.name);
  g_assert_cmpmem (sq->cmd.name, sq->cmd.name_len, "queue", 5);
  /* quit is answered (QUIT) or not (QUITQ), never noreply'd. */
  g_assert_false (qu->cmd.noreply);
  g_assert_false (qu->cmd.form.quiet);
  g_assert_true (qq->cmd.form.quiet);
}

static void
test_not_supported (void)
{
  static const guint8 ops[] = {
    0x02, 0x03, 0x05, 0x06, 0x0e, 0x0f, 0x12, 0x13, 0x15, 0x16, 0x19, 0x1a,
    0x1b, 0x1c, 0x1d, 0x1e, 0x20, 0x21, 0x22, 0x23, 0x24, 0x30, 0x3c,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      /* Whatever their extras, key and value: answered, then skipped. */
      Request r = REQUEST (ops[i], .key = "q", .extras = flags_ttl,
                           .extras_len = 8, .value = "data", .value_len = 4,
                           .opaque = 99);
      check_error (&r, "CLIENT_ERROR not supported", 0x0083, 24, 13);
    }
}

static void
test_unknown_opcodes (void)
{
  static const guint8 ops[] = { 0x1f, 0x25, 0x2f, 0x3d, 0x40, 0x80, 0xff };

  for (gsize i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      Request r = REQUEST (ops[i], .key = "k", .value = "v", .value_len = 1,
                           .opaque = 5);
      check_error (&r, "ERROR", 0x0081, 24, 2);
    }
}

/* ---- framing ---- */

/* Every prefix of a request is incomplete; the whole parses, and the
 * bytes after it are not looked at. */
static void
check_split (const Request *r, gsize head)
{
  g_autoptr (GByteArray) b = encode (r);

  for (gsize n = 0; n < head; n++)
    {
      g_autoptr (Parsed) p = parse_bytes (b->data, n);

      g_assert_cmpint (p->status, ==, MQ_PARSE_INCOMPLETE);
      g_assert_cmpuint (p->consumed, ==, 0);
      g_assert_null (p->error);
    }
  for (gsize n = head; n <= b->len; n++)
    {
      g_autoptr (Parsed) p = parse_bytes (b->data, n);

      g_assert_cmpint (p->status, ==, MQ_PARSE_COMMAND);
      g_assert_cmpuint (p->consumed, ==, head);
    }
}

static void
test_split_at_every_byte (void)
{
  Request get = REQUEST (0x0c, .key = "queue/t=10");
  Request set = REQUEST (0x01, .key = "q", .extras = flags_ttl,
                         .extras_len = 8, .value = "0123456789",
                         .value_len = 10);
  Request noop = REQUEST (0x0a);
  Request stat = REQUEST (0x10, .key = "queue");

  check_split (&get, 24 + 10);
  check_split (&set, 24 + 8 + 1);
  check_split (&noop, 24);
  check_split (&stat, 24 + 5);
}

static void
test_pipelined (void)
{
  Request a = REQUEST (0x0d, .key = "a", .opaque = 1);
  Request b = REQUEST (0x0a, .opaque = 2);
  g_autoptr (GByteArray) in = encode (&a);
  g_autoptr (GByteArray) second = encode (&b);
  g_autoptr (Parsed) p = NULL;
  g_autoptr (Parsed) q = NULL;

  g_byte_array_append (in, second->data, second->len);
  p = parse_bytes (in->data, in->len);
  g_assert_cmpint (p->status, ==, MQ_PARSE_COMMAND);
  g_assert_cmpuint (p->consumed, ==, 25);
  q = parse_bytes (in->data + p->consumed, in->len - p->consumed);
  g_assert_cmpint (q->status, ==, MQ_PARSE_COMMAND);
  g_assert_cmpint (q->cmd.type, ==, MQ_CMD_NOOP);
  g_assert_cmpuint (q->cmd.form.opaque, ==, 2);
}

static void
test_bad_magic (void)
{
  static const guint8 magics[] = { 0x00, 0x81, 0x7f, 'g', 0xff };

  for (gsize i = 0; i < G_N_ELEMENTS (magics); i++)
    {
      Request r = REQUEST (0x00, .key = "q");
      g_autoptr (GByteArray) b = encode (&r);
      g_autoptr (Parsed) one = NULL;
      g_autoptr (Parsed) all = NULL;
      g_autoptr (GString) got = NULL;
      g_autoptr (GString) want = NULL;

      b->data[0] = magics[i];
      /* One byte is enough to tell. */
      one = parse_bytes (b->data, 1);
      all = parse_bytes (b->data, b->len);
      g_assert_cmpint (one->status, ==, MQ_PARSE_BAD_MAGIC);
      g_assert_cmpint (all->status, ==, MQ_PARSE_BAD_MAGIC);
      g_assert_cmpuint (all->consumed, ==, 0);
      g_assert_cmpstr (all->error, ==,
                       "CLIENT_ERROR not a binary request (magic byte)");
      /* Nothing of the header is trusted: opcode and opaque 0. */
      got = response (&all->cmd.form, all->error);
      want = expected (0, 0x0004, 0, 0, NULL, 0, NULL,
                       "not a binary request (magic byte)", 33);
      assert_gstrings (got, want);
    }
  g_autoptr (Parsed) empty = parse_bytes ((const guint8 *) "", 0);
  g_assert_cmpint (empty->status, ==, MQ_PARSE_INCOMPLETE);
}

static void
test_length_errors (void)
{
  static const char four[4] = { 0 };
  gsize b251 = MQ_MAX_NAME + 1;
  g_autofree char *long_key = g_strnfill (b251, 'k');
  /* The body is shorter than extras and key: the body length frames it. */
  Request short_body = REQUEST (0x00, .key = "abcdef", .body_len_field = 3,
                                .opaque = 11);
  Request short_set = REQUEST (0x01, .key = "q", .extras = flags_ttl,
                               .extras_len = 8, .body_len_field = 8);
  Request no_extras = REQUEST (0x01, .key = "q", .value = "v",
                               .value_len = 1);
  Request get_extras = REQUEST (0x00, .key = "q", .extras = four,
                                .extras_len = 4);
  Request flush_8 = REQUEST (0x08, .extras = flags_ttl, .extras_len = 8);
  Request no_key = REQUEST (0x00);
  Request set_no_key = REQUEST (0x01, .extras = flags_ttl, .extras_len = 8,
                                .value = "v", .value_len = 1);
  Request noop_key = REQUEST (0x0a, .key = "q");
  Request get_value = REQUEST (0x00, .key = "q", .value = "surprise",
                               .value_len = 8);
  Request version_value = REQUEST (0x0b, .value = "x", .value_len = 1);
  Request too_long = REQUEST (0x00, .key = long_key);
  /* The key length field says less than the key: the rest is a value. */
  Request key_field = REQUEST (0x00, .key = "abc", .key_len_field = 1);

  check_error (&short_body, "CLIENT_ERROR total body length under extras "
               "and key length", 0x0004, 24, 3);
  check_error (&short_set, "CLIENT_ERROR total body length under extras "
               "and key length", 0x0004, 24, 8);
  check_error (&no_extras, "CLIENT_ERROR wrong extras length", 0x0004, 24, 2);
  check_error (&get_extras, "CLIENT_ERROR wrong extras length", 0x0004, 24,
               5);
  check_error (&flush_8, "CLIENT_ERROR wrong extras length", 0x0004, 24, 8);
  check_error (&no_key, "CLIENT_ERROR a key is needed", 0x0004, 24, 0);
  check_error (&set_no_key, "CLIENT_ERROR a key is needed", 0x0004, 24, 9);
  check_error (&noop_key, "CLIENT_ERROR no key expected", 0x0004, 24, 1);
  check_error (&get_value, "CLIENT_ERROR no value expected", 0x0004, 24, 9);
  check_error (&version_value, "CLIENT_ERROR no value expected", 0x0004, 24,
               1);
  check_error (&too_long, "CLIENT_ERROR queue name too long", 0x0004, 24,
               b251);
  check_error (&key_field, "CLIENT_ERROR no value expected", 0x0004, 24, 3);
}

static void
test_body_over_limit (void)
{
  /* A 4 GiB set is a command as soon as its key is in: the value's length
   * is for the caller to refuse (-B) and skip, never to buffer. */
  Request huge = REQUEST (0x01, .key = "q", .extras = flags_ttl,
                          .extras_len = 8, .body_len_field = G_MAXUINT32);
  g_autoptr (Parsed) p = parse_request (&huge);
  MqReplyForm form = p->cmd.form;
  g_autoptr (GString) got = response (&form, "SERVER_ERROR object too large "
                                      "for cache");
  g_autoptr (GString) want = expected (0x01, 0x0003, 0, 0, NULL, 0, NULL,
                                       "Too large", 9);

  g_assert_cmpint (p->status, ==, MQ_PARSE_COMMAND);
  g_assert_cmpuint (p->consumed, ==, 33);
  g_assert_cmpuint (p->cmd.data_len, ==, (gsize) G_MAXUINT32 - 9);
  assert_gstrings (got, want);

  /* Any other opcode with a large body: refused from its header. */
  Request big_get = REQUEST (0x00, .key = "q", .body_len_field = 1 << 30);
  check_error (&big_get, "CLIENT_ERROR no value expected", 0x0004, 24,
               1 << 30);
}

static void
test_names (void)
{
  /* The key is a queue name, with get options for the gets only. */
  Request space = REQUEST (0x01, .key = "a b", .extras = flags_ttl,
                           .extras_len = 8, .value = "xyz", .value_len = 3);
  Request slash = REQUEST (0x04, .key = "a/open");
  Request nul = REQUEST (0x09, .key = "a\0b", .key_len = 3);
  Request option = REQUEST (0x00, .key = "q/later");

  check_error (&space, "CLIENT_ERROR invalid queue name", 0x0004, 35, 3);
  check_error (&slash, "CLIENT_ERROR invalid queue name", 0x0004, 30, 0);
  check_error (&nul, "CLIENT_ERROR invalid queue name", 0x0004, 27, 0);
  check_error (&option, "CLIENT_ERROR bad get option", 0x0004, 31, 0);
}

static void
test_cas_refused (void)
{
  Request set = REQUEST (0x01, .key = "q", .extras = flags_ttl,
                         .extras_len = 8, .value = "v", .value_len = 1,
                         .cas = 12);
  Request del = REQUEST (0x14, .key = "q", .cas = 1);
  Request get = REQUEST (0x00, .key = "q", .cas = 5);
  g_autoptr (Parsed) g = parse_ok (&get, MQ_CMD_GET);

  check_error (&set, "CLIENT_ERROR compare and swap is not supported",
               0x0083, 24, 10);
  check_error (&del, "CLIENT_ERROR compare and swap is not supported",
               0x0083, 24, 1);
}

/* ---- responses ---- */

static MqReplyForm
form_of (guint8 opcode, guint32 opaque, const char *key)
{
  gboolean set = opcode == 0x01 || opcode == 0x11;
  Request r = REQUEST (opcode, .key = key, .opaque = opaque,
                       .extras = set ? flags_ttl : NULL,
                       .extras_len = set ? 8 : 0);
  g_autoptr (Parsed) p = parse_request (&r);

  g_assert_cmpint (p->status, ==, MQ_PARSE_COMMAND);
  /* key points into the request, which goes with p: tests pass their own. */
  p->cmd.form.key = key;
  return p->cmd.form;
}

static void
test_reply_values (void)
{
  static const char flags[4] = { 0x12, 0x34, 0x56, 0x78 };
  MqReplyForm get = form_of (0x00, 0xa1b2c3d4, "q/open");
  MqReplyForm getk = form_of (0x0c, 1, "q/open");
  MqReplyForm getkq = form_of (0x0d, 2, "q");
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GString) w1 = expected (0x00, 0, 0xa1b2c3d4, 77, flags, 4, NULL,
                                     "a\0\r\nb", 5);
  g_autoptr (GString) w2 = expected (0x0c, 0, 1, 78, flags, 4, "q/open",
                                     "", 0);
  g_autoptr (GString) w3 = expected (0x0d, 0, 2, 79, flags, 4, "q", "x", 1);

  protocol_binary_append_value (out, &get, "q/open", 6, 0x12345678,
                                "a\0\r\nb", 5, 77);
  assert_gstrings (out, w1);
  g_string_truncate (out, 0);
  /* A hit's END sends nothing more. */
  protocol_binary_append_line (out, &get, "END");
  g_assert_cmpuint (out->len, ==, 0);
  protocol_binary_append_value (out, &getk, "q/open", 6, 0x12345678, "", 0,
                                78);
  protocol_binary_append_line (out, &getk, "END");
  assert_gstrings (out, w2);
  g_string_truncate (out, 0);
  protocol_binary_append_value (out, &getkq, "q", 1, 0x12345678, "x", 1, 79);
  protocol_binary_append_line (out, &getkq, "END");
  assert_gstrings (out, w3);
}

static void
test_reply_misses (void)
{
  MqReplyForm get = form_of (0x00, 9, "q");
  MqReplyForm getq = form_of (0x09, 9, "q");
  MqReplyForm getk = form_of (0x0c, 9, "q/t=5");
  MqReplyForm getkq = form_of (0x0d, 9, "q");
  g_autoptr (GString) miss = response (&get, "END");
  g_autoptr (GString) missq = response (&getq, "END");
  g_autoptr (GString) missk = response (&getk, "END");
  g_autoptr (GString) misskq = response (&getkq, "END");
  g_autoptr (GString) w = expected (0x00, 1, 9, 0, NULL, 0, NULL,
                                    "Not found", 9);
  g_autoptr (GString) wk = expected (0x0c, 1, 9, 0, NULL, 0, "q/t=5", "", 0);

  assert_gstrings (miss, w);
  g_assert_cmpuint (missq->len, ==, 0);
  assert_gstrings (missk, wk);
  g_assert_cmpuint (misskq->len, ==, 0);
}

/* One reply line to one request: exactly these bytes. */
static void
check_reply (guint8 opcode, const char *key, const char *line,
             guint16 status, const char *value)
{
  MqReplyForm form = form_of (opcode, 0x01020304, key);
  g_autoptr (GString) got = response (&form, line);
  g_autoptr (GString) want = value == NULL ? g_string_new (NULL)
    : expected (opcode, status, 0x01020304, 0, NULL, 0, NULL, value,
                strlen (value));

  assert_gstrings (got, want);
}

static void
test_reply_lines (void)
{
  check_reply (0x01, "q", "STORED", 0, "");
  check_reply (0x11, "q", "STORED", 0, NULL);
  check_reply (0x01, "q", "NOT_STORED", 5, "Not stored");
  check_reply (0x11, "q", "NOT_STORED", 5, "Not stored");
  check_reply (0x01, "q", "SERVER_ERROR object too large for cache", 3,
               "Too large");
  check_reply (0x11, "q", "SERVER_ERROR No space left on device", 0x84,
               "No space left on device");
  check_reply (0x01, "q", "CLIENT_ERROR bad data chunk", 4,
               "bad data chunk");
  check_reply (0x04, "q", "DELETED", 0, "");
  check_reply (0x14, "q", "DELETED", 0, NULL);
  check_reply (0x04, "q", "NOT_FOUND", 1, "Not found");
  check_reply (0x14, "q", "NOT_FOUND", 1, "Not found");
  check_reply (0x08, NULL, "OK", 0, "");
  check_reply (0x18, NULL, "OK", 0, NULL);
  check_reply (0x0a, NULL, "OK", 0, "");
  check_reply (0x07, NULL, "OK", 0, "");
  check_reply (0x17, NULL, "OK", 0, NULL);
  check_reply (0x0b, NULL, "VERSION 1.0.0", 0, "1.0.0");
  check_reply (0x00, "q/open", "CLIENT_ERROR a reliable read of q is "
               "already open: close or abort it first", 4, "a reliable read "
               "of q is already open: close or abort it first");
  check_reply (0x09, "q", "SERVER_ERROR read failed", 0x84, "read failed");
}

static void
test_reply_stats (void)
{
  static const char text[] = "STAT pid 42\r\nSTAT version 1.0.0\r\n"
    "STAT queue_a b_items 3\r\n";
  MqReplyForm form = form_of (0x10, 6, NULL);
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GString) want = expected (0x10, 0, 6, 0, NULL, 0, "pid", "42",
                                       2);
  g_autoptr (GString) w2 = expected (0x10, 0, 6, 0, NULL, 0, "version",
                                     "1.0.0", 5);
  /* A value holds everything after the name's space. */
  g_autoptr (GString) w3 = expected (0x10, 0, 6, 0, NULL, 0, "queue_a",
                                     "b_items 3", 9);
  g_autoptr (GString) end = expected (0x10, 0, 6, 0, NULL, 0, NULL, "", 0);

  g_string_append_len (want, w2->str, (gssize) w2->len);
  g_string_append_len (want, w3->str, (gssize) w3->len);
  g_string_append_len (want, end->str, (gssize) end->len);
  protocol_binary_append_stats (out, &form, text, sizeof text - 1);
  protocol_binary_append_line (out, &form, "END");
  assert_gstrings (out, want);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/binary/request/get-family", test_get_family);
  g_test_add_func ("/binary/request/set", test_set);
  g_test_add_func ("/binary/request/set-delay", test_set_delay);
  g_test_add_func ("/binary/request/set-delay-errors", test_set_delay_errors);
  g_test_add_func ("/binary/request/get-lease-touch-delay",
                   test_get_lease_touch_delay);
  g_test_add_func ("/binary/request/other-opcodes", test_other_opcodes);
  g_test_add_func ("/binary/request/not-supported", test_not_supported);
  g_test_add_func ("/binary/request/unknown", test_unknown_opcodes);
  g_test_add_func ("/binary/request/names", test_names);
  g_test_add_func ("/binary/request/cas", test_cas_refused);
  g_test_add_func ("/binary/framing/split", test_split_at_every_byte);
  g_test_add_func ("/binary/framing/pipelined", test_pipelined);
  g_test_add_func ("/binary/framing/bad-magic", test_bad_magic);
  g_test_add_func ("/binary/framing/lengths", test_length_errors);
  g_test_add_func ("/binary/framing/over-limit", test_body_over_limit);
  g_test_add_func ("/binary/reply/values", test_reply_values);
  g_test_add_func ("/binary/reply/misses", test_reply_misses);
  g_test_add_func ("/binary/reply/lines", test_reply_lines);
  g_test_add_func ("/binary/reply/stats", test_reply_stats);

  return g_test_run ();
}
