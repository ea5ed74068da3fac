/* test_protocol_meta.c: unit tests for daemon/protocol_meta.c, the meta
 * commands as protocol_parse hands them over, and their replies. */
#include "protocol_meta.h"
#include "protocol_text.h"

#include <string.h>

#include "parsed.h"

#define E_FORMAT "CLIENT_ERROR bad command line format"
#define E_FLAG "CLIENT_ERROR invalid flag"
#define E_DUPLICATE "CLIENT_ERROR duplicate flag"
#define E_OPAQUE "CLIENT_ERROR opaque token too long"
#define E_TOKEN "CLIENT_ERROR bad token in command line format"
#define E_MODE "CLIENT_ERROR invalid mode for ms"
#define E_NAME_BAD "CLIENT_ERROR invalid queue name"
#define E_NAME_LONG "CLIENT_ERROR queue name too long"
#define E_GET_OPTION "CLIENT_ERROR bad get option"
#define E_SET_OPTION \
  "CLIENT_ERROR bad set option: a set takes only /delay=<ms>"
#define E_DUPLICATE_OPTION "CLIENT_ERROR duplicate option"
#define E_DELAY "CLIENT_ERROR bad delay: 0 to 315360000000 ms"
#define E_LEASE "CLIENT_ERROR bad lease: 1 to 315360000000 ms"
#define E_LEASE_ALONE "CLIENT_ERROR lease= needs /open or /touch"
#define E_DELAY_ALONE "CLIENT_ERROR delay= on a get needs /abort"
#define E_TOUCH "CLIENT_ERROR /touch takes no other option but lease="

static Parsed *
parse (const char *line)
{
  return parsed_new (protocol_parse, line, strlen (line));
}

static Parsed *
parse_ok (const char *line, MqCommandType type, char command)
{
  Parsed *p = parse (line);

  g_assert_cmpint (p->status, ==, MQ_PARSE_COMMAND);
  g_assert_null (p->error);
  g_assert_cmpuint (p->consumed, ==, strlen (line));
  g_assert_cmpint (p->cmd.type, ==, type);
  g_assert_cmpint (p->cmd.form.wire, ==, MQ_WIRE_META);
  g_assert_cmpint (p->cmd.form.opcode, ==, command);
  /* q is the meta commands' noreply, and only for their usual outcome. */
  g_assert_false (p->cmd.noreply);
  return p;
}

/* A line refused with error; skip bytes of data (and "\r\n") follow. */
static void
check_error (const char *line, const char *error, gsize skip)
{
  g_autoptr (Parsed) p = parse (line);

  g_assert_cmpint (p->status, ==, MQ_PARSE_ERROR);
  g_assert_cmpstr (p->error, ==, error);
  g_assert_cmpuint (p->consumed, ==, strlen (line));
  g_assert_cmpuint (p->cmd.data_len, ==, skip);
  g_assert_cmpuint (p->cmd.data_end, ==, skip > 0 ? 2 : 0);
  g_assert_cmpuint (p->cmd.n_keys, ==, 0);
}

static void
assert_returns (const MqReplyForm *form, const char *want)
{
  g_assert_cmpmem (form->returns, form->n_returns, want, strlen (want));
}

/* ---- mg ---- */

static void
test_mg (void)
{
  g_autoptr (Parsed) p = parse_ok ("mg jobs/t=500 t v s k Oabc f c q\r\n",
                                   MQ_CMD_GET, 'g');
  const MqGetKey *k = &p->cmd.keys[0];

  g_assert_cmpuint (p->cmd.n_keys, ==, 1);
  g_assert_cmpmem (k->name, k->name_len, "jobs", 4);
  g_assert_cmpuint (k->key_len, ==, 10);
  g_assert_cmpint (k->timeout_ms, ==, 500);
  g_assert_cmpuint (k->options, ==, 0);
  g_assert_true (p->cmd.form.value);
  g_assert_true (p->cmd.form.quiet);
  assert_returns (&p->cmd.form, "tskOfc");
  g_assert_cmpmem (p->cmd.form.token, p->cmd.form.token_len, "abc", 3);
  g_assert_cmpmem (p->cmd.form.key, p->cmd.form.key_len, "jobs/t=500", 10);
}

