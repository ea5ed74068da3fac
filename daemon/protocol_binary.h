/* protocol_binary.h: the memcache binary protocol, requests to commands and
 * replies to responses.
 *
 * Pure code: no I/O, no globals.  A request is a 24-byte header (magic
 * 0x80, opcode, key length, extras length, data type, vbucket, total body
 * length, opaque, CAS), then the extras, the key and the value.  It parses
 * into the MqCommand the text protocol would give, with the binary framing
 * of its replies in cmd->form; the key's name and options point into the
 * caller's buffer.  Replies come from the command layer as text protocol
 * lines, the daemon's one vocabulary of outcomes (STORED, NOT_FOUND,
 * SERVER_ERROR ..., END), and are encoded here as the responses of the
 * request: magic 0x81, its opcode and opaque, a status.
 */
#pragma once

#include <glib.h>

#include "protocol.h"

#define MQ_BINARY_HEADER 24
#define MQ_BINARY_REQUEST 0x80
#define MQ_BINARY_RESPONSE 0x81

typedef enum {
  MQ_BINARY_OK = 0x0000,
  MQ_BINARY_NOT_FOUND = 0x0001,
  MQ_BINARY_INVALID = 0x0004,
  MQ_BINARY_TOO_LARGE = 0x0003,
  MQ_BINARY_NOT_STORED = 0x0005,
  MQ_BINARY_UNKNOWN_COMMAND = 0x0081,
  MQ_BINARY_NOT_SUPPORTED = 0x0083,
  MQ_BINARY_INTERNAL = 0x0084,
} MqBinaryStatus;

/* Parses the request at the start of buf[0..len).
 *
 * COMMAND: *consumed covers the header, the extras and the key; a set's
 * value, cmd->data_len bytes (cmd->data_end is 0), follows.
 * ERROR: answer *error (cmd->form says how; cmd->form.status, when not 0,
 * is the status), then skip cmd->data_len bytes after *consumed: the rest
 * of the request, so that the connection stays in step.
 * INCOMPLETE: read more; at most MQ_BINARY_HEADER + 255 + MQ_MAX_NAME
 * bytes are ever needed before an answer.
 * BAD_MAGIC: buf[0] is not 0x80, so where requests start is lost: answer
 * *error and close. */
MqParseStatus protocol_binary_parse (const char *buf, gsize len,
                                     MqCommand *cmd, gsize *consumed,
                                     const char **error);

/* The response to a reply line of the command layer, if any: a quiet
 * request's success, and END when a get gave a value, send nothing. */
void protocol_binary_append_line (GString *out, MqReplyForm *form,
                                  const char *line);
/* A get's hit: flags as extras, the key for GETK and GETKQ, cas as CAS;
 * data and the value returned as protocol_append_value's. */
gsize protocol_binary_append_value (GString *out, MqReplyForm *form,
                                    const char *key, gsize key_len,
                                    guint32 flags, const char *data, gsize len,
                                    guint64 cas);
/* stats: one response per "STAT <name> <value>\r\n" line of text. */
void protocol_binary_append_stats (GString *out, const MqReplyForm *form,
                                   const char *text, gsize len);
