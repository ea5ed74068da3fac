/* protocol_meta.c: the meta commands; see protocol_meta.h.
 *
 * Error replies follow memcached's wording for the meta commands, and the
 * queue name checks the classic commands make.  As for set, ms reads its
 * length before anything else, so that its data is skipped whatever is
 * wrong with the rest of the line.
 */
#include "config.h"

#include <string.h>

#include "protocol_meta.h"

#define ERR_FORMAT "CLIENT_ERROR bad command line format"
#define ERR_FLAG "CLIENT_ERROR invalid flag"
#define ERR_DUPLICATE "CLIENT_ERROR duplicate flag"
#define ERR_OPAQUE "CLIENT_ERROR opaque token too long"
#define ERR_TOKEN "CLIENT_ERROR bad token in command line format"
#define ERR_MODE "CLIENT_ERROR invalid mode for ms"
#define ERR_DEBUG "CLIENT_ERROR me is not supported: a queue keeps no " \
  "metadata per message"

/* What a hit returns besides its value. */
typedef struct {
  guint32 flags;
  gsize len;
  guint64 cas;
  gint64 ttl;
} Item;

/* ---- requests ---- */

static void
start (const MqTokens *t, char command, MqCommand *cmd)
{
  cmd->form.wire = MQ_WIRE_META;
  cmd->form.opcode = (guint8) command;
  cmd->form.key = t->tok[1].p;
  cmd->form.key_len = t->tok[1].len;
}

static const char *
take_flag (const MqToken *tok, MqCommand *cmd)
{
  const char *arg = tok->p + 1;
  gsize arg_len = tok->len - 1;
  MqReplyForm *form = &cmd->form;
  guint64 v;

  switch (tok->p[0])
    {
    case 'v':
      form->value = TRUE;
      return arg_len > 0 ? ERR_FLAG : NULL;
    case 'q':
      form->quiet = TRUE;
      return arg_len > 0 ? ERR_FLAG : NULL;
    case 'O':
      if (arg_len > MQ_META_MAX_OPAQUE)
        return ERR_OPAQUE;
      form->token = arg;
      form->token_len = arg_len;
      break;
    case 'F':
      if (!protocol_parse_uint (arg, arg_len, G_MAXUINT32, &v))
        return ERR_TOKEN;
      cmd->flags = (guint32) v;
      return NULL;
    case 'T':
      return protocol_parse_int64 (arg, arg_len, &cmd->exptime) ? NULL
        : ERR_TOKEN;
    case 'M':
      if (arg_len != 1 || strchr ("SsEeAaPpRr", arg[0]) == NULL)
        return ERR_MODE;
      /* add, append, prepend, replace: read, not stored, as in text. */
      if (arg[0] != 'S' && arg[0] != 's')
        cmd->type = MQ_CMD_STORE_OTHER;
      return NULL;
    default:
      if (arg_len > 0)
        return ERR_FLAG;
    }
  form->returns[form->n_returns++] = tok->p[0];
  return NULL;
}

/* The flags from t->tok[first] on, each of them one of allowed. */
static const char *
take_flags (const MqTokens *t, guint first, const char *allowed,
            MqCommand *cmd)
{
  guint64 seen = 0;

  if (t->n > MQ_MAX_TOKENS)
    return ERR_FORMAT;
  for (guint i = first; i < t->n; i++)
    {
      const MqToken *tok = &t->tok[i];
      char c = tok->p[0];
      const char *err;

      if (c == 'P' || c == 'L')
        continue;
      if (c == '\0' || strchr (allowed, c) == NULL)
        return ERR_FLAG;
      /* Flags are letters: one bit each. */
      if (seen & (G_GUINT64_CONSTANT (1) << (c - 'A')))
        return ERR_DUPLICATE;
      seen |= G_GUINT64_CONSTANT (1) << (c - 'A');
      err = take_flag (tok, cmd);
      if (err != NULL)
        return err;
    }
  return NULL;
}

/* ms and md: a queue name (a set's key may carry /delay=<ms>), then flags
 * from t->tok[first] on. */
static const char *
take_queue (const MqTokens *t, char command, guint first, const char *allowed,
            MqCommand *cmd)
{
  const char *err;

  start (t, command, cmd);
  if (command == 's')
    err = protocol_parse_set_key (t->tok[1].p, t->tok[1].len, cmd);
  else
    {
      cmd->name = t->tok[1].p;
      cmd->name_len = t->tok[1].len;
      err = protocol_check_name (cmd->name, cmd->name_len);
    }
  return err != NULL ? err : take_flags (t, first, allowed, cmd);
}

const char *
protocol_meta_parse_get (const MqTokens *t, MqCommand *cmd)
{
  MqGetKey *key = &cmd->keys[0];
  const char *err;

  if (t->n < 2)
    return ERR_FORMAT;
  start (t, 'g', cmd);
  err = protocol_parse_get_key (t->tok[1].p, t->tok[1].len, key);
  if (err == NULL)
    err = take_flags (t, 2, "vkfsctqO", cmd);
  if (err != NULL)
    return err;
  /* Without v the value would be lost: nothing is taken, the head is
   * peeked.  A key that only closes, aborts or touches a read takes
   * nothing anyway. */
  if (!cmd->form.value
      && !((key->options & (MQ_GET_CLOSE | MQ_GET_ABORT | MQ_GET_TOUCH))
           && !(key->options & MQ_GET_OPEN)))
    key->options |= MQ_GET_PEEK;
  cmd->n_keys = 1;
  return NULL;
}