static void
test_mg_without_value_peeks (void)
{
  g_autoptr (Parsed) plain = parse_ok ("mg q s\r\n", MQ_CMD_GET, 'g');
  g_autoptr (Parsed) open = parse_ok ("mg q/open\r\n", MQ_CMD_GET, 'g');
  g_autoptr (Parsed) close = parse_ok ("mg q/close\r\n", MQ_CMD_GET, 'g');
  g_autoptr (Parsed) take = parse_ok ("mg q/close/open v\r\n", MQ_CMD_GET,
                                      'g');

  /* Without v the value would be dropped: nothing is taken. */
  g_assert_cmpuint (plain->cmd.keys[0].options, ==, MQ_GET_PEEK);
  g_assert_false (plain->cmd.form.value);
  g_assert_cmpuint (open->cmd.keys[0].options, ==,
                    MQ_GET_OPEN | MQ_GET_PEEK);
  /* Closing a read takes nothing anyway. */
  g_assert_cmpuint (close->cmd.keys[0].options, ==, MQ_GET_CLOSE);
  g_assert_cmpuint (take->cmd.keys[0].options, ==,
                    MQ_GET_CLOSE | MQ_GET_OPEN);
}

/* lease=, touch and delay= as in a text get; a touch, like a close or an
 * abort, takes nothing, so no peek is added for want of v. */
static void
test_mg_lease_touch_delay (void)
{
  g_autoptr (Parsed) open = parse_ok ("mg q/open/lease=500 v\r\n",
                                      MQ_CMD_GET, 'g');
  g_autoptr (Parsed) open_nv = parse_ok ("mg q/open/lease=5\r\n", MQ_CMD_GET,
                                         'g');
  g_autoptr (Parsed) touch = parse_ok ("mg q/touch\r\n", MQ_CMD_GET, 'g');
  g_autoptr (Parsed) touch_lease = parse_ok ("mg q/touch/lease=9 k q\r\n",
                                             MQ_CMD_GET, 'g');
  g_autoptr (Parsed) abort = parse_ok ("mg q/abort/delay=100\r\n",
                                       MQ_CMD_GET, 'g');

  g_assert_cmpint (open->cmd.keys[0].lease_ms, ==, 500);
  g_assert_cmpuint (open->cmd.keys[0].options, ==, MQ_GET_OPEN);
  g_assert_cmpuint (open_nv->cmd.keys[0].options, ==,
                    MQ_GET_OPEN | MQ_GET_PEEK);
  g_assert_cmpuint (touch->cmd.keys[0].options, ==, MQ_GET_TOUCH);
  g_assert_cmpint (touch->cmd.keys[0].lease_ms, ==, -1);
  g_assert_cmpuint (touch_lease->cmd.keys[0].options, ==, MQ_GET_TOUCH);
  g_assert_cmpint (touch_lease->cmd.keys[0].lease_ms, ==, 9);
  g_assert_cmpmem (touch_lease->cmd.form.key, touch_lease->cmd.form.key_len,
                   "q/touch/lease=9", 15);
  g_assert_cmpuint (abort->cmd.keys[0].options, ==, MQ_GET_ABORT);
  g_assert_cmpint (abort->cmd.keys[0].delay_ms, ==, 100);
  check_error ("mg q/lease=5 v\r\n", E_LEASE_ALONE, 0);
  check_error ("mg q/open/lease=0 v\r\n", E_LEASE, 0);
  check_error ("mg q/open/delay=5 v\r\n", E_DELAY_ALONE, 0);
  check_error ("mg q/touch/open v\r\n", E_TOUCH, 0);
  check_error ("mg q/abort/delay=1/delay=1\r\n", E_DUPLICATE_OPTION, 0);
  check_error ("mg q/abort/delay=-1\r\n", E_DELAY, 0);
}

static void
test_mg_flags_ignored_and_opaque (void)
{
  g_autofree char *o32 = g_strdup_printf ("mg q v O%s\r\n",
                                          "0123456789abcdef0123456789abcdef");
  g_autofree char *o33 = g_strdup_printf ("mg q v O%s\r\n",
                                          "0123456789abcdef0123456789abcdefX");
  g_autoptr (Parsed) hints = parse_ok ("mg q Pproxy v Lpath\r\n", MQ_CMD_GET,
                                       'g');
  g_autoptr (Parsed) empty = parse_ok ("mg q O\r\n", MQ_CMD_GET, 'g');
  g_autoptr (Parsed) max = parse_ok (o32, MQ_CMD_GET, 'g');

  g_assert_true (hints->cmd.form.value);
  assert_returns (&hints->cmd.form, "");
  assert_returns (&empty->cmd.form, "O");
  g_assert_cmpuint (empty->cmd.form.token_len, ==, 0);
  g_assert_cmpuint (max->cmd.form.token_len, ==, 32);
  check_error (o33, E_OPAQUE, 0);
}

