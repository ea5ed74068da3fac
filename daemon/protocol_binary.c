/* protocol_binary.c: the memcache binary protocol; see protocol_binary.h.
 *
 * A header's lengths are checked against each other and against its opcode
 * before any byte of the body is looked at, so a request that cannot be
 * served is answered and skipped as a whole, as its total body length
 * says: the connection stays in step whatever the body holds.
 */
#include "config.h"

#include <string.h>

#include "protocol_binary.h"

#define ERR_MAGIC "CLIENT_ERROR not a binary request (magic byte)"
#define ERR_BODY "CLIENT_ERROR total body length under extras and key length"
#define ERR_EXTRAS "CLIENT_ERROR wrong extras length"
#define ERR_NO_KEY "CLIENT_ERROR a key is needed"
#define ERR_KEY "CLIENT_ERROR no key expected"
#define ERR_VALUE "CLIENT_ERROR no value expected"
#define ERR_NAME_LONG "CLIENT_ERROR queue name too long"
#define ERR_CAS "CLIENT_ERROR compare and swap is not supported"
#define ERR_NOT_SUPPORTED "CLIENT_ERROR not supported"
#define ERR_UNKNOWN "ERROR"

typedef enum {
  KEY_NONE,
  KEY_OPTIONAL,
  KEY_REQUIRED,
} KeyRule;

typedef struct {
  guint8 opcode;
  MqCommandType type;
  guint8 extras;                  /* the extras length it must have, */
  guint8 extras_alt;              /* or this one */
  KeyRule key;
  gboolean value;
  gboolean quiet;
  gboolean with_key;
} Opcode;

static const Opcode opcodes[] = {
  { 0x00, MQ_CMD_GET, 0, 0, KEY_REQUIRED, FALSE, FALSE, FALSE },  /* GET */
  { 0x09, MQ_CMD_GET, 0, 0, KEY_REQUIRED, FALSE, TRUE, FALSE },   /* GETQ */
  { 0x0c, MQ_CMD_GET, 0, 0, KEY_REQUIRED, FALSE, FALSE, TRUE },   /* GETK */
  { 0x0d, MQ_CMD_GET, 0, 0, KEY_REQUIRED, FALSE, TRUE, TRUE },    /* GETKQ */
  { 0x01, MQ_CMD_SET, 8, 8, KEY_REQUIRED, TRUE, FALSE, FALSE },   /* SET */
  { 0x11, MQ_CMD_SET, 8, 8, KEY_REQUIRED, TRUE, TRUE, FALSE },    /* SETQ */
  { 0x04, MQ_CMD_DELETE, 0, 0, KEY_REQUIRED, FALSE, FALSE, FALSE },
  { 0x14, MQ_CMD_DELETE, 0, 0, KEY_REQUIRED, FALSE, TRUE, FALSE },
  { 0x08, MQ_CMD_FLUSH_ALL, 0, 4, KEY_NONE, FALSE, FALSE, FALSE },
  { 0x18, MQ_CMD_FLUSH_ALL, 0, 4, KEY_NONE, FALSE, TRUE, FALSE },
  { 0x0a, MQ_CMD_NOOP, 0, 0, KEY_NONE, FALSE, FALSE, FALSE },
  { 0x0b, MQ_CMD_VERSION, 0, 0, KEY_NONE, FALSE, FALSE, FALSE },
  { 0x10, MQ_CMD_STATS, 0, 0, KEY_OPTIONAL, FALSE, FALSE, FALSE },
  { 0x07, MQ_CMD_QUIT, 0, 0, KEY_NONE, FALSE, FALSE, FALSE },
  { 0x17, MQ_CMD_QUIT, 0, 0, KEY_NONE, FALSE, TRUE, FALSE },
};

/* The protocol's other commands: ADD, REPLACE, INCR, DECR, APPEND,
 * PREPEND and their quiet forms, VERBOSITY, TOUCH, GAT, GATQ, the SASL
 * steps, GATK, GATKQ; then the range commands, 0x30 to 0x3c. */
