/* test_protocol.c: unit tests for daemon/protocol.c, the memcache text
 * protocol parser and reply writers. */
#include "protocol_text.h"

#include <string.h>

#include "parsed.h"

#define E_UNKNOWN "ERROR"
#define E_FORMAT "CLIENT_ERROR bad command line format"
#define E_DELETE \
  "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
#define E_NAME_LONG "CLIENT_ERROR queue name too long"
#define E_NAME_BAD "CLIENT_ERROR invalid queue name"
#define E_KEYS "CLIENT_ERROR too many keys"
#define E_GET_OPTION "CLIENT_ERROR bad get option"
#define E_SET_OPTION \
  "CLIENT_ERROR bad set option: a set takes only /delay=<ms>"
#define E_DUPLICATE "CLIENT_ERROR duplicate option"
#define E_DELAY "CLIENT_ERROR bad delay: 0 to 315360000000 ms"
#define E_LEASE "CLIENT_ERROR bad lease: 1 to 315360000000 ms"
#define E_LEASE_ALONE "CLIENT_ERROR lease= needs /open or /touch"
#define E_DELAY_ALONE "CLIENT_ERROR delay= on a get needs /abort"
#define E_TOUCH "CLIENT_ERROR /touch takes no other option but lease="

static Parsed *
parse_len (const char *s, gsize len)
{
  return parsed_new (protocol_parse, s, len);
}

static Parsed *
parse (const char *s)
{
  return parse_len (s, strlen (s));
}

static void
assert_bytes (const char *got, gsize got_len, const char *want)
{
  g_assert_nonnull (got);
  g_assert_cmpmem (got, got_len, want, strlen (want));
}

static void
assert_name (const MqCommand *cmd, const char *want)
{
  assert_bytes (cmd->name, cmd->name_len, want);
}

/* A whole line that must parse to a command. */
static Parsed *
parse_ok (const char *line, MqCommandType type)
{
  Parsed *p = parse (line);

  g_assert_cmpint (p->status, ==, MQ_PARSE_COMMAND);
  g_assert_null (p->error);
  g_assert_cmpuint (p->consumed, ==, strlen (line));
  g_assert_cmpint (p->cmd.type, ==, type);
  return p;
}

/* A whole line that must fail with error, and is not a set to skip. */
static void
check_error_len (const char *line, gsize len, const char *error)
{
  g_autoptr (Parsed) p = parse_len (line, len);

  g_assert_cmpint (p->status, ==, MQ_PARSE_ERROR);
  g_assert_cmpuint (p->consumed, ==, len);
  g_assert_cmpstr (p->error, ==, error);
  g_assert_false (protocol_takes_data (&p->cmd));
  g_assert_cmpuint (p->cmd.data_len, ==, 0);
  g_assert_cmpuint (p->cmd.data_end, ==, 0);
  g_assert_false (p->cmd.noreply);
}

static void
check_error (const char *line, const char *error)
{
  check_error_len (line, strlen (line), error);
}

/* A storage line that fails but whose data (data_len bytes, then "\r\n")
 * still follows. */
static void
check_data_error (const char *line, const char *error, MqCommandType type,
                  gsize data_len)
{
  g_autoptr (Parsed) p = parse (line);

  g_assert_cmpint (p->status, ==, MQ_PARSE_ERROR);
  g_assert_cmpuint (p->consumed, ==, strlen (line));
  g_assert_cmpstr (p->error, ==, error);
  g_assert_cmpint (p->cmd.type, ==, type);
  g_assert_cmpuint (p->cmd.data_len, ==, data_len);
  g_assert_cmpuint (p->cmd.data_end, ==, 2);
  g_assert_false (p->cmd.noreply);
}

static void
check_set_error (const char *line, const char *error, gsize data_len)
{
  check_data_error (line, error, MQ_CMD_SET, data_len);
}

static void
check_incomplete (const char *s, gsize len)
{
  g_autoptr (Parsed) p = parse_len (s, len);

  g_assert_cmpint (p->status, ==, MQ_PARSE_INCOMPLETE);
  g_assert_cmpuint (p->consumed, ==, 0);
}

static char *
repeat (char c, gsize n)
{
  char *s = g_malloc (n + 1);

  memset (s, c, n);
  s[n] = '\0';
  return s;
}

/* ---- lines ---- */

static void
test_line_endings (void)
{
  g_autoptr (Parsed) crlf = parse_ok ("get q\r\n", MQ_CMD_GET);
  g_autoptr (Parsed) lf = parse_ok ("get q\n", MQ_CMD_GET);

  assert_bytes (crlf->cmd.keys[0].name, crlf->cmd.keys[0].name_len, "q");
  assert_bytes (lf->cmd.keys[0].name, lf->cmd.keys[0].name_len, "q");
}

static void
test_line_incomplete (void)
{
  check_incomplete ("", 0);
  check_incomplete ("g", 1);
  check_incomplete ("get q", 5);
  check_incomplete ("get q\r", 6);
  check_incomplete ("set q 0 0 5", 11);
  check_incomplete ("\r", 1);
}

static void
test_line_pipelined (void)
{
  const char *in = "get a\r\nset b 1 2 3\r\nabc\r\nversion\n";
  g_autoptr (Parsed) p = parse (in);

  g_assert_cmpint (p->status, ==, MQ_PARSE_COMMAND);
  g_assert_cmpuint (p->consumed, ==, 7);
  g_assert_cmpuint (p->cmd.n_keys, ==, 1);

  g_autoptr (Parsed) q = parse (in + 7);
  g_assert_cmpint (q->status, ==, MQ_PARSE_COMMAND);
  g_assert_cmpint (q->cmd.type, ==, MQ_CMD_SET);
  g_assert_cmpuint (q->consumed, ==, 13);
  g_assert_cmpuint (q->cmd.data_len, ==, 3);
}

static void
test_line_spaces (void)
{
  g_autoptr (Parsed) p = parse_ok ("  set   q \t 7\t\t-3  5   noreply  \r\n",
                                   MQ_CMD_SET);

  assert_name (&p->cmd, "q");
  g_assert_cmpuint (p->cmd.flags, ==, 7);
  g_assert_cmpint (p->cmd.exptime, ==, -3);
  g_assert_cmpuint (p->cmd.data_len, ==, 5);
  g_assert_true (p->cmd.noreply);

  g_autoptr (Parsed) g = parse_ok ("get\ta  \t b\r\n", MQ_CMD_GET);
  g_assert_cmpuint (g->cmd.n_keys, ==, 2);
  assert_bytes (g->cmd.keys[1].name, g->cmd.keys[1].name_len, "b");
}

static void
test_line_empty (void)
{
  check_error ("\r\n", E_UNKNOWN);
  check_error ("\n", E_UNKNOWN);
  check_error ("   \r\n", E_UNKNOWN);
  check_error (" \t \n", E_UNKNOWN);
}

static void
test_line_unknown (void)
{
  check_error ("foo\r\n", E_UNKNOWN);
  check_error ("GET q\r\n", E_UNKNOWN);
  check_error ("Set q 0 0 1\r\n", E_UNKNOWN);
  check_error ("getq\r\n", E_UNKNOWN);
  check_error ("ge q\r\n", E_UNKNOWN);
  check_error ("get\rq\r\n", E_UNKNOWN);
  check_error ("\r\r\n", E_UNKNOWN);
  check_error ("ADD q 0 0 1\r\n", E_UNKNOWN);
  check_error ("verify q\r\n", E_UNKNOWN);
  check_error_len ("get\0 q\r\n", 8, E_UNKNOWN);
}

/* "get q", spaces, then end so that the line is total bytes long. */
static char *
padded_get (gsize total, const char *end)
{
  char *s = repeat (' ', total);

  memcpy (s, "get q", 5);
  memcpy (s + total - strlen (end), end, strlen (end));
  return s;
}

static void
test_line_max (void)
{
  g_autofree char *crlf = padded_get (MQ_MAX_LINE, "\r\n");
  g_autofree char *lf = padded_get (MQ_MAX_LINE, "\n");
  g_autoptr (Parsed) a = parse_ok (crlf, MQ_CMD_GET);
  g_autoptr (Parsed) b = parse_ok (lf, MQ_CMD_GET);

  g_assert_cmpuint (a->consumed, ==, MQ_MAX_LINE);
  g_assert_cmpuint (b->consumed, ==, MQ_MAX_LINE);
  g_assert_cmpuint (a->cmd.n_keys, ==, 1);
}

