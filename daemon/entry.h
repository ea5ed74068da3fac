/* entry.h: what a journal entry says: one change to one queue.
 *
 * Body: op (1 byte), the queue name's length (2 bytes) and the name, then
 * what the op needs:
 *   CREATE  incarnation (8)             a queue is named for good
 *   PUSH    seq (8), message record     a message stored at the tail
 *   TAKE    seq (8), how (1), length (4), deliveries (2)
 *                                       a message leaves the waiting line
 *   CLOSE   seq (8)                     a reliable read closed: gone
 *   ABORT   seq (8)                     a reliable read given back
 *   BURY    seq (8)                     a given-back message moved away
 *                                       (to its dead-letter queue)
 *   REFUSE                              a fanout copy its limits refused,
 *                                       counted as discarded
 *   RETRY   seq (8)                     a read given back for later: moved
 *                                       to a delay bucket (wheel.h)
 *   MOVE    as PUSH                     a message stored at the tail that
 *                                       was counted already: into a delay
 *                                       bucket, or out of one
 *   FLUSH                               every waiting message dropped
 *   DROP                                the queue deleted
 *   END     (no name)                   the journal continues in the next
 * Replaying the entries in order through the same queue code that made
 * them rebuilds the queues exactly, so no entry needs to read a message
 * back except where the queue code itself does.
 */
#pragma once

#include <glib.h>

#include "journal.h"
#include "record.h"

typedef enum {
  MQ_ENTRY_CREATE = 1,
  MQ_ENTRY_PUSH,
  MQ_ENTRY_TAKE,
  MQ_ENTRY_CLOSE,
  MQ_ENTRY_ABORT,
  MQ_ENTRY_BURY,
  MQ_ENTRY_FLUSH,
  MQ_ENTRY_DROP,
  MQ_ENTRY_END,
  MQ_ENTRY_REFUSE,
  MQ_ENTRY_RETRY,
  MQ_ENTRY_MOVE,
} MqEntryOp;

/* How a TAKE hands the message out. */
typedef enum {
  MQ_TAKE_POP = 1,                /* a plain get: dequeued */
  MQ_TAKE_OPEN,                   /* a reliable read: held until closed */
  MQ_TAKE_DISCARD,                /* dropped to make room */
  MQ_TAKE_EXPIRE,                 /* its time was up */
  MQ_TAKE_MOVE,                   /* out of a delay bucket, due or closer */
} MqTakeMode;

typedef struct {
  MqEntryOp op;
  const char *name;               /* points into the body */
  gsize name_len;
  guint64 seq;                    /* PUSH..BURY */
  guint64 inc;                    /* CREATE */
  MqTakeMode mode;                /* TAKE */
  guint32 len;                    /* TAKE: the message's payload length */
  guint16 deliveries;             /* TAKE: the message's delivery count */
  MqMsgHeader header;             /* PUSH, MOVE */
  const guint8 *payload;          /* PUSH, MOVE: into the body */
} MqEntry;

/* Appends the entry to journal's buffer. */
void entry_put (MqJournal *journal, const MqEntry *entry);
/* FALSE when body is not a whole entry of a known kind. */
gboolean entry_decode (const guint8 *body, gsize len, MqEntry *entry);
/* PUSH and MOVE carry a message record. */
gboolean entry_has_message (MqEntryOp op);
