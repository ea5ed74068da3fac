/* protocol.c: what the three protocols share: commands, tokens,
 * numbers, queue names and get keys, and replies to bytes.
 *
 * Pure code that never allocates: tokens and names point into the caller's
 * buffer.  Error replies follow memcached's wording, since clients and tests
 * compare them byte for byte.
 */
#include "config.h"

#include <string.h>

#include "protocol.h"

#define ERR_NAME_LONG "CLIENT_ERROR queue name too long"
#define ERR_NAME_BAD "CLIENT_ERROR invalid queue name"
#define ERR_GET_OPTION "CLIENT_ERROR bad get option"
#define ERR_SET_OPTION "CLIENT_ERROR bad set option: a set takes only " \
  "/delay=<ms>"
#define ERR_DUPLICATE "CLIENT_ERROR duplicate option"
#define ERR_DELAY "CLIENT_ERROR bad delay: 0 to " \
  MQ_SHARED_STR (MQ_MAX_DELAY_MS) " ms"
#define ERR_LEASE "CLIENT_ERROR bad lease: 1 to " \
  MQ_SHARED_STR (MQ_MAX_DELAY_MS) " ms"
#define ERR_LEASE_ALONE "CLIENT_ERROR lease= needs /open or /touch"
#define ERR_DELAY_ALONE "CLIENT_ERROR delay= on a get needs /abort"
#define ERR_TOUCH "CLIENT_ERROR /touch takes no other option but lease="

/* ---- tokens and numbers ---- */

static gboolean
is_separator (char c)
{
  return c == ' ' || c == '\t';
}

void
protocol_tokenize (const char *p, gsize len, MqTokens *t)
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
      if (t->n < MQ_MAX_TOKENS)
        t->tok[t->n] = (MqToken) { p + start, i - start };
      t->n++;
    }
}

static gboolean
bytes_equal (const char *p, gsize len, const char *word)
{
  return len == strlen (word) && memcmp (p, word, len) == 0;
}

gboolean
protocol_token_is (const MqToken *t, const char *word)
{
  return bytes_equal (t->p, t->len, word);
}

gboolean
protocol_parse_uint (const char *p, gsize len, guint64 max, guint64 *out)
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

gboolean
protocol_parse_int64 (const char *p, gsize len, gint64 *out)
{
  guint64 mag;

  if (len > 0 && p[0] == '-')
    {
      if (!protocol_parse_uint (p + 1, len - 1, (guint64) G_MAXINT64 + 1,
                                &mag))
        return FALSE;
      /* Written so that -2^63 never passes through +2^63. */
      *out = mag == 0 ? 0 : -(gint64) (mag - 1) - 1;
      return TRUE;
    }
  if (!protocol_parse_uint (p, len, G_MAXINT64, &mag))
    return FALSE;
  *out = (gint64) mag;
  return TRUE;
}

const char *
protocol_check_name (const char *name, gsize len)
{
  if (len > MQ_MAX_NAME)
    return ERR_NAME_LONG;
  return protocol_valid_name (name, len) ? NULL : ERR_NAME_BAD;
}

/* ---- keys: name[/option]... ---- */

/* The option after *slash, up to the next '/' or end; *slash moves on to
 * that next '/', or NULL after the last option. */
static MqToken
next_option (const char **slash, const char *end)
{
  const char *opt = *slash + 1;

  *slash = memchr (opt, '/', (gsize) (end - opt));
  return (MqToken) { opt, (gsize) ((*slash ? *slash : end) - opt) };
}

/* An option with a number, <word>=<ms>: t=, lease=, delay=. */
typedef struct {
  const char *prefix;             /* "t=" */
  guint64 min, max;
  gboolean once;                  /* given twice is an error (t= is not:
                                     its last one counts, as it always
                                     has) */
  const char *error;              /* the reply to a bad number */
} NumberOption;

static const NumberOption timeout_option = {
  "t=", 0, MQ_MAX_TIMEOUT_MS, FALSE, ERR_GET_OPTION
};
static const NumberOption lease_option = {
  "lease=", 1, MQ_MAX_DELAY_MS, TRUE, ERR_LEASE
};
static const NumberOption delay_option = {
  "delay=", 0, MQ_MAX_DELAY_MS, TRUE, ERR_DELAY
};

/* Whether opt is number's option; if so, *error is NULL and *ms its value
 * (-1 until one is given), or *error the reply. */
static gboolean
take_number (const MqToken *opt, const NumberOption *number, gint64 *ms,
             const char **error)
{
  gsize n = strlen (number->prefix);
  guint64 v;

  if (opt->len < n || memcmp (opt->p, number->prefix, n) != 0)
    return FALSE;
  if (!protocol_parse_uint (opt->p + n, opt->len - n, number->max, &v)
      || v < number->min)
    *error = number->error;
  else if (number->once && *ms >= 0)
    *error = ERR_DUPLICATE;
  else
    {
      *ms = (gint64) v;
      *error = NULL;
    }
  return TRUE;
}

