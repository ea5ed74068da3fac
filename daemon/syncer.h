/* syncer.h: two threads for what must reach the disk, off the main loop.
 *
 * The sync thread, in order: the journals a checkpoint replaced, synced
 * once; a sync of the current journal that replies wait for (group commit:
 * a sync started after a request covers every write made before it); the
 * current journal written ahead with zeros.
 *
 * The checkpoint thread, in order: a checkpoint's last steps (the journals
 * it replaced synced, its generation synced and renamed to its final name,
 * the directory synced, then the journals and generations it made useless
 * removed); the next checkpoint's journal and generation file made ready;
 * the generation being written sent to the disk as it grows.
 * Those steps sync tens of megabytes and remove files as large: on the
 * sync thread they held every durable reply behind them (70 ms at a cut
 * while filling a queue).
 *
 * When either has done something that the loop waits for, it writes to an
 * eventfd the loop watches.
 */
#pragma once

#include <glib.h>

#include "datadir.h"
#include "journal.h"
#include "store.h"

typedef struct _MqSyncer MqSyncer;

/* What a checkpoint leaves to the thread; the thread frees it. */
typedef struct {
  guint64 number;
  int gen_fd;                     /* the finished generation */
  char *part_name;                /* its name, and the one it gets */
  char *final_name;
  GPtrArray *remove;              /* names of journals it made useless */
  guint64 recycle_most;           /* the first, if no larger, is kept for
                                     the next journal (journal_recycle);
                                     0: none is */
  GPtrArray *retired;             /* MqStoreRetired: generations ditto */
  gboolean sync_replaced;         /* the journals it replaced are synced
                                     first; FALSE under -N, where no reply
                                     waited for them */
} MqCheckpointJob;

/* A job never handed over (its cut failed). */
void syncer_job_free (MqCheckpointJob *job);

MqSyncer *syncer_new (MqDataDir *dir, GError **error);
/* Does everything asked so far, then ends the thread. */
void syncer_free (MqSyncer *syncer);

int syncer_wake_fd (MqSyncer *syncer);
/* Drains the eventfd (one read). */
void syncer_ack (MqSyncer *syncer);

/* journal is appended to from now on; the thread owns it, and syncs the
 * one before it (if any) before any sync of journal counts. */
void syncer_set_journal (MqSyncer *syncer, MqJournal *journal);
/* Asks for a sync of everything written up to lsn. */
void syncer_request (MqSyncer *syncer, guint64 lsn);
/* Makes that sync on the calling thread, as the sync thread would (once
 * the thread's own sync or writing ahead has ended, if one is under way). */
void syncer_sync_here (MqSyncer *syncer, guint64 lsn);
/* The highest LSN a finished sync covers; *failed the highest target of a
 * sync that failed (0: none ever). */
guint64 syncer_synced (MqSyncer *syncer, guint64 *failed);

/* Hands the job over; a write-back asked before is then forgotten: the
 * job's fsync covers it. */
void syncer_checkpoint (MqSyncer *syncer, MqCheckpointJob *job);
/* Writes the dirty pages of fd (the generation being written) to the disk,
 * a hint only, when the checkpoint thread has nothing else to do. */
void syncer_write_back (MqSyncer *syncer, int fd);
/* The highest checkpoint number done.  *failure: why one failed (the
 * caller frees it), or NULL. */
guint64 syncer_checkpointed (MqSyncer *syncer, char **failure);

/* Blocks until checkpoint number is done or one failed (a clean stop). */
void syncer_wait_checkpoint (MqSyncer *syncer, guint64 number);

/* Blocks until no checkpoint and no journal made ahead is under way: the
 * files in the directory stay as they are until the loop asks for more. */
void syncer_settle (MqSyncer *syncer);

/* Makes the journal of checkpoint number and the generation file number
 * + 1 ahead of time. */
void syncer_prepare (MqSyncer *syncer, guint64 number);
/* That journal, or generation file (waiting while it is being made), or
 * NULL when it was not asked for or could not be made. */
MqJournal *syncer_take_journal (MqSyncer *syncer, guint64 number);
MqPart *syncer_take_part (MqSyncer *syncer, guint64 number);
