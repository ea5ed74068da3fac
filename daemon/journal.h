/* journal.h: the append-only log from which the store's file can always be
 * rebuilt.
 *
 * GDBM updates its file in place, with several writes per update: a daemon
 * killed in the middle of one leaves the file damaged, and records that
 * were acknowledged long before can sit in the damaged part.  So every put
 * and delete is also appended here, and a commit writes the journal (and by
 * default fdatasyncs it) before any reply goes out.  The journal alone holds
 * the whole state: it starts with a copy of every record (a rewrite, when
 * the garbage in it outgrows the live data), then the changes since.  A
 * clean stop marks it clean; after any other stop the store rebuilds its
 * file from it and never reads the old one.
 *
 * File: a 16-byte header ("MQDJ", version, the clean mark, 10 zero bytes),
 * then entries: body length and CRC-32 of the body (4 big-endian bytes
 * each), body = op (1 byte), key length (2 bytes), key, value.  An entry cut
 * short or failing its CRC ends the journal: it is what a kill in the
 * middle of a write leaves, and was never acknowledged.
 */
#pragma once

#include <glib.h>

#define MQ_JOURNAL_FILE "mqd.journal"
#define MQ_JOURNAL_HEADER_SIZE 16

typedef enum {
  MQ_JOURNAL_PUT = 1,
  MQ_JOURNAL_DELETE = 2,
} MqJournalOp;

typedef struct _MqJournal MqJournal;

/* Creates the file (emptying one that exists) with only a header. */
MqJournal *journal_create (const char *path, GError **error);
/* Opens an existing journal.  *was_clean tells whether the last stop
 * marked it clean.  A journal that was not clean must be replayed before it
 * is written to; one that was must have its mark cleared first. */
MqJournal *journal_open (const char *path, gboolean *was_clean,
                         GError **error);
/* Clears the clean mark, and syncs: from now on a kill is an unclean stop. */
gboolean journal_clear_clean (MqJournal *journal, GError **error);

typedef gboolean (*MqJournalFunc) (MqJournalOp op, const guint8 *key,
                                   gsize key_len, const guint8 *value,
                                   gsize value_len, gpointer user_data,
                                   GError **error);

/* Calls func for each whole entry, in order, then cuts off what follows
 * the last one, so that new entries follow it.  *replayed counts them. */
gboolean journal_replay (MqJournal *journal, MqJournalFunc func,
                         gpointer user_data, guint64 *replayed,
                         GError **error);

/* Buffers one entry; journal_write puts it in the file. */
void journal_append (MqJournal *journal, MqJournalOp op, const guint8 *key,
                     gsize key_len, const guint8 *value, gsize value_len);
/* Bytes buffered by journal_append and not yet written. */
gsize journal_pending (MqJournal *journal);
/* Writes the buffered entries, then fdatasyncs the file when sync is set. */
gboolean journal_write (MqJournal *journal, gboolean sync, GError **error);
/* Bytes in the file, header included. */
guint64 journal_size (MqJournal *journal);
/* The file's descriptor, for a sync from another thread. */
int journal_fd (MqJournal *journal);

/* Moves a journal written under another name (a rewrite) to path, in one
 * rename: a kill leaves either the old journal or the new one. */
gboolean journal_install (MqJournal *journal, const char *path,
                          GError **error);
/* Writes what is buffered, marks the journal clean, syncs it, frees it.
 * Only for a store whose file holds everything and is synced. */
gboolean journal_close_clean (MqJournal *journal, GError **error);
/* Closes the file and removes it (a rewrite given up). */
void journal_discard (MqJournal *journal);
void journal_free (MqJournal *journal);

/* CRC-32 (IEEE 802.3), zlib's. */
guint32 journal_crc32 (const guint8 *data, gsize len);