/* ---- get ---- */

static const struct {
  const char *word;
  MqGetOptions flag;
  gboolean once;                  /* given twice is an error; the older
                                     words may repeat, as they always
                                     could */
} get_options[] = {
  { "open", MQ_GET_OPEN, FALSE },
  { "close", MQ_GET_CLOSE, FALSE },
  { "abort", MQ_GET_ABORT, FALSE },
  { "peek", MQ_GET_PEEK, FALSE },
  { "touch", MQ_GET_TOUCH, TRUE },
  { "id", MQ_GET_ID, FALSE },
};

/* NULL, or the reply to a bad option. */
static const char *
apply_get_option (const MqToken *opt, MqGetKey *key)
{
  const char *error = ERR_GET_OPTION;

  for (gsize i = 0; i < G_N_ELEMENTS (get_options); i++)
    if (protocol_token_is (opt, get_options[i].word))
      {
        if (get_options[i].once && (key->options & get_options[i].flag))
          return ERR_DUPLICATE;
        key->options |= get_options[i].flag;
        return NULL;
      }
  if (take_number (opt, &timeout_option, &key->timeout_ms, &error)
      || take_number (opt, &lease_option, &key->lease_ms, &error)
      || take_number (opt, &delay_option, &key->delay_ms, &error))
    return error;
  return ERR_GET_OPTION;
}

/* The options that only mean something beside another. */
static const char *
check_get_options (const MqGetKey *key)
{
  if ((key->options & MQ_GET_TOUCH)
      && (key->options != MQ_GET_TOUCH || key->timeout_ms >= 0
          || key->delay_ms >= 0))
    return ERR_TOUCH;
  if (key->lease_ms >= 0 && !(key->options & (MQ_GET_OPEN | MQ_GET_TOUCH)))
    return ERR_LEASE_ALONE;
  if (key->delay_ms >= 0 && !(key->options & MQ_GET_ABORT))
    return ERR_DELAY_ALONE;
  return NULL;
}

/* Options are checked before the name, as a set checks its numbers before
 * its name. */
const char *
protocol_parse_get_key (const char *p, gsize len, MqGetKey *key)
{
  const char *end = p + len;
  const char *slash = memchr (p, '/', len);
  const char *error;

  key->name = p;
  key->name_len = (gsize) ((slash ? slash : end) - p);
  key->key_len = len;
  key->timeout_ms = -1;
  key->lease_ms = -1;
  key->delay_ms = -1;
  key->options = 0;
  while (slash)
    {
      MqToken opt = next_option (&slash, end);

      error = apply_get_option (&opt, key);
      if (error != NULL)
        return error;
    }
  error = check_get_options (key);
  return error != NULL ? error : protocol_check_name (key->name,
                                                      key->name_len);
}

/* ---- set ---- */

const char *
protocol_parse_set_key (const char *p, gsize len, MqCommand *cmd)
{
  const char *end = p + len;
  const char *slash = memchr (p, '/', len);
  const char *error = NULL;

  cmd->name = p;
  cmd->name_len = (gsize) ((slash ? slash : end) - p);
  cmd->delay_ms = -1;
  while (slash)
    {
      MqToken opt = next_option (&slash, end);

      if (!take_number (&opt, &delay_option, &cmd->delay_ms, &error))
        return ERR_SET_OPTION;
      if (error != NULL)
        return error;
    }
  return protocol_check_name (cmd->name, cmd->name_len);
}

/* Only the scalar fields: keys[] is written up to n_keys by a get, and
 * clearing all of it would cost 4 KB of stores per command. */
void
protocol_command_reset (MqCommand *cmd)
{
  cmd->type = MQ_CMD_NONE;
  cmd->noreply = FALSE;
  cmd->name = NULL;
  cmd->name_len = 0;
  cmd->flags = 0;
  cmd->exptime = 0;
  cmd->delay_ms = -1;
  cmd->data_len = 0;
  cmd->data_end = 0;
  cmd->level = 0;
  cmd->count = 0;
  cmd->n_keys = 0;
  cmd->form = (MqReplyForm) { MQ_WIRE_TEXT };
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

gsize
protocol_append_value (GString *out, const char *name, gsize name_len,
                       guint32 flags, const char *data, gsize len,
                       gboolean with_cas, guint64 cas, const char *id)
{
  gsize at;

  g_return_val_if_fail (out != NULL, MQ_NO_DATA);
  g_return_val_if_fail (name != NULL || name_len == 0, MQ_NO_DATA);

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
  if (id != NULL)
    {
      g_string_append_c (out, ' ');
      g_string_append (out, id);
    }
  append_crlf (out);
  at = out->len;
  if (data != NULL)
    g_string_append_len (out, data, (gssize) len);
  append_crlf (out);
  return at;
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