static void
test_mg_errors (void)
{
  g_autofree char *long_name = g_strnfill (MQ_MAX_NAME + 1, 'n');
  g_autofree char *long_line = g_strdup_printf ("mg %s v\r\n", long_name);

  check_error ("mg\r\n", E_FORMAT, 0);
  check_error ("mg q x\r\n", E_FLAG, 0);
  check_error ("mg q v T30\r\n", E_FLAG, 0);
  check_error ("mg q N30\r\n", E_FLAG, 0);
  check_error ("mg q vx\r\n", E_FLAG, 0);
  check_error ("mg q kk\r\n", E_FLAG, 0);
  check_error ("mg q v v\r\n", E_DUPLICATE, 0);
  check_error ("mg q k O1 k\r\n", E_DUPLICATE, 0);
  check_error ("mg q O1 O2\r\n", E_DUPLICATE, 0);
  check_error ("mg q/x v\r\n", E_GET_OPTION, 0);
  check_error ("mg a\x01 v\r\n", E_NAME_BAD, 0);
  check_error (long_line, E_NAME_LONG, 0);
  /* The key is checked before the flags, as memcached does. */
  check_error ("mg q/x zz\r\n", E_GET_OPTION, 0);
}

/* ---- ms ---- */

static void
test_ms (void)
{
  g_autoptr (Parsed) p = parse_ok ("ms jobs 5 T-1 F4294967295 q k O7 MS\r\n",
                                   MQ_CMD_SET, 's');
  g_autoptr (Parsed) plain = parse_ok ("ms q 0\r\n", MQ_CMD_SET, 's');

  g_assert_cmpmem (p->cmd.name, p->cmd.name_len, "jobs", 4);
  g_assert_cmpuint (p->cmd.data_len, ==, 5);
  g_assert_cmpuint (p->cmd.data_end, ==, 2);
  g_assert_cmpint (p->cmd.exptime, ==, -1);
  g_assert_cmpuint (p->cmd.flags, ==, G_MAXUINT32);
  g_assert_true (p->cmd.form.quiet);
  assert_returns (&p->cmd.form, "kO");
  g_assert_cmpuint (plain->cmd.flags, ==, 0);
  g_assert_cmpint (plain->cmd.exptime, ==, 0);
  g_assert_cmpuint (plain->cmd.data_len, ==, 0);
}

static void
test_ms_modes (void)
{
  static const char *const refused[] = { "E", "e", "A", "a", "P", "p", "R",
                                         "r" };
  g_autoptr (Parsed) s = parse_ok ("ms q 1 Ms\r\n", MQ_CMD_SET, 's');

  /* add, append, prepend, replace: read, not stored, as in text. */
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *line = g_strdup_printf ("ms q 3 M%s\r\n", refused[i]);
      g_autoptr (Parsed) p = parse_ok (line, MQ_CMD_STORE_OTHER, 's');

      g_assert_cmpuint (p->cmd.data_len, ==, 3);
      g_assert_true (protocol_takes_data (&p->cmd));
    }
  check_error ("ms q 3 MX\r\n", E_MODE, 3);
  check_error ("ms q 3 M\r\n", E_MODE, 3);
  check_error ("ms q 3 MSS\r\n", E_MODE, 3);
}

static void
test_ms_errors (void)
{
  /* No length: nothing to skip. */
  check_error ("ms\r\n", E_FORMAT, 0);
  check_error ("ms q\r\n", E_FORMAT, 0);
  check_error ("ms q -1\r\n", E_FORMAT, 0);
  check_error ("ms q x T0\r\n", E_FORMAT, 0);
  check_error ("ms q 99999999999999999999\r\n", E_FORMAT, 0);
  /* A length: the data is skipped whatever else is wrong. */
  check_error ("ms q 4 c\r\n", E_FLAG, 4);
  check_error ("ms q 4 v\r\n", E_FLAG, 4);
  check_error ("ms q 4 I\r\n", E_FLAG, 4);
  check_error ("ms q 4 q q\r\n", E_DUPLICATE, 4);
  check_error ("ms q 4 Fx\r\n", E_TOKEN, 4);
  check_error ("ms q 4 F4294967296\r\n", E_TOKEN, 4);
  check_error ("ms q 4 F\r\n", E_TOKEN, 4);
  check_error ("ms q 4 T1.5\r\n", E_TOKEN, 4);
  check_error ("ms q/x 4\r\n", E_SET_OPTION, 4);
  check_error ("ms q/x 4 zz\r\n", E_SET_OPTION, 4);
  check_error ("ms a\x01 4\r\n", E_NAME_BAD, 4);
}