static const guint8 not_supported[] = {
  0x02, 0x03, 0x05, 0x06, 0x0e, 0x0f, 0x12, 0x13, 0x15, 0x16, 0x19, 0x1a,
  0x1b, 0x1c, 0x1d, 0x1e, 0x20, 0x21, 0x22, 0x23, 0x24,
};
#define RANGE_FIRST 0x30
#define RANGE_LAST 0x3c

typedef struct {
  guint8 opcode;
  guint8 extras_len;
  guint16 key_len;
  guint32 body_len;
  guint32 opaque;
  guint64 cas;
} Header;

static guint64
get_be (const char *p, guint width)
{
  guint64 v = 0;

  for (guint i = 0; i < width; i++)
    v = v << 8 | (guchar) p[i];
  return v;
}

static void
put_be (char *p, guint64 v, guint width)
{
  for (guint i = width; i-- > 0; v >>= 8)
    p[i] = (char) (v & 0xff);
}

static const Opcode *
find_opcode (guint8 opcode)
{
  for (gsize i = 0; i < G_N_ELEMENTS (opcodes); i++)
    if (opcodes[i].opcode == opcode)
      return &opcodes[i];
  return NULL;
}

static gboolean
sends_key (const MqReplyForm *form)
{
  const Opcode *op = find_opcode (form->opcode);

  return op != NULL && op->with_key;
}

static gboolean
is_not_supported (guint8 opcode)
{
  if (opcode >= RANGE_FIRST && opcode <= RANGE_LAST)
    return TRUE;
  return memchr (not_supported, opcode, sizeof not_supported) != NULL;
}

/* ---- requests ---- */

static void
read_header (const char *buf, Header *h)
{
  h->opcode = (guint8) buf[1];
  h->key_len = (guint16) get_be (buf + 2, 2);
  h->extras_len = (guint8) buf[4];
  /* buf[5], the data type, has one value (raw bytes); the vbucket at
   * buf[6] means nothing on one machine. */
  h->body_len = (guint32) get_be (buf + 8, 4);
  h->opaque = (guint32) get_be (buf + 12, 4);
  h->cas = get_be (buf + 16, 8);
}

/* What the header alone says is wrong, or NULL; *op is its opcode's. */
static const char *
check_header (const Header *h, const Opcode **op, MqReplyForm *form)
{
  if ((guint32) h->extras_len + h->key_len > h->body_len)
    return ERR_BODY;
  *op = find_opcode (h->opcode);
  if (*op == NULL && is_not_supported (h->opcode))
    form->status = MQ_BINARY_NOT_SUPPORTED;
  if (*op == NULL)
    return form->status ? ERR_NOT_SUPPORTED : ERR_UNKNOWN;
  if (h->extras_len != (*op)->extras && h->extras_len != (*op)->extras_alt)
    return ERR_EXTRAS;
  if (h->key_len == 0 && (*op)->key == KEY_REQUIRED)
    return ERR_NO_KEY;
  if (h->key_len > 0 && (*op)->key == KEY_NONE)
    return ERR_KEY;
  if (h->key_len > MQ_MAX_NAME)
    return ERR_NAME_LONG;
  if (!(*op)->value && h->body_len > (guint32) h->extras_len + h->key_len)
    return ERR_VALUE;
  /* A queue has no item to compare: refused rather than stored anyway. */
  if (h->cas != 0 && ((*op)->type == MQ_CMD_SET
                      || (*op)->type == MQ_CMD_DELETE))
    {
      form->status = MQ_BINARY_NOT_SUPPORTED;
      return ERR_CAS;
    }
  return NULL;
}