static void
check_too_long (const char *s, gsize len)
{
  g_autoptr (Parsed) p = parse_len (s, len);

  g_assert_cmpint (p->status, ==, MQ_PARSE_LINE_TOO_LONG);
  g_assert_cmpuint (p->consumed, ==, 0);
}

static void
test_line_too_long (void)
{
  g_autofree char *over = padded_get (MQ_MAX_LINE + 1, "\r\n");
  g_autofree char *far = padded_get (MQ_MAX_LINE + 100, "\n");
  g_autofree char *open = repeat ('x', MQ_MAX_LINE);

  check_too_long (over, MQ_MAX_LINE + 1);
  check_too_long (far, MQ_MAX_LINE + 100);
  /* No "\n" yet: one byte short of the limit is still worth waiting for. */
  check_too_long (open, MQ_MAX_LINE);
  check_incomplete (open, MQ_MAX_LINE - 1);
  /* The "\n" as the byte just past the limit is too late. */
  g_autofree char *late = padded_get (MQ_MAX_LINE + 1, "\n");
  check_too_long (late, MQ_MAX_LINE);
  check_too_long (late, MQ_MAX_LINE + 1);
}

/* ---- set ---- */

static void
test_set_basic (void)
{
  /* The data after the line is the caller's to read, not the parser's. */
  g_autoptr (Parsed) p = parse ("set work 1 2 3\r\nabc\r\n");

  g_assert_cmpint (p->status, ==, MQ_PARSE_COMMAND);
  g_assert_null (p->error);
  g_assert_cmpint (p->cmd.type, ==, MQ_CMD_SET);
  g_assert_cmpuint (p->consumed, ==, 16);
  assert_name (&p->cmd, "work");
  g_assert_cmpuint (p->cmd.flags, ==, 1);
  g_assert_cmpint (p->cmd.exptime, ==, 2);
  g_assert_cmpuint (p->cmd.data_len, ==, 3);
  g_assert_cmpint (p->cmd.delay_ms, ==, -1);
  g_assert_false (p->cmd.noreply);
  g_assert_cmpuint (p->cmd.n_keys, ==, 0);
  g_assert_true (p->cmd.name >= p->buf && p->cmd.name < p->buf + p->len);
}

static void
test_set_noreply (void)
{
  g_autoptr (Parsed) p = parse_ok ("set q 0 0 5 noreply\r\n", MQ_CMD_SET);

  g_assert_true (p->cmd.noreply);
  g_assert_cmpuint (p->cmd.data_len, ==, 5);
  check_set_error ("set q 0 0 5 noreplyx\r\n", E_FORMAT, 5);
  check_set_error ("set q 0 0 5 NOREPLY\r\n", E_FORMAT, 5);
  check_set_error ("set q 0 0 5 0\r\n", E_FORMAT, 5);
}

static void
test_set_flags (void)
{
  g_autoptr (Parsed) max = parse_ok ("set q 4294967295 0 1\r\n", MQ_CMD_SET);
  g_autoptr (Parsed) zeros = parse_ok ("set q 007 0 1\r\n", MQ_CMD_SET);

  g_assert_cmpuint (max->cmd.flags, ==, G_MAXUINT32);
  g_assert_cmpuint (zeros->cmd.flags, ==, 7);
  check_set_error ("set q 4294967296 0 1\r\n", E_FORMAT, 1);
  check_set_error ("set q 99999999999999999999999 0 1\r\n", E_FORMAT, 1);
  check_set_error ("set q -1 0 1\r\n", E_FORMAT, 1);
  check_set_error ("set q +1 0 1\r\n", E_FORMAT, 1);
  check_set_error ("set q 1a 0 1\r\n", E_FORMAT, 1);
  check_set_error ("set q 0x1 0 1\r\n", E_FORMAT, 1);
}

static void
check_exptime (const char *line, gint64 want)
{
  g_autoptr (Parsed) p = parse_ok (line, MQ_CMD_SET);

  g_assert_cmpint (p->cmd.exptime, ==, want);
}

static void
test_set_exptime (void)
{
  check_exptime ("set q 0 -1 1\r\n", -1);
  check_exptime ("set q 0 -0 1\r\n", 0);
  check_exptime ("set q 0 3600 1\r\n", 3600);
  check_exptime ("set q 0 9223372036854775807 1\r\n", G_MAXINT64);
  check_exptime ("set q 0 -9223372036854775808 1\r\n", G_MININT64);
  check_set_error ("set q 0 9223372036854775808 1\r\n", E_FORMAT, 1);
  check_set_error ("set q 0 -9223372036854775809 1\r\n", E_FORMAT, 1);
  check_set_error ("set q 0 - 1\r\n", E_FORMAT, 1);
  check_set_error ("set q 0 --1 1\r\n", E_FORMAT, 1);
  check_set_error ("set q 0 1- 1\r\n", E_FORMAT, 1);
  check_set_error ("set q 0 +1 1\r\n", E_FORMAT, 1);
  check_set_error ("set q 0 1.5 1\r\n", E_FORMAT, 1);
}

static void
test_set_bytes (void)
{
  g_autoptr (Parsed) zero = parse_ok ("set q 0 0 0\r\n", MQ_CMD_SET);
  g_autoptr (Parsed) gig = parse_ok ("set q 0 0 1073741824\r\n", MQ_CMD_SET);

  g_assert_cmpuint (zero->cmd.data_len, ==, 0);
  g_assert_cmpuint (gig->cmd.data_len, ==, 1073741824);
  if (sizeof (gsize) >= 8)
    {
      g_autoptr (Parsed) max = parse_ok ("set q 0 0 9223372036854775807\r\n",
                                         MQ_CMD_SET);
      g_assert_cmpuint (max->cmd.data_len, ==, G_MAXINT64);
    }
  /* No length could be read: nothing to skip, so not reported as a set. */
  check_error ("set q 0 0 9223372036854775808\r\n", E_FORMAT);
  check_error ("set q 0 0 -1\r\n", E_FORMAT);
  check_error ("set q 0 0 +1\r\n", E_FORMAT);
  check_error ("set q 0 0 1x\r\n", E_FORMAT);
  check_error ("set q 0 0 x\r\n", E_FORMAT);
}

static void
test_set_token_count (void)
{
  check_error ("set\r\n", E_FORMAT);
  check_error ("set q\r\n", E_FORMAT);
  check_error ("set q 0 0\r\n", E_FORMAT);
  check_error ("set q 0 0 5 noreply x\r\n", E_FORMAT);
  check_error ("set q 0 0 5 noreply noreply\r\n", E_FORMAT);
}

static void
test_set_precedence (void)
{
  g_autofree char *long_name = repeat ('n', MQ_MAX_NAME + 1);
  g_autofree char *long_bad_flags = g_strdup_printf ("set %s x 0 4\r\n",
                                                     long_name);
  g_autofree char *long_ok = g_strdup_printf ("set %s 0 0 4\r\n", long_name);

  /* Count before bytes before other numbers before the name. */
  check_error ("set q/x x x x x x x\r\n", E_FORMAT);
  check_error ("set q/x x x y\r\n", E_FORMAT);
  check_set_error ("set q/x x x 4\r\n", E_FORMAT, 4);
  check_set_error ("set q/x 0 x 4\r\n", E_FORMAT, 4);
  check_set_error ("set q/x 0 0 4 junk\r\n", E_FORMAT, 4);
  check_set_error (long_bad_flags, E_FORMAT, 4);
  check_set_error (long_ok, E_NAME_LONG, 4);
  check_set_error ("set q/x 0 0 4\r\n", E_SET_OPTION, 4);
  check_set_error ("set q/x 0 0 4 noreply\r\n", E_SET_OPTION, 4);
  /* The key's options before its name. */
  check_set_error ("set /x 0 0 4\r\n", E_SET_OPTION, 4);
  check_set_error ("set a\x01/delay=x 0 0 4\r\n", E_DELAY, 4);
  check_set_error ("set /delay=1 0 0 4\r\n", E_NAME_BAD, 4);
}

