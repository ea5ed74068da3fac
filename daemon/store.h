/* store.h: the GDBM file that holds every queued message.
 *
 * A thin typed layer over GDBM: it knows the file, the key and value layout
 * (record.h), the journal that makes its writes survive a kill (journal.h)
 * and how to report failures; the queue rules live in queue.c.
 */
#pragma once

#include <glib.h>

#include "record.h"

#define MQ_STORE_FILE "mqd.gdbm"
#define MQ_STORE_LOCK_FILE "mqd.lock"

#define MQ_STORE_ERROR (mq_store_error_quark ())
GQuark mq_store_error_quark (void);

typedef enum {
  MQ_STORE_ERROR_LOCKED,          /* another process has the file open */
  MQ_STORE_ERROR_CORRUPT,         /* not a GDBM file, or a damaged one */
  MQ_STORE_ERROR_NO_SPACE,        /* the file system is full */
  MQ_STORE_ERROR_FAILED,
} MqStoreError;

typedef struct _MqStore MqStore;

/* One fetched message.  data points into raw, which item_clear frees. */
typedef struct {
  MqRecordHeader header;
  const char *data;
  gsize len;
  char *raw;
} MqItem;

MqStore *store_open (const char *dir, GError **error);
/* Syncs and closes; the store is freed even if the sync fails. */
gboolean store_close (MqStore *store, GError **error);
const char *store_path (MqStore *store);
const char *store_journal_path (MqStore *store);

gboolean store_put_item (MqStore *store, const char *name, gsize name_len,
                         guint64 seq, const MqRecordHeader *header,
                         const char *data, gsize len, GError **error);
/* FALSE without an error when there is no such item. */
gboolean store_fetch_item (MqStore *store, const char *name, gsize name_len,
                           guint64 seq, MqItem *item, GError **error);
/* FALSE without an error when there was no such item. */
gboolean store_delete_item (MqStore *store, const char *name, gsize name_len,
                            guint64 seq, GError **error);
void item_clear (MqItem *item);

gboolean store_put_meta (MqStore *store, const char *name, gsize name_len,
                         const MqQueueMeta *meta, GError **error);
gboolean store_delete_meta (MqStore *store, const char *name, gsize name_len,
                            GError **error);

/* Start-up scans are over: drop the pages they mapped. */
void store_remap (MqStore *store);
/* Maps a large file afresh: mapped pages count as resident memory, and
 * only those touched from now on stay. */
void store_trim_mapping (MqStore *store);
/* The data file's size in bytes. */
guint64 store_file_size (MqStore *store);
/* Replaces the data file by an empty one; only for a store that holds no
 * messages: whatever the caller keeps (counters) it writes again. */
gboolean store_reset (MqStore *store, GError **error);

/* Writes every change so far to the journal, and makes it durable
 * (fdatasync) when sync is set; from the moment it returns, a kill of the
 * daemon loses none of them.  Rewrites the journal when it is mostly
 * garbage. */
gboolean store_commit (MqStore *store, gboolean sync, GError **error);
/* Asks the sync thread (see syncer.h) for a sync of everything written to
 * the journal so far; returns the request's number. */
guint64 store_request_sync (MqStore *store);
/* The highest request number a finished sync covers; *failed the highest
 * whose sync failed (0: none). */
guint64 store_synced (MqStore *store, guint64 *failed);
/* Readable when a sync has finished; store_sync_ack drains it. */
int store_sync_wake_fd (MqStore *store);
void store_sync_ack (MqStore *store);

/* Calls func for every key; meta is NULL for items, seq 0 for metadata. */
typedef void (*MqStoreScanFunc) (const char *name, gsize name_len,
                                 guint64 seq, const MqQueueMeta *meta,
                                 gpointer user_data);
gboolean store_scan (MqStore *store, MqStoreScanFunc func, gpointer user_data,
                     GError **error);