/* The command of a request whose header is good; NULL, or the error. */
static const char *
take_request (const Opcode *op, const Header *h, const char *extras,
              MqCommand *cmd)
{
  const char *key = extras + h->extras_len;

  cmd->type = op->type;
  cmd->form.quiet = op->quiet;
  cmd->form.key = key;
  cmd->form.key_len = h->key_len;
  switch (op->type)
    {
    case MQ_CMD_GET:
      cmd->n_keys = 1;
      return protocol_parse_get_key (key, h->key_len, &cmd->keys[0]);
    case MQ_CMD_SET:
      cmd->flags = (guint32) get_be (extras, 4);
      cmd->exptime = (gint64) get_be (extras + 4, 4);
      cmd->data_len = h->body_len - h->extras_len - h->key_len;
      return protocol_parse_set_key (key, h->key_len, cmd);
    case MQ_CMD_DELETE:
      cmd->name = key;
      cmd->name_len = h->key_len;
      return protocol_check_name (key, h->key_len);
    case MQ_CMD_STATS:
      cmd->name = h->key_len > 0 ? key : NULL;
      cmd->name_len = h->key_len;
      return NULL;
    default:
      return NULL;
    }
}

MqParseStatus
protocol_binary_parse (const char *buf, gsize len, MqCommand *cmd,
                       gsize *consumed, const char **error)
{
  const Opcode *op = NULL;
  Header h;
  gsize head;

  g_return_val_if_fail (buf != NULL || len == 0, MQ_PARSE_INCOMPLETE);
  g_return_val_if_fail (cmd != NULL, MQ_PARSE_INCOMPLETE);
  g_return_val_if_fail (consumed != NULL, MQ_PARSE_INCOMPLETE);
  g_return_val_if_fail (error != NULL, MQ_PARSE_INCOMPLETE);

  protocol_command_reset (cmd);
  cmd->form.wire = MQ_WIRE_BINARY;
  *consumed = 0;
  *error = NULL;
  if (len > 0 && (guchar) buf[0] != MQ_BINARY_REQUEST)
    {
      *error = ERR_MAGIC;
      return MQ_PARSE_BAD_MAGIC;
    }
  if (len < MQ_BINARY_HEADER)
    return MQ_PARSE_INCOMPLETE;
  read_header (buf, &h);
  cmd->form.opcode = h.opcode;
  cmd->form.opaque = h.opaque;
  *error = check_header (&h, &op, &cmd->form);
  if (*error != NULL)
    {
      *consumed = MQ_BINARY_HEADER;
      cmd->data_len = h.body_len;
      return MQ_PARSE_ERROR;
    }
  head = MQ_BINARY_HEADER + h.extras_len + h.key_len;
  if (len < head)
    return MQ_PARSE_INCOMPLETE;
  *consumed = head;
  *error = take_request (op, &h, buf + MQ_BINARY_HEADER, cmd);
  if (*error == NULL)
    return MQ_PARSE_COMMAND;
  cmd->type = MQ_CMD_NONE;
  cmd->n_keys = 0;
  cmd->data_len = h.body_len - (head - MQ_BINARY_HEADER);
  return MQ_PARSE_ERROR;
}

/* ---- responses ---- */

static void
append_response (GString *out, const MqReplyForm *form, guint16 status,
                 const char *key, gsize key_len, const char *extras,
                 gsize extras_len, const char *value, gsize value_len,
                 guint64 cas)
{
  char h[MQ_BINARY_HEADER] = { (char) MQ_BINARY_RESPONSE,
                               (char) form->opcode };

  put_be (h + 2, key_len, 2);
  h[4] = (char) extras_len;
  put_be (h + 6, status, 2);
  put_be (h + 8, extras_len + key_len + value_len, 4);
  put_be (h + 12, form->opaque, 4);
  put_be (h + 16, cas, 8);
  g_string_append_len (out, h, sizeof h);
  g_string_append_len (out, extras, (gssize) extras_len);
  g_string_append_len (out, key, (gssize) key_len);
  if (value != NULL)
    g_string_append_len (out, value, (gssize) value_len);
}

static void
append_status (GString *out, const MqReplyForm *form, guint16 status,
               const char *text)
{
  append_response (out, form, status, NULL, 0, NULL, 0, text, strlen (text),
                   0);
}

/* The command layer's reply lines; a line ending in a space is a prefix,
 * and the rest of the line is the response's value. */
