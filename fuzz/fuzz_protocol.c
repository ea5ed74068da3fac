/* fuzz_protocol.c: a libFuzzer harness for protocol_parse (daemon/protocol_text.c,
 * with the meta commands of protocol_meta.c) and, through fuzz_binary.c,
 * protocol_binary_parse.
 *
 * The input is a byte stream as a client would send it; a first byte 0x80
 * makes it a binary stream, as it makes a connection binary (fuzz_binary.c
 * says what is checked then).  For text, the harness walks
 * through it the way conn.c does: parse a command line, run a set's data
 * block (or skip it when the set was refused or malformed), go on with the
 * next line, stop on "need more bytes" or on a line that is too long.  On
 * every step it checks what the daemon relies on:
 *
 *   - consumed is within the buffer and ends exactly at the first '\n',
 *     which lies within MQ_MAX_LINE bytes; INCOMPLETE and LINE_TOO_LONG are
 *     told apart by the same rule;
 *   - every name and key points into the line, and every name the parser
 *     accepts is valid per protocol_valid_name; keys are name[/option]...;
 *   - error replies are one line of the documented kinds, noreply is never
 *     set on an error, only a storage command keeps its length on an
 *     error;
 *   - the line parsed alone, in an exact-size copy (as conn_retry parses a
 *     blocked get again), gives the same result: the parse depends on the
 *     line only, never on the bytes after it;
 *   - feeding the same stream in small pieces (as recv does) gives the same
 *     sequence of commands and replies as feeding it whole;
 *   - set and get lines get the reply an independent reference, written
 *     from doc/protocol.md (word counts, numbers, options, names, the order
 *     of the checks), says they should, with the same length to skip, flags,
 *     exptime and number of keys; protocol_valid_name agrees with it too.
 *
 * Any broken invariant calls abort() with a message, which libFuzzer
 * reports as a crash and saves as a reproducer.
 *
 * Build (see fuzz/run):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I daemon -I <builddir> \
 *     $(pkg-config --cflags glib-2.0) fuzz/fuzz_protocol.c fuzz/fuzz_binary.c \
 *     daemon/protocol.c daemon/protocol_binary.c daemon/protocol_meta.c \
 *     $(pkg-config --libs glib-2.0) -o fuzz_protocol
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "fuzz.h"
#include "protocol_text.h"
#include "protocol_meta.h"

static const char *const known_errors[] = {
  "ERROR",
  "CLIENT_ERROR bad command line format",
  "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
  "CLIENT_ERROR queue name too long",
  "CLIENT_ERROR invalid queue name",
  "CLIENT_ERROR too many keys",
  "CLIENT_ERROR bad get option",
  "CLIENT_ERROR bad set option: a set takes only /delay=<ms>",
  "CLIENT_ERROR duplicate option",
  "CLIENT_ERROR bad delay: 0 to 315360000000 ms",
  "CLIENT_ERROR bad lease: 1 to 315360000000 ms",
  "CLIENT_ERROR lease= needs /open or /touch",
  "CLIENT_ERROR delay= on a get needs /abort",
  "CLIENT_ERROR /touch takes no other option but lease=",
  "CLIENT_ERROR bad command line format for add",
  "CLIENT_ERROR bad command line format for replace",
  "CLIENT_ERROR bad command line format for append",
  "CLIENT_ERROR bad command line format for prepend",
  "CLIENT_ERROR bad command line format for cas",
  "CLIENT_ERROR bad command line format for touch",
  "CLIENT_ERROR bad command line format for incr",
  "CLIENT_ERROR bad command line format for decr",
  "CLIENT_ERROR bad command line format for gat",
  "CLIENT_ERROR bad command line format for gats",
  "CLIENT_ERROR invalid flag",
  "CLIENT_ERROR duplicate flag",
  "CLIENT_ERROR opaque token too long",
  "CLIENT_ERROR bad token in command line format",
  "CLIENT_ERROR invalid mode for ms",
  "CLIENT_ERROR me is not supported: a queue keeps no metadata per message",
  "CLIENT_ERROR bad command line format.  Usage: monitor <queue> <ms> <max>",
  "CLIENT_ERROR bad command line format.  Usage: confirm <queue> <n>",
  "CLIENT_ERROR bad command line format.  Usage: abort <queue> <n>",
  "CLIENT_ERROR bad wait: 0 to 2147483647 ms",
  "CLIENT_ERROR bad count: 1 to 65536 messages",
  "CLIENT_ERROR bad count: 0 to 65536 reads",
};

static gboolean
is_separator (char c)
{
  return c == ' ' || c == '\t';
}

/* ---- an independent reference, written from doc/protocol.md ---- */

/* "1 to 250 bytes; every byte except space and controls (0x00-0x20), DEL
 * (0x7f) and '/'". */
static gboolean
ref_valid_name (const char *p, gsize len)
{
  if (len == 0 || len > 250)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) p[i];

      if (c <= 0x20 || c == 0x7f || c == '/')
        return FALSE;
    }
  return TRUE;
}

static const char *
ref_name_error (const char *p, gsize len)
{
  if (len > 250)
    return "CLIENT_ERROR queue name too long";
  return ref_valid_name (p, len) ? NULL : "CLIENT_ERROR invalid queue name";
}

