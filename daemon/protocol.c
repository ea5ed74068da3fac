/* protocol.c: the memcache text protocol, bytes to commands and replies
 * to bytes.
 *
 * The parser never allocates: tokens and names point into the caller's
 * buffer.  Error replies follow memcached's wording, since clients and tests
 * compare them byte for byte.
 */
#include "config.h"

#include <string.h>

#include "protocol.h"

#define ERR_UNKNOWN "ERROR"
#define ERR_FORMAT "CLIENT_ERROR bad command line format"
#define ERR_DELETE \
  "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
#define ERR_NAME_LONG "CLIENT_ERROR queue name too long"
#define ERR_NAME_BAD "CLIENT_ERROR invalid queue name"
#define ERR_KEYS "CLIENT_ERROR too many keys"
#define ERR_GET_OPTION "CLIENT_ERROR bad get option"
#define ERR_LINE_LONG "CLIENT_ERROR line too long"

/* The command word and MQ_MAX_KEYS keys; tokens past these are only counted. */
#define MAX_TOKENS (MQ_MAX_KEYS + 1)

/* A set's length must fit gint64 and, on 32-bit hosts, gsize. */
#define MAX_DATA_LEN \
  ((guint64) G_MAXINT64 < (guint64) G_MAXSIZE ? (guint64) G_MAXINT64 \
                                              : (guint64) G_MAXSIZE)

typedef struct {
  const char *p;
  gsize len;
} Token;

typedef struct {
  Token tok[MAX_TOKENS];
  guint n;                        /* tokens on the line, stored or not */
} TokenList;

typedef const char *(*ParseFunc) (const TokenList *t, MqCommand *cmd);

/* ---- tokens and numbers ---- */

static gboolean
is_separator (char c)
{
  return c == ' ' || c == '\t';
}

static void
tokenize (const char *p, gsize len, TokenList *t)
{
  gsize i = 0;

  t->n = 0;
  for (;;)
    {
      while (i < len && is_separator (p[i]))
        i++;
      if (i == len)
        return;
      gsize start = i;
      while (i < len && !is_separator (p[i]))
        i++;
      /* Count past the array so callers can tell "too many" apart. */
      if (t->n < MAX_TOKENS)
        t->tok[t->n] = (Token) { p + start, i - start };
      t->n++;
    }
}

static gboolean
bytes_equal (const char *p, gsize len, const char *word)
{
  return len == strlen (word) && memcmp (p, word, len) == 0;
}

static gboolean
token_is (const Token *t, const char *word)
{
  return bytes_equal (t->p, t->len, word);
}

/* Plain decimal digits up to max: no sign, no space, no empty, no overflow. */
static gboolean
parse_uint (const char *p, gsize len, guint64 max, guint64 *out)
{
  guint64 v = 0;

  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      guint d = (guint) ((guchar) p[i] - '0');
      if (d > 9 || d > max || v > (max - d) / 10)
        return FALSE;
      v = v * 10 + d;
    }
  *out = v;
  return TRUE;
}

/* As parse_uint, with an optional leading '-', over all of gint64. */
static gboolean
parse_int64 (const Token *t, gint64 *out)
{
  guint64 mag;

  if (t->len > 0 && t->p[0] == '-')
    {
      if (!parse_uint (t->p + 1, t->len - 1, (guint64) G_MAXINT64 + 1, &mag))
        return FALSE;
      /* Written so that -2^63 never passes through +2^63. */
      *out = mag == 0 ? 0 : -(gint64) (mag - 1) - 1;
      return TRUE;
    }
  if (!parse_uint (t->p, t->len, G_MAXINT64, &mag))
    return FALSE;
  *out = (gint64) mag;
  return TRUE;
}

static const char *
check_name (const char *name, gsize len)
{
  if (len > MQ_MAX_NAME)
    return ERR_NAME_LONG;
  return protocol_valid_name (name, len) ? NULL : ERR_NAME_BAD;
}

/* Sets the command's queue name from a token, or says what is wrong. */
static const char *
take_name (const Token *t, MqCommand *cmd)
{
  cmd->name = t->p;
  cmd->name_len = t->len;
  return check_name (t->p, t->len);
}

