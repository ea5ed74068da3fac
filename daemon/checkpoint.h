/* checkpoint.h: the state of every queue written into a generation file,
 * so that the journal can start afresh and a start after a crash replays
 * only what came after.
 *
 * A cut, in the loop, between two commands:
 *   1. every young tail is sealed into the generation being written;
 *   2. the state of every saved queue and the catalog go there too, and
 *      that generation is finished;
 *   3. an END entry closes the journal, and a new one takes its place;
 *   4. the next generation begins, and the store says which older ones
 *      are no longer needed.
 * The checkpoint thread then syncs the finished generation, renames it to its
 * final name and syncs the directory; only then does it remove the old
 * journal and the generations no longer needed.  Until the rename is
 * durable, a start uses the previous generation and replays both
 * journals, the old one ending with END.
 *
 * A cut is due when the journal or the generation being written has grown
 * large, after a failed sync, and when every queue is empty while the
 * files hold much (to give the disk back).
 */
#pragma once

#define MQ_CHECKPOINT_DEFAULT_SIZE (32 * 1024 * 1024)

#include <glib.h>

#include "datadir.h"
#include "record.h"
#include "store.h"
#include "syncer.h"

/* number: the checkpoint the current state follows (0 before the first
 * cut of a start); journals: names of journals a first cut makes useless;
 * size: the journal bytes that make a cut due (four times as much in the
 * generation being written). */
void checkpoint_init (MqDataDir *dir, MqStore *store, MqSyncer *syncer,
                      const guint8 instance[MQ_INSTANCE_ID_SIZE],
                      guint64 number, GPtrArray *journals, guint64 size);
/* The first cut of a start: the recovered state, sealed as it was read
 * into the generation begun after every number in use, made a
 * checkpoint, and the journal of the daemon's run made and handed to
 * commit. */
gboolean checkpoint_first (gboolean no_sync, GError **error);
void checkpoint_shutdown (void);

gboolean checkpoint_due (void);
/* A cut; its completion is the checkpoint thread's. */
gboolean checkpoint_cut (GError **error);
/* The syncer woke the loop.  FALSE with an error when a checkpoint
 * failed: the daemon must stop. */
gboolean checkpoint_on_wake (GError **error);
/* A cut when the queues are all empty and the files are large. */
gboolean checkpoint_give_back (GError **error);
/* The pass end's share of copying live segments out of old generations. */
gboolean checkpoint_maintain (GError **error);
/* Waits for the checkpoint under way, if any. */
gboolean checkpoint_wait (GError **error);
/* At a clean stop: a last cut, waited for. */
gboolean checkpoint_final (GError **error);
/* Bytes written to the generation being written. */
guint64 checkpoint_part_bytes (void);
/* The checkpoint under way, 0 when none; the last one done. */
guint64 checkpoint_pending (void);
guint64 checkpoint_done (void);
