/* record.h: how a message and a queue's counters are laid out in GDBM.
 *
 * Pure code, no I/O.  Item key: queue name, a NUL byte, the sequence number
 * as 8 big-endian bytes.  Item value: a versioned header, then the payload
 * exactly as sent.  Keys that start with a NUL byte hold metadata: "\0Q" and
 * the queue name hold that queue's counters.
 */
#pragma once

#include <glib.h>

#define MQ_RECORD_VERSION 1
#define MQ_RECORD_HEADER_SIZE 24
#define MQ_META_VERSION 1
#define MQ_META_SIZE (1 + 7 * 8)

typedef struct {
  guint16 deliveries;             /* times handed out and given back */
  guint32 flags;                  /* memcache flags, returned as sent */
  gint64 created_ms;              /* wall clock, ms since the epoch */
  gint64 expires_ms;              /* 0: never */
} MqRecordHeader;

/* What survives a restart of one queue besides its items. */
typedef struct {
  guint64 head;                   /* next sequence number to hand out */
  guint64 tail;                   /* next sequence number to store */
  guint64 enqueued;
  guint64 dequeued;
  guint64 bytes;                  /* payload bytes of the items in the queue */
  guint64 expired;
  guint64 discarded;
} MqQueueMeta;

/* Big-endian integers of width bytes (at most 8), the layout of every
 * number mqd writes to disk. */
void record_put_be (guint8 *out, guint64 value, guint width);
guint64 record_get_be (const guint8 *in, guint width);

void record_header_encode (const MqRecordHeader *header,
                           guint8 out[MQ_RECORD_HEADER_SIZE]);
gboolean record_header_decode (const guint8 *in, gsize len,
                               MqRecordHeader *header);

/* out must hold name_len + 9 bytes; returns the key length. */
gsize record_item_key (const char *name, gsize name_len, guint64 seq,
                       guint8 *out);
/* out must hold name_len + 2 bytes; returns the key length. */
gsize record_meta_key (const char *name, gsize name_len, guint8 *out);

typedef enum {
  MQ_KEY_ITEM,
  MQ_KEY_META,
  MQ_KEY_UNKNOWN,
} MqKeyKind;

/* Classifies a stored key; name points into key. */
MqKeyKind record_key_decode (const guint8 *key, gsize len,
                             const char **name, gsize *name_len,
                             guint64 *seq);

void record_meta_encode (const MqQueueMeta *meta, guint8 out[MQ_META_SIZE]);
gboolean record_meta_decode (const guint8 *in, gsize len, MqQueueMeta *meta);