/* ---- commands ---- */

static const char *
parse_set (const TokenList *t, MqCommand *cmd)
{
  guint64 v;

  if (t->n != 5 && t->n != 6)
    goto no_length;
  /* Length first: once known, the caller can skip the data on any error. */
  if (!parse_uint (t->tok[4].p, t->tok[4].len, MAX_DATA_LEN, &v))
    goto no_length;
  cmd->data_len = (gsize) v;
  if (t->n == 6 && !token_is (&t->tok[5], "noreply"))
    return ERR_FORMAT;
  cmd->noreply = t->n == 6;
  if (!parse_uint (t->tok[2].p, t->tok[2].len, G_MAXUINT32, &v))
    return ERR_FORMAT;
  cmd->flags = (guint32) v;
  if (!parse_int64 (&t->tok[3], &cmd->exptime))
    return ERR_FORMAT;
  return take_name (&t->tok[1], cmd);

no_length:
  cmd->type = MQ_CMD_NONE;
  return ERR_FORMAT;
}

static const struct {
  const char *word;
  MqGetOptions flag;
} get_options[] = {
  { "open", MQ_GET_OPEN },
  { "close", MQ_GET_CLOSE },
  { "abort", MQ_GET_ABORT },
  { "peek", MQ_GET_PEEK },
};

static gboolean
apply_get_option (const char *p, gsize len, MqGetKey *key)
{
  guint64 ms;

  for (gsize i = 0; i < G_N_ELEMENTS (get_options); i++)
    if (bytes_equal (p, len, get_options[i].word))
      {
        key->options |= get_options[i].flag;
        return TRUE;
      }
  if (len < 2 || memcmp (p, "t=", 2) != 0)
    return FALSE;
  if (!parse_uint (p + 2, len - 2, MQ_MAX_TIMEOUT_MS, &ms))
    return FALSE;
  key->timeout_ms = (gint64) ms;
  return TRUE;
}

/* One key: name[/opt]*.  Options are checked before the name, as a set
 * checks its numbers before its name. */
static const char *
parse_get_key (const Token *t, MqGetKey *key)
{
  const char *end = t->p + t->len;
  const char *slash = memchr (t->p, '/', t->len);

  key->name = t->p;
  key->name_len = (gsize) ((slash ? slash : end) - t->p);
  key->key_len = t->len;
  key->timeout_ms = -1;
  key->options = 0;
  while (slash)
    {
      const char *opt = slash + 1;
      slash = memchr (opt, '/', (gsize) (end - opt));
      if (!apply_get_option (opt, (gsize) ((slash ? slash : end) - opt), key))
        return ERR_GET_OPTION;
    }
  return check_name (key->name, key->name_len);
}

static const char *
parse_get (const TokenList *t, MqCommand *cmd)
{
  if (t->n < 2)
    return ERR_UNKNOWN;
  if (t->n - 1 > MQ_MAX_KEYS)
    return ERR_KEYS;
  for (guint i = 1; i < t->n; i++)
    {
      const char *err = parse_get_key (&t->tok[i], &cmd->keys[i - 1]);
      if (err)
        return err;
    }
  cmd->n_keys = t->n - 1;
  return NULL;
}

/* delete <q> [0] [noreply]: memcached still accepts the old "0" time. */
static const char *
parse_delete (const TokenList *t, MqCommand *cmd)
{
  guint next = 2;

  if (t->n < 2 || t->n > 4)
    return ERR_DELETE;
  if (next < t->n && token_is (&t->tok[next], "0"))
    next++;
  if (next < t->n && token_is (&t->tok[next], "noreply"))
    {
      cmd->noreply = TRUE;
      next++;
    }
  if (next != t->n)
    return ERR_DELETE;
  return take_name (&t->tok[1], cmd);
}

/* TRUE when the tokens from first on are nothing or a lone "noreply". */
static gboolean
take_noreply (const TokenList *t, guint first, MqCommand *cmd)
{
  if (t->n == first)
    return TRUE;
  if (t->n != first + 1 || !token_is (&t->tok[first], "noreply"))
    return FALSE;
  cmd->noreply = TRUE;
  return TRUE;
}

