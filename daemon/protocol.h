/* protocol.h: the memcache text protocol, bytes to commands and replies to bytes.
 *
 * Pure code: no I/O, no globals. The parser reads one command line from a
 * buffer and points into that buffer for names; the caller keeps the bytes
 * alive while it uses the command.
 */
#pragma once

#include <glib.h>

#include "mqshared.h"             /* MQ_MAX_NAME, MQ_MAX_LINE, MQ_MAX_KEYS */

typedef enum {
  MQ_CMD_NONE,                    /* an error that names no usable command */
  MQ_CMD_SET,
  MQ_CMD_GET,
  MQ_CMD_GETS,
  MQ_CMD_DELETE,
  MQ_CMD_FLUSH,
  MQ_CMD_FLUSH_ALL,
  MQ_CMD_STATS,
  MQ_CMD_VERSION,
  MQ_CMD_VERBOSITY,
  MQ_CMD_QUIT,
  MQ_CMD_SHUTDOWN,
} MqCommandType;

/* Options after a queue name on a get line (Kestrel's syntax: q/t=500/open). */
typedef enum {
  MQ_GET_OPEN = 1 << 0,
  MQ_GET_CLOSE = 1 << 1,
  MQ_GET_ABORT = 1 << 2,
  MQ_GET_PEEK = 1 << 3,
} MqGetOptions;

typedef struct {
  const char *name;               /* the key as sent starts with the name */
  gsize name_len;
  gsize key_len;                  /* the whole key, options included */
  gint64 timeout_ms;              /* -1: do not wait */
  guint options;                  /* MqGetOptions */
} MqGetKey;

typedef struct {
  MqCommandType type;
  gboolean noreply;
  /* set, delete, flush: the queue; stats, shutdown: the argument, or NULL */
  const char *name;
  gsize name_len;
  /* set */
  guint32 flags;
  gint64 exptime;
  gsize data_len;
  /* verbosity */
  guint level;
  /* get, gets */
  guint n_keys;
  MqGetKey keys[MQ_MAX_KEYS];
} MqCommand;

typedef enum {
  MQ_PARSE_INCOMPLETE,            /* no full line yet: read more */
  MQ_PARSE_COMMAND,               /* *cmd is a command */
  MQ_PARSE_ERROR,                 /* answer *error; a set's data still follows */
  MQ_PARSE_LINE_TOO_LONG,         /* no end of line within MQ_MAX_LINE: give up */
} MqParseStatus;

/* Parses the command line at the start of buf[0..len).  On COMMAND and ERROR,
 * *consumed is the length of the line with its "\n" (a "\r" before it is
 * optional, as in memcached).  On ERROR, *error is a static reply line without
 * "\r\n"; when the line was a set whose length could still be read,
 * cmd->type is MQ_CMD_SET and cmd->data_len tells how many bytes (plus "\r\n")
 * to skip so the connection stays in step. */
MqParseStatus protocol_parse (const char *buf, gsize len, MqCommand *cmd,
                              gsize *consumed, const char **error);

/* TRUE when name is a valid queue name: 1..MQ_MAX_NAME bytes, no whitespace,
 * control character or '/' (common/'s rule, the client's too). */
gboolean protocol_valid_name (const char *name, gsize len);

/* Replies, appended to out. */
void protocol_append_line (GString *out, const char *line);
void protocol_append_value (GString *out, const char *name, gsize name_len,
                            guint32 flags, const char *data, gsize len,
                            gboolean with_cas, guint64 cas);
void protocol_append_stat (GString *out, const char *key, const char *value);
void protocol_append_stat_printf (GString *out, const char *key,
                                  const char *format, ...) G_GNUC_PRINTF (3, 4);
