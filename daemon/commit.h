/* commit.h: the durable commit.
 *
 * Every change to the queues is an entry in the journal, and a reply that
 * depends on a change goes out only once the journal holds it; by default
 * (no -N) only once a sync covers it: a STORED, a DELETED, and a get that
 * hands out a message whose set is not synced yet.
 *
 * Positions in the journal are LSNs: bytes of entries made since the
 * daemon started, over every journal it wrote.  One pass of the loop:
 *
 *   queue code     commit_log (entry)       the LSN the entry ends at
 *   a command      conn_hold (conn, LSN)    its replies wait for it
 *   pass end       commit_end_pass ()       one write; a sync asked for
 *                                           when a reply waits
 *   sync thread    fdatasync, wakes the loop: commit_synced () moves on,
 *                                           the replies up to it go out
 *
 * When no other client could be served meanwhile (one connection, or
 * nothing ready: loop_idle), the pass end makes the sync itself: handing
 * it to the thread cost four more system calls (the thread woken, its
 * eventfd written, the loop woken and the eventfd read) and their latency,
 * for nothing to do in between.
 *
 * A sync that fails leaves the journal untrustworthy (Linux may have
 * dropped the pages it could not write): commit_synced () stops where it
 * was until a checkpoint has made everything durable in a generation file
 * (checkpoint.h); if that fails too, the daemon stops.
 */
#pragma once

#include <glib.h>

#include "entry.h"
#include "journal.h"
#include "syncer.h"

void commit_start (MqSyncer *syncer, MqJournal *journal, gboolean no_sync);
void commit_stop (void);
MqJournal *commit_journal (void);

/* Appends entry to the journal; returns the LSN just past it. */
guint64 commit_log (const MqEntry *entry);
guint64 commit_lsn (void);
/* The LSN up to which everything is durable; commit_lsn () under -N,
 * where nothing waits. */
guint64 commit_synced (void);
/* FALSE under -N: replies never wait for a sync. */
gboolean commit_holds_replies (void);
/* A reply waits for lsn: the pass end asks for a sync. */
void commit_need (guint64 lsn);

/* The pass end: writes what the pass logged, and asks for a sync when a
 * reply waits for it.  A write that fails leaves the entries buffered and
 * breaks the journal as a failed sync does: a checkpoint repairs it. */
gboolean commit_end_pass (GError **error);
/* Asked by commit_end_pass when a sync is due: TRUE to make it on this
 * thread (NULL: never). */
typedef gboolean (*CommitSyncHere) (void);
void commit_set_sync_here (CommitSyncHere here);
/* Asks for a sync of everything written, waited for or not (-N's timer). */
void commit_request_sync (void);
/* The sync thread woke the loop: takes in what it did.  TRUE when
 * commit_synced () moved on. */
gboolean commit_on_wake (void);

/* A checkpoint switches to journal next; returns the one it replaces. */
MqJournal *commit_switch (MqJournal *next);
/* The checkpoint made at LSN lsn is durable: everything before it is. */
void commit_checkpoint_durable (guint64 lsn);
/* TRUE while a failed sync waits for a checkpoint to repair it. */
gboolean commit_broken (void);