static const char *
parse_flush (const TokenList *t, MqCommand *cmd)
{
  if (t->n < 2 || !take_noreply (t, 2, cmd))
    return ERR_FORMAT;
  return take_name (&t->tok[1], cmd);
}

/* flush_all [<delay>] [noreply]: the delay is checked, then ignored. */
static const char *
parse_flush_all (const TokenList *t, MqCommand *cmd)
{
  guint next = 1;
  guint64 delay;

  if (next < t->n && parse_uint (t->tok[next].p, t->tok[next].len,
                                 G_MAXINT64, &delay))
    next++;
  return take_noreply (t, next, cmd) ? NULL : ERR_FORMAT;
}

static const char *
parse_stats (const TokenList *t, MqCommand *cmd)
{
  if (t->n > 2)
    return ERR_FORMAT;
  if (t->n == 2)
    {
      cmd->name = t->tok[1].p;
      cmd->name_len = t->tok[1].len;
    }
  return NULL;
}

static const char *
parse_verbosity (const TokenList *t, MqCommand *cmd)
{
  guint64 level;

  if (t->n < 2 || !parse_uint (t->tok[1].p, t->tok[1].len, G_MAXUINT, &level))
    return ERR_FORMAT;
  if (!take_noreply (t, 2, cmd))
    return ERR_FORMAT;
  cmd->level = (guint) level;
  return NULL;
}

static const char *
parse_no_args (const TokenList *t, G_GNUC_UNUSED MqCommand *cmd)
{
  return t->n == 1 ? NULL : ERR_FORMAT;
}

/* shutdown [graceful]: the header has no field for it, so like stats the
 * argument lands in name ("graceful", or NULL when absent). */
static const char *
parse_shutdown (const TokenList *t, MqCommand *cmd)
{
  if (t->n == 1)
    return NULL;
  if (t->n != 2 || !token_is (&t->tok[1], "graceful"))
    return ERR_FORMAT;
  cmd->name = t->tok[1].p;
  cmd->name_len = t->tok[1].len;
  return NULL;
}

static const struct {
  const char *word;
  MqCommandType type;
  ParseFunc parse;
} commands[] = {
  { "get", MQ_CMD_GET, parse_get },
  { "set", MQ_CMD_SET, parse_set },
  { "gets", MQ_CMD_GETS, parse_get },
  { "delete", MQ_CMD_DELETE, parse_delete },
  { "flush", MQ_CMD_FLUSH, parse_flush },
  { "flush_all", MQ_CMD_FLUSH_ALL, parse_flush_all },
  { "stats", MQ_CMD_STATS, parse_stats },
  { "version", MQ_CMD_VERSION, parse_no_args },
  { "verbosity", MQ_CMD_VERBOSITY, parse_verbosity },
  { "quit", MQ_CMD_QUIT, parse_no_args },
  { "shutdown", MQ_CMD_SHUTDOWN, parse_shutdown },
};

/* Parses one line without its end; NULL or the error reply. */
static const char *
parse_line (const char *line, gsize len, MqCommand *cmd)
{
  TokenList t;

  tokenize (line, len, &t);
  if (t.n == 0)
    return ERR_UNKNOWN;
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (token_is (&t.tok[0], commands[i].word))
      {
        cmd->type = commands[i].type;
        return commands[i].parse (&t, cmd);
      }
  return ERR_UNKNOWN;
}

/* Only the scalar fields: keys[] is written up to n_keys by a get, and
 * clearing all of it would cost 4 KB of stores per command. */
static void
reset_command (MqCommand *cmd)
{
  cmd->type = MQ_CMD_NONE;
  cmd->noreply = FALSE;
  cmd->name = NULL;
  cmd->name_len = 0;
  cmd->flags = 0;
  cmd->exptime = 0;
  cmd->data_len = 0;
  cmd->level = 0;
  cmd->n_keys = 0;
}

