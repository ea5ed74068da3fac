/* storagetest.h: what the storage unit tests (test_queue, test_commit,
 * test_storage, test_convert) share: the daemon's storage opened on a
 * temporary directory, the loop's pass end and sync wake-up run by hand,
 * messages whose bytes say which they are, and failures injected into
 * mq_file_ops (datadir.h).
 */
#pragma once

#include <glib.h>

#include "queue.h"
#include "rules.h"

/* A data directory under the test's control; storage is open or not. */
typedef struct {
  char *path;
  MqRuleBook *rules;
  gboolean no_sync;
  gboolean open;
} StorageDir;

/* A new temporary directory; rules_text is a configuration file's text
 * (NULL: no rules).  Nothing is opened yet. */
void sdir_init (StorageDir *d, gboolean no_sync, const char *rules_text);
/* storage_open, which must succeed. */
void sdir_open (StorageDir *d);
gboolean sdir_try_open (StorageDir *d, GError **error);
/* A clean stop: the last checkpoint, then the files closed. */
void sdir_stop (StorageDir *d);
/* As a kill leaves it: the files closed with no last checkpoint. */
void sdir_crash (StorageDir *d);
/* Closes what is open and removes the directory and every file in it. */
void sdir_clear (StorageDir *d);
/* The names in the directory, sorted, separated by spaces. */
char *sdir_files (StorageDir *d);
char *sdir_file_path (StorageDir *d, const char *name);

/* What the daemon said (g_message, g_info) since the directory was made or
 * the last call, one line each. */
char *st_log_take (void);

/* ---- the loop, by hand ---- */

/* What the daemon's pass end does with the storage: tails sealed, a
 * checkpoint cut when one is due, the journal written; then whatever the
 * sync thread has already finished is taken in. */
void st_pass_end (void);
/* Waits (up to 10 s, then fails) for the sync thread to wake the loop and
 * takes in what it did, as main.c's on_synced does; FALSE with the error
 * of a failed checkpoint. */
gboolean st_wait_wake (GError **error);
/* Wake-ups until commit_synced () reaches lsn. */
void st_wait_synced (guint64 lsn);
/* The pending checkpoint waited for, then a new one cut and waited for. */
void st_checkpoint (void);

/* ---- messages ---- */

/* The payload of message i: it says its number, then filler; sizes vary
 * from 60 to 459 bytes.  Free it. */
char *st_payload (guint i, gsize *len);
/* Stores message i in queue; returns the LSN its reply would wait for. */
guint64 st_push (const char *queue, guint i);
guint64 st_push_full (const char *queue, guint i, guint32 flags,
                      gint64 exptime);
/* The next message of queue must be message i; returns its header. */
MqMsgHeader st_expect_pop (const char *queue, guint i);
/* Opens a reliable read, which must give message i; returns its seq. */
guint64 st_expect_open (const char *queue, guint i);
/* The queue has nothing to hand out. */
void st_expect_empty (const char *queue);
/* Payload bytes of messages from to to, included. */
guint64 st_bytes (guint from, guint to);
MqQueue *st_queue (const char *name);
/* How many times the queue layer said a queue became ready. */
extern guint st_ready_calls;

/* A segment in a complete generation file (mqd-N.gdbm). */
typedef struct {
  guint64 gen;
  guint64 inc;
  guint64 first;
  guint32 count;
} StSegment;

/* Every segment of queue (of every queue when NULL) in the directory's
 * complete generations, by generation and then first message. */
GArray *sdir_segments (StorageDir *d, const char *queue);

/* ---- faults ---- */

typedef enum {
  ST_FAULT_PWRITE,
  ST_FAULT_FDATASYNC,
  ST_FAULT_FSYNC,
} StFaultCall;

typedef enum {
  ST_ANY_THREAD,
  ST_MAIN_THREAD,                 /* the loop's calls only */
  ST_SYNCER_THREADS,              /* the sync and checkpoint threads' */
} StFaultThread;

/* From now on, calls of that kind on files whose path ends with suffix
 * fail with EIO, times times (G_MAXUINT: until st_fault_clear). */
void st_fault_set (StFaultCall call, const char *suffix, StFaultThread thread,
                   guint times);
void st_fault_clear (void);
/* Calls failed since st_fault_set. */
guint st_fault_hits (void);

/* From now on, a call of that kind on a file whose path ends with suffix
 * blocks, in whichever thread makes it, until st_hold_release (). */
void st_hold_set (StFaultCall call, const char *suffix);
/* Blocks until a call is held. */
void st_hold_wait (void);
/* Lets the held call, and every one after it, go on. */
void st_hold_release (void);