/* Digits only, no sign, value <= max. */
static gboolean
ref_number (const char *p, gsize len, guint64 max, guint64 *out)
{
  guint64 v = 0;

  if (len == 0)
    return FALSE;                 /* leading zeros are digits too */
  for (gsize i = 0; i < len; i++)
    {
      if (p[i] < '0' || p[i] > '9')
        return FALSE;
      if (v > (G_MAXUINT64 - (guint64) (p[i] - '0')) / 10)
        return FALSE;
      v = v * 10 + (guint64) (p[i] - '0');
    }
  if (v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

typedef struct {
  const char *p;
  gsize len;
} Word;

#define REF_MAX_WORDS 200

static gsize
ref_words (const char *text, gsize len, Word *w)
{
  gsize n = 0;

  for (gsize i = 0; i < len;)
    {
      if (is_separator (text[i]))
        {
          i++;
          continue;
        }
      gsize start = i;
      while (i < len && !is_separator (text[i]))
        i++;
      if (n < REF_MAX_WORDS)
        w[n] = (Word) { text + start, i - start };
      n++;
    }
  return n;
}

static gboolean
word_is (const Word *w, const char *s)
{
  return w->len == strlen (s) && memcmp (w->p, s, w->len) == 0;
}

#define REF_MAX_DELAY 315360000000    /* ten years of milliseconds */

/* An option <prefix><digits> of w: -1 when w is not one, -2 when its
 * number is not 0..max, else the number. */
static gint64
ref_number_option (const Word *w, const char *prefix, guint64 max)
{
  gsize n = strlen (prefix);
  guint64 v;

  if (w->len < n || memcmp (w->p, prefix, n) != 0)
    return -1;
  return ref_number (w->p + n, w->len - n, max, &v) ? (gint64) v : -2;
}

/* A key's options, after its name: the next option of the key ending at
 * end, after the '/' at *o; *o moves to the next '/', or NULL. */
static Word
ref_next_option (const char **o, const char *end)
{
  const char *opt = *o + 1;
  const char *next = memchr (opt, '/', (gsize) (end - opt));

  *o = next;
  return (Word) { opt, (gsize) ((next ? next : end) - opt) };
}

/* "A set's key is the queue name, or name/delay=<ms>: 0 to 315360000000,
 * once; any other option is refused, the options before the name." */
static const char *
ref_set_key (const Word *key, gint64 *delay)
{
  const char *end = key->p + key->len;
  const char *slash = memchr (key->p, '/', key->len);

  *delay = -1;
  for (const char *o = slash; o != NULL;)
    {
      Word ow = ref_next_option (&o, end);
      gint64 v = ref_number_option (&ow, "delay=", REF_MAX_DELAY);

      if (v == -1)
        return "CLIENT_ERROR bad set option: a set takes only /delay=<ms>";
      if (v == -2)
        return "CLIENT_ERROR bad delay: 0 to 315360000000 ms";
      if (*delay >= 0)
        return "CLIENT_ERROR duplicate option";
      *delay = v;
    }
  return ref_name_error (key->p, (gsize) ((slash ? slash : end) - key->p));
}

/* "open, close, abort, peek, id, t=<ms> may repeat; touch, lease=<ms> (1 to
 * 315360000000) and delay=<ms> (0 to 315360000000) come once.  lease=
 * needs open or touch, delay= needs abort, touch goes with nothing but
 * lease=.  Options are checked before the name." */
static const char *
ref_get_key (const Word *key)
{
  const char *end = key->p + key->len;
  const char *slash = memchr (key->p, '/', key->len);
  gboolean open = FALSE, abort = FALSE, touch = FALSE, others = FALSE;
  gint64 lease = -1, delay = -1;

  for (const char *o = slash; o != NULL;)
    {
      Word ow = ref_next_option (&o, end);
      gint64 t = ref_number_option (&ow, "t=", G_MAXINT32);
      gint64 l = ref_number_option (&ow, "lease=", REF_MAX_DELAY);
      gint64 d = ref_number_option (&ow, "delay=", REF_MAX_DELAY);

      if (word_is (&ow, "open") || word_is (&ow, "abort"))
        {
          open |= word_is (&ow, "open");
          abort |= word_is (&ow, "abort");
          others = TRUE;
        }
      else if (word_is (&ow, "close") || word_is (&ow, "peek")
               || word_is (&ow, "id") || t >= 0)
        others = TRUE;
      else if (word_is (&ow, "touch") && touch)
        return "CLIENT_ERROR duplicate option";
      else if (word_is (&ow, "touch"))
        touch = TRUE;
      else if (l == -2 || l == 0)
        return "CLIENT_ERROR bad lease: 1 to 315360000000 ms";
      else if (d == -2)
        return "CLIENT_ERROR bad delay: 0 to 315360000000 ms";
      else if ((l > 0 && lease >= 0) || (d >= 0 && delay >= 0))
        return "CLIENT_ERROR duplicate option";
      else if (l > 0)
        lease = l;
      else if (d >= 0)
        delay = d;
      else
        return "CLIENT_ERROR bad get option";
    }
  if (touch && (others || delay >= 0))
    return "CLIENT_ERROR /touch takes no other option but lease=";
  if (lease >= 0 && !open && !touch)
    return "CLIENT_ERROR lease= needs /open or /touch";
  if (delay >= 0 && !abort)
    return "CLIENT_ERROR delay= on a get needs /abort";
  return ref_name_error (key->p, (gsize) ((slash ? slash : end) - key->p));
}

/* What the reference expects of a set or get line: the reply (NULL for a
 * command), and for a set the length to skip (-1: none). */
typedef struct {
  gboolean known;                 /* the reference covers this command */
  const char *error;
  gint64 skip;                    /* set: data_len, or -1 */
  guint32 flags;
  gint64 exptime;
  gint64 delay;                   /* set: the key's delay=, or -1 */
  guint n_keys;
} RefResult;

static RefResult
ref_parse (const char *text, gsize len)
{
  Word w[REF_MAX_WORDS];
  gsize n = ref_words (text, len, w);
  RefResult r = { FALSE, NULL, -1, 0, 0, -1, 0 };
  guint64 v;

  if (n == 0)
    {
      r.known = TRUE;
      r.error = "ERROR";
      return r;
    }
  if (word_is (&w[0], "set"))
    {
      r.known = TRUE;
      /* Word count and <bytes> first: without them nothing is skipped. */
      if ((n != 5 && n != 6) || !ref_number (w[4].p, w[4].len, G_MAXINT64, &v))
        {
          r.error = "CLIENT_ERROR bad command line format";
          return r;
        }
      r.skip = (gint64) v;
      if (n == 6 && !word_is (&w[5], "noreply"))
        r.error = "CLIENT_ERROR bad command line format";
      else if (!ref_number (w[2].p, w[2].len, G_MAXUINT32, &v))
        r.error = "CLIENT_ERROR bad command line format";
      else
        {
          r.flags = (guint32) v;
          if (w[3].len > 0 && w[3].p[0] == '-'
              && ref_number (w[3].p + 1, w[3].len - 1,
                             (guint64) G_MAXINT64 + 1, &v))
            r.exptime = v == 0 ? 0 : -(gint64) (v - 1) - 1;
          else if (ref_number (w[3].p, w[3].len, G_MAXINT64, &v))
            r.exptime = (gint64) v;
          else
            {
              r.error = "CLIENT_ERROR bad command line format";
              return r;
            }
          r.error = ref_set_key (&w[1], &r.delay);
        }
      return r;
    }
  if (word_is (&w[0], "get") || word_is (&w[0], "gets"))
    {
      r.known = TRUE;
      if (n < 2)
        {
          r.error = "ERROR";
          return r;
        }
      if (n - 1 > 128)
        {
          r.error = "CLIENT_ERROR too many keys";
          return r;
        }
      for (gsize k = 1; k < n; k++)
        {
          r.error = ref_get_key (&w[k]);
          if (r.error != NULL)
            return r;
        }
      r.n_keys = (guint) (n - 1);
      return r;
    }
  return r;
}

static gboolean
within (const char *p, gsize len, const char *lo, gsize lo_len)
{
  return p >= lo && len <= lo_len && (gsize) (p - lo) <= lo_len - len;
}

/* The length of the first line with its '\n', or 0: the daemon's rule. */
static gsize
first_line (const char *buf, gsize len)
{
  gsize scan = MIN (len, (gsize) MQ_MAX_LINE);
  const char *nl = scan > 0 ? memchr (buf, '\n', scan) : NULL;

  return nl ? (gsize) (nl - buf) + 1 : 0;
}

/* A token as the parser sees them: no separator inside, a separator or the
 * line's end (text_end) on both sides. */
static void
check_token (const char *p, gsize len, const char *line, gsize text_len,
             const char *what)
{
  CHECK (len > 0, "%s is empty", what);
  CHECK (within (p, len, line, text_len), "%s is outside its line", what);
  for (gsize i = 0; i < len; i++)
    CHECK (!is_separator (p[i]), "%s holds a separator at %zu", what, i);
  CHECK (p == line || is_separator (p[-1]), "%s does not start a word", what);
  CHECK (p + len == line + text_len || is_separator (p[len]),
         "%s does not end a word", what);
}

static void
check_name (const char *name, gsize len, const char *line, gsize text_len)
{
  check_token (name, len, line, text_len, "queue name");
  CHECK (protocol_valid_name (name, len) && ref_valid_name (name, len),
         "accepted name %.*s is not valid", (int) MIN (len, 300), name);
}

/* A set's key: its name, then nothing or /delay=<ms>. */
static void
check_set_key (const MqCommand *cmd, const char *line, gsize text_len)
{
  const char *end = line + text_len;
  gsize key_len = cmd->name_len;

  while (cmd->name + key_len < end && !is_separator (cmd->name[key_len]))
    key_len++;
  check_token (cmd->name, key_len, line, text_len, "set key");
  CHECK (protocol_valid_name (cmd->name, cmd->name_len)
         && ref_valid_name (cmd->name, cmd->name_len),
         "accepted set name %.*s is not valid", (int) MIN (cmd->name_len, 300),
         cmd->name);
  CHECK ((key_len == cmd->name_len) == (cmd->delay_ms == -1),
         "delay %" G_GINT64_FORMAT " with a key of %zu bytes", cmd->delay_ms,
         key_len);
  CHECK (key_len == cmd->name_len
         || (key_len > cmd->name_len + 7
             && memcmp (cmd->name + cmd->name_len, "/delay=", 7) == 0),
         "set key %.*s", (int) MIN (key_len, 300), cmd->name);
  CHECK (cmd->delay_ms >= -1 && cmd->delay_ms <= MQ_MAX_DELAY_MS,
         "delay %" G_GINT64_FORMAT, cmd->delay_ms);
}

static void
check_get_key (const MqGetKey *key, const char *line, gsize text_len)
{
  CHECK (key->name_len <= key->key_len, "name %zu longer than key %zu",
         key->name_len, key->key_len);
  check_token (key->name, key->key_len, line, text_len, "get key");
  CHECK (protocol_valid_name (key->name, key->name_len)
         && ref_valid_name (key->name, key->name_len),
         "accepted key name %.*s is not valid", (int) key->name_len,
         key->name);
  CHECK (key->name_len == key->key_len || key->name[key->name_len] == '/',
         "the name of key %.*s does not end at a '/'", (int) key->key_len,
         key->name);
  CHECK (key->timeout_ms >= -1 && key->timeout_ms <= G_MAXINT32,
         "timeout %" G_GINT64_FORMAT, key->timeout_ms);
  CHECK ((key->options & ~(guint) (MQ_GET_OPEN | MQ_GET_CLOSE | MQ_GET_ABORT
                                   | MQ_GET_PEEK | MQ_GET_TOUCH
                                   | MQ_GET_ID)) == 0,
         "options %#x", key->options);
  CHECK (key->lease_ms == -1 || (key->lease_ms >= 1
                                 && key->lease_ms <= MQ_MAX_DELAY_MS),
         "lease %" G_GINT64_FORMAT, key->lease_ms);
  CHECK (key->delay_ms >= -1 && key->delay_ms <= MQ_MAX_DELAY_MS,
         "delay %" G_GINT64_FORMAT, key->delay_ms);
  CHECK (key->lease_ms == -1 || (key->options & (MQ_GET_OPEN | MQ_GET_TOUCH)),
         "a lease without open or touch");
  CHECK (key->delay_ms == -1 || (key->options & MQ_GET_ABORT),
         "a delay without abort");
  CHECK (!(key->options & MQ_GET_TOUCH) || key->options == MQ_GET_TOUCH,
         "touch with options %#x", key->options);
  /* Every option word is one of the known ones. */
  for (const char *p = key->name + key->name_len, *end = key->name
       + key->key_len; p < end;)
    {
      const char *opt = p + 1;
      const char *slash = memchr (opt, '/', (gsize) (end - opt));
      gsize len = (gsize) ((slash ? slash : end) - opt);

      CHECK (len > 0, "an empty option was accepted");
      CHECK ((len == 4 && memcmp (opt, "open", 4) == 0)
             || (len == 5 && memcmp (opt, "close", 5) == 0)
             || (len == 5 && memcmp (opt, "abort", 5) == 0)
             || (len == 4 && memcmp (opt, "peek", 4) == 0)
             || (len == 5 && memcmp (opt, "touch", 5) == 0)
             || (len == 2 && memcmp (opt, "id", 2) == 0)
             || (len > 2 && memcmp (opt, "t=", 2) == 0)
             || (len > 6 && memcmp (opt, "lease=", 6) == 0)
             || (len > 6 && memcmp (opt, "delay=", 6) == 0),
             "option %.*s was accepted", (int) len, opt);
      p = slash ? slash : end;
    }
}

static gsize
count_words (const char *p, gsize len)
{
  gsize n = 0;

  for (gsize i = 0; i < len; i++)
    if (!is_separator (p[i]) && (i == 0 || is_separator (p[i - 1])))
      n++;
  return n;
}

/* Every reply a meta command may get is lines ending in "\r\n", and a
 * value's block. */
static void
check_meta_replies (const MqCommand *cmd)
{
  static const char *const lines[] = {
    "STORED", "NOT_STORED", "DELETED", "NOT_FOUND", "OK", "END",
    "CLIENT_ERROR bad data chunk", "SERVER_ERROR disk full",
  };
  GString *out = g_string_new (NULL);
  MqReplyForm form = cmd->form;

  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    protocol_meta_append_line (out, &form, lines[i]);
  if (cmd->type == MQ_CMD_GET)
    protocol_meta_append_value (out, &form, 5, "x\r\n", 3, 8, -1);
  for (const char *p = out->str, *end = out->str + out->len; p < end;)
    {
      const char *eol = memchr (p, '\n', (gsize) (end - p));

      CHECK (eol != NULL && eol > p && eol[-1] == '\r',
             "a meta reply line not ended by \\r\\n: %s", out->str);
      /* A VA line says the length of the block after it. */
      if (p[0] == 'V')
        eol += 3 + 2;
      p = eol + 1;
    }
  g_string_free (out, TRUE);
}

/* mg, ms, md, mn: the flags, the key and the opaque. */
static void
check_meta_command (const MqCommand *cmd, const char *line, gsize text_len)
{
  const MqReplyForm *form = &cmd->form;
  gsize words = count_words (line, text_len);

  CHECK (form->n_returns <= 6, "%u flags to return", form->n_returns);
  for (guint i = 0; i < form->n_returns; i++)
    CHECK (strchr ("kOfsct", form->returns[i]) != NULL, "returns %c",
           form->returns[i]);
  CHECK (!cmd->noreply, "noreply on a meta command");
  if (form->token_len > 0)
    CHECK (form->token_len <= 32
           && within (form->token, form->token_len, line, text_len),
           "opaque of %zu bytes", form->token_len);
  switch (form->opcode)
    {
    case 'g':
      CHECK (cmd->type == MQ_CMD_GET && cmd->n_keys == 1, "mg: %d, %u keys",
             cmd->type, cmd->n_keys);
      check_get_key (&cmd->keys[0], line, text_len);
      CHECK (form->value || (cmd->keys[0].options & MQ_GET_PEEK)
             || !(cmd->keys[0].options & MQ_GET_OPEN),
             "mg without v takes a message");
      break;
    case 's':
      CHECK (protocol_takes_data (cmd) && cmd->data_end == 2, "ms: %d",
             cmd->type);
      check_set_key (cmd, line, text_len);
      break;
    case 'd':
      CHECK (cmd->type == MQ_CMD_DELETE, "md: %d", cmd->type);
      check_name (cmd->name, cmd->name_len, line, text_len);
      break;
    case 'n':
      CHECK (cmd->type == MQ_CMD_NOOP && words == 1, "mn");
      break;
    default:
      CHECK (0, "meta command %c", form->opcode);
    }
  check_meta_replies (cmd);
}

/* What a successful parse must look like, type by type. */
static void
check_command (const MqCommand *cmd, const char *line, gsize text_len)
{
  gsize words = count_words (line, text_len);

  if (cmd->form.wire == MQ_WIRE_META)
    {
      check_meta_command (cmd, line, text_len);
      return;
    }
  switch (cmd->type)
    {
    case MQ_CMD_NONE:
      CHECK (0, "COMMAND with type NONE");
      break;
    case MQ_CMD_SET:
      CHECK (words == 5 || words == 6, "set with %zu words", words);
      CHECK (cmd->noreply == (words == 6), "set noreply %d with %zu words",
             cmd->noreply, words);
      CHECK ((guint64) cmd->data_len <= (guint64) G_MAXINT64, "data_len %zu",
             cmd->data_len);
      check_set_key (cmd, line, text_len);
      break;
    case MQ_CMD_GET:
    case MQ_CMD_GETS:
      CHECK (cmd->n_keys >= 1 && cmd->n_keys <= MQ_MAX_KEYS, "%u keys",
             cmd->n_keys);
      CHECK (cmd->n_keys == words - 1, "%u keys on a line of %zu words",
             cmd->n_keys, words);
      CHECK (!cmd->noreply, "get with noreply");
      for (guint i = 0; i < cmd->n_keys; i++)
        check_get_key (&cmd->keys[i], line, text_len);
      for (guint i = 1; i < cmd->n_keys; i++)
        CHECK (cmd->keys[i].name > cmd->keys[i - 1].name,
               "keys out of order");
      break;
    case MQ_CMD_DELETE:
      CHECK (words >= 2 && words <= 4, "delete with %zu words", words);
      check_name (cmd->name, cmd->name_len, line, text_len);
      break;
    case MQ_CMD_FLUSH:
      CHECK (words == 2 + (cmd->noreply ? 1 : 0), "flush with %zu words",
             words);
      check_name (cmd->name, cmd->name_len, line, text_len);
      break;
    case MQ_CMD_FLUSH_ALL:
      CHECK (words >= 1 && words <= 3, "flush_all with %zu words", words);
      break;
    case MQ_CMD_STATS:
      CHECK (words <= 2 || (words == 4 && cmd->name_len == 9
                            && memcmp (cmd->name, "cachedump", 9) == 0)
             || (words == 3 && cmd->name_len == 5
                 && memcmp (cmd->name, "queue", 5) == 0),
             "stats with %zu words", words);
      CHECK ((cmd->name == NULL) == (words == 1), "stats argument");
      if (cmd->name != NULL)
        check_token (cmd->name, cmd->name_len, line, text_len,
                     "stats argument");
      /* stats queue <name>: the queue as its one key. */
      CHECK (cmd->n_keys == (words == 3), "stats with %u keys",
             cmd->n_keys);
      if (words == 3)
        {
          CHECK (cmd->keys[0].key_len == cmd->keys[0].name_len
                 && cmd->keys[0].timeout_ms == -1
                 && cmd->keys[0].lease_ms == -1
                 && cmd->keys[0].delay_ms == -1
                 && cmd->keys[0].options == 0, "stats queue's key");
          check_name (cmd->keys[0].name, cmd->keys[0].name_len, line,
                      text_len);
        }
      break;
    case MQ_CMD_VERSION:
      CHECK (words == 1, "version with %zu words", words);
      CHECK (!cmd->noreply, "noreply on a command that has none");
      break;
    case MQ_CMD_QUIT:
      CHECK (words == 1, "quit with %zu words", words);
      CHECK (cmd->noreply, "quit is always silent");
      break;
    case MQ_CMD_STORE_OTHER:
      CHECK (words >= 5 && words <= 7, "storage command with %zu words",
             words);
      CHECK (cmd->data_end == 2, "data_end %u", cmd->data_end);
      check_name (cmd->name, cmd->name_len, line, text_len);
      break;
    case MQ_CMD_UPDATE:
      CHECK (words == 3 + (cmd->noreply ? 1 : 0), "update with %zu words",
             words);
      check_name (cmd->name, cmd->name_len, line, text_len);
      break;
    case MQ_CMD_GAT:
      CHECK (words >= 3, "gat with %zu words", words);
      CHECK (cmd->n_keys == 0, "gat keeps %u keys", cmd->n_keys);
      break;
    case MQ_CMD_VERBOSITY:
      CHECK (words == 2 + (cmd->noreply ? 1 : 0), "verbosity with %zu words",
             words);
      break;
    case MQ_CMD_MONITOR:
      /* "monitor <queue> <ms> <max>: max 1 to 65536, reliable reads that
       * carry their id". */
      CHECK (words == 4, "monitor with %zu words", words);
      CHECK (!cmd->noreply, "monitor with noreply");
      CHECK (cmd->n_keys == 1, "monitor keeps %u keys", cmd->n_keys);
      CHECK (cmd->count >= 1 && cmd->count <= 65536, "monitor of %u",
             cmd->count);
      CHECK (cmd->keys[0].options == (MQ_GET_OPEN | MQ_GET_ID)
             && cmd->keys[0].timeout_ms >= 0
             && cmd->keys[0].timeout_ms <= G_MAXINT32, "monitor's key");
      check_name (cmd->name, cmd->name_len, line, text_len);
      break;
    case MQ_CMD_CONFIRM:
    case MQ_CMD_ABORT:
      /* "confirm|abort <queue> <n>: n 0 to 65536". */
      CHECK (words == 3, "confirm/abort with %zu words", words);
      CHECK (!cmd->noreply, "confirm/abort with noreply");
      CHECK (cmd->n_keys == 0, "confirm/abort keeps %u keys", cmd->n_keys);
      CHECK (cmd->count <= 65536, "confirm/abort of %u", cmd->count);
      check_name (cmd->name, cmd->name_len, line, text_len);
      break;
    case MQ_CMD_SHUTDOWN:
      CHECK (words <= 2, "shutdown with %zu words", words);
      CHECK (cmd->name == NULL
             || (cmd->name_len == 8 && memcmp (cmd->name, "graceful", 8) == 0),
             "shutdown argument");
      break;
    default:
      CHECK (0, "unknown command type %d", (int) cmd->type);
    }
}

static void
check_error (const char *error, const MqCommand *cmd)
{
  gboolean known = FALSE;

  CHECK (error != NULL, "ERROR without a reply line");
  for (gsize i = 0; i < G_N_ELEMENTS (known_errors); i++)
    known |= strcmp (error, known_errors[i]) == 0;
  CHECK (known, "unknown error reply %s", error);
  CHECK (!cmd->noreply, "noreply set on a refused line");
  CHECK (cmd->n_keys == 0, "%u keys on a refused line", cmd->n_keys);
  if (!protocol_takes_data (cmd))
    CHECK (cmd->data_len == 0 && cmd->data_end == 0,
           "a refused command keeps data_len %zu", cmd->data_len);
}

void
log_event (GString *log, const char *kind, const MqCommand *cmd,
           const char *error, gsize offset)
{
  g_string_append_printf (log, "%s@%zu", kind, offset);
  if (error != NULL)
    g_string_append_printf (log, " [%s]", error);
  if (cmd != NULL)
    {
      g_string_append_printf (log, " t%d nr%d f%u e%" G_GINT64_FORMAT
                              " w%" G_GINT64_FORMAT " d%zu l%u k%u",
                              (int) cmd->type, cmd->noreply, cmd->flags,
                              cmd->exptime, cmd->delay_ms, cmd->data_len,
                              cmd->level, cmd->n_keys);
      if (cmd->name != NULL)
        {
          g_string_append_c (log, ' ');
          g_string_append_len (log, cmd->name, (gssize) cmd->name_len);
        }
      for (guint i = 0; i < cmd->n_keys; i++)
        g_string_append_printf (log, " %.*s:%zu:%" G_GINT64_FORMAT
                                ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
                                ":%u", (int) cmd->keys[i].key_len,
                                cmd->keys[i].name, cmd->keys[i].name_len,
                                cmd->keys[i].timeout_ms,
                                cmd->keys[i].lease_ms, cmd->keys[i].delay_ms,
                                cmd->keys[i].options);
    }
  g_string_append_c (log, '\n');
}

static MqParseStatus
parse (const char *buf, gsize len, MqCommand *cmd, gsize *consumed,
       const char **error)
{
  /* Garbage shows any field the parser forgets to set. */
  memset (cmd, 0xa5, sizeof *cmd);
  *consumed = (gsize) -1;
  *error = (const char *) (uintptr_t) 1;
  return protocol_parse (buf, len, cmd, consumed, error);
}

/* The line alone, as conn_retry parses a blocked get again: same answer. */
static void
check_line_alone (const char *line, gsize line_len, MqParseStatus status,
                  const MqCommand *cmd, const char *error)
{
  char *copy = g_memdup2 (line, line_len);
  MqCommand *again = g_new (MqCommand, 1);
  const char *error2;
  gsize consumed2;
  MqParseStatus status2 = parse (copy, line_len, again, &consumed2, &error2);
  GString *a = g_string_new (NULL), *b = g_string_new (NULL);

  CHECK (status2 == status, "status %d alone, %d in the stream",
         (int) status2, (int) status);
  CHECK (consumed2 == line_len, "consumed %zu alone, %zu in the stream",
         consumed2, line_len);
  CHECK ((error == NULL) == (error2 == NULL)
         && (error == NULL || strcmp (error, error2) == 0),
         "error %s alone, %s in the stream", error2 ? error2 : "(none)",
         error ? error : "(none)");
  /* Names point into different buffers: compare their bytes. */
  log_event (a, "x", cmd, NULL, 0);
  log_event (b, "x", again, NULL, 0);
  CHECK (a->len == b->len && memcmp (a->str, b->str, a->len) == 0,
         "parsed alone:\n%s\nin the stream:\n%s",
         b->str, a->str);
  g_string_free (a, TRUE);
  g_string_free (b, TRUE);
  g_free (again);
  g_free (copy);
}

/* The parser and the reference agree on set and get lines. */
static void
check_reference (const char *line, gsize text_len, MqParseStatus status,
                 const MqCommand *cmd, const char *error)
{
  RefResult ref = ref_parse (line, text_len);
  const char *got = status == MQ_PARSE_ERROR ? error : NULL;

  if (!ref.known)
    return;
  CHECK ((ref.error == NULL) == (got == NULL)
         && (got == NULL || strcmp (ref.error, got) == 0),
         "line %.*s: the parser says %s, the reference %s",
         (int) MIN (text_len, 300), line, got ? got : "(a command)",
         ref.error ? ref.error : "(a command)");
  if (ref.skip >= 0)
    CHECK (cmd->type == MQ_CMD_SET && (gint64) cmd->data_len == ref.skip,
           "line %.*s: data length %zu, the reference %" G_GINT64_FORMAT,
           (int) MIN (text_len, 300), line, cmd->data_len, ref.skip);
  else if (status == MQ_PARSE_ERROR)
    CHECK (cmd->type != MQ_CMD_SET,
           "line %.*s: a set length to skip where none can be read",
           (int) MIN (text_len, 300), line);
  if (status == MQ_PARSE_COMMAND && cmd->type == MQ_CMD_SET)
    CHECK (cmd->flags == ref.flags && cmd->exptime == ref.exptime
           && cmd->delay_ms == ref.delay,
           "line %.*s: flags %u exptime %" G_GINT64_FORMAT " delay %"
           G_GINT64_FORMAT ", the reference %u %" G_GINT64_FORMAT " %"
           G_GINT64_FORMAT, (int) MIN (text_len, 300), line, cmd->flags,
           cmd->exptime, cmd->delay_ms, ref.flags, ref.exptime, ref.delay);
  if (status == MQ_PARSE_COMMAND && (cmd->type == MQ_CMD_GET
                                     || cmd->type == MQ_CMD_GETS))
    CHECK (cmd->n_keys == ref.n_keys, "%u keys, the reference %u",
           cmd->n_keys, ref.n_keys);
}

/* conn_process: runs the complete commands at the start of buf; returns the
 * bytes consumed.  base is buf's offset in the whole stream. */
static gsize
process (Stream *s, const char *buf, gsize len, gsize base)
{
  gsize done = 0;
  MqCommand *cmd = g_new (MqCommand, 1);

  while (done < len && !s->closed)
    {
      const char *error;
      gsize consumed, line_len;
      MqParseStatus status;
      const char *line = buf + done;
      gsize left = len - done;

      if (s->swallow > 0)
        {
          gsize n = (gsize) MIN ((guint64) left, s->swallow);

          s->swallow -= n;
          done += n;
          continue;
        }
      status = parse (line, left, cmd, &consumed, &error);
      line_len = first_line (line, left);
      switch (status)
        {
        case MQ_PARSE_INCOMPLETE:
          CHECK (line_len == 0 && left < MQ_MAX_LINE,
                 "INCOMPLETE with a line of %zu in %zu bytes", line_len, left);
          CHECK (consumed == 0, "INCOMPLETE consumed %zu", consumed);
          g_free (cmd);
          return done;
        case MQ_PARSE_LINE_TOO_LONG:
          CHECK (line_len == 0 && left >= MQ_MAX_LINE,
                 "LINE_TOO_LONG with a line of %zu in %zu bytes", line_len,
                 left);
          CHECK (error != NULL
                 && strcmp (error, "CLIENT_ERROR line too long") == 0,
                 "line too long answered %s", error ? error : "(nothing)");
          CHECK (consumed <= left, "consumed %zu of %zu", consumed, left);
          log_event (s->log, "too-long", NULL, error, base + done);
          s->closed = TRUE;
          g_free (cmd);
          return len;
        case MQ_PARSE_ERROR:
        case MQ_PARSE_COMMAND:
          break;
        default:
          CHECK (0, "unknown status %d", (int) status);
        }

      CHECK (line_len > 0, "a result without a whole line");
      CHECK (consumed == line_len, "consumed %zu, the line is %zu", consumed,
             line_len);
      CHECK (consumed <= left && consumed <= MQ_MAX_LINE, "consumed %zu of %zu",
             consumed, left);

      gsize text_len = consumed - 1;
      if (text_len > 0 && line[text_len - 1] == '\r')
        text_len--;

      check_line_alone (line, consumed, status, cmd,
                        status == MQ_PARSE_ERROR ? error : NULL);
      check_reference (line, text_len, status, cmd, error);
      if (status == MQ_PARSE_ERROR)
        {
          check_error (error, cmd);
          log_event (s->log, "error", cmd, error, base + done);
          s->swallow = (guint64) cmd->data_len + cmd->data_end;
          done += consumed;
          continue;
        }

      CHECK (error == NULL, "COMMAND with error %s", error);
      check_command (cmd, line, text_len);
      if (!protocol_takes_data (cmd))
        {
          log_event (s->log, "run", cmd, NULL, base + done);
          done += consumed;
          continue;
        }

      /* conn_run_set */
      if (cmd->data_len > FUZZ_MAX_MESSAGE)
        {
          log_event (s->log, "too-large", cmd, NULL, base + done);
          s->swallow = (guint64) cmd->data_len + cmd->data_end;
          done += consumed;
          continue;
        }
      if (left - consumed < cmd->data_len + 2)
        {
          g_free (cmd);
          return done;            /* the block is not all there yet */
        }
      {
        const char *data = line + consumed;
        gboolean good = data[cmd->data_len] == '\r'
          && data[cmd->data_len + 1] == '\n';
        /* The data the daemon would store: touch every byte. */
        guint sum = 0;

        for (gsize i = 0; i < cmd->data_len; i++)
          sum += (guchar) data[i];
        log_event (s->log, good ? "store" : "bad-chunk", cmd, NULL,
                   base + done);
        g_string_append_printf (s->log, " sum %u\n", sum);
      }
      done += consumed + cmd->data_len + 2;
    }
  g_free (cmd);
  return done;
}

/* Feeds the stream in pieces of chunk bytes, keeping what was not consumed
 * as conn.c does in its input buffer. */
static void
feed (Stream *s, const char *data, gsize size, gsize chunk)
{
  GByteArray *in = g_byte_array_new ();
  gsize base = 0;                 /* stream offset of in->data[0] */

  for (gsize off = 0; off < size && !s->closed;)
    {
      gsize n = MIN (chunk, size - off);
      /* An exact-size copy each time, so ASan sees any over-read. */
      char *buf;
      gsize used;

      g_byte_array_append (in, (const guint8 *) data + off, (guint) n);
      off += n;
      buf = g_memdup2 (in->data, in->len);
      used = s->binary ? process_binary (s, buf, in->len, base)
        : process (s, buf, in->len, base);
      g_free (buf);
      CHECK (used <= in->len, "used %zu of %u", used, in->len);
      g_byte_array_remove_range (in, 0, (guint) used);
      base += used;
    }
  g_byte_array_unref (in);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* As the daemon does, the first byte chooses the protocol. */
  gboolean binary = size > 0 && data[0] == 0x80;
  Stream whole = { g_string_new (NULL), 0, FALSE, binary };
  Stream pieces = { g_string_new (NULL), 0, FALSE, binary };
  /* The piece size comes from the input's last byte, so that the fuzzer
   * explores it too: 1 to 64 bytes, or 4 KiB. */
  gsize chunk = size > 0 ? ((guchar) data[size - 1] % 65) : 1;

  CHECK (protocol_valid_name ((const char *) data, MIN (size, 300))
         == ref_valid_name ((const char *) data, MIN (size, 300)),
         "protocol_valid_name and the reference disagree on %zu bytes",
         MIN (size, 300));
  if (chunk == 0)
    chunk = 4096;
  /* At most about 32 pieces: each piece copies what is buffered. */
  chunk = MAX (chunk, size / 32);
  feed (&whole, (const char *) data, size, size > 0 ? size : 1);
  feed (&pieces, (const char *) data, size, chunk);
  CHECK (whole.log->len == pieces.log->len
         && memcmp (whole.log->str, pieces.log->str, whole.log->len) == 0
         && whole.swallow == pieces.swallow,
         "pieces of %zu bytes parse differently:\nwhole:\n%s\npieces:\n%s",
         chunk, whole.log->str, pieces.log->str);
  g_string_free (whole.log, TRUE);
  g_string_free (pieces.log, TRUE);
  return 0;
}