static void
test_set_name (void)
{
  g_autofree char *n250 = repeat ('a', MQ_MAX_NAME);
  g_autofree char *n251 = repeat ('a', MQ_MAX_NAME + 1);
  g_autofree char *ok = g_strdup_printf ("set %s 0 0 1\r\n", n250);
  g_autofree char *bad = g_strdup_printf ("set %s 0 0 1\r\n", n251);
  g_autoptr (Parsed) p = parse_ok (ok, MQ_CMD_SET);
  g_autoptr (Parsed) utf8 = parse_ok ("set caf\xc3\xa9 0 0 1\r\n", MQ_CMD_SET);

  assert_name (&p->cmd, n250);
  assert_name (&utf8->cmd, "caf\xc3\xa9");
  check_set_error (bad, E_NAME_LONG, 1);
  check_set_error ("set a\x01z 0 0 1\r\n", E_NAME_BAD, 1);
  check_set_error ("set a\x7fz 0 0 1\r\n", E_NAME_BAD, 1);
  check_set_error ("set \x1b 0 0 1\r\n", E_NAME_BAD, 1);
  check_set_error ("set a/b 0 0 1\r\n", E_SET_OPTION, 1);
  check_set_error ("set a\rb 0 0 1\r\n", E_NAME_BAD, 1);
  check_set_error ("set a\x0b 0 0 1\r\n", E_NAME_BAD, 1);

  /* A NUL inside the name: input is judged by length, not as a C string. */
  static const char nul[] = "set a\0b 0 0 1\r\n";
  g_autoptr (Parsed) n = parse_len (nul, sizeof nul - 1);
  g_assert_cmpint (n->status, ==, MQ_PARSE_ERROR);
  g_assert_cmpuint (n->consumed, ==, sizeof nul - 1);
  g_assert_cmpstr (n->error, ==, E_NAME_BAD);
  g_assert_cmpint (n->cmd.type, ==, MQ_CMD_SET);
  g_assert_cmpuint (n->cmd.data_len, ==, 1);
}

/* ---- set <q>/delay=<ms> ---- */

static void
check_set_delay (const char *key, const char *name, gint64 delay_ms)
{
  g_autofree char *line = g_strdup_printf ("set %s 5 0 2 noreply\r\n", key);
  g_autoptr (Parsed) p = parse_ok (line, MQ_CMD_SET);

  assert_name (&p->cmd, name);
  g_assert_true (p->cmd.name == p->buf + 4);
  g_assert_cmpint (p->cmd.delay_ms, ==, delay_ms);
  g_assert_cmpuint (p->cmd.flags, ==, 5);
  g_assert_cmpuint (p->cmd.data_len, ==, 2);
  g_assert_true (p->cmd.noreply);
}

static void
test_set_delay (void)
{
  g_autofree char *n250 = repeat ('d', MQ_MAX_NAME);
  g_autofree char *at250 = g_strdup_printf ("%s/delay=1", n250);

  check_set_delay ("q", "q", -1);
  check_set_delay ("q/delay=0", "q", 0);
  check_set_delay ("q/delay=5000", "q", 5000);
  check_set_delay ("q/delay=007", "q", 7);
  check_set_delay ("jobs+x/delay=315360000000", "jobs+x", 315360000000);
  check_set_delay (at250, n250, 1);
}

static void
test_set_delay_errors (void)
{
  static const KeyError bad[] = {
    { "q/delay=", E_DELAY }, { "q/delay=-1", E_DELAY },
    { "q/delay=+1", E_DELAY }, { "q/delay=1x", E_DELAY },
    { "q/delay=1s", E_DELAY }, { "q/delay=315360000001", E_DELAY },
    { "q/delay=99999999999999999999999", E_DELAY },
    { "q/delay=1/delay=1", E_DUPLICATE }, { "q/delay=0/delay=5", E_DUPLICATE },
    { "q/delay", E_SET_OPTION }, { "q/Delay=1", E_SET_OPTION },
    { "q/", E_SET_OPTION },
    { "q//delay=1", E_SET_OPTION }, { "q/delay=1/", E_SET_OPTION },
    { "q/open", E_SET_OPTION }, { "q/t=5", E_SET_OPTION },
    { "q/lease=5", E_SET_OPTION }, { "q/delay=1/peek", E_SET_OPTION },
    { "/delay=5", E_NAME_BAD }, { "a\x7f/delay=5", E_NAME_BAD },
  };
  g_autofree char *n251 = repeat ('d', MQ_MAX_NAME + 1);
  g_autofree char *long_line = g_strdup_printf ("set %s/delay=1 0 0 3\r\n",
                                                n251);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *line = g_strdup_printf ("set %s 0 0 3\r\n",
                                               bad[i].key);
      g_autofree char *quiet = g_strdup_printf ("set %s 0 0 3 noreply\r\n",
                                                bad[i].key);
      /* Refused, answered even under noreply, and its data skipped. */
      check_set_error (line, bad[i].error, 3);
      check_set_error (quiet, bad[i].error, 3);
    }
  check_set_error (long_line, E_NAME_LONG, 3);
  /* The numbers are checked first, as before. */
  check_set_error ("set q/delay=x y 0 3\r\n", E_FORMAT, 3);
  /* Only a set takes the option: add stores nothing anyway. */
  check_data_error ("add q/delay=5 0 0 3\r\n", E_NAME_BAD,
                    MQ_CMD_STORE_OTHER, 3);
}

/* ---- get, gets ---- */

static void
test_get_basic (void)
{
  g_autoptr (Parsed) p = parse_ok ("get work\r\n", MQ_CMD_GET);

  g_assert_cmpuint (p->cmd.n_keys, ==, 1);
  assert_bytes (p->cmd.keys[0].name, p->cmd.keys[0].name_len, "work");
  g_assert_cmpuint (p->cmd.keys[0].key_len, ==, 4);
  g_assert_cmpint (p->cmd.keys[0].timeout_ms, ==, -1);
  g_assert_cmpint (p->cmd.keys[0].lease_ms, ==, -1);
  g_assert_cmpint (p->cmd.keys[0].delay_ms, ==, -1);
  g_assert_cmpuint (p->cmd.keys[0].options, ==, 0);
  g_assert_false (p->cmd.noreply);
  g_assert_null (p->cmd.name);
  g_assert_cmpuint (p->cmd.data_len, ==, 0);
}

static void
test_gets_basic (void)
{
  g_autoptr (Parsed) p = parse_ok ("gets a b/peek\r\n", MQ_CMD_GETS);

  g_assert_cmpuint (p->cmd.n_keys, ==, 2);
  assert_bytes (p->cmd.keys[0].name, p->cmd.keys[0].name_len, "a");
  assert_bytes (p->cmd.keys[1].name, p->cmd.keys[1].name_len, "b");
  g_assert_cmpuint (p->cmd.keys[1].options, ==, MQ_GET_PEEK);
  check_error ("gets\r\n", E_UNKNOWN);
}

static void
test_get_no_key (void)
{
  check_error ("get\r\n", E_UNKNOWN);
  check_error ("get   \r\n", E_UNKNOWN);
  check_error ("get\n", E_UNKNOWN);
}

/* "get" then n keys k0 k1 ..., each followed by suffix. */
static char *
many_keys (guint n, const char *suffix)
{
  GString *s = g_string_new ("get");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, " k%u%s", i, suffix);
  g_string_append (s, "\r\n");
  return g_string_free (s, FALSE);
}

static void
test_get_many (void)
{
  g_autofree char *line = many_keys (MQ_MAX_KEYS, "/t=9");
  g_autoptr (Parsed) p = parse_ok (line, MQ_CMD_GET);

  g_assert_cmpuint (p->cmd.n_keys, ==, MQ_MAX_KEYS);
  for (guint i = 0; i < MQ_MAX_KEYS; i++)
    {
      g_autofree char *want = g_strdup_printf ("k%u", i);
      assert_bytes (p->cmd.keys[i].name, p->cmd.keys[i].name_len, want);
      g_assert_cmpint (p->cmd.keys[i].timeout_ms, ==, 9);
    }
}

