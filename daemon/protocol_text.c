/* protocol_text.c: the memcache text protocol's command lines, and the
 * meta commands' words among them (protocol_meta.h); see protocol_text.h.
 */
#include "config.h"

#include <string.h>

#include "protocol_meta.h"
#include "protocol_text.h"

#define ERR_UNKNOWN "ERROR"
#define ERR_FORMAT "CLIENT_ERROR bad command line format"
#define ERR_DELETE \
  "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
#define ERR_KEYS "CLIENT_ERROR too many keys"
#define ERR_LINE_LONG "CLIENT_ERROR line too long"
#define ERR_MONITOR "CLIENT_ERROR bad command line format.  Usage: " \
  "monitor <queue> <ms> <max>"
#define ERR_MONITOR_MS "CLIENT_ERROR bad wait: 0 to " \
  MQ_SHARED_STR (MQ_MAX_TIMEOUT_MS) " ms"
#define ERR_MONITOR_MAX "CLIENT_ERROR bad count: 1 to " \
  MQ_SHARED_STR (MQ_MAX_OPEN_READS) " messages"
#define ERR_CONFIRM "CLIENT_ERROR bad command line format.  Usage: " \
  "confirm <queue> <n>"
#define ERR_ABORT "CLIENT_ERROR bad command line format.  Usage: " \
  "abort <queue> <n>"
#define ERR_COUNT "CLIENT_ERROR bad count: 0 to " \
  MQ_SHARED_STR (MQ_MAX_OPEN_READS) " reads"

typedef const char *(*ParseFunc) (const MqTokens *t, MqCommand *cmd);

/* Sets the command's queue name from a token, or says what is wrong. */
static const char *
take_name (const MqToken *t, MqCommand *cmd)
{
  cmd->name = t->p;
  cmd->name_len = t->len;
  return protocol_check_name (t->p, t->len);
}

/* ---- commands ---- */

/* <word> <q> <flags> <exptime> <bytes> [<cas unique>] [noreply], where
 * words counts the words before noreply, and take_key reads <q>.  Length
 * first: once it is known, the caller can skip the data on any error. */
static const char *
parse_storage (const MqTokens *t, guint words,
               const char *(*take_key) (const MqToken *t, MqCommand *cmd),
               MqCommand *cmd)
{
  guint64 v;

  if (t->n != words && t->n != words + 1)
    goto no_length;
  if (!protocol_parse_uint (t->tok[4].p, t->tok[4].len, MQ_MAX_DATA_LEN, &v))
    goto no_length;
  cmd->data_len = (gsize) v;
  cmd->data_end = 2;
  if (t->n == words + 1 && !protocol_token_is (&t->tok[words], "noreply"))
    return ERR_FORMAT;
  cmd->noreply = t->n == words + 1;
  if (!protocol_parse_uint (t->tok[2].p, t->tok[2].len, G_MAXUINT32, &v))
    return ERR_FORMAT;
  cmd->flags = (guint32) v;
  if (!protocol_parse_int64 (t->tok[3].p, t->tok[3].len, &cmd->exptime))
    return ERR_FORMAT;
  if (words > 5
      && !protocol_parse_uint (t->tok[5].p, t->tok[5].len, G_MAXUINT64, &v))
    return ERR_FORMAT;
  return take_key (&t->tok[1], cmd);

no_length:
  cmd->type = MQ_CMD_NONE;
  return ERR_FORMAT;
}

/* A set's key may carry /delay=<ms>. */
static const char *
take_set_key (const MqToken *t, MqCommand *cmd)
{
  return protocol_parse_set_key (t->p, t->len, cmd);
}

static const char *
parse_set (const MqTokens *t, MqCommand *cmd)
{
  return parse_storage (t, 5, take_set_key, cmd);
}