/* The key may carry /delay=<ms>; k returns it as sent. */
static void
test_ms_delay (void)
{
  g_autoptr (Parsed) p = parse_ok ("ms jobs/delay=5000 5 k T0\r\n",
                                   MQ_CMD_SET, 's');
  g_autoptr (Parsed) zero = parse_ok ("ms q/delay=0 1\r\n", MQ_CMD_SET, 's');
  g_autoptr (Parsed) plain = parse_ok ("ms q 1\r\n", MQ_CMD_SET, 's');
  g_autoptr (Parsed) other = parse_ok ("ms q/delay=9 3 ME\r\n",
                                       MQ_CMD_STORE_OTHER, 's');
  g_autoptr (GString) stored = NULL;

  g_assert_cmpmem (p->cmd.name, p->cmd.name_len, "jobs", 4);
  g_assert_cmpint (p->cmd.delay_ms, ==, 5000);
  g_assert_cmpuint (p->cmd.data_len, ==, 5);
  g_assert_cmpmem (p->cmd.form.key, p->cmd.form.key_len, "jobs/delay=5000",
                   15);
  g_assert_cmpint (zero->cmd.delay_ms, ==, 0);
  g_assert_cmpint (plain->cmd.delay_ms, ==, -1);
  g_assert_cmpuint (other->cmd.data_len, ==, 3);
  stored = g_string_new (NULL);
  protocol_meta_append_line (stored, &p->cmd.form, "STORED");
  g_assert_cmpstr (stored->str, ==, "HD kjobs/delay=5000\r\n");

  /* The data is skipped, the key checked before the flags. */
  check_error ("ms q/delay= 4\r\n", E_DELAY, 4);
  check_error ("ms q/delay=315360000001 4\r\n", E_DELAY, 4);
  check_error ("ms q/delay=1/delay=1 4\r\n", E_DUPLICATE_OPTION, 4);
  check_error ("ms q/delay=1/open 4 v\r\n", E_SET_OPTION, 4);
  check_error ("ms /delay=1 4\r\n", E_NAME_BAD, 4);
  check_error ("ms q/delay=1 4 c\r\n", E_FLAG, 4);
}

/* ---- md, mn, me ---- */

static void
test_md_mn_me (void)
{
  g_autoptr (Parsed) d = parse_ok ("md jobs q O9 k\r\n", MQ_CMD_DELETE, 'd');
  g_autoptr (Parsed) n = parse_ok ("mn\r\n", MQ_CMD_NOOP, 'n');

  g_assert_cmpmem (d->cmd.name, d->cmd.name_len, "jobs", 4);
  g_assert_true (d->cmd.form.quiet);
  assert_returns (&d->cmd.form, "Ok");
  assert_returns (&n->cmd.form, "");
  check_error ("md\r\n", E_FORMAT, 0);
  check_error ("md q C5\r\n", E_FLAG, 0);
  check_error ("md q I\r\n", E_FLAG, 0);
  check_error ("md a/b\r\n", E_NAME_BAD, 0);
  check_error ("mn x\r\n", E_FORMAT, 0);
  check_error ("me q\r\n", "CLIENT_ERROR me is not supported: a queue keeps "
               "no metadata per message", 0);
  check_error ("me\r\n", "CLIENT_ERROR me is not supported: a queue keeps "
               "no metadata per message", 0);
  check_error ("MG q v\r\n", "ERROR", 0);
}

/* ---- replies ---- */

static GString *
reply (MqReplyForm *form, const char *line)
{
  GString *out = g_string_new (NULL);

  protocol_meta_append_line (out, form, line);
  return out;
}

static void
assert_out (const GString *out, const char *want)
{
  g_assert_cmpmem (out->str, out->len, want, strlen (want));
}