static void
test_get_too_many (void)
{
  g_autofree char *over = many_keys (MQ_MAX_KEYS + 1, "");
  g_autofree char *far = many_keys (MQ_MAX_KEYS * 4, "");
  g_autofree char *bad_and_over = many_keys (MQ_MAX_KEYS + 1, "/bogus");

  check_error (over, E_KEYS);
  check_error (far, E_KEYS);
  check_error (bad_and_over, E_KEYS);
}

static MqGetKey
get_key (const char *key)
{
  g_autofree char *line = g_strdup_printf ("get %s\r\n", key);
  g_autoptr (Parsed) p = parse_ok (line, MQ_CMD_GET);

  g_assert_cmpuint (p->cmd.n_keys, ==, 1);
  assert_bytes (p->cmd.keys[0].name, p->cmd.keys[0].name_len, "q");
  MqGetKey k = p->cmd.keys[0];
  k.name = NULL;                  /* points into freed input */
  return k;
}

static void
check_get_key (const char *key, gint64 timeout_ms, guint options)
{
  MqGetKey k = get_key (key);

  g_assert_cmpint (k.timeout_ms, ==, timeout_ms);
  g_assert_cmpuint (k.options, ==, options);
  g_assert_cmpint (k.lease_ms, ==, -1);
  g_assert_cmpint (k.delay_ms, ==, -1);
}

/* A key with lease= or delay=. */
static void
check_get_times (const char *key, gint64 lease_ms, gint64 delay_ms,
                 guint options)
{
  MqGetKey k = get_key (key);

  g_assert_cmpint (k.lease_ms, ==, lease_ms);
  g_assert_cmpint (k.delay_ms, ==, delay_ms);
  g_assert_cmpuint (k.options, ==, options);
  g_assert_cmpuint (k.key_len, ==, strlen (key));
}

static void
test_get_options (void)
{
  check_get_key ("q", -1, 0);
  check_get_key ("q/open", -1, MQ_GET_OPEN);
  check_get_key ("q/close", -1, MQ_GET_CLOSE);
  check_get_key ("q/abort", -1, MQ_GET_ABORT);
  check_get_key ("q/peek", -1, MQ_GET_PEEK);
  check_get_key ("q/t=0", 0, 0);
  check_get_key ("q/t=500", 500, 0);
  check_get_key ("q/t=0500", 500, 0);
  check_get_key ("q/t=2147483647", G_MAXINT32, 0);
}

static void
test_get_options_combined (void)
{
  check_get_key ("q/t=500/close/open", 500, MQ_GET_CLOSE | MQ_GET_OPEN);
  check_get_key ("q/open/t=1", 1, MQ_GET_OPEN);
  check_get_key ("q/close/open/abort/peek",
                 -1, MQ_GET_CLOSE | MQ_GET_OPEN | MQ_GET_ABORT | MQ_GET_PEEK);
  check_get_key ("q/peek/t=10/peek", 10, MQ_GET_PEEK);
  check_get_key ("q/t=1/t=2", 2, 0);

  g_autoptr (Parsed) p = parse_ok ("get a/open b/t=3 c\r\n", MQ_CMD_GET);
  g_assert_cmpuint (p->cmd.n_keys, ==, 3);
  g_assert_cmpuint (p->cmd.keys[0].options, ==, MQ_GET_OPEN);
  g_assert_cmpint (p->cmd.keys[0].timeout_ms, ==, -1);
  g_assert_cmpuint (p->cmd.keys[1].options, ==, 0);
  g_assert_cmpint (p->cmd.keys[1].timeout_ms, ==, 3);
  g_assert_cmpuint (p->cmd.keys[2].options, ==, 0);
  g_assert_cmpint (p->cmd.keys[2].timeout_ms, ==, -1);
  assert_bytes (p->cmd.keys[2].name, p->cmd.keys[2].name_len, "c");
  /* Replies echo the whole key, options included. */
  assert_bytes (p->cmd.keys[0].name, p->cmd.keys[0].key_len, "a/open");
  assert_bytes (p->cmd.keys[1].name, p->cmd.keys[1].key_len, "b/t=3");
  assert_bytes (p->cmd.keys[2].name, p->cmd.keys[2].key_len, "c");
}

static void
test_get_bad_options (void)
{
  static const char *const bad[] = {
    "get q/\r\n", "get q//open\r\n", "get q/open/\r\n", "get q/OPEN\r\n",
    "get q/opens\r\n", "get q/ope\r\n", "get q/t=\r\n", "get q/t\r\n",
    "get q/t=-1\r\n", "get q/t=+1\r\n", "get q/t=1x\r\n",
    "get q/t=2147483648\r\n",
    "get q/t=99999999999999999999999\r\n", "get q/T=1\r\n", "get q/t =1\r\n",
    "get ok q/bogus\r\n", "get /bogus\r\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    check_error (bad[i], E_GET_OPTION);
}

static void
test_get_lease_touch_delay (void)
{
  check_get_times ("q/open/lease=30000", 30000, -1, MQ_GET_OPEN);
  check_get_times ("q/lease=1/open", 1, -1, MQ_GET_OPEN);
  check_get_times ("q/open/lease=315360000000", 315360000000, -1,
                   MQ_GET_OPEN);
  check_get_times ("q/close/open/lease=07", 7, -1,
                   MQ_GET_CLOSE | MQ_GET_OPEN);
  check_get_times ("q/open/peek/lease=5", 5, -1, MQ_GET_OPEN | MQ_GET_PEEK);
  check_get_times ("q/touch", -1, -1, MQ_GET_TOUCH);
  check_get_times ("q/touch/lease=60000", 60000, -1, MQ_GET_TOUCH);
  check_get_times ("q/lease=60000/touch", 60000, -1, MQ_GET_TOUCH);
  check_get_times ("q/abort/delay=5000", -1, 5000, MQ_GET_ABORT);
  check_get_times ("q/delay=0/abort", -1, 0, MQ_GET_ABORT);
  check_get_times ("q/abort/delay=315360000000", -1, 315360000000,
                   MQ_GET_ABORT);
  /* Give the read back for later and open the next, with a lease. */
  check_get_times ("q/abort/delay=5000/open/lease=100", 100, 5000,
                   MQ_GET_ABORT | MQ_GET_OPEN);
  check_get_times ("q/close/abort/delay=1", -1, 1,
                   MQ_GET_CLOSE | MQ_GET_ABORT);

  MqGetKey t = get_key ("q/t=500/open/lease=9");
  g_assert_cmpint (t.timeout_ms, ==, 500);
  g_assert_cmpint (t.lease_ms, ==, 9);

  g_autoptr (Parsed) p = parse_ok ("get a/open/lease=5 b/touch "
                                   "c/abort/delay=0 d\r\n", MQ_CMD_GET);
  static const struct {
    const char *key;
    gint64 lease_ms, delay_ms;
    guint options;
  } want[] = {
    { "a/open/lease=5", 5, -1, MQ_GET_OPEN },
    { "b/touch", -1, -1, MQ_GET_TOUCH },
    { "c/abort/delay=0", -1, 0, MQ_GET_ABORT },
    { "d", -1, -1, 0 },
  };

  g_assert_cmpuint (p->cmd.n_keys, ==, G_N_ELEMENTS (want));
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    {
      const MqGetKey *k = &p->cmd.keys[i];

      assert_bytes (k->name, k->key_len, want[i].key);
      g_assert_cmpuint (k->name_len, ==, 1);
      g_assert_cmpint (k->lease_ms, ==, want[i].lease_ms);
      g_assert_cmpint (k->delay_ms, ==, want[i].delay_ms);
      g_assert_cmpuint (k->options, ==, want[i].options);
    }
}

static void
test_get_lease_touch_delay_errors (void)
{
  static const KeyError bad[] = {
    /* Numbers: digits only, in range. */
    { "q/open/lease=0", E_LEASE }, { "q/open/lease=", E_LEASE },
    { "q/open/lease=-1", E_LEASE }, { "q/open/lease=+5", E_LEASE },
    { "q/open/lease=1x", E_LEASE }, { "q/open/lease=5s", E_LEASE },
    { "q/open/lease=315360000001", E_LEASE },
    { "q/open/lease=99999999999999999999999", E_LEASE },
    { "q/touch/lease=0", E_LEASE }, { "q/lease=0", E_LEASE },
    { "q/abort/delay=", E_DELAY }, { "q/abort/delay=-1", E_DELAY },
    { "q/abort/delay=x", E_DELAY }, { "q/abort/delay=315360000001", E_DELAY },
    { "q/abort/delay=18446744073709551616", E_DELAY },
    /* Each at most once. */
    { "q/open/lease=1/lease=1", E_DUPLICATE },
    { "q/abort/delay=1/delay=2", E_DUPLICATE },
    { "q/touch/touch", E_DUPLICATE },
    /* Unknown words. */
    { "q/lease", E_GET_OPTION }, { "q/delay", E_GET_OPTION },
    { "q/Lease=5", E_GET_OPTION }, { "q/touched", E_GET_OPTION },
    { "q/TOUCH", E_GET_OPTION }, { "q/open/lease=5/", E_GET_OPTION },
    { "q/lease=5/bogus", E_GET_OPTION },
    /* Each beside what it belongs to. */
    { "q/lease=5", E_LEASE_ALONE }, { "q/close/lease=5", E_LEASE_ALONE },
    { "q/abort/lease=5", E_LEASE_ALONE }, { "q/peek/lease=5", E_LEASE_ALONE },
    { "q/t=5/lease=5", E_LEASE_ALONE },
    { "q/delay=5", E_DELAY_ALONE }, { "q/open/delay=5", E_DELAY_ALONE },
    { "q/close/delay=5", E_DELAY_ALONE }, { "q/t=1/delay=0", E_DELAY_ALONE },
    { "q/touch/open", E_TOUCH }, { "q/close/touch", E_TOUCH },
    { "q/touch/abort", E_TOUCH }, { "q/touch/peek", E_TOUCH },
    { "q/touch/t=0", E_TOUCH }, { "q/touch/delay=5", E_TOUCH },
    { "q/abort/delay=5/touch", E_TOUCH },
    /* Options before the name. */
    { "/touch", E_NAME_BAD }, { "/open/lease=5", E_NAME_BAD },
    { "/lease=5", E_LEASE_ALONE }, { "a\x01/open/lease=0", E_LEASE },
  };
  g_autofree char *n251 = repeat ('g', MQ_MAX_NAME + 1);
  g_autofree char *long_line = g_strdup_printf ("get %s/touch\r\n", n251);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *line = g_strdup_printf ("get ok %s\r\n", bad[i].key);

      check_error (line, bad[i].error);
    }
  check_error (long_line, E_NAME_LONG);
}