const char *
protocol_meta_parse_set (const MqTokens *t, MqCommand *cmd)
{
  guint64 len;

  if (t->n < 3
      || !protocol_parse_uint (t->tok[2].p, t->tok[2].len, MQ_MAX_DATA_LEN,
                               &len))
    {
      cmd->type = MQ_CMD_NONE;
      return ERR_FORMAT;
    }
  cmd->data_len = (gsize) len;
  cmd->data_end = 2;
  return take_queue (t, 's', 3, "qOkFTM", cmd);
}

const char *
protocol_meta_parse_delete (const MqTokens *t, MqCommand *cmd)
{
  if (t->n < 2)
    return ERR_FORMAT;
  return take_queue (t, 'd', 2, "qOk", cmd);
}

const char *
protocol_meta_parse_noop (const MqTokens *t, MqCommand *cmd)
{
  if (t->n != 1)
    return ERR_FORMAT;
  cmd->form.wire = MQ_WIRE_META;
  cmd->form.opcode = 'n';
  return NULL;
}

const char *
protocol_meta_parse_debug (G_GNUC_UNUSED const MqTokens *t,
                           G_GNUC_UNUSED MqCommand *cmd)
{
  return ERR_DEBUG;
}

/* ---- replies ---- */

static void
append_returns (GString *out, const MqReplyForm *form, const Item *item)
{
  for (guint i = 0; i < form->n_returns; i++)
    {
      char c = form->returns[i];

      /* A miss and the other commands return only the key and opaque. */
      if (item == NULL && c != 'k' && c != 'O')
        continue;
      g_string_append_c (out, ' ');
      g_string_append_c (out, c);
      if (c == 'k')
        g_string_append_len (out, form->key, (gssize) form->key_len);
      else if (c == 'O')
        g_string_append_len (out, form->token, (gssize) form->token_len);
      else if (c == 'f')
        g_string_append_printf (out, "%u", item->flags);
      else if (c == 's')
        g_string_append_printf (out, "%" G_GSIZE_FORMAT, item->len);
      else if (c == 'c')
        g_string_append_printf (out, "%" G_GUINT64_FORMAT, item->cas);
      else
        g_string_append_printf (out, "%" G_GINT64_FORMAT, item->ttl);
    }
}

/* The meta code for a reply line, or NULL for an error, sent as it is. */
static const char *
line_code (const MqReplyForm *form, const char *line, gboolean *success)
{
  static const struct {
    char command;
    const char *line;
    const char *code;
    gboolean success;
  } codes[] = {
    { 'g', "END", "EN", FALSE },
    { 's', "STORED", "HD", TRUE },
    { 's', "NOT_STORED", "NS", FALSE },
    { 'd', "DELETED", "HD", TRUE },
    { 'd', "NOT_FOUND", "NF", FALSE },
    { 'n', "OK", "MN", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (codes); i++)
    if (codes[i].command == form->opcode && strcmp (codes[i].line, line) == 0)
      {
        *success = codes[i].success;
        return codes[i].code;
      }
  return NULL;
}

void
protocol_meta_append_line (GString *out, MqReplyForm *form, const char *line)
{
  gboolean success = FALSE;
  const char *code;

  g_return_if_fail (out != NULL && form != NULL && line != NULL);

  code = line_code (form, line, &success);
  if (code == NULL)
    {
      protocol_append_line (out, line);
      return;
    }
  /* q leaves the usual outcome unanswered: a stored set, a deleted queue,
   * a get that found nothing.  END after a hit ends nothing more. */
  if ((success || form->opcode == 'g') && form->quiet)
    return;
  if (form->opcode == 'g' && form->n_values > 0)
    return;
  g_string_append (out, code);
  append_returns (out, form, NULL);
  g_string_append_len (out, "\r\n", 2);
}

gsize
protocol_meta_append_value (GString *out, MqReplyForm *form, guint32 flags,
                            const char *data, gsize len, guint64 cas,
                            gint64 ttl)
{
  Item item = { flags, len, cas, ttl };
  gsize at = MQ_NO_DATA;

  g_return_val_if_fail (out != NULL && form != NULL, MQ_NO_DATA);

  if (form->value)
    g_string_append_printf (out, "VA %" G_GSIZE_FORMAT, len);
  else
    g_string_append (out, "HD");
  append_returns (out, form, &item);
  g_string_append_len (out, "\r\n", 2);
  if (form->value)
    {
      at = out->len;
      if (data != NULL)
        g_string_append_len (out, data, (gssize) len);
      g_string_append_len (out, "\r\n", 2);
    }
  form->n_values++;
  return at;
}
