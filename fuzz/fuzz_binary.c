/* fuzz_binary.c: the binary half of the protocol harness.  As the daemon
 * does, fuzz_protocol.c hands it every stream whose first byte is 0x80.
 *
 * It walks the stream as conn.c walks a binary connection: parse a
 * request, read a set's value (or skip it when refused), skip the rest of a
 * refused request, go on; stop on "need more bytes" or a bad magic byte.
 * On every step it checks what the daemon relies on:
 *
 *   - a command consumed its header, extras and key, as its header says,
 *     and a set's value is the rest of its body; a refused request is
 *     skipped to the end of its body, whatever the error: the next request
 *     is where the header says;
 *   - INCOMPLETE only while the header, extras or key are not all there;
 *     BAD_MAGIC only when the first byte is not 0x80;
 *   - names and keys point into the key and are valid queue names; a get
 *     has one key, whose options parse as the text protocol's;
 *   - the request parsed alone, in an exact-size copy (as conn_wake parses
 *     a blocked get again), gives the same command;
 *   - every reply line the command layer may give, and a value, encode to
 *     responses that frame themselves: magic 0x81, the request's opcode
 *     and opaque, lengths that add up to the bytes written.
 */
#include <string.h>

#include "fuzz.h"
#include "protocol_binary.h"

/* A big-endian number of width bytes, read as the daemon does not. */
static guint64
be (const char *p, guint width)
{
  guint8 b[8] = { 0 };
  guint64 v;

  memcpy (b + 8 - width, p, width);
  memcpy (&v, b, sizeof v);
  return GUINT64_FROM_BE (v);
}

/* The responses in out frame themselves and answer form's request. */
static void
check_responses (const GString *out, const MqReplyForm *form)
{
  for (gsize at = 0; at < out->len;)
    {
      const char *h = out->str + at;
      guint64 body;

      CHECK (out->len - at >= MQ_BINARY_HEADER, "a response cut at %zu", at);
      body = be (h + 8, 4);
      CHECK ((guchar) h[0] == MQ_BINARY_RESPONSE, "magic %#x", h[0]);
      CHECK ((guchar) h[1] == form->opcode, "opcode %#x for %#x",
             (guchar) h[1], form->opcode);
      CHECK (be (h + 12, 4) == form->opaque, "opaque not echoed");
      CHECK (be (h + 2, 2) + (guchar) h[4] <= body, "key and extras over "
             "the body");
      CHECK (body <= out->len - at - MQ_BINARY_HEADER, "body of %"
             G_GUINT64_FORMAT " past the end", body);
      at += MQ_BINARY_HEADER + body;
    }
}

static void
check_replies (const MqCommand *cmd, const char *error)
{
  static const char *const lines[] = {
    "STORED", "NOT_STORED", "DELETED", "NOT_FOUND", "OK", "VERSION 1.0.0",
    "ERROR", "CLIENT_ERROR bad data chunk", "SERVER_ERROR disk full",
    "SERVER_ERROR object too large for cache", "END",
  };
  static const char stats[] = "STAT pid 1\r\nSTAT a b c\r\n";
  GString *out = g_string_new (NULL);
  MqReplyForm form = cmd->form;

  if (error != NULL)
    protocol_binary_append_line (out, &form, error);
  for (gsize i = 0; error == NULL && i < G_N_ELEMENTS (lines); i++)
    protocol_binary_append_line (out, &form, lines[i]);
  if (error == NULL && cmd->type == MQ_CMD_GET)
    {
      protocol_binary_append_value (out, &form, cmd->keys[0].name,
                                    cmd->keys[0].key_len, 7, "v\r\n", 3, 9);
      protocol_binary_append_line (out, &form, "END");
    }
  if (error == NULL && cmd->type == MQ_CMD_STATS)
    protocol_binary_append_stats (out, &form, stats, sizeof stats - 1);
  check_responses (out, &form);
  g_string_free (out, TRUE);
}

static void
check_command (const MqCommand *cmd, const char *buf, gsize head)
{
  const char *key = buf + MQ_BINARY_HEADER + (guchar) buf[4];
  gsize key_len = (gsize) be (buf + 2, 2);

  CHECK (cmd->form.wire == MQ_WIRE_BINARY, "wire %d", cmd->form.wire);
  CHECK (cmd->form.opcode == (guchar) buf[1], "opcode");
  CHECK (cmd->form.opaque == be (buf + 12, 4), "opaque");
  CHECK (!cmd->noreply && cmd->data_end == 0, "text framing on binary");
  CHECK (key + key_len == buf + head, "key not at the end of the head");
  switch (cmd->type)
    {
    case MQ_CMD_GET:
      CHECK (cmd->n_keys == 1, "%u keys", cmd->n_keys);
      CHECK (cmd->keys[0].name == key && cmd->keys[0].key_len == key_len,
             "the get key is not the request's key");
      CHECK (protocol_valid_name (cmd->keys[0].name, cmd->keys[0].name_len),
             "invalid name accepted");
      break;
    case MQ_CMD_SET:
      /* The key is the name, or the name and /delay=<ms>. */
      CHECK (cmd->name == key && (cmd->name_len == key_len)
             == (cmd->delay_ms == -1), "set name");
      CHECK (cmd->name_len == key_len || key[cmd->name_len] == '/',
             "set name");
      CHECK (protocol_valid_name (cmd->name, cmd->name_len),
             "invalid name accepted");
      break;
    case MQ_CMD_DELETE:
      CHECK (cmd->name == key && cmd->name_len == key_len, "name");
      CHECK (protocol_valid_name (cmd->name, cmd->name_len),
             "invalid name accepted");
      break;
    case MQ_CMD_STATS:
    case MQ_CMD_FLUSH_ALL:
    case MQ_CMD_NOOP:
    case MQ_CMD_VERSION:
    case MQ_CMD_QUIT:
      CHECK (cmd->n_keys == 0, "keys on a %d", cmd->type);
      break;
    default:
      CHECK (0, "command type %d from binary", cmd->type);
    }
}

