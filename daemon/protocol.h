/* protocol.h: the memcache text protocol, bytes to commands and replies to bytes.
 *
 * Pure code: no I/O, no globals. The parser reads one command line from a
 * buffer and points into that buffer for names; the caller keeps the bytes
 * alive while it uses the command.
 */
#pragma once

#include <glib.h>

#include "mqshared.h"             /* MQ_MAX_NAME, MQ_MAX_LINE, MQ_MAX_KEYS,
                                     MQ_MAX_DELAY_MS */
/* A set's length must fit gint64 and, on 32-bit hosts, gsize. */
#define MQ_MAX_DATA_LEN \
  ((guint64) G_MAXINT64 < (guint64) G_MAXSIZE ? (guint64) G_MAXINT64 \
                                              : (guint64) G_MAXSIZE)

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
  MQ_CMD_STORE_OTHER,             /* add, replace, append, prepend, cas:
                                     the data is read, nothing is stored */
  MQ_CMD_UPDATE,                  /* touch, incr, decr: a queue has no item
                                     to change in place */
  MQ_CMD_GAT,                     /* gat, gats: take nothing */
  MQ_CMD_NOOP,                    /* binary NOOP, meta mn */
  MQ_CMD_MONITOR,                 /* monitor <q> <ms> <max>: keys[0] opens
                                     up to count reads */
  MQ_CMD_CONFIRM,                 /* confirm <q> <n>: closes the oldest
                                     count reads of name */
  MQ_CMD_ABORT,                   /* abort <q> <n>: gives them back */
} MqCommandType;

/* Options after a queue name on a get line (Kestrel's syntax: q/t=500/open). */
typedef enum {
  MQ_GET_OPEN = 1 << 0,
  MQ_GET_CLOSE = 1 << 1,
  MQ_GET_ABORT = 1 << 2,
  MQ_GET_PEEK = 1 << 3,
  MQ_GET_TOUCH = 1 << 4,          /* extend the lease of this connection's
                                     open read; alone, or with lease= */
  MQ_GET_ID = 1 << 5,             /* the VALUE line ends with the message's
                                     stable id */
} MqGetOptions;

typedef struct {
  const char *name;               /* the key as sent starts with the name */
  gsize name_len;
  gsize key_len;                  /* the whole key, options included */
  gint64 timeout_ms;              /* -1: do not wait */
  gint64 lease_ms;                /* lease=, with /open or /touch: 1 to
                                     MQ_MAX_DELAY_MS; -1: none given */
  gint64 delay_ms;                /* delay=, with /abort: 0 to
                                     MQ_MAX_DELAY_MS; -1: none given */
  guint options;                  /* MqGetOptions */
} MqGetKey;

typedef enum {
  MQ_WIRE_TEXT,
  MQ_WIRE_BINARY,
  MQ_WIRE_META,                   /* mg, ms, md, mn on a text connection */
} MqWire;

/* How the replies of one command are framed.  Text needs nothing more; a
 * binary response echoes the request's opcode and opaque; a meta reply
 * returns the flags the command asked for.  Pointers are into the request,
 * valid while the command runs. */
typedef struct {
  MqWire wire;
  /* binary: the opcode; meta: the command's second letter (g, s, d, n) */
  guint8 opcode;
  gboolean quiet;                 /* binary ...Q opcodes, meta q: the usual
                                     outcome is not answered */
  const char *key;                /* the key as sent (binary GETK, meta k) */
  gsize key_len;
  /* binary */
  guint32 opaque;
  guint16 status;                 /* an error status the parser chose */
  /* meta */
  gboolean value;                 /* v: a hit sends the value */
  char returns[8];                /* k, O, f, s, c, t: in the order asked */
  guint8 n_returns;
  const char *token;              /* O's token */
  gsize token_len;
  /* counted as the command runs */
  guint n_values;                 /* values answered so far */
} MqReplyForm;

