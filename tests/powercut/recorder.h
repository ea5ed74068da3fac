/* recorder.h: the parts of the power-cut recorder (an LD_PRELOAD shim for
 * the tests, never installed); recorder.c says what it records and which
 * faults it injects. */
#ifndef MQD_TESTS_RECORDER_H
#define MQD_TESTS_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Nothing but the wrapped libc functions is exported: a name of the shim
 * must not stand in for one of the program's. */
#pragma GCC visibility push(hidden)

/* The log: one record per write(2), each a struct pc_record followed by
 * name_len bytes of name, name2_len of name2 and data_len of data.  Names
 * are paths relative to the watched directory ("" is the directory).  The
 * layout is mirrored by tests/powercut/pclog.py: change both. */
enum pc_phase
{
  PC_CALL = 1,                  /* written before the call */
  PC_RETURN = 2,                /* after it: ret, err */
  PC_EVENT = 3                  /* something that happened, in one record */
};

enum pc_op
{
  PC_OP_START = 1,      /* EVENT: a process began; name = the directory,
                           a = the parent's pid in a child of fork (it
                           shares the parent's open files and ids) */
  PC_OP_OPEN,           /* CALL: name, a = flags, b = mode; RETURN: fd, id,
                           c = 1 for a directory */
  PC_OP_CLOSE,          /* EVENT: id, fd */
  PC_OP_WRITE,          /* CALL: id, a = offset (-1: O_APPEND), data */
  PC_OP_MAPWRITE,       /* EVENT: id, a = offset, data: a page of a shared
                           writable mapping that changed since last seen */
  PC_OP_TRUNCATE,       /* CALL: id, a = length */
  PC_OP_FALLOCATE,      /* CALL: id, a = mode, b = offset, c = length */
  PC_OP_FSYNC,          /* CALL: id, a = 1 for fdatasync */
  PC_OP_SYNC_RANGE,     /* CALL: id, a = flags, b = offset, c = length */
  PC_OP_MSYNC,          /* CALL: id, a = flags, b = offset, c = length */
  PC_OP_RENAME,         /* CALL: name -> name2, a = flags; b = 1 when the
                           source, 2 when the target is outside */
  PC_OP_UNLINK,         /* CALL: name, a = 1 for a directory */
  PC_OP_MKDIR,          /* CALL: name, a = mode */
  PC_OP_MMAP,           /* EVENT: id, a = offset, b = length, c = prot << 32
                           | flags */
  PC_OP_ACCEPT,         /* EVENT: id (the connection), fd */
  PC_OP_RECV,           /* EVENT: id, fd, a = result, b = errno, data =
                           what was read */
  PC_OP_SEND            /* CALL: id, fd; RETURN: ret, err, data = what was
                           sent */
};

#define PC_FLAG_INJECTED 1      /* RETURN: the failure was injected */

struct pc_record
{
  uint32_t size;                /* header, names and data */
  uint16_t op;
  uint16_t phase;
  uint64_t seq;                 /* order of records within one process */
  uint64_t call;                /* RETURN: its CALL's seq */
  uint64_t id;                  /* an open file or connection, never reused */
  int64_t a, b, c;
  int64_t ret;
  int32_t err;
  int32_t fd;
  int32_t pid;
  int32_t tid;
  uint32_t name_len;
  uint32_t name2_len;
  uint32_t data_len;
  uint32_t flags;               /* PC_FLAG_* */
};

/* What a record is about, besides its op. */
struct pc_args
{
  uint64_t id;
  int fd;
  int64_t a, b, c;
};

/* record.c */
void pc_init (void);
bool pc_recording (void);
const char *pc_root (void);
void *pc_next (const char *name, void **cache);
void pc_die (const char *what);
uint64_t pc_log_call (enum pc_op op, const struct pc_args *args,
                      const char *name, const char *name2,
                      const void *data, size_t len);
void pc_log_return (enum pc_op op, uint64_t call, const struct pc_args *args,
                    int64_t ret, int err, bool injected,
                    const void *data, size_t len);
void pc_log_event (enum pc_op op, const struct pc_args *args,
                   const char *name, const void *data, size_t len);
uint64_t pc_new_id (void);

/* The function the shim wraps, as the next library (libc) has it. */
#define REAL(name) \
  ({ static void *cache_; (__typeof__ (&name)) pc_next (#name, &cache_); })

/* fdtable.c: which descriptors the shim follows. */
enum pc_fd_kind
{
  PC_FD_NONE = 0,
  PC_FD_FILE,                   /* a file under the watched directory */
  PC_FD_DIR,                    /* the directory, or one under it */
  PC_FD_CONN                    /* an accepted connection */
};

struct pc_fd
{
  enum pc_fd_kind kind;
  bool append;
  uint64_t id;
};

struct pc_fd pc_fd_get (int fd);
void pc_fd_set (int fd, struct pc_fd entry);
struct pc_fd pc_fd_take (int fd);
bool pc_canonical (const char *abs, char *out, size_t size);
bool pc_resolve (int dirfd, const char *path, char *rel, size_t size);

/* maps.c: shared writable mappings of watched files. */
void pc_maps_add (void *addr, size_t len, off_t offset, uint64_t id, int fd);
void pc_maps_snapshot (uint64_t id);
void pc_maps_unmap (void *addr, size_t len);
bool pc_maps_find (void *addr, size_t len, uint64_t *id, int64_t *offset);

/* faults.c */
void pc_faults_init (void);
bool pc_fault_sync (void);
bool pc_fault_rename (void);
bool pc_fault_write (size_t len);
void pc_fault_wrote (size_t len);

#pragma GCC visibility pop

#endif
