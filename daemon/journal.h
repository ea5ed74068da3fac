/* journal.h: the write-ahead journal, every change to the queues since a
 * checkpoint.
 *
 * File mqd-<N>.journal: a 4 KiB header block ("MQDJ", version 2, a flag
 * byte, the checkpoint number N it follows, a CRC-32C), then entries: body length and CRC-32C
 * (4 bytes each), then the body (entry.h).  The CRC starts from N and
 * covers the entry's offset and its body, so an entry can only be read
 * where and in the journal it was written.  The file is written with zeros
 * ahead of its end (journal_fill, from the sync thread), or is the file of
 * a journal a checkpoint made useless (journal_recycle), so appending
 * overwrites blocks that exist: fdatasync then commits data only.
 *
 * Replay stops at the first entry that is not whole: zeros, a recycled
 * file's old entries, a write a kill cut short, or one a power cut lost
 * part of.  Nothing after it was ever acknowledged, because a reply waits
 * for a sync of everything before it.
 */
#pragma once

#include <glib.h>

#define MQ_JOURNAL_HEADER_SIZE 4096
#define MQ_JOURNAL_ENTRY_PREFIX 8
/* journal_fill keeps this much written ahead of the end. */
#define MQ_JOURNAL_FILL_AHEAD (4 * 1024 * 1024)

typedef struct _MqJournal MqJournal;

/* "mqd-<number>.journal" */
char *journal_file_name (guint64 number);
/* A journal being made is named so until its header is durable. */
#define MQ_JOURNAL_NEW_SUFFIX ".new"

/* Creates name in dirfd (it must not exist), for checkpoint number, in
 * the file journal_recycle kept for it if there is one; the file and its
 * name are synced before it returns.  starts_run: the first
 * journal of a start, which gave back the reads open before it. */
MqJournal *journal_create (int dirfd, const char *name, guint64 number,
                           gboolean starts_run, GError **error);
/* Keeps the journal file name, which a checkpoint made useless, to be
 * written over by journal next (journal_create takes it): its blocks
 * exist and hold no data the kernel must keep, so the loop's writes
 * neither allocate nor grow the file, and no page cache is dropped for
 * it.  Its old entries cannot be read as the new journal's (the CRC
 * starts from the number and covers the offset).  FALSE when it is not a
 * regular file of one name, or is larger than most: remove it then. */
gboolean journal_recycle (int dirfd, const char *name, guint64 next,
                          guint64 most);
/* Opens an existing journal to replay it. */
MqJournal *journal_open (int dirfd, const char *name, GError **error);
void journal_free (MqJournal *journal);

guint64 journal_number (MqJournal *journal);
gboolean journal_starts_run (MqJournal *journal);
int journal_fd (MqJournal *journal);

typedef gboolean (*MqJournalFunc) (const guint8 *body, gsize len,
                                   gpointer user_data, GError **error);

/* Calls func for each whole entry, in order; reads the file in pieces, so
 * memory stays small however long it is.  *entries counts them. */
gboolean journal_replay (MqJournal *journal, MqJournalFunc func,
                         gpointer user_data, guint64 *entries,
                         GError **error);

/* Makes room for an entry of len bytes at the end of what is buffered and
 * returns where its body goes; journal_finish completes it.  Entries are
 * made one at a time. */
guint8 *journal_begin (MqJournal *journal, gsize len);
void journal_finish (MqJournal *journal);
/* Bytes buffered and not yet written. */
gsize journal_pending (MqJournal *journal);
/* The offset just past the last entry, buffered or written. */
guint64 journal_end (MqJournal *journal);
/* Writes what is buffered (one pwrite).  On an error the entries stay
 * buffered, and a later call writes them again at the same place. */
gboolean journal_write (MqJournal *journal, GError **error);

/* Forgets the entries not written (a checkpoint holds their changes). */
void journal_drop_pending (MqJournal *journal);

/* Writes up to chunk bytes of zeros where the file ends, if it ends less
 * than MQ_JOURNAL_FILL_AHEAD past the journal's end; FALSE with an error
 * when the disk refused.  Safe to call from the sync thread while
 * the loop appends: the two never write the same bytes. */
gboolean journal_fill (MqJournal *journal, gsize chunk, GError **error);
/* TRUE when journal_fill has something to do: from when less than half
 * of MQ_JOURNAL_FILL_AHEAD is left past the end until all of it is there
 * again. */
gboolean journal_wants_fill (MqJournal *journal);