static const char *
parse_get (const MqTokens *t, MqCommand *cmd)
{
  if (t->n < 2)
    return ERR_UNKNOWN;
  if (t->n - 1 > MQ_MAX_KEYS)
    return ERR_KEYS;
  for (guint i = 1; i < t->n; i++)
    {
      const char *err = protocol_parse_get_key (t->tok[i].p, t->tok[i].len,
                                                &cmd->keys[i - 1]);
      if (err)
        return err;
    }
  cmd->n_keys = t->n - 1;
  return NULL;
}

/* delete <q> [0] [noreply]: memcached still accepts the old "0" time. */
static const char *
parse_delete (const MqTokens *t, MqCommand *cmd)
{
  guint next = 2;

  if (t->n < 2 || t->n > 4)
    return ERR_DELETE;
  if (next < t->n && protocol_token_is (&t->tok[next], "0"))
    next++;
  if (next < t->n && protocol_token_is (&t->tok[next], "noreply"))
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
take_noreply (const MqTokens *t, guint first, MqCommand *cmd)
{
  if (t->n == first)
    return TRUE;
  if (t->n != first + 1 || !protocol_token_is (&t->tok[first], "noreply"))
    return FALSE;
  cmd->noreply = TRUE;
  return TRUE;
}

static const char *
parse_flush (const MqTokens *t, MqCommand *cmd)
{
  if (t->n < 2 || !take_noreply (t, 2, cmd))
    return ERR_FORMAT;
  return take_name (&t->tok[1], cmd);
}

/* flush_all [<delay>] [noreply]: the delay is checked, then ignored. */
static const char *
parse_flush_all (const MqTokens *t, MqCommand *cmd)
{
  guint next = 1;
  guint64 delay;

  if (next < t->n && protocol_parse_uint (t->tok[next].p, t->tok[next].len,
                                 G_MAXINT64, &delay))
    next++;
  return take_noreply (t, next, cmd) ? NULL : ERR_FORMAT;
}

/* stats [<group>], stats queue <name> (one queue's lines, as its key),
 * and memcached's stats cachedump <slab> <limit>, which its tools send. */
static const char *
parse_stats (const MqTokens *t, MqCommand *cmd)
{
  guint64 v;
  gboolean cachedump = t->n == 4
    && protocol_token_is (&t->tok[1], "cachedump")
    && protocol_parse_uint (t->tok[2].p, t->tok[2].len, G_MAXUINT32, &v)
    && protocol_parse_uint (t->tok[3].p, t->tok[3].len, G_MAXUINT32, &v);
  gboolean one_queue = t->n == 3 && protocol_token_is (&t->tok[1], "queue");

  if (t->n > 2 && !cachedump && !one_queue)
    return ERR_FORMAT;
  if (one_queue)
    {
      if (!protocol_valid_name (t->tok[2].p, t->tok[2].len))
        return ERR_FORMAT;
      cmd->keys[0] = (MqGetKey) {
        .name = t->tok[2].p, .name_len = t->tok[2].len,
        .key_len = t->tok[2].len, .timeout_ms = -1, .lease_ms = -1,
        .delay_ms = -1,
      };
      cmd->n_keys = 1;
    }
  if (t->n >= 2)
    {
      cmd->name = t->tok[1].p;
      cmd->name_len = t->tok[1].len;
    }
  return NULL;
}

static const char *
parse_verbosity (const MqTokens *t, MqCommand *cmd)
{
  guint64 level;

  if (t->n < 2
      || !protocol_parse_uint (t->tok[1].p, t->tok[1].len, G_MAXUINT, &level))
    return ERR_FORMAT;
  if (!take_noreply (t, 2, cmd))
    return ERR_FORMAT;
  cmd->level = (guint) level;
  return NULL;
}

static const char *
parse_no_args (const MqTokens *t, G_GNUC_UNUSED MqCommand *cmd)
{
  return t->n == 1 ? NULL : ERR_FORMAT;
}

/* quit closes without a word, as memcached's does; a binary QUIT is
 * answered, so here the answer is what noreply leaves out. */
static const char *
parse_quit (const MqTokens *t, MqCommand *cmd)
{
  cmd->noreply = TRUE;
  return parse_no_args (t, cmd);
}

/* shutdown [graceful]: the header has no field for it, so like stats the
 * argument lands in name ("graceful", or NULL when absent). */
static const char *
parse_shutdown (const MqTokens *t, MqCommand *cmd)
{
  if (t->n == 1)
    return NULL;
  if (t->n != 2 || !protocol_token_is (&t->tok[1], "graceful"))
    return ERR_FORMAT;
  cmd->name = t->tok[1].p;
  cmd->name_len = t->tok[1].len;
  return NULL;
}

/* monitor <q> <ms> <max>: Kestrel's windowed read, run as a get of the
 * queue that opens up to max reads, each VALUE line with its id. */
static const char *
parse_monitor (const MqTokens *t, MqCommand *cmd)
{
  MqGetKey *key = &cmd->keys[0];
  guint64 ms, max;
  const char *error;

  if (t->n != 4)
    return ERR_MONITOR;
  if (!protocol_parse_uint (t->tok[2].p, t->tok[2].len, MQ_MAX_TIMEOUT_MS,
                            &ms))
    return ERR_MONITOR_MS;
  if (!protocol_parse_uint (t->tok[3].p, t->tok[3].len, MQ_MAX_OPEN_READS,
                            &max) || max == 0)
    return ERR_MONITOR_MAX;
  error = take_name (&t->tok[1], cmd);
  if (error != NULL)
    return error;
  *key = (MqGetKey) {
    .name = cmd->name, .name_len = cmd->name_len, .key_len = cmd->name_len,
    .timeout_ms = (gint64) ms, .lease_ms = -1, .delay_ms = -1,
    .options = MQ_GET_OPEN | MQ_GET_ID,
  };
  cmd->n_keys = 1;
  cmd->count = (guint) max;
  return NULL;
}

/* confirm|abort <q> <n>: the oldest n reliable reads of the queue. */
static const char *
parse_window_end (const MqTokens *t, MqCommand *cmd)
{
  gboolean confirm = protocol_token_is (&t->tok[0], "confirm");
  guint64 n;

  if (t->n != 3)
    return confirm ? ERR_CONFIRM : ERR_ABORT;
  if (!protocol_parse_uint (t->tok[2].p, t->tok[2].len, MQ_MAX_OPEN_READS,
                            &n))
    return ERR_COUNT;
  cmd->count = (guint) n;
  return take_name (&t->tok[1], cmd);
}

/* ---- commands a queue has nothing to carry out for ---- */

#define NAMED(word) { word, ERR_FORMAT " for " word }

static const struct {
  const char *word;
  const char *error;
} named_errors[] = {
  NAMED ("add"), NAMED ("replace"), NAMED ("append"), NAMED ("prepend"),
  NAMED ("cas"), NAMED ("touch"), NAMED ("incr"), NAMED ("decr"),
  NAMED ("gat"), NAMED ("gats"),
};

/* Their format errors name them: a client may not expect mqd to refuse
 * them, and its log then says which one it sent. */
static const char *
named_error (const MqToken *word, const char *error)
{
  if (error == NULL || strcmp (error, ERR_FORMAT) != 0)
    return error;
  for (gsize i = 0; i < G_N_ELEMENTS (named_errors); i++)
    if (protocol_token_is (word, named_errors[i].word))
      return named_errors[i].error;
  g_return_val_if_reached (error);
}

/* add, replace, append, prepend, cas: the data is read as a set's is, then
 * refused, so that the connection stays in step. */
static const char *
parse_store_other (const MqTokens *t, MqCommand *cmd)
{
  guint words = protocol_token_is (&t->tok[0], "cas") ? 6 : 5;

  return named_error (&t->tok[0], parse_storage (t, words, take_name, cmd));
}

/* touch <q> <exptime> [noreply], incr|decr <q> <delta> [noreply] */
static const char *
parse_update (const MqTokens *t, MqCommand *cmd)
{
  const MqToken *arg = &t->tok[2];
  gint64 exptime;
  guint64 delta;

  if (t->n < 3 || !take_noreply (t, 3, cmd))
    return named_error (&t->tok[0], ERR_FORMAT);
  if (protocol_token_is (&t->tok[0], "touch")
      ? !protocol_parse_int64 (arg->p, arg->len, &exptime)
      : !protocol_parse_uint (arg->p, arg->len, G_MAXUINT64, &delta))
    return named_error (&t->tok[0], ERR_FORMAT);
  return take_name (&t->tok[1], cmd);
}

/* gat|gats <exptime> <key>+: the keys are checked as a get's, and kept
 * nowhere: nothing is taken. */
static const char *
parse_gat (const MqTokens *t, G_GNUC_UNUSED MqCommand *cmd)
{
  gint64 exptime;
  MqGetKey key;

  if (t->n < 3
      || !protocol_parse_int64 (t->tok[1].p, t->tok[1].len, &exptime))
    return named_error (&t->tok[0], ERR_FORMAT);
  if (t->n > MQ_MAX_TOKENS)
    return ERR_KEYS;
  for (guint i = 2; i < t->n; i++)
    {
      const char *err = protocol_parse_get_key (t->tok[i].p, t->tok[i].len,
                                                &key);
      if (err)
        return err;
    }
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
  { "quit", MQ_CMD_QUIT, parse_quit },
  { "shutdown", MQ_CMD_SHUTDOWN, parse_shutdown },
  { "add", MQ_CMD_STORE_OTHER, parse_store_other },
  { "replace", MQ_CMD_STORE_OTHER, parse_store_other },
  { "append", MQ_CMD_STORE_OTHER, parse_store_other },
  { "prepend", MQ_CMD_STORE_OTHER, parse_store_other },
  { "cas", MQ_CMD_STORE_OTHER, parse_store_other },
  { "touch", MQ_CMD_UPDATE, parse_update },
  { "incr", MQ_CMD_UPDATE, parse_update },
  { "decr", MQ_CMD_UPDATE, parse_update },
  { "gat", MQ_CMD_GAT, parse_gat },
  { "gats", MQ_CMD_GAT, parse_gat },
  { "monitor", MQ_CMD_MONITOR, parse_monitor },
  { "confirm", MQ_CMD_CONFIRM, parse_window_end },
  { "abort", MQ_CMD_ABORT, parse_window_end },
  { "mg", MQ_CMD_GET, protocol_meta_parse_get },
  { "ms", MQ_CMD_SET, protocol_meta_parse_set },
  { "md", MQ_CMD_DELETE, protocol_meta_parse_delete },
  { "mn", MQ_CMD_NOOP, protocol_meta_parse_noop },
  { "me", MQ_CMD_NONE, protocol_meta_parse_debug },
};

/* Parses one line without its end; NULL or the error reply. */
static const char *
parse_line (const char *line, gsize len, MqCommand *cmd)
{
  MqTokens t;

  protocol_tokenize (line, len, &t);
  if (t.n == 0)
    return ERR_UNKNOWN;
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (protocol_token_is (&t.tok[0], commands[i].word))
      {
        cmd->type = commands[i].type;
        return commands[i].parse (&t, cmd);
      }
  return ERR_UNKNOWN;
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

  protocol_command_reset (cmd);
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
  /* A failed line is answered, whatever it asked; only a storage command
   * keeps its length, so the caller can skip the data that follows. */
  cmd->noreply = FALSE;
  if (!protocol_takes_data (cmd))
    {
      cmd->data_len = 0;
      cmd->data_end = 0;
    }
  cmd->n_keys = 0;
  return MQ_PARSE_ERROR;
}
