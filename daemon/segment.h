/* segment.h: a run of consecutive messages of one queue, in memory.
 *
 * Pure code, no I/O.  A queue's young tail is a run that grows as sets
 * arrive; a segment read back from a GDBM file is a run too.  Records are
 * laid out as in record.h, so a piece of a run is written out as a segment
 * value with one copy.  A cursor remembers the last position found, so
 * handing out messages in order costs no walk from the start.
 */
#pragma once

#include <glib.h>

#include "record.h"

#define MQ_SEGMENT_ERROR (mq_segment_error_quark ())
GQuark mq_segment_error_quark (void);

typedef struct _MqRun MqRun;

/* An empty run whose first message will have sequence number first. */
MqRun *run_new (guint64 first);
/* A run over a segment value (taking ownership of value, allocated with
 * g_malloc or malloc); NULL with an error when the value is damaged. */
MqRun *run_from_segment (guint8 *value, gsize len, GError **error);
/* FALSE with an error when value is not a whole segment; else its first
 * message's sequence number and one past its last. */
gboolean run_check_segment (const guint8 *value, gsize len, guint64 *first,
                            guint64 *end, GError **error);
/* Runs are counted references: a message handed out keeps its run. */
MqRun *run_ref (MqRun *run);
void run_unref (MqRun *run);

guint64 run_first (const MqRun *run);
/* One past the last message's sequence number. */
guint64 run_end (const MqRun *run);
/* Bytes of the records kept. */
gsize run_bytes (const MqRun *run);
/* Bytes its array takes from the allocator. */
gsize run_memory (const MqRun *run);

/* Appends the message with sequence number run_end(). */
void run_append (MqRun *run, const MqMsgHeader *header,
                 const guint8 *payload);
/* Finds message seq; FALSE when the run does not hold it.  payload points
 * into the run until it changes. */
gboolean run_find (MqRun *run, guint64 seq, MqMsgHeader *header,
                   const guint8 **payload);
/* Lends the payload of a message found in the run (len bytes at
 * payload), for a reply to be sent from where it is: the bytes stay as
 * they are, whatever the run does next, until the loan is unreferenced. */
GBytes *run_lend (MqRun *run, const guint8 *payload, gsize len);
/* Forgets the messages before seq. */
void run_drop_before (MqRun *run, guint64 seq);
/* A new run, in an array of its own, of the messages from seq (first <=
 * seq < end) on whose records fit in most bytes; NULL when the first
 * does not. */
MqRun *run_copy_from (MqRun *run, guint64 seq, gsize most);

/* Writes the first messages of the run, at least one and up to about
 * target bytes, into out as a segment value (replacing what out held);
 * returns one past the last one's sequence number, run_first () when the
 * run is empty. */
guint64 run_encode_segment (MqRun *run, gsize target, GByteArray *out);