static void
test_get_names (void)
{
  g_autofree char *n250 = repeat ('b', MQ_MAX_NAME);
  g_autofree char *n251 = repeat ('b', MQ_MAX_NAME + 1);
  g_autofree char *ok = g_strdup_printf ("get %s/open\r\n", n250);
  g_autofree char *bad = g_strdup_printf ("get %s/open\r\n", n251);
  g_autofree char *bad_plain = g_strdup_printf ("get q %s\r\n", n251);
  g_autoptr (Parsed) p = parse_ok (ok, MQ_CMD_GET);

  assert_bytes (p->cmd.keys[0].name, p->cmd.keys[0].name_len, n250);
  g_assert_cmpuint (p->cmd.keys[0].options, ==, MQ_GET_OPEN);
  check_error (bad, E_NAME_LONG);
  check_error (bad_plain, E_NAME_LONG);
  check_error ("get /open\r\n", E_NAME_BAD);
  check_error ("get /t=5\r\n", E_NAME_BAD);
  check_error ("get q a\x01\r\n", E_NAME_BAD);
  check_error ("get a\x7f/peek\r\n", E_NAME_BAD);
  check_error_len ("get a\0b\r\n", 9, E_NAME_BAD);
}

/* ---- delete, flush, flush_all ---- */

static void
check_delete (const char *line, gboolean noreply)
{
  g_autoptr (Parsed) p = parse_ok (line, MQ_CMD_DELETE);

  assert_name (&p->cmd, "q");
  g_assert_cmpint (p->cmd.noreply, ==, noreply);
}

static void
test_delete (void)
{
  check_delete ("delete q\r\n", FALSE);
  check_delete ("delete q 0\r\n", FALSE);
  check_delete ("delete q noreply\r\n", TRUE);
  check_delete ("delete q 0 noreply\r\n", TRUE);
  check_delete ("delete  q\t0  noreply \n", TRUE);
}

static void
test_delete_errors (void)
{
  static const char *const bad[] = {
    "delete\r\n", "delete q 1\r\n", "delete q 00\r\n", "delete q -0\r\n",
    "delete q noreply 0\r\n", "delete q 0 0\r\n", "delete q junk\r\n",
    "delete q 0 noreply x\r\n", "delete q noreply noreply\r\n",
    "delete q/x 5\r\n",
  };
  g_autofree char *n251 = repeat ('d', MQ_MAX_NAME + 1);
  g_autofree char *long_line = g_strdup_printf ("delete %s\r\n", n251);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    check_error (bad[i], E_DELETE);
  check_error (long_line, E_NAME_LONG);
  check_error ("delete q/x\r\n", E_NAME_BAD);
  check_error ("delete q\x02 0 noreply\r\n", E_NAME_BAD);
}

static void
test_flush (void)
{
  g_autoptr (Parsed) p = parse_ok ("flush q\r\n", MQ_CMD_FLUSH);
  g_autoptr (Parsed) n = parse_ok ("flush q noreply\r\n", MQ_CMD_FLUSH);
  g_autofree char *n251 = repeat ('f', MQ_MAX_NAME + 1);
  g_autofree char *long_line = g_strdup_printf ("flush %s\r\n", n251);

  assert_name (&p->cmd, "q");
  g_assert_false (p->cmd.noreply);
  assert_name (&n->cmd, "q");
  g_assert_true (n->cmd.noreply);
  check_error ("flush\r\n", E_FORMAT);
  check_error ("flush q x\r\n", E_FORMAT);
  check_error ("flush q 0\r\n", E_FORMAT);
  check_error ("flush q noreply x\r\n", E_FORMAT);
  check_error ("flush q/x x\r\n", E_FORMAT);
  check_error (long_line, E_NAME_LONG);
  check_error ("flush q/x\r\n", E_NAME_BAD);
}

static void
check_flush_all (const char *line, gboolean noreply)
{
  g_autoptr (Parsed) p = parse_ok (line, MQ_CMD_FLUSH_ALL);

  g_assert_cmpint (p->cmd.noreply, ==, noreply);
}

static void
test_flush_all (void)
{
  check_flush_all ("flush_all\r\n", FALSE);
  check_flush_all ("flush_all 0\r\n", FALSE);
  check_flush_all ("flush_all 10\r\n", FALSE);
  check_flush_all ("flush_all noreply\r\n", TRUE);
  check_flush_all ("flush_all 10 noreply\r\n", TRUE);
  check_error ("flush_all -1\r\n", E_FORMAT);
  check_error ("flush_all x\r\n", E_FORMAT);
  check_error ("flush_all +1\r\n", E_FORMAT);
  check_error ("flush_all 10 x\r\n", E_FORMAT);
  check_error ("flush_all 1 2\r\n", E_FORMAT);
  check_error ("flush_all noreply 10\r\n", E_FORMAT);
  check_error ("flush_all 1 noreply x\r\n", E_FORMAT);
  check_error ("flush_all 99999999999999999999999\r\n", E_FORMAT);
}

/* ---- the rest ---- */

