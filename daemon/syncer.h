/* syncer.h: fdatasync in a thread of its own.
 *
 * A durable commit needs the journal on disk before its replies go out,
 * but the main loop need not wait for the disk: it goes on reading and
 * storing the next batch while this thread syncs, and the next batch is
 * covered by the next sync (group commit, pipelined).  Requests are
 * numbered; a sync started after request N was made covers every write
 * made before it.  When a sync ends the thread writes to an eventfd the
 * main loop watches.
 */
#pragma once

#include <glib.h>

typedef struct _MqSyncer MqSyncer;

MqSyncer *syncer_new (int fd, GError **error);
/* Waits for the sync under way, if any, then ends the thread. */
void syncer_free (MqSyncer *syncer);

/* The eventfd that becomes readable when a sync ends; syncer_ack drains it. */
int syncer_wake_fd (MqSyncer *syncer);
void syncer_ack (MqSyncer *syncer);

/* Asks for a sync of everything written so far; returns its number. */
guint64 syncer_request (MqSyncer *syncer);
/* The highest request number known to be covered by a sync that ended;
 * *failed the highest whose sync failed (0: none). */
guint64 syncer_done (MqSyncer *syncer, guint64 *failed);
/* Waits until no sync is under way or asked for, then syncs fd from now on
 * (the journal was replaced by one already synced: what was asked is done). */
void syncer_set_fd (MqSyncer *syncer, int fd);
