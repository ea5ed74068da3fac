/* entry.h: what a journal entry says: one change to one queue.
 *
 * Body: op (1 byte), the queue name's length (1 byte) and the name, then
 * what the op needs:
 *   CREATE  incarnation (8)             a queue is named for good
 *   PUSH    seq (8), message record     a message stored at the tail
 *   TAKE    seq (8), how (1), length (4) a message leaves the waiting line
 *   CLOSE   seq (8)                     a reliable read closed: gone
 *   ABORT   seq (8)                     a reliable read given back
 *   BURY    seq (8)                     a given-back message moved away
 *                                       (to its dead-letter queue)
 *   REFUSE                              a fanout copy its limits refused,
 *                                       counted as discarded
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
} MqEntryOp;

/* How a TAKE hands the message out. */
typedef enum {
  MQ_TAKE_POP = 1,                /* a plain get: dequeued */
  MQ_TAKE_OPEN,                   /* a reliable read: held until closed */
  MQ_TAKE_DISCARD,                /* dropped to make room */
  MQ_TAKE_EXPIRE,                 /* its time was up */
} MqTakeMode;

typedef struct {
  MqEntryOp op;
  const char *name;               /* points into the body */
  gsize name_len;
  guint64 seq;                    /* PUSH..BURY */
  guint64 inc;                    /* CREATE */
  MqTakeMode mode;                /* TAKE */
  guint32 len;                    /* TAKE: the message's payload length */
  MqMsgHeader header;             /* PUSH */
  const guint8 *payload;          /* PUSH, into the body */
} MqEntry;

/* Appends the entry to journal's buffer. */
void entry_put (MqJournal *journal, const MqEntry *entry);
/* FALSE when body is not a whole entry of a known kind. */
gboolean entry_decode (const guint8 *body, gsize len, MqEntry *entry);