static void
test_stats (void)
{
  g_autoptr (Parsed) p = parse_ok ("stats\r\n", MQ_CMD_STATS);
  g_autoptr (Parsed) q = parse_ok ("stats queue\r\n", MQ_CMD_STATS);
  g_autoptr (Parsed) one = parse_ok ("stats queue a_b\r\n", MQ_CMD_STATS);

  g_assert_null (p->cmd.name);
  g_assert_cmpuint (p->cmd.name_len, ==, 0);
  assert_name (&q->cmd, "queue");
  g_assert_cmpuint (q->cmd.n_keys, ==, 0);
  /* One queue's stats: the group, and the queue as the key. */
  assert_name (&one->cmd, "queue");
  g_assert_cmpuint (one->cmd.n_keys, ==, 1);
  g_assert_cmpmem (one->cmd.keys[0].name, one->cmd.keys[0].name_len,
                   "a_b", 3);
  check_error ("stats queue a/b\r\n", E_FORMAT);
  check_error ("stats a b\r\n", E_FORMAT);
  check_error ("stats detail on\r\n", E_FORMAT);
  /* memcached's cache groups, for its tools: an empty list. */
  for (const char *const *g = (const char *const[]) { "items", "slabs",
                                                      "sizes", NULL };
       *g != NULL; g++)
    {
      g_autofree char *line = g_strdup_printf ("stats %s\r\n", *g);
      g_autoptr (Parsed) s = parse_ok (line, MQ_CMD_STATS);

      assert_name (&s->cmd, *g);
    }
  g_autoptr (Parsed) d = parse_ok ("stats cachedump 1 0\r\n", MQ_CMD_STATS);
  assert_name (&d->cmd, "cachedump");
  check_error ("stats cachedump 1\r\n", E_FORMAT);
  check_error ("stats cachedump x 0\r\n", E_FORMAT);
  check_error ("stats cachedump 1 0 0\r\n", E_FORMAT);
  check_error ("stats queue 1 0\r\n", E_FORMAT);
  check_error ("stats items q\r\n", E_FORMAT);
}

static void
test_version_quit (void)
{
  g_autoptr (Parsed) v = parse_ok ("version\r\n", MQ_CMD_VERSION);
  g_autoptr (Parsed) q = parse_ok ("quit\n", MQ_CMD_QUIT);

  g_assert_false (v->cmd.noreply);
  /* quit closes without a word: its reply (binary QUIT has one) is left
   * out as noreply leaves it out. */
  g_assert_true (q->cmd.noreply);
  check_error ("version x\r\n", E_FORMAT);
  check_error ("version noreply\r\n", E_FORMAT);
  check_error ("quit now\r\n", E_FORMAT);
}

static void
test_verbosity (void)
{
  g_autoptr (Parsed) p = parse_ok ("verbosity 1\r\n", MQ_CMD_VERBOSITY);
  g_autoptr (Parsed) n = parse_ok ("verbosity 3 noreply\r\n", MQ_CMD_VERBOSITY);
  g_autoptr (Parsed) m = parse_ok ("verbosity 4294967295\r\n",
                                   MQ_CMD_VERBOSITY);

  g_assert_cmpuint (p->cmd.level, ==, 1);
  g_assert_false (p->cmd.noreply);
  g_assert_cmpuint (n->cmd.level, ==, 3);
  g_assert_true (n->cmd.noreply);
  g_assert_cmpuint (m->cmd.level, ==, G_MAXUINT);
  check_error ("verbosity\r\n", E_FORMAT);
  check_error ("verbosity noreply\r\n", E_FORMAT);
  check_error ("verbosity x\r\n", E_FORMAT);
  check_error ("verbosity -1\r\n", E_FORMAT);
  check_error ("verbosity 1 x\r\n", E_FORMAT);
  check_error ("verbosity 1 noreply x\r\n", E_FORMAT);
  check_error ("verbosity 4294967296\r\n", E_FORMAT);
}

static void
test_shutdown (void)
{
  g_autoptr (Parsed) p = parse_ok ("shutdown\r\n", MQ_CMD_SHUTDOWN);
  g_autoptr (Parsed) g = parse_ok ("shutdown graceful\r\n", MQ_CMD_SHUTDOWN);

  g_assert_null (p->cmd.name);
  assert_name (&g->cmd, "graceful");
  check_error ("shutdown now\r\n", E_FORMAT);
  check_error ("shutdown graceful x\r\n", E_FORMAT);
}

/* ---- what memcache clients send that a queue cannot carry out ---- */

static void
test_store_other (void)
{
  static const char *const words[] = { "add", "replace", "append",
                                       "prepend" };

  for (gsize i = 0; i < G_N_ELEMENTS (words); i++)
    {
      g_autofree char *line = g_strdup_printf ("%s q 3 -1 5\r\n", words[i]);
      g_autofree char *quiet = g_strdup_printf ("%s q 0 0 0 noreply\r\n",
                                                words[i]);
      g_autofree char *bad_flags = g_strdup_printf ("%s q x 0 7\r\n",
                                                    words[i]);
      g_autofree char *no_len = g_strdup_printf ("%s q 0 0\r\n", words[i]);
      g_autofree char *error = g_strdup_printf ("%s for %s", E_FORMAT,
                                                words[i]);
      g_autoptr (Parsed) p = parse_ok (line, MQ_CMD_STORE_OTHER);
      g_autoptr (Parsed) n = parse_ok (quiet, MQ_CMD_STORE_OTHER);

      assert_name (&p->cmd, "q");
      g_assert_cmpuint (p->cmd.data_len, ==, 5);
      g_assert_cmpuint (p->cmd.data_end, ==, 2);
      g_assert_cmpuint (p->cmd.flags, ==, 3);
      g_assert_false (p->cmd.noreply);
      g_assert_true (n->cmd.noreply);
      g_assert_cmpuint (n->cmd.data_len, ==, 0);
      check_data_error (bad_flags, error, MQ_CMD_STORE_OTHER, 7);
      check_error (no_len, error);
    }
  g_autoptr (Parsed) c = parse_ok ("cas q 0 0 4 18446744073709551615\r\n",
                                   MQ_CMD_STORE_OTHER);
  g_autoptr (Parsed) cn = parse_ok ("cas q 0 0 4 1 noreply\r\n",
                                    MQ_CMD_STORE_OTHER);
  g_assert_cmpuint (c->cmd.data_len, ==, 4);
  g_assert_true (cn->cmd.noreply);
  /* cas has its unique before noreply: five numbers' worth of words. */
  check_error ("cas q 0 0 4\r\n", E_FORMAT " for cas");
  check_data_error ("cas q 0 0 4 x\r\n", E_FORMAT " for cas",
                    MQ_CMD_STORE_OTHER, 4);
  check_data_error ("cas q 0 0 4 18446744073709551616\r\n",
                    E_FORMAT " for cas", MQ_CMD_STORE_OTHER, 4);
  check_data_error ("cas q 0 0 4 1 x\r\n", E_FORMAT " for cas",
                    MQ_CMD_STORE_OTHER, 4);
  /* The name is checked last, as a set's. */
  check_data_error ("add q/x 0 0 2\r\n", E_NAME_BAD, MQ_CMD_STORE_OTHER, 2);
}

static void
test_update (void)
{
  g_autoptr (Parsed) t = parse_ok ("touch q -5\r\n", MQ_CMD_UPDATE);
  g_autoptr (Parsed) i = parse_ok ("incr q 18446744073709551615 noreply\r\n",
                                   MQ_CMD_UPDATE);
  g_autoptr (Parsed) d = parse_ok ("decr q 1\r\n", MQ_CMD_UPDATE);

  assert_name (&t->cmd, "q");
  g_assert_false (t->cmd.noreply);
  g_assert_true (i->cmd.noreply);
  assert_name (&d->cmd, "q");
  check_error ("touch q\r\n", E_FORMAT " for touch");
  check_error ("touch q x\r\n", E_FORMAT " for touch");
  check_error ("touch q 1 x\r\n", E_FORMAT " for touch");
  check_error ("incr q -1\r\n", E_FORMAT " for incr");
  check_error ("decr q\r\n", E_FORMAT " for decr");
  check_error ("decr q 1 noreply x\r\n", E_FORMAT " for decr");
  check_error ("touch q/x 1\r\n", E_NAME_BAD);
}

static void
test_gat (void)
{
  g_autoptr (Parsed) g = parse_ok ("gat 10 a b/open\r\n", MQ_CMD_GAT);
  g_autoptr (Parsed) s = parse_ok ("gats -1 q\r\n", MQ_CMD_GAT);

  /* Nothing is taken, so no key is kept. */
  g_assert_cmpuint (g->cmd.n_keys, ==, 0);
  g_assert_cmpuint (s->cmd.n_keys, ==, 0);
  check_error ("gat 10\r\n", E_FORMAT " for gat");
  check_error ("gats q 10\r\n", E_FORMAT " for gats");
  check_error ("gat 10 q/x\r\n", E_GET_OPTION);
  check_error ("gat 10 a\x01\r\n", E_NAME_BAD);
}