/* The request parsed alone gives the same command. */
static void
check_alone (const char *buf, gsize head, const MqCommand *cmd)
{
  char *copy = g_memdup2 (buf, head);
  MqCommand *again = g_new (MqCommand, 1);
  const char *error;
  gsize consumed;

  CHECK (protocol_binary_parse (copy, head, again, &consumed, &error)
         == MQ_PARSE_COMMAND && consumed == head, "not a command alone");
  CHECK (again->type == cmd->type && again->data_len == cmd->data_len
         && again->flags == cmd->flags && again->exptime == cmd->exptime
         && again->delay_ms == cmd->delay_ms
         && again->form.quiet == cmd->form.quiet
         && again->n_keys == cmd->n_keys
         && (cmd->n_keys == 0
             || (again->keys[0].options == cmd->keys[0].options
                 && again->keys[0].timeout_ms == cmd->keys[0].timeout_ms
                 && again->keys[0].lease_ms == cmd->keys[0].lease_ms
                 && again->keys[0].delay_ms == cmd->keys[0].delay_ms)),
         "parsed alone differently");
  g_free (again);
  g_free (copy);
}

gsize
process_binary (Stream *s, const char *buf, gsize len, gsize base)
{
  MqCommand *cmd = g_new (MqCommand, 1);
  gsize done = 0;

  while (done < len && !s->closed)
    {
      const char *req = buf + done;
      gsize left = len - done, consumed = 0, whole;
      const char *error = NULL;
      MqParseStatus status;

      if (s->swallow > 0)
        {
          gsize n = (gsize) MIN ((guint64) left, s->swallow);

          s->swallow -= n;
          done += n;
          continue;
        }
      memset (cmd, 0xa5, sizeof *cmd);
      status = protocol_binary_parse (req, left, cmd, &consumed, &error);
      if (status == MQ_PARSE_BAD_MAGIC)
        {
          CHECK ((guchar) req[0] != MQ_BINARY_REQUEST && consumed == 0,
                 "bad magic on %#x", (guchar) req[0]);
          log_event (s->log, "bad-magic", NULL, error, base + done);
          s->closed = TRUE;
          break;
        }
      whole = left >= MQ_BINARY_HEADER
        ? MQ_BINARY_HEADER + (gsize) be (req + 8, 4) : 0;
      if (status == MQ_PARSE_INCOMPLETE)
        {
          CHECK (left < MQ_BINARY_HEADER + 255 + MQ_MAX_NAME,
                 "INCOMPLETE with %zu bytes", left);
          CHECK (consumed == 0 && error == NULL, "INCOMPLETE says more");
          break;
        }
      CHECK (consumed >= MQ_BINARY_HEADER && consumed <= left,
             "consumed %zu of %zu", consumed, left);
      if (status == MQ_PARSE_ERROR)
        {
          CHECK (error != NULL && (strcmp (error, "ERROR") == 0
                                   || g_str_has_prefix (error,
                                                        "CLIENT_ERROR ")),
                 "error reply %s", error ? error : "(none)");
          CHECK (consumed + cmd->data_len == whole,
                 "an error skips to %zu, the request ends at %zu",
                 consumed + cmd->data_len, whole);
          check_replies (cmd, error);
          log_event (s->log, "error", cmd, error, base + done);
          s->swallow = cmd->data_len;
          done += consumed;
          continue;
        }
      CHECK (status == MQ_PARSE_COMMAND && error == NULL, "status %d",
             status);
      CHECK (consumed + cmd->data_len == whole,
             "a command's head and value are %zu, the request %zu",
             consumed + cmd->data_len, whole);
      CHECK (cmd->data_len == 0 || cmd->type == MQ_CMD_SET,
             "a value on a %d", cmd->type);
      check_command (cmd, req, consumed);
      check_alone (req, consumed, cmd);
      check_replies (cmd, NULL);
      if (cmd->data_len > FUZZ_MAX_MESSAGE)
        {
          log_event (s->log, "too-large", cmd, NULL, base + done);
          s->swallow = cmd->data_len;
          done += consumed;
          continue;
        }
      if (left - consumed < cmd->data_len)
        break;                    /* the value is not all there yet */
      log_event (s->log, "run", cmd, NULL, base + done);
      done += consumed + cmd->data_len;
    }
  g_free (cmd);
  return done;
}