typedef struct {
  MqCommandType type;
  gboolean noreply;
  /* set, delete, flush: the queue; stats, shutdown: the argument, or NULL */
  const char *name;
  gsize name_len;
  /* set */
  guint32 flags;
  gint64 exptime;
  gint64 delay_ms;                /* the key's /delay=<ms>, 0 to
                                     MQ_MAX_DELAY_MS; -1: none given */
  gsize data_len;
  guint8 data_end;                /* bytes after the data: "\r\n" on a line */
  /* verbosity */
  guint level;
  /* monitor: most reads to open; confirm, abort: reads to end */
  guint count;
  /* get, gets; stats queue <name>: the queue */
  guint n_keys;
  MqGetKey keys[MQ_MAX_KEYS];
  MqReplyForm form;
} MqCommand;

typedef enum {
  MQ_PARSE_INCOMPLETE,            /* no full request yet: read more */
  MQ_PARSE_COMMAND,               /* *cmd is a command */
  MQ_PARSE_ERROR,                 /* answer *error, skip the data that follows */
  MQ_PARSE_LINE_TOO_LONG,         /* no end of line within MQ_MAX_LINE: give up */
  MQ_PARSE_BAD_MAGIC,             /* binary: not a request header: give up */
} MqParseStatus;

/* TRUE for the commands followed by a data block: set, and the storage
 * commands mqd reads but does not carry out. */
static inline gboolean
protocol_takes_data (const MqCommand *cmd)
{
  return cmd->type == MQ_CMD_SET || cmd->type == MQ_CMD_STORE_OTHER;
}

/* TRUE when name is a valid queue name: 1..MQ_MAX_NAME bytes, no whitespace,
 * control character or '/' (common/'s rule, the client's too). */
gboolean protocol_valid_name (const char *name, gsize len);

/* ---- pieces the binary and meta parsers share ---- */

#define MQ_MAX_TOKENS (MQ_MAX_KEYS + 1)   /* a get's word and its keys */

typedef struct {
  const char *p;
  gsize len;
} MqToken;

/* The words of a line; past MQ_MAX_TOKENS they are only counted. */
typedef struct {
  MqToken tok[MQ_MAX_TOKENS];
  guint n;
} MqTokens;

/* A command that says nothing yet, framed as text. */
void protocol_command_reset (MqCommand *cmd);
void protocol_tokenize (const char *p, gsize len, MqTokens *t);
gboolean protocol_token_is (const MqToken *t, const char *word);
/* Plain decimal digits up to max: no sign, no space, no empty, no overflow. */
gboolean protocol_parse_uint (const char *p, gsize len, guint64 max,
                              guint64 *out);
/* As protocol_parse_uint, with an optional leading '-', over all of gint64. */
gboolean protocol_parse_int64 (const char *p, gsize len, gint64 *out);
/* NULL for a valid queue name, else the error reply. */
const char *protocol_check_name (const char *name, gsize len);
/* One get key, name[/option]...: NULL, or the error reply. */
const char *protocol_parse_get_key (const char *p, gsize len, MqGetKey *key);
/* A set's key, name[/delay=<ms>], into cmd's name and delay_ms: NULL, or
 * the error reply. */
const char *protocol_parse_set_key (const char *p, gsize len, MqCommand *cmd);

/* Replies, appended to out. */
void protocol_append_line (GString *out, const char *line);
/* A value reply returns where in out its data goes: with data NULL (and
 * len > 0) the data is left out, for the caller to send from where it is;
 * MQ_NO_DATA when the reply carries none (meta's mg without v).  id, when
 * not NULL, ends the VALUE line (the get option /id). */
#define MQ_NO_DATA G_MAXSIZE
gsize protocol_append_value (GString *out, const char *name, gsize name_len,
                             guint32 flags, const char *data, gsize len,
                             gboolean with_cas, guint64 cas, const char *id);
void protocol_append_stat (GString *out, const char *key, const char *value);
void protocol_append_stat_printf (GString *out, const char *key,
                                  const char *format, ...) G_GNUC_PRINTF (3, 4);