static void
test_valid_name (void)
{
  g_autofree char *n250 = repeat ('z', MQ_MAX_NAME);

  g_assert_true (protocol_valid_name ("q", 1));
  g_assert_true (protocol_valid_name ("a.b-c_d:e", 9));
  g_assert_true (protocol_valid_name ("\x80\xff", 2));
  g_assert_true (protocol_valid_name (n250, MQ_MAX_NAME));
  g_assert_false (protocol_valid_name (n250, 0));
  g_assert_false (protocol_valid_name ("zzz", 0));
  g_assert_false (protocol_valid_name (NULL, 0));
  g_assert_false (protocol_valid_name ("a/b", 3));
  g_assert_false (protocol_valid_name ("a b", 3));
  g_assert_false (protocol_valid_name ("a\tb", 3));
  g_assert_false (protocol_valid_name ("a\0b", 3));
  g_assert_false (protocol_valid_name ("\x7f", 1));
  g_assert_false (protocol_valid_name ("\x1f", 1));
  g_assert_false (protocol_valid_name ("\n", 1));
  g_assert_true (protocol_valid_name ("ab/", 2));
  g_autofree char *n251 = repeat ('z', MQ_MAX_NAME + 1);
  g_assert_false (protocol_valid_name (n251, MQ_MAX_NAME + 1));
}

/* ---- replies ---- */

static void
assert_gstring (GString *s, const char *want, gsize want_len)
{
  g_assert_cmpmem (s->str, s->len, want, want_len);
}

static void
test_reply_line (void)
{
  g_autoptr (GString) out = g_string_new ("");

  protocol_append_line (out, "STORED");
  assert_gstring (out, "STORED\r\n", 8);
  protocol_append_line (out, "CLIENT_ERROR bad command line format");
  assert_gstring (out, "STORED\r\nCLIENT_ERROR bad command line format\r\n",
                  46);
  protocol_append_line (out, "");
  assert_gstring (out, "STORED\r\nCLIENT_ERROR bad command line format\r\n\r\n",
                  48);
}

static void
test_reply_value (void)
{
  g_autoptr (GString) out = g_string_new ("x");

  protocol_append_value (out, "work", 4, 42, "hello", 5, FALSE, 0, NULL);
  assert_gstring (out, "xVALUE work 42 5\r\nhello\r\n", 25);

  g_string_truncate (out, 0);
  protocol_append_value (out, "work!", 4, G_MAXUINT32, "", 0, FALSE, 0, NULL);
  assert_gstring (out, "VALUE work 4294967295 0\r\n\r\n", 27);

  g_string_truncate (out, 0);
  protocol_append_value (out, "q", 1, 0, NULL, 0, FALSE, 0, NULL);
  assert_gstring (out, "VALUE q 0 0\r\n\r\n", 15);
}

static void
test_reply_value_cas (void)
{
  g_autoptr (GString) out = g_string_new ("");

  protocol_append_value (out, "q", 1, 7, "ab", 2, TRUE, 12345, NULL);
  assert_gstring (out, "VALUE q 7 2 12345\r\nab\r\n", 23);

  g_string_truncate (out, 0);
  protocol_append_value (out, "q", 1, 0, "", 0, TRUE, G_MAXUINT64, NULL);
  assert_gstring (out, "VALUE q 0 0 18446744073709551615\r\n\r\n", 36);

  g_string_truncate (out, 0);
  protocol_append_value (out, "q", 1, 0, "z", 1, TRUE, 0, NULL);
  assert_gstring (out, "VALUE q 0 1 0\r\nz\r\n", 18);
}

static void
test_reply_value_binary (void)
{
  static const char data[] = "a\0b\r\nEND\r\n\0";
  static const char want[] = "VALUE bin 1 11\r\na\0b\r\nEND\r\n\0\r\n";
  g_autoptr (GString) out = g_string_new ("");
  char all[256];
  GString *big = g_string_new ("");

  protocol_append_value (out, "bin", 3, 1, data, sizeof data - 1, FALSE, 0, NULL);
  assert_gstring (out, want, sizeof want - 1);

  for (guint i = 0; i < sizeof all; i++)
    all[i] = (char) i;
  protocol_append_value (big, "all", 3, 0, all, sizeof all, FALSE, 0, NULL);
  g_assert_cmpuint (big->len, ==, strlen ("VALUE all 0 256\r\n") + 256 + 2);
  g_assert_cmpmem (big->str + 17, 256, all, 256);
  g_string_free (big, TRUE);
}

static void
test_reply_stat (void)
{
  g_autoptr (GString) out = g_string_new ("");

  protocol_append_stat (out, "pid", "123");
  assert_gstring (out, "STAT pid 123\r\n", 14);
  protocol_append_stat (out, "version", "1.0 beta");
  assert_gstring (out, "STAT pid 123\r\nSTAT version 1.0 beta\r\n", 37);
}

static void
test_reply_stat_printf (void)
{
  g_autoptr (GString) out = g_string_new ("");

  protocol_append_stat_printf (out, "uptime", "%u", 42u);
  assert_gstring (out, "STAT uptime 42\r\n", 16);
  g_string_truncate (out, 0);
  protocol_append_stat_printf (out, "work", "%" G_GUINT64_FORMAT "/%"
                               G_GUINT64_FORMAT, (guint64) 10, G_MAXUINT64);
  assert_gstring (out, "STAT work 10/18446744073709551615\r\n", 35);
  g_string_truncate (out, 0);
  protocol_append_stat_printf (out, "s", "%s", "");
  assert_gstring (out, "STAT s \r\n", 9);
}

/* ---- robustness ---- */

static const char *const seeds[] = {
  "set q 0 0 5\r\nhello\r\n", "set q 4294967295 -1 0 noreply\r\n",
  "get a b/t=500/open c/close/peek\r\n", "gets q/abort\r\n",
  "delete q 0 noreply\r\n", "flush q noreply\r\n", "flush_all 10 noreply\r\n",
  "stats queue\r\n", "version\r\n", "verbosity 1 noreply\r\n", "quit\r\n",
  "shutdown graceful\r\n", "get q/t=2147483647\n", "\r\n",
  "add q 0 0 2\r\nab\r\n", "cas q 1 2 3 4 noreply\r\n", "touch q 1\r\n",
  "incr q 5\r\n", "gats 0 a b\r\n", "stats cachedump 1 0\r\n",
  "set q/delay=5000 0 0 1\r\nx\r\n",
  "get a/open/lease=500 b/touch/lease=9 c/abort/delay=0\r\n",
};

/* Bytes that steer the parser: separators, ends, digits, signs, options. */
static const char interesting[] = " \t\r\n/0123456789-+=tnx\0\x7f\xff";

static char
random_byte (void)
{
  if (g_test_rand_bit ())
    return interesting[g_test_rand_int_range (0, sizeof interesting)];
  return (char) g_test_rand_int_range (0, 256);
}

static void
insert_bytes (GByteArray *b, guint pos, const void *data, guint n)
{
  guint tail = b->len - pos;

  g_byte_array_set_size (b, b->len + n);
  memmove (b->data + pos + n, b->data + pos, tail);
  memcpy (b->data + pos, data, n);
}

static void
mutate (GByteArray *b)
{
  guint pos = b->len ? (guint) g_test_rand_int_range (0, (gint32) b->len) : 0;
  char c = random_byte ();

  switch (g_test_rand_int_range (0, 5))
    {
    case 0:                     /* overwrite */
      if (b->len)
        b->data[pos] = (guint8) c;
      break;
    case 1:                     /* insert */
      insert_bytes (b, pos, &c, 1);
      break;
    case 2:                     /* delete */
      if (b->len)
        g_byte_array_remove_index (b, pos);
      break;
    case 3:                     /* truncate */
      g_byte_array_set_size (b, pos);
      break;
    default:                    /* splice in another seed */
      {
        const char *s = seeds[g_test_rand_int_range (0, G_N_ELEMENTS (seeds))];
        insert_bytes (b, pos, s, (guint) strlen (s));
      }
    }
}

