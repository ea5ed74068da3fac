/* store.h: the GDBM files that hold the queues' segments, one per
 * generation.
 *
 * A checkpoint N finishes generation N: the file mqd-N.gdbm.part, which
 * received the segments sealed since checkpoint N-1, gets the catalog and
 * the state of every queue, is synced and renamed mqd-N.gdbm.  From then
 * on it is never written again: a crash can only damage the generation
 * being written, and that one is thrown away at the next start (the
 * journal has everything in it).  A generation is deleted once none of
 * its segments is live, or once they were all copied into a newer one
 * (evacuation), after the checkpoint that makes that durable.
 *
 * A segment is found by its key, newest generation first.
 */
#pragma once

#include <glib.h>

#include "datadir.h"
#include "record.h"
#include "segment.h"


typedef struct _MqStore MqStore;

/* The file names of generation number. */
char *store_file_name (guint64 number);
char *store_part_name (guint64 number);
/* Parses "mqd-<N>.<suffix>" (suffix "gdbm", "gdbm.part", "journal"). */
gboolean store_parse_name (const char *name, const char *suffix,
                           guint64 *number);

/* Opens every complete generation among names, dir's as datadir_list
 * gave them, and removes unfinished ones. */
MqStore *store_open (MqDataDir *dir, GPtrArray *names, GError **error);
/* Closes every file; an empty generation being written is removed. */
void store_close (MqStore *store);
/* The newest complete generation, 0 when there is none. */
guint64 store_newest (MqStore *store);
/* The highest generation number ever seen in the directory. */
guint64 store_highest (MqStore *store);

/* tail: the queue's young tail as a segment value (tail_len 0: none).
 * FALSE (error set) stops the load. */
typedef gboolean (*MqStoreQueueFunc) (const char *name, gsize name_len,
                                      const MqQueueMeta *meta, GArray *held,
                                      const guint8 *tail, gsize tail_len,
                                      gpointer user_data, GError **error);
/* Reads the newest generation's catalog and calls func for every queue
 * state in it. */
gboolean store_load (MqStore *store, MqCatalog *catalog,
                     MqStoreQueueFunc func, gpointer user_data,
                     GError **error);

/* Calls func for every segment key of every generation. */
typedef void (*MqStoreSegmentFunc) (const char *name, gsize name_len,
                                    guint64 inc, guint64 first,
                                    gpointer user_data);
gboolean store_scan_segments (MqStore *store, MqStoreSegmentFunc func,
                              gpointer user_data, GError **error);

/* A generation file made ahead, empty (mqd-<number>.gdbm.part): making
 * one touches the file system's metadata, which can wait behind a sync, so
 * the checkpoint thread makes the next one while the loop goes on. */
typedef struct _MqPart MqPart;

/* Any thread may make or discard one. */
MqPart *store_part_new (MqDataDir *dir, guint64 number, GError **error);
guint64 store_part_number (const MqPart *part);
/* Closes and removes the file. */
void store_part_discard (MqDataDir *dir, MqPart *part);

/* Starts generation number in made (made ahead for number; NULL: made
 * now): sealed segments go there from now on. */
gboolean store_begin (MqStore *store, guint64 number, MqPart *made,
                      GError **error);
gboolean store_put_segment (MqStore *store, const char *name,
                            gsize name_len, guint64 inc, guint64 first,
                            GByteArray *value, GError **error);
/* The queue states gathered in states (record_queue_encode, whole ones)
 * go into the generation being written as one chunk once they reach
 * 64 KiB, or when they are the last; states is then emptied.  Written as
 * they come, they need no more memory than a chunk: one buffer of all of
 * them (6 MB with 1,000 young tails) took 3-25 ms of page faults. */
gboolean store_put_states (MqStore *store, GByteArray *states,
                           gboolean last, GError **error);
/* Writes the catalog (its chunks: those store_put_states wrote) into the
 * generation being written, which is then finished: *fd is its
 * descriptor, for the checkpoint thread.  Call store_begin for the next
 * one before storing more. */
gboolean store_finish (MqStore *store, const MqCatalog *catalog, int *fd,
                       GError **error);
/* The finished generation number is synced under its final name. */
void store_completed (MqStore *store, guint64 number);

/* The segment of queue (name, inc) that starts at first, newest
 * generation first, trying *hint first (and setting it).  NULL without an
 * error when no generation holds it. */
MqRun *store_fetch (MqStore *store, const char *name, gsize name_len,
                    guint64 inc, guint64 first, guint64 *hint,
                    GError **error);

/* Whether the queue still needs a segment. */
typedef gboolean (*MqStoreLiveFunc) (const char *name, gsize name_len,
                                     guint64 inc, guint64 first,
                                     gpointer user_data);
/* At a checkpoint: takes out of use the complete generations whose last
 * count found no live segment, those whose evacuation ended, and, when
 * all_dead (no queue needs a segment), every complete one; returns their
 * file handles (MqStoreRetired), for the checkpoint thread to close and
 * remove once the checkpoint is durable. */
GPtrArray *store_retire_dead (MqStore *store, gboolean all_dead);
/* Counting the live segments of every complete generation is spread over
 * many calls of store_survey_step, budget steps each, so that no call reads
 * a large share of the files.  A step reads a key (and its segment) from a
 * generation's file, only at its first count after a start; later counts,
 * and those of generations written since, read 64 keys a step from a list
 * of its live segments' keys kept in memory (evacuation walks that list
 * too).  A round begins (unless one is under way),
 * and store_surveying is TRUE until it ends.  Counts are never too low,
 * since a segment once dead stays dead.  Each count ended picks the
 * generation to evacuate, when none is being evacuated. */
void store_survey_start (MqStore *store);
gboolean store_surveying (MqStore *store);
gboolean store_survey_step (MqStore *store, MqStoreLiveFunc live,
                            gpointer user_data, guint budget,
                            GError **error);
/* Copies up to about budget bytes of live segments of the generation most
 * worth emptying into the one being written; FALSE only on an error. */
gboolean store_evacuate (MqStore *store, MqStoreLiveFunc live,
                         gpointer user_data, gsize budget, GError **error);

/* A generation out of use: its file is closed and removed off the loop. */
typedef struct {
  gpointer dbf;                   /* GDBM_FILE */
  char *name;
} MqStoreRetired;
void store_retired_free (MqStoreRetired *retired);
/* Closes the file (GDBM syncs a writer's file first) and removes its name
 * from dirfd. */
void store_retired_dispose (MqStoreRetired *retired, int dirfd);

/* Bytes in every generation file. */
guint64 store_disk_bytes (MqStore *store);
/* Bytes written to the generation being written. */
guint64 store_part_bytes (MqStore *store);
/* The descriptor of the generation being written. */
int store_part_fd (MqStore *store);
/* FALSE once no generation holds a segment any more. */
gboolean store_holds_segments (MqStore *store);
