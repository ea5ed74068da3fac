/* record.h: how mqd lays out what it writes: messages, segment values, the
 * keys of its GDBM files and the saved state of its queues.
 *
 * Pure code, no I/O.  Every number is big-endian.
 *
 * Message record: a 32-byte header (payload length, memcache flags, created
 * and expiry times, the time it is due (delayed messages) and how often it
 * was given back) then the payload exactly as sent.  The same record
 * stands in a queue's young tail in memory, in a segment and in the
 * journal.
 *
 * Segment value: a 24-byte header (version, message count, the sequence
 * number of the first message, CRC-32C of the records) then the records of
 * consecutive messages of one queue.  Its key: queue name, a NUL byte, the
 * queue's incarnation and the first sequence number (8 bytes each).
 *
 * Keys that start with a NUL byte hold metadata: "\0C" the catalog (which
 * generation the file is, the next incarnation, how many chunks of queue
 * state follow), "\0M" and a 4-byte index a chunk of queue states.
 */
#pragma once

#include <glib.h>

#include "protocol.h"

#define MQ_MSG_HEADER_SIZE 32
#define MQ_SEGMENT_HEADER_SIZE 24
#define MQ_SEGMENT_VERSION 2
/* Names stored: a client's queue names, and the names of delay buckets
 * ("<queue>/d<level>.<start>", wheel.h), which no client can name. */
#define MQ_MAX_STORED_NAME (MQ_MAX_NAME + 32)
#define MQ_SEGMENT_KEY_MAX (MQ_MAX_STORED_NAME + 17)
#define MQ_META_KEY_MAX 6
#define MQ_INSTANCE_ID_SIZE 16

typedef struct {
  guint32 len;                    /* payload bytes */
  guint32 flags;                  /* memcache flags, returned as sent */
  gint64 created_ms;              /* wall clock, ms since the epoch */
  gint64 expires_ms;              /* 0: never */
  gint64 due_ms;                  /* not handed out before; 0: at once */
  guint16 deliveries;             /* times given back before */
} MqMsgHeader;

/* A message below its queue's head that is still stored: out on a
 * reliable read, or given back and handed out again before the head. */
typedef struct {
  guint64 seq;
  guint64 seg_start;              /* the first seq of its segment; 0 while
                                     it is in the queue's young tail */
  guint32 len;                    /* its payload length */
  guint16 deliveries;             /* times given back */
  gboolean open;                  /* out on a read, not given back */
} MqHeld;

/* What a queue saves besides its messages. */
typedef struct {
  guint64 inc;                    /* incarnation: new when a name is reused */
  guint64 head;                   /* next sequence number to hand out */
  guint64 tail;                   /* next sequence number to store */
  guint64 head_seg;               /* first seq of the segment holding head */
  guint64 enqueued;
  guint64 dequeued;
  guint64 bytes;                  /* payload bytes of the waiting messages */
  guint64 expired;
  guint64 discarded;
} MqQueueMeta;

typedef struct {
  guint64 generation;             /* the checkpoint this file completes */
  guint64 next_inc;               /* the next queue incarnation */
  guint32 meta_chunks;            /* "\0M" chunks 0 .. meta_chunks-1 */
  guint64 queues;                 /* queue states in them */
  guint8 instance[MQ_INSTANCE_ID_SIZE];   /* made once with the directory */
} MqCatalog;

typedef enum {
  MQ_KEY_SEGMENT,
  MQ_KEY_CATALOG,
  MQ_KEY_META_CHUNK,
  MQ_KEY_UNKNOWN,
} MqKeyKind;

/* Inline: every message read or written goes through them several times,
 * and with the width known where they are called they compile to a few
 * instructions. */
static inline void
record_put_be (guint8 *out, guint64 value, guint width)
{
  for (guint i = 0; i < width; i++)
    out[i] = (guint8) (value >> (8 * (width - 1 - i)));
}

static inline guint64
record_get_be (const guint8 *in, guint width)
{
  guint64 value = 0;

  for (guint i = 0; i < width; i++)
    value = (value << 8) | in[i];
  return value;
}

/* A queue name as stored: a client's, or a delay bucket's.  The bucket's
 * level and start, and its queue's name length, when it is one. */
gboolean record_valid_name (const char *name, gsize len);
gboolean record_bucket_name (const char *name, gsize len, gsize *queue_len,
                             guint *level, gint64 *start);
/* out holds MQ_MAX_STORED_NAME + 1 bytes; returns the length. */
gsize record_bucket_name_make (char *out, const char *queue, gsize queue_len,
                               guint level, gint64 start);

void record_msg_encode (const MqMsgHeader *header,
                        guint8 out[MQ_MSG_HEADER_SIZE]);
/* FALSE unless in[0..avail) holds a whole record (header and payload). */
gboolean record_msg_decode (const guint8 *in, gsize avail,
                            MqMsgHeader *header);

void record_segment_header_encode (guint8 out[MQ_SEGMENT_HEADER_SIZE],
                                   guint64 first, guint32 count,
                                   guint32 crc);
gboolean record_segment_header_decode (const guint8 *in, gsize len,
                                       guint64 *first, guint32 *count,
                                       guint32 *crc);

/* out holds MQ_SEGMENT_KEY_MAX bytes; returns the key length. */
gsize record_segment_key (const char *name, gsize name_len, guint64 inc,
                          guint64 first, guint8 *out);
/* out holds MQ_META_KEY_MAX bytes; returns the key length. */
gsize record_catalog_key (guint8 *out);
gsize record_meta_chunk_key (guint32 index, guint8 *out);
/* Classifies a stored key; name points into key. */
MqKeyKind record_key_decode (const guint8 *key, gsize len, const char **name,
                             gsize *name_len, guint64 *inc, guint64 *first);

/* Appends one queue's state: its meta, its held messages and its young
 * tail as a segment value (tail_len 0: none). */
void record_queue_encode (GByteArray *out, const char *name, gsize name_len,
                          const MqQueueMeta *meta, const MqHeld *held,
                          guint n_held, const guint8 *tail, gsize tail_len);
/* Reads the queue state at in[0..len): its name and young tail (pointing
 * into in; *tail_len 0 when none), meta and held messages (appended to
 * held).  Returns the bytes it used, 0 when they do not make a queue
 * state.  A state of version 1 has no young tail. */
gsize record_queue_decode (const guint8 *in, gsize len, const char **name,
                           gsize *name_len, MqQueueMeta *meta, GArray *held,
                           const guint8 **tail, gsize *tail_len);

#define MQ_CATALOG_SIZE (1 + 8 + 8 + 4 + 8 + MQ_INSTANCE_ID_SIZE)
void record_catalog_encode (const MqCatalog *catalog,
                            guint8 out[MQ_CATALOG_SIZE]);
gboolean record_catalog_decode (const guint8 *in, gsize len,
                                MqCatalog *catalog);