static GByteArray *
random_input (void)
{
  GByteArray *b = g_byte_array_new ();
  guint kind = (guint) g_test_rand_int_range (0, 10);

  if (kind == 0)
    {
      /* Long noise, sometimes past the line limit with no end at all. */
      gint32 n = g_test_rand_int_range (0, MQ_MAX_LINE * 2);
      gboolean endless = g_test_rand_bit ();
      for (gint32 i = 0; i < n; i++)
        {
          char c = g_test_rand_int_range (0, 50) ? 'a' : random_byte ();
          if (endless && c == '\n')
            c = ' ';
          g_byte_array_append (b, (guint8 *) &c, 1);
        }
      return b;
    }
  const char *s = seeds[g_test_rand_int_range (0, G_N_ELEMENTS (seeds))];
  g_byte_array_append (b, (const guint8 *) s, strlen (s));
  for (gint32 i = g_test_rand_int_range (0, 8); i > 0; i--)
    mutate (b);
  return b;
}

static gboolean
points_into (const char *p, gsize n, const Parsed *in)
{
  return p >= in->buf && p + n <= in->buf + in->consumed;
}

static void
check_invariants (const Parsed *p)
{
  const char *nl = p->len ? memchr (p->buf, '\n', p->len) : NULL;

  g_assert_cmpuint (p->consumed, <=, p->len);
  switch (p->status)
    {
    case MQ_PARSE_INCOMPLETE:
      g_assert_cmpuint (p->consumed, ==, 0);
      g_assert_null (nl);
      g_assert_cmpuint (p->len, <, MQ_MAX_LINE);
      return;
    case MQ_PARSE_LINE_TOO_LONG:
      g_assert_cmpuint (p->consumed, ==, 0);
      g_assert_true (nl == NULL || nl - p->buf >= MQ_MAX_LINE);
      return;
    case MQ_PARSE_ERROR:
      g_assert_nonnull (p->error);
      g_assert_true (g_str_has_prefix (p->error, "ERROR")
                     || g_str_has_prefix (p->error, "CLIENT_ERROR "));
      g_assert_false (p->cmd.noreply);
      break;
    case MQ_PARSE_COMMAND:
      g_assert_null (p->error);
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_true (nl != NULL);
  g_assert_cmpuint (p->consumed, ==, (gsize) (nl - p->buf) + 1);
  g_assert_cmpuint (p->consumed, <=, MQ_MAX_LINE);
  if (p->cmd.name)
    g_assert_true (points_into (p->cmd.name, p->cmd.name_len, p));
}

static void
check_command (const Parsed *p)
{
  const MqCommand *c = &p->cmd;

  if (p->status != MQ_PARSE_COMMAND)
    return;
  if (c->type == MQ_CMD_SET || c->type == MQ_CMD_DELETE
      || c->type == MQ_CMD_FLUSH || c->type == MQ_CMD_STORE_OTHER
      || c->type == MQ_CMD_UPDATE)
    g_assert_true (protocol_valid_name (c->name, c->name_len));
  if (c->type == MQ_CMD_SET)
    g_assert_true (c->delay_ms >= -1 && c->delay_ms <= MQ_MAX_DELAY_MS);
  if (c->type != MQ_CMD_GET && c->type != MQ_CMD_GETS)
    return;
  g_assert_cmpuint (c->n_keys, >=, 1);
  g_assert_cmpuint (c->n_keys, <=, MQ_MAX_KEYS);
  for (guint i = 0; i < c->n_keys; i++)
    {
      g_assert_true (points_into (c->keys[i].name, c->keys[i].name_len, p));
      g_assert_true (protocol_valid_name (c->keys[i].name,
                                          c->keys[i].name_len));
      g_assert_cmpint (c->keys[i].timeout_ms, >=, -1);
      g_assert_cmpint (c->keys[i].timeout_ms, <=, G_MAXINT32);
      g_assert_cmpint (c->keys[i].lease_ms, !=, 0);
      g_assert_cmpint (c->keys[i].lease_ms, >=, -1);
      g_assert_cmpint (c->keys[i].lease_ms, <=, MQ_MAX_DELAY_MS);
      g_assert_cmpint (c->keys[i].delay_ms, >=, -1);
      g_assert_cmpint (c->keys[i].delay_ms, <=, MQ_MAX_DELAY_MS);
    }
}

static void
test_robustness (void)
{
  guint counts[4] = { 0 };

  for (guint i = 0; i < 20000; i++)
    {
      g_autoptr (GByteArray) in = random_input ();
      g_autoptr (Parsed) p = parse_len ((const char *) in->data, in->len);

      check_invariants (p);
      check_command (p);
      counts[p->status]++;
    }
  g_test_message ("incomplete %u, command %u, error %u, too long %u",
                  counts[MQ_PARSE_INCOMPLETE], counts[MQ_PARSE_COMMAND],
                  counts[MQ_PARSE_ERROR], counts[MQ_PARSE_LINE_TOO_LONG]);
  /* The inputs must reach every outcome, or the test proves little. */
  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    g_assert_cmpuint (counts[i], >, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/protocol/line/endings", test_line_endings);
  g_test_add_func ("/protocol/line/incomplete", test_line_incomplete);
  g_test_add_func ("/protocol/line/pipelined", test_line_pipelined);
  g_test_add_func ("/protocol/line/spaces", test_line_spaces);
  g_test_add_func ("/protocol/line/empty", test_line_empty);
  g_test_add_func ("/protocol/line/unknown", test_line_unknown);
  g_test_add_func ("/protocol/line/max", test_line_max);
  g_test_add_func ("/protocol/line/too-long", test_line_too_long);
  g_test_add_func ("/protocol/set/basic", test_set_basic);
  g_test_add_func ("/protocol/set/noreply", test_set_noreply);
  g_test_add_func ("/protocol/set/flags", test_set_flags);
  g_test_add_func ("/protocol/set/exptime", test_set_exptime);
  g_test_add_func ("/protocol/set/bytes", test_set_bytes);
  g_test_add_func ("/protocol/set/token-count", test_set_token_count);
  g_test_add_func ("/protocol/set/precedence", test_set_precedence);
  g_test_add_func ("/protocol/set/name", test_set_name);
  g_test_add_func ("/protocol/set/delay", test_set_delay);
  g_test_add_func ("/protocol/set/delay-errors", test_set_delay_errors);
  g_test_add_func ("/protocol/get/basic", test_get_basic);
  g_test_add_func ("/protocol/gets/basic", test_gets_basic);
  g_test_add_func ("/protocol/get/no-key", test_get_no_key);
  g_test_add_func ("/protocol/get/many", test_get_many);
  g_test_add_func ("/protocol/get/too-many", test_get_too_many);
  g_test_add_func ("/protocol/get/options", test_get_options);
  g_test_add_func ("/protocol/get/options-combined", test_get_options_combined);
  g_test_add_func ("/protocol/get/bad-options", test_get_bad_options);
  g_test_add_func ("/protocol/get/lease-touch-delay",
                   test_get_lease_touch_delay);
  g_test_add_func ("/protocol/get/lease-touch-delay-errors",
                   test_get_lease_touch_delay_errors);
  g_test_add_func ("/protocol/get/names", test_get_names);
  g_test_add_func ("/protocol/delete/ok", test_delete);
  g_test_add_func ("/protocol/delete/errors", test_delete_errors);
  g_test_add_func ("/protocol/flush", test_flush);
  g_test_add_func ("/protocol/flush_all", test_flush_all);
  g_test_add_func ("/protocol/stats", test_stats);
  g_test_add_func ("/protocol/version-quit", test_version_quit);
  g_test_add_func ("/protocol/verbosity", test_verbosity);
  g_test_add_func ("/protocol/shutdown", test_shutdown);
  g_test_add_func ("/protocol/store-other", test_store_other);
  g_test_add_func ("/protocol/update", test_update);
  g_test_add_func ("/protocol/gat", test_gat);
  g_test_add_func ("/protocol/valid-name", test_valid_name);
  g_test_add_func ("/protocol/reply/line", test_reply_line);
  g_test_add_func ("/protocol/reply/value", test_reply_value);
  g_test_add_func ("/protocol/reply/value-cas", test_reply_value_cas);
  g_test_add_func ("/protocol/reply/value-binary", test_reply_value_binary);
  g_test_add_func ("/protocol/reply/stat", test_reply_stat);
  g_test_add_func ("/protocol/reply/stat-printf", test_reply_stat_printf);
  g_test_add_func ("/protocol/robustness/random", test_robustness);

  return g_test_run ();
}