/* Length of the first line with its "\n", or 0 when none ends in time. */
static gsize
line_length (const char *buf, gsize len)
{
  gsize scan = MIN (len, (gsize) MQ_MAX_LINE);
  const char *nl = scan > 0 ? memchr (buf, '\n', scan) : NULL;

  return nl ? (gsize) (nl - buf) + 1 : 0;
}

MqParseStatus
protocol_parse (const char *buf, gsize len, MqCommand *cmd,
                gsize *consumed, const char **error)
{
  g_return_val_if_fail (buf != NULL || len == 0, MQ_PARSE_INCOMPLETE);
  g_return_val_if_fail (cmd != NULL, MQ_PARSE_INCOMPLETE);
  g_return_val_if_fail (consumed != NULL, MQ_PARSE_INCOMPLETE);
  g_return_val_if_fail (error != NULL, MQ_PARSE_INCOMPLETE);

  reset_command (cmd);
  *consumed = 0;
  *error = NULL;

  gsize line_len = line_length (buf, len);
  if (line_len == 0)
    {
      if (len < MQ_MAX_LINE)
        return MQ_PARSE_INCOMPLETE;
      *error = ERR_LINE_LONG;
      return MQ_PARSE_LINE_TOO_LONG;
    }

  *consumed = line_len;
  gsize text_len = line_len - 1;
  if (text_len > 0 && buf[text_len - 1] == '\r')
    text_len--;

  *error = parse_line (buf, text_len, cmd);
  if (*error == NULL)
    return MQ_PARSE_COMMAND;
  /* A failed line is answered, whatever it asked; only a set keeps its
   * length, so the caller can skip the data that follows. */
  cmd->noreply = FALSE;
  if (cmd->type != MQ_CMD_SET)
    cmd->data_len = 0;
  cmd->n_keys = 0;
  return MQ_PARSE_ERROR;
}

gboolean
protocol_valid_name (const char *name, gsize len)
{
  return mq_shared_valid_name (name, len);
}

/* ---- replies ---- */

/* Decimal without printf: VALUE lines are on the hot path of every get. */
static void
append_uint (GString *out, guint64 v)
{
  char digits[20];
  gsize i = sizeof digits;

  do
    {
      digits[--i] = (char) ('0' + v % 10);
      v /= 10;
    }
  while (v > 0);
  g_string_append_len (out, digits + i, (gssize) (sizeof digits - i));
}

static void
append_crlf (GString *out)
{
  g_string_append_len (out, "\r\n", 2);
}

void
protocol_append_line (GString *out, const char *line)
{
  g_return_if_fail (out != NULL && line != NULL);

  g_string_append (out, line);
  append_crlf (out);
}

void
protocol_append_value (GString *out, const char *name, gsize name_len,
                       guint32 flags, const char *data, gsize len,
                       gboolean with_cas, guint64 cas)
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (name != NULL || name_len == 0);
  g_return_if_fail (data != NULL || len == 0);

  g_string_append_len (out, "VALUE ", 6);
  g_string_append_len (out, name, (gssize) name_len);
  g_string_append_c (out, ' ');
  append_uint (out, flags);
  g_string_append_c (out, ' ');
  append_uint (out, len);
  if (with_cas)
    {
      g_string_append_c (out, ' ');
      append_uint (out, cas);
    }
  append_crlf (out);
  g_string_append_len (out, data, (gssize) len);
  append_crlf (out);
}

void
protocol_append_stat (GString *out, const char *key, const char *value)
{
  g_return_if_fail (out != NULL && key != NULL && value != NULL);

  g_string_append_len (out, "STAT ", 5);
  g_string_append (out, key);
  g_string_append_c (out, ' ');
  g_string_append (out, value);
  append_crlf (out);
}

void
protocol_append_stat_printf (GString *out, const char *key,
                             const char *format, ...)
{
  va_list args;

  g_return_if_fail (out != NULL && key != NULL && format != NULL);

  g_string_append_len (out, "STAT ", 5);
  g_string_append (out, key);
  g_string_append_c (out, ' ');
  va_start (args, format);
  g_string_append_vprintf (out, format, args);
  va_end (args);
  append_crlf (out);
}
