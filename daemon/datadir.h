/* datadir.h: the data directory and the files in it.
 *
 * The daemon usually starts as root and hands the directory to the user of
 * -u, so whoever runs as that user may plant links in it between two
 * starts.  Every file is therefore opened relative to the directory's
 * descriptor, never following a link, new files only where no name
 * exists (O_EXCL), and the directory itself must not be writable by
 * anyone but its owner.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#define MQ_LOCK_FILE "mqd.lock"

/* The errors of the storage, from the directory up. */
#define MQ_STORE_ERROR (mq_store_error_quark ())
GQuark mq_store_error_quark (void);

typedef enum {
  MQ_STORE_ERROR_LOCKED,          /* another process uses the directory */
  MQ_STORE_ERROR_CORRUPT,         /* a damaged or foreign file */
  MQ_STORE_ERROR_NO_SPACE,        /* the file system is full */
  MQ_STORE_ERROR_UNSAFE,          /* a directory others may write to */
  MQ_STORE_ERROR_NO_STATE,        /* a generation that lost its catalog or queue states */
  MQ_STORE_ERROR_FAILED,
} MqStoreError;

typedef struct _MqDataDir MqDataDir;

/* Makes the directory if it is missing (mode 0700), checks that it is
 * owned by the effective user or by owner_uid (G_MAXUINT32: no other) and
 * writable by no one else, and takes its lock: one daemon per directory. */
MqDataDir *datadir_open (const char *path, guint32 owner_uid,
                         GError **error);
void datadir_free (MqDataDir *dir);
int datadir_fd (MqDataDir *dir);
const char *datadir_path (MqDataDir *dir);
/* The lock file's descriptor (handed to -u's user with the directory). */
int datadir_lock_fd (MqDataDir *dir);

/* The names in the directory, sorted. */
GPtrArray *datadir_list (MqDataDir *dir, GError **error);
gboolean datadir_exists (MqDataDir *dir, const char *name);
gboolean datadir_rename (MqDataDir *dir, const char *from, const char *to,
                         GError **error);
/* Removing a name that does not exist is not an error. */
gboolean datadir_remove (MqDataDir *dir, const char *name, GError **error);
/* The directory and every regular file in it handed to uid and gid, but
 * for a file with other names (a hard link to what may be anyone's). */
gboolean datadir_hand_over (MqDataDir *dir, guint32 uid, guint32 gid,
                            GError **error);
/* Makes the names created, renamed and removed so far durable. */
gboolean datadir_sync (MqDataDir *dir, GError **error);

/* The system calls that write and sync mqd's own files (GDBM makes its
 * own writes), replaceable by the unit tests to inject failures, as
 * beanstalkd's tests replace its allocator. */
typedef struct {
  ssize_t (*pwrite) (int fd, const void *buf, size_t len, off_t offset);
  int (*fdatasync) (int fd);
  int (*fsync) (int fd);
} MqFileOps;

extern MqFileOps mq_file_ops;

/* A regular file name in dirfd, not through a link. */
int file_open (int dirfd, const char *name, int flags, GError **error);
/* A new file name in dirfd, mode 0600; fails when the name exists. */
int file_create (int dirfd, const char *name, GError **error);
/* pwrite of all of data; FALSE with errno set. */
gboolean file_write_at (int fd, const void *data, gsize len, guint64 offset);