static const struct {
  const char *line;
  guint16 status;
  const char *text;
} outcomes[] = {
  { "STORED", MQ_BINARY_OK, "" },
  { "DELETED", MQ_BINARY_OK, "" },
  { "OK", MQ_BINARY_OK, "" },
  { "VERSION ", MQ_BINARY_OK, NULL },
  { "NOT_STORED", MQ_BINARY_NOT_STORED, "Not stored" },
  { "NOT_FOUND", MQ_BINARY_NOT_FOUND, "Not found" },
  { "ERROR", MQ_BINARY_UNKNOWN_COMMAND, "Unknown command" },
  { "SERVER_ERROR object too large for cache", MQ_BINARY_TOO_LARGE,
    "Too large" },
  { "CLIENT_ERROR ", MQ_BINARY_INVALID, NULL },
  { "SERVER_ERROR ", MQ_BINARY_INTERNAL, NULL },
};

static guint16
line_status (const char *line, const char **text)
{
  for (gsize i = 0; i < G_N_ELEMENTS (outcomes); i++)
    {
      gsize n = strlen (outcomes[i].line);

      if (outcomes[i].text != NULL ? strcmp (line, outcomes[i].line) == 0
          : strncmp (line, outcomes[i].line, n) == 0)
        {
          *text = outcomes[i].text != NULL ? outcomes[i].text : line + n;
          return outcomes[i].status;
        }
    }
  *text = line;
  g_return_val_if_reached (MQ_BINARY_INTERNAL);
}

/* END closes a get (a miss, unless it gave a value) and the stats. */
static void
append_end (GString *out, const MqReplyForm *form)
{
  const Opcode *op = find_opcode (form->opcode);

  if (op == NULL)
    return;
  if (op->type == MQ_CMD_STATS)
    append_status (out, form, MQ_BINARY_OK, "");
  if (op->type != MQ_CMD_GET || form->n_values > 0 || form->quiet)
    return;
  if (op->with_key)
    append_response (out, form, MQ_BINARY_NOT_FOUND, form->key, form->key_len,
                     NULL, 0, NULL, 0, 0);
  else
    append_status (out, form, MQ_BINARY_NOT_FOUND, "Not found");
}

void
protocol_binary_append_line (GString *out, MqReplyForm *form,
                             const char *line)
{
  const char *text = NULL;
  guint16 status;

  g_return_if_fail (out != NULL && form != NULL && line != NULL);

  if (strcmp (line, "END") == 0)
    {
      append_end (out, form);
      return;
    }
  status = line_status (line, &text);
  if (form->status != 0)
    status = form->status;
  if (status == MQ_BINARY_OK && form->quiet)
    return;
  append_status (out, form, status, text);
}

gsize
protocol_binary_append_value (GString *out, MqReplyForm *form,
                              const char *key, gsize key_len, guint32 flags,
                              const char *data, gsize len, guint64 cas)
{
  char extras[4];

  g_return_val_if_fail (out != NULL && form != NULL, MQ_NO_DATA);
  g_return_val_if_fail (key != NULL || key_len == 0, MQ_NO_DATA);

  put_be (extras, flags, 4);
  append_response (out, form, MQ_BINARY_OK, key,
                   sends_key (form) ? key_len : 0, extras, sizeof extras,
                   data, len, cas);
  form->n_values++;
  /* The value ends the response. */
  return data != NULL ? out->len - len : out->len;
}

void
protocol_binary_append_stats (GString *out, const MqReplyForm *form,
                              const char *text, gsize len)
{
  const char *p = text, *end = text + len;

  g_return_if_fail (out != NULL && form != NULL);
  g_return_if_fail (text != NULL || len == 0);

  while (p < end)
    {
      const char *eol = memchr (p, '\n', (gsize) (end - p));
      const char *name = p + strlen ("STAT ");
      const char *space;

      g_return_if_fail (eol != NULL && eol - p > 6 && eol[-1] == '\r'
                        && memcmp (p, "STAT ", 5) == 0);
      space = memchr (name, ' ', (gsize) (eol - name));
      g_return_if_fail (space != NULL);
      append_response (out, form, MQ_BINARY_OK, name, (gsize) (space - name),
                       NULL, 0, space + 1, (gsize) (eol - 1 - space - 1), 0);
      p = eol + 1;
    }
}
