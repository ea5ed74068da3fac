/* storage.h: the storage's start and stop.
 *
 * A start, whatever the last stop was:
 *   1. the data directory is checked and locked (datadir.h);
 *   2. a directory of the first format (mqd.gdbm and mqd.journal) is
 *      converted (convert.h);
 *   3. the newest complete generation gives every queue's state;
 *      unfinished generations are removed (store.h);
 *   4. the journals that follow it are replayed, each only if the one
 *      before it ends with END; any other journal is removed;
 *   5. a checkpoint of that state is cut, with a new journal for this run
 *      (checkpoint_first).
 * So a start replays at most what came after the last checkpoint, never
 * the whole store.  A new directory gets an instance id and an empty first
 * checkpoint.  A clean stop cuts a last checkpoint and waits for it, so
 * the next start replays nothing.
 */
#pragma once

#include <glib.h>

#include "queue.h"
#include "rules.h"

typedef struct {
  const char *path;               /* the data directory */
  guint32 owner_uid;              /* -u's user, or G_MAXUINT32 */
  gboolean no_sync;               /* -N */
  guint64 checkpoint_size;        /* journal bytes between checkpoints;
                                     0: MQ_CHECKPOINT_DEFAULT_SIZE */
  MqRuleBook *rules;
  MqQueueReadyFunc ready;
} MqStorageOptions;

gboolean storage_open (const MqStorageOptions *options, GError **error);
/* A clean stop's last checkpoint, waited for: everything is durable. */
gboolean storage_checkpoint (GError **error);
/* Closes every file and frees the queues. */
void storage_close (void);
/* The syncer's eventfd, written at every wake-up: for the loop to watch,
 * edge-triggered; a level-triggered watcher drains it with storage_ack. */
int storage_wake_fd (void);
void storage_ack (void);
/* -u: the data directory and every file in it handed to uid and gid, by
 * descriptor, never through a link. */
gboolean storage_hand_over (guint32 uid, guint32 gid, GError **error);
const char *storage_dir_path (void);
/* The instance id made with the directory, in hex. */
const char *storage_instance (void);