static void
test_reply_mg (void)
{
  g_autoptr (Parsed) all = parse_ok ("mg q/open v t k f s O12 c\r\n",
                                     MQ_CMD_GET, 'g');
  g_autoptr (Parsed) bare = parse_ok ("mg q s t\r\n", MQ_CMD_GET, 'g');
  g_autoptr (Parsed) quiet = parse_ok ("mg q v q k O5\r\n", MQ_CMD_GET, 'g');
  g_autoptr (GString) out = g_string_new (NULL);
  MqReplyForm form = all->cmd.form;

  protocol_meta_append_value (out, &form, 7, "a\r\n\0b", 5, 42, -1);
  protocol_meta_append_line (out, &form, "END");
  static const char hit[] = "VA 5 t-1 kq/open f7 s5 O12 c42\r\na\r\n\0b\r\n";
  g_assert_cmpmem (out->str, out->len, hit, sizeof hit - 1);
  g_string_truncate (out, 0);
  /* A miss returns the key and the opaque only. */
  form = all->cmd.form;
  protocol_meta_append_line (out, &form, "END");
  assert_out (out, "EN kq/open O12\r\n");
  g_string_truncate (out, 0);
  /* Without v: HD and the flags; the value stays in the queue. */
  form = bare->cmd.form;
  protocol_meta_append_value (out, &form, 0, "hello", 5, 3, 30);
  protocol_meta_append_line (out, &form, "END");
  assert_out (out, "HD s5 t30\r\n");
  g_string_truncate (out, 0);
  /* q: a miss is not answered, a hit is. */
  form = quiet->cmd.form;
  protocol_meta_append_line (out, &form, "END");
  g_assert_cmpuint (out->len, ==, 0);
  protocol_meta_append_value (out, &form, 0, "", 0, 1, -1);
  assert_out (out, "VA 0 kq O5\r\n\r\n");
  g_string_truncate (out, 0);
  /* Errors go out as they are, q or not. */
  protocol_meta_append_line (out, &form, "SERVER_ERROR disk full");
  assert_out (out, "SERVER_ERROR disk full\r\n");
}

static void
test_reply_ms_md_mn (void)
{
  g_autoptr (Parsed) s = parse_ok ("ms q 1 O3 k\r\n", MQ_CMD_SET, 's');
  g_autoptr (Parsed) sq = parse_ok ("ms q 1 q\r\n", MQ_CMD_SET, 's');
  g_autoptr (Parsed) d = parse_ok ("md q k\r\n", MQ_CMD_DELETE, 'd');
  g_autoptr (Parsed) dq = parse_ok ("md q q O1\r\n", MQ_CMD_DELETE, 'd');
  g_autoptr (Parsed) n = parse_ok ("mn\r\n", MQ_CMD_NOOP, 'n');
  g_autoptr (GString) stored = reply (&s->cmd.form, "STORED");
  g_autoptr (GString) not_stored = reply (&s->cmd.form, "NOT_STORED");
  g_autoptr (GString) too_large = reply (&s->cmd.form, "SERVER_ERROR object "
                                         "too large for cache");
  g_autoptr (GString) chunk = reply (&sq->cmd.form,
                                     "CLIENT_ERROR bad data chunk");
  g_autoptr (GString) quiet = reply (&sq->cmd.form, "STORED");
  g_autoptr (GString) quiet_ns = reply (&sq->cmd.form, "NOT_STORED");
  g_autoptr (GString) deleted = reply (&d->cmd.form, "DELETED");
  g_autoptr (GString) not_found = reply (&d->cmd.form, "NOT_FOUND");
  g_autoptr (GString) quiet_del = reply (&dq->cmd.form, "DELETED");
  g_autoptr (GString) quiet_nf = reply (&dq->cmd.form, "NOT_FOUND");
  g_autoptr (GString) noop = reply (&n->cmd.form, "OK");

  assert_out (stored, "HD O3 kq\r\n");
  assert_out (not_stored, "NS O3 kq\r\n");
  assert_out (too_large, "SERVER_ERROR object too large for cache\r\n");
  assert_out (chunk, "CLIENT_ERROR bad data chunk\r\n");
  g_assert_cmpuint (quiet->len, ==, 0);
  assert_out (quiet_ns, "NS\r\n");
  assert_out (deleted, "HD kq\r\n");
  assert_out (not_found, "NF kq\r\n");
  g_assert_cmpuint (quiet_del->len, ==, 0);
  assert_out (quiet_nf, "NF O1\r\n");
  assert_out (noop, "MN\r\n");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/meta/mg/flags", test_mg);
  g_test_add_func ("/meta/mg/peek", test_mg_without_value_peeks);
  g_test_add_func ("/meta/mg/opaque", test_mg_flags_ignored_and_opaque);
  g_test_add_func ("/meta/mg/lease-touch-delay", test_mg_lease_touch_delay);
  g_test_add_func ("/meta/mg/errors", test_mg_errors);
  g_test_add_func ("/meta/ms/flags", test_ms);
  g_test_add_func ("/meta/ms/modes", test_ms_modes);
  g_test_add_func ("/meta/ms/errors", test_ms_errors);
  g_test_add_func ("/meta/ms/delay", test_ms_delay);
  g_test_add_func ("/meta/md-mn-me", test_md_mn_me);
  g_test_add_func ("/meta/reply/mg", test_reply_mg);
  g_test_add_func ("/meta/reply/ms-md-mn", test_reply_ms_md_mn);

  return g_test_run ();
}
