/* recorder.c: an LD_PRELOAD shim for the tests (never installed) that
 * records what a daemon does to the files of its data directory and says
 * on its connections, and injects file-system failures there.
 *
 *   LD_PRELOAD=tests/powercut/.libs/recorder.so MQD_RECORD_DIR=/abs/data \
 *   MQD_RECORD_LOG=/abs/log mqd -H /abs/data ...
 *
 * MQD_RECORD_DIR (absolute): the data directory; everything under it is
 * watched.  Without it the shim passes every call through untouched.
 * MQD_RECORD_LOG: the log, appended to (tests/powercut/pclog.py reads it;
 * recorder.h has its layout).  Without it nothing is recorded; faults still
 * apply.
 *
 * Recorded, in the order it happens (the log holds the records in the
 * order they were written; a child of fork goes on with its parent's open
 * files, under a START record of its own):
 *  - files and directories under MQD_RECORD_DIR: open, openat, creat (and
 *    their 64 and fortified forms) with flags and mode; write, pwrite,
 *    writev, pwritev, pwritev2 with the offset and the bytes; ftruncate,
 *    fallocate, posix_fallocate; fsync and fdatasync (of a directory too),
 *    sync_file_range, msync; rename, renameat, renameat2, unlink,
 *    unlinkat, rmdir, mkdir, mkdirat; close, dup, dup2, dup3, mmap;
 *    and what changed in their shared writable mappings (maps.c);
 *  - accepted connections: every recv, recvfrom, recvmsg, read, readv with
 *    the bytes read; every send, sendto, sendmsg, write, writev with the
 *    bytes sent; accept and close.
 * A call that changes something has a CALL record written before it is
 * made (with the bytes of a file write) and a RETURN record after, so a
 * kill -9 loses nothing up to the call it interrupts.  Each record is one
 * writev straight to the log: nothing buffered, nothing of the daemon's
 * synced, no descriptor of the daemon's touched.
 *
 * Faults, on files under MQD_RECORD_DIR only.  An injected failure makes
 * no real call; its RETURN record has PC_FLAG_INJECTED.
 *   MQD_FAULT_SYNC=N          the Nth fsync or fdatasync of a file (not of
 *                             a directory) fails with EIO; "N+": the Nth
 *                             and every later one.
 *   MQD_FAULT_WRITE_LIMIT=B   a write or fallocate that would take the
 *                             bytes written to files since the start past
 *                             B fails with ENOSPC, writing nothing (0: all
 *                             of them).
 *   MQD_FAULT_RENAME=N        the Nth rename fails with EIO ("N+" too).
 *   MQD_FAULT_WHEN=PATH       the faults above apply, and count calls,
 *                             only while PATH exists: a test creates it at
 *                             the moment it chooses.
 * Stores into a mapping cannot fail so (a full disk gives SIGBUS there).
 *
 * Not seen: a descriptor made by fcntl(F_DUPFD), truncate(2) by path,
 * mremap, O_TMPFILE with linkat, syncfs and sync.
 * Stores into a mapping reach the log at the next snapshot (maps.c), not
 * when they are made. */
#include "config.h"
#undef _FORTIFY_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "recorder.h"

/* Our open64 is our open: on 64-bit glibc they are the same function. */
#define ALIAS(name, target) \
  __typeof__ (target) name __attribute__ ((alias (#target)))

/* ---- helpers --------------------------------------------------------- */

static size_t
iov_length (const struct iovec *iov, int count)
{
  size_t len = 0;

  for (int i = 0; i < count; i++)
    len += iov[i].iov_len;
  return len;
}

/* The first len bytes of iov in one piece; *owned is to be freed. */
static const void *
gather (const struct iovec *iov, int count, size_t len, void **owned)
{
  char *buf;

  *owned = NULL;
  if (count == 1 || len == 0)
    return count > 0 ? iov[0].iov_base : NULL;
  buf = *owned = malloc (len);
  if (buf == NULL)
    pc_die ("out of memory for a record");
  for (size_t done = 0; done < len; iov++)
    {
      size_t n = iov->iov_len < len - done ? iov->iov_len : len - done;

      memcpy (buf + done, iov->iov_base, n);
      done += n;
    }
  return buf;
}

/* A RETURN record for ret; errno as the call left it. */
static int64_t
end (enum pc_op op, uint64_t seq, const struct pc_args *args, int64_t ret)
{
  int saved = errno;

  pc_log_return (op, seq, args, ret, saved, false, NULL, 0);
  errno = saved;
  return ret;
}

static int
fail (enum pc_op op, uint64_t seq, const struct pc_args *args, int err)
{
  pc_log_return (op, seq, args, -1, err, true, NULL, 0);
  errno = err;
  return -1;
}

/* ---- reads and writes ------------------------------------------------ */

/* One read or write call, whichever libc function made it. */
struct io
{
  void *real;
  int fd;
  struct iovec *iov;
  int iovcnt;
  off_t offset;                 /* -1: at the file position */
  int flags;                    /* MSG_*, RWF_* */
  struct msghdr *msg;
  void *addr;                   /* sendto, recvfrom */
  void *addr_len;
};

#define ONE(buf, len) (&(struct iovec) { (void *) (buf), (len) })

typedef ssize_t (*io_call) (struct io *);

static ssize_t
file_write (const struct pc_fd *f, struct io *io, io_call call)
{
  size_t len = iov_length (io->iov, io->iovcnt);
  struct pc_args args = { f->id, io->fd, io->offset };
  uint64_t seq = 0;
  ssize_t n;

  if (io->offset < 0)
    args.a = f->append ? -1 : lseek (io->fd, 0, SEEK_CUR);
  if (pc_recording ())
    {
      void *owned;

      seq = pc_log_call (PC_OP_WRITE, &args, NULL, NULL,
                         gather (io->iov, io->iovcnt, len, &owned), len);
      free (owned);
    }
  if (pc_fault_write (len))
    return fail (PC_OP_WRITE, seq, &args, ENOSPC);
  n = call (io);
  if (n > 0)
    pc_fault_wrote (n);
  return end (PC_OP_WRITE, seq, &args, n);
}

static ssize_t
conn_send (const struct pc_fd *f, struct io *io, io_call call)
{
  struct pc_args args = { f->id, io->fd };
  uint64_t seq;
  ssize_t n;
  size_t sent;
  void *owned;
  int saved;

  if (!pc_recording ())
    return call (io);
  /* Stores into mapped files first: the reply may rest on them. */
  pc_maps_snapshot (0);
  seq = pc_log_call (PC_OP_SEND, &args, NULL, NULL, NULL, 0);
  n = call (io);
  saved = errno;
  sent = n > 0 ? (size_t) n : 0;
  pc_log_return (PC_OP_SEND, seq, &args, n, saved, false,
                 gather (io->iov, io->iovcnt, sent, &owned), sent);
  free (owned);
  errno = saved;
  return n;
}

static ssize_t
output (struct io *io, io_call call)
{
  struct pc_fd f = pc_fd_get (io->fd);

  if (f.kind == PC_FD_FILE)
    return file_write (&f, io, call);
  if (f.kind == PC_FD_CONN)
    return conn_send (&f, io, call);
  return call (io);
}

static ssize_t
input (struct io *io, io_call call)
{
  struct pc_fd f = pc_fd_get (io->fd);
  ssize_t n = call (io);
  int saved = errno;
  size_t len = n > 0 ? (size_t) n : 0;
  struct pc_args args = { f.id, io->fd, n, n < 0 ? saved : 0 };
  void *owned;

  /* A peek takes nothing; "try again" says nothing. */
  if (f.kind != PC_FD_CONN || !pc_recording () || (io->flags & MSG_PEEK)
      || (n < 0 && (saved == EAGAIN || saved == EWOULDBLOCK
                    || saved == EINTR)))
    return n;
  pc_log_event (PC_OP_RECV, &args, NULL,
                gather (io->iov, io->iovcnt, len, &owned), len);
  free (owned);
  errno = saved;
  return n;
}

/* The shapes of the libc calls, each called from a struct io. */
static ssize_t
call_buf (struct io *io)
{
  ssize_t (*fn) (int, void *, size_t) = io->real;

  return fn (io->fd, io->iov->iov_base, io->iov->iov_len);
}

static ssize_t
call_buf_at (struct io *io)
{
  ssize_t (*fn) (int, void *, size_t, off_t) = io->real;

  return fn (io->fd, io->iov->iov_base, io->iov->iov_len, io->offset);
}

static ssize_t
call_buf_flags (struct io *io)
{
  ssize_t (*fn) (int, void *, size_t, int) = io->real;

  return fn (io->fd, io->iov->iov_base, io->iov->iov_len, io->flags);
}

static ssize_t
call_iov (struct io *io)
{
  ssize_t (*fn) (int, const struct iovec *, int) = io->real;

  return fn (io->fd, io->iov, io->iovcnt);
}

static ssize_t
call_iov_at (struct io *io)
{
  ssize_t (*fn) (int, const struct iovec *, int, off_t) = io->real;

  return fn (io->fd, io->iov, io->iovcnt, io->offset);
}

static ssize_t
call_iov_at_flags (struct io *io)
{
  ssize_t (*fn) (int, const struct iovec *, int, off_t, int) = io->real;

  return fn (io->fd, io->iov, io->iovcnt, io->offset, io->flags);
}

static ssize_t
call_msg (struct io *io)
{
  ssize_t (*fn) (int, struct msghdr *, int) = io->real;

  return fn (io->fd, io->msg, io->flags);
}

static ssize_t
call_sendto (struct io *io)
{
  ssize_t (*fn) (int, const void *, size_t, int, const struct sockaddr *,
                 socklen_t) = io->real;

  return fn (io->fd, io->iov->iov_base, io->iov->iov_len, io->flags,
             io->addr, (socklen_t) (uintptr_t) io->addr_len);
}

static ssize_t
call_recvfrom (struct io *io)
{
  ssize_t (*fn) (int, void *, size_t, int, struct sockaddr *, socklen_t *)
    = io->real;

  return fn (io->fd, io->iov->iov_base, io->iov->iov_len, io->flags,
             io->addr, io->addr_len);
}

ssize_t
write (int fd, const void *buf, size_t len)
{
  return output (&(struct io) { REAL (write), fd, ONE (buf, len), 1, -1 },
                 call_buf);
}

ssize_t
pwrite (int fd, const void *buf, size_t len, off_t offset)
{
  return output (&(struct io) { REAL (pwrite), fd, ONE (buf, len), 1,
                                offset }, call_buf_at);
}
ALIAS (pwrite64, pwrite);

ssize_t
writev (int fd, const struct iovec *iov, int count)
{
  return output (&(struct io) { REAL (writev), fd, (struct iovec *) iov,
                                count, -1 }, call_iov);
}

ssize_t
pwritev (int fd, const struct iovec *iov, int count, off_t offset)
{
  return output (&(struct io) { REAL (pwritev), fd, (struct iovec *) iov,
                                count, offset }, call_iov_at);
}
ALIAS (pwritev64, pwritev);

ssize_t
pwritev2 (int fd, const struct iovec *iov, int count, off_t offset,
          int flags)
{
  return output (&(struct io) { REAL (pwritev2), fd, (struct iovec *) iov,
                                count, offset, flags }, call_iov_at_flags);
}
ALIAS (pwritev64v2, pwritev2);

ssize_t
send (int fd, const void *buf, size_t len, int flags)
{
  return output (&(struct io) { REAL (send), fd, ONE (buf, len), 1, -1,
                                flags }, call_buf_flags);
}

ssize_t
sendto (int fd, const void *buf, size_t len, int flags,
        __CONST_SOCKADDR_ARG addr, socklen_t addr_len)
{
  return output (&(struct io) { REAL (sendto), fd, ONE (buf, len), 1, -1,
                                flags, NULL, (void *) addr.__sockaddr__,
                                (void *) (uintptr_t) addr_len }, call_sendto);
}

ssize_t
sendmsg (int fd, const struct msghdr *msg, int flags)
{
  return output (&(struct io) { REAL (sendmsg), fd, msg->msg_iov,
                                msg->msg_iovlen, -1, flags,
                                (struct msghdr *) msg }, call_msg);
}

ssize_t
read (int fd, void *buf, size_t len)
{
  return input (&(struct io) { REAL (read), fd, ONE (buf, len), 1, -1 },
                call_buf);
}

ssize_t
readv (int fd, const struct iovec *iov, int count)
{
  return input (&(struct io) { REAL (readv), fd, (struct iovec *) iov,
                               count, -1 }, call_iov);
}

ssize_t
recv (int fd, void *buf, size_t len, int flags)
{
  return input (&(struct io) { REAL (recv), fd, ONE (buf, len), 1, -1,
                               flags }, call_buf_flags);
}

ssize_t
recvfrom (int fd, void *buf, size_t len, int flags, __SOCKADDR_ARG addr,
          socklen_t *addr_len)
{
  return input (&(struct io) { REAL (recvfrom), fd, ONE (buf, len), 1, -1,
                               flags, NULL, addr.__sockaddr__, addr_len },
                call_recvfrom);
}

ssize_t
recvmsg (int fd, struct msghdr *msg, int flags)
{
  return input (&(struct io) { REAL (recvmsg), fd, msg->msg_iov,
                               msg->msg_iovlen, -1, flags, msg },
                call_msg);
}

/* ---- opening, naming, closing ---------------------------------------- */

struct trace
{
  bool on;
  uint64_t seq;
  enum pc_op op;
  int flags;
};

static bool
needs_mode (int flags)
{
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define MODE_ARG(flags, mode) \
  do { \
    if (needs_mode (flags)) \
      { \
        va_list ap_; \
        va_start (ap_, flags); \
        mode = va_arg (ap_, mode_t); \
        va_end (ap_); \
      } \
  } while (0)

static void
open_begin (struct trace *t, int dirfd, const char *path, int flags,
            mode_t mode)
{
  char rel[PATH_MAX];
  struct pc_args args = { 0, -1, flags, mode };

  *t = (struct trace) { pc_resolve (dirfd, path, rel, sizeof rel), 0,
                        PC_OP_OPEN, flags };
  if (t->on)
    t->seq = pc_log_call (PC_OP_OPEN, &args, rel, NULL, NULL, 0);
}

static int
open_end (struct trace *t, int fd)
{
  int saved = errno;
  struct stat st;
  struct pc_fd entry = { PC_FD_FILE, (t->flags & O_APPEND) != 0, 0 };
  struct pc_args args = { 0, fd };

  if (!t->on)
    return fd;
  if (fd >= 0)
    {
      if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
        entry.kind = PC_FD_DIR;
      entry.id = args.id = pc_new_id ();
      args.c = entry.kind == PC_FD_DIR;
      pc_fd_set (fd, entry);
    }
  pc_log_return (PC_OP_OPEN, t->seq, &args, fd, saved, false, NULL, 0);
  errno = saved;
  return fd;
}

int
open (const char *path, int flags, ...)
{
  struct trace t;
  mode_t mode = 0;

  MODE_ARG (flags, mode);
  open_begin (&t, AT_FDCWD, path, flags, mode);
  return open_end (&t, REAL (open) (path, flags, mode));
}
ALIAS (open64, open);

int
openat (int dirfd, const char *path, int flags, ...)
{
  struct trace t;
  mode_t mode = 0;

  MODE_ARG (flags, mode);
  open_begin (&t, dirfd, path, flags, mode);
  return open_end (&t, REAL (openat) (dirfd, path, flags, mode));
}
ALIAS (openat64, openat);

/* What open becomes in a program built with _FORTIFY_SOURCE (GDBM is). */
int __open_2 (const char *path, int flags);
int __openat_2 (int dirfd, const char *path, int flags);

int
__open_2 (const char *path, int flags)
{
  struct trace t;

  open_begin (&t, AT_FDCWD, path, flags, 0);
  return open_end (&t, REAL (__open_2) (path, flags));
}
ALIAS (__open64_2, __open_2);

int
__openat_2 (int dirfd, const char *path, int flags)
{
  struct trace t;

  open_begin (&t, dirfd, path, flags, 0);
  return open_end (&t, REAL (__openat_2) (dirfd, path, flags));
}
ALIAS (__openat64_2, __openat_2);

int
creat (const char *path, mode_t mode)
{
  struct trace t;

  open_begin (&t, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
  return open_end (&t, REAL (creat) (path, mode));
}
ALIAS (creat64, creat);

/* A call on one or two paths: logged when one is under the directory. */
static bool
path_begin (struct trace *t, enum pc_op op, int dirfd, const char *path,
            int dirfd2, const char *path2, int64_t a)
{
  char rel[PATH_MAX], rel2[PATH_MAX];
  bool in = pc_resolve (dirfd, path, rel, sizeof rel);
  bool in2 = path2 != NULL && pc_resolve (dirfd2, path2, rel2, sizeof rel2);
  struct pc_args args = { 0, -1, a, (!in ? 1 : 0) | (path2 && !in2 ? 2 : 0) };

  *t = (struct trace) { in || in2, 0, op };
  if (t->on)
    t->seq = pc_log_call (op, &args, in ? rel : NULL, in2 ? rel2 : NULL,
                          NULL, 0);
  return t->on;
}

static int
path_end (struct trace *t, int ret)
{
  return t->on ? end (t->op, t->seq, NULL, ret) : ret;
}

/* The plain forms are the *at forms on the working directory: the same
 * system calls. */
int
rename (const char *old, const char *new)
{
  return renameat2 (AT_FDCWD, old, AT_FDCWD, new, 0);
}

int
renameat (int olddirfd, const char *old, int newdirfd, const char *new)
{
  return renameat2 (olddirfd, old, newdirfd, new, 0);
}

int
renameat2 (int olddirfd, const char *old, int newdirfd, const char *new,
           unsigned int flags)
{
  struct trace t;

  if (path_begin (&t, PC_OP_RENAME, olddirfd, old, newdirfd, new, flags)
      && pc_fault_rename ())
    return fail (PC_OP_RENAME, t.seq, NULL, EIO);
  return path_end (&t, REAL (renameat2) (olddirfd, old, newdirfd, new,
                                         flags));
}

int
unlink (const char *path)
{
  return unlinkat (AT_FDCWD, path, 0);
}

int
rmdir (const char *path)
{
  return unlinkat (AT_FDCWD, path, AT_REMOVEDIR);
}

int
unlinkat (int dirfd, const char *path, int flags)
{
  struct trace t;

  path_begin (&t, PC_OP_UNLINK, dirfd, path, AT_FDCWD, NULL,
              (flags & AT_REMOVEDIR) != 0);
  return path_end (&t, REAL (unlinkat) (dirfd, path, flags));
}

int
mkdir (const char *path, mode_t mode)
{
  return mkdirat (AT_FDCWD, path, mode);
}

int
mkdirat (int dirfd, const char *path, mode_t mode)
{
  struct trace t;

  path_begin (&t, PC_OP_MKDIR, dirfd, path, AT_FDCWD, NULL, mode);
  return path_end (&t, REAL (mkdirat) (dirfd, path, mode));
}

static void
closed (const struct pc_fd *f, int fd)
{
  struct pc_args args = { f->id, fd };

  if (f->kind != PC_FD_NONE)
    pc_log_event (PC_OP_CLOSE, &args, NULL, NULL, 0);
}

int
close (int fd)
{
  struct pc_fd f = pc_fd_take (fd);
  int ret = REAL (close) (fd);

  closed (&f, fd);
  return ret;
}

/* fd2 now refers to what fd does: followed if fd is. */
static int
duplicated (int fd, int fd2)
{
  struct pc_fd closing, entry;

  if (fd2 < 0 || fd2 == fd)
    return fd2;
  closing = pc_fd_take (fd2);
  closed (&closing, fd2);
  entry = pc_fd_get (fd);
  if (entry.kind != PC_FD_NONE)
    pc_fd_set (fd2, entry);
  return fd2;
}

int
dup (int fd)
{
  return duplicated (fd, REAL (dup) (fd));
}

int
dup2 (int fd, int fd2)
{
  return duplicated (fd, REAL (dup2) (fd, fd2));
}

int
dup3 (int fd, int fd2, int flags)
{
  return duplicated (fd, REAL (dup3) (fd, fd2, flags));
}

static int
accepted (int fd)
{
  struct pc_fd entry = { PC_FD_CONN, false, 0 };
  struct pc_args args = { 0, fd };

  if (fd < 0 || pc_root () == NULL)
    return fd;
  entry.id = args.id = pc_new_id ();
  pc_fd_set (fd, entry);
  pc_log_event (PC_OP_ACCEPT, &args, NULL, NULL, 0);
  return fd;
}

int
accept (int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
  return accepted (REAL (accept) (fd, addr, len));
}

int
accept4 (int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
  return accepted (REAL (accept4) (fd, addr, len, flags));
}

/* ---- sizes and syncs ------------------------------------------------- */

int
ftruncate (int fd, off_t length)
{
  struct pc_fd f = pc_fd_get (fd);
  struct pc_args args = { f.id, fd, length };
  uint64_t seq;

  if (f.kind != PC_FD_FILE)
    return REAL (ftruncate) (fd, length);
  pc_maps_snapshot (f.id);
  seq = pc_log_call (PC_OP_TRUNCATE, &args, NULL, NULL, NULL, 0);
  return end (PC_OP_TRUNCATE, seq, &args, REAL (ftruncate) (fd, length));
}
ALIAS (ftruncate64, ftruncate);

/* An allocation is space taken like a write's: it fails alike. */
static bool
allocation_refused (const struct pc_args *args, off_t length, uint64_t *seq)
{
  int saved = errno;

  *seq = pc_log_call (PC_OP_FALLOCATE, args, NULL, NULL, NULL, 0);
  if (!pc_fault_write (length))
    return false;
  fail (PC_OP_FALLOCATE, *seq, args, ENOSPC);
  errno = saved;
  return true;
}

int
fallocate (int fd, int mode, off_t offset, off_t length)
{
  struct pc_fd f = pc_fd_get (fd);
  struct pc_args args = { f.id, fd, mode, offset, length };
  uint64_t seq;

  if (f.kind != PC_FD_FILE)
    return REAL (fallocate) (fd, mode, offset, length);
  if (allocation_refused (&args, length, &seq))
    {
      errno = ENOSPC;
      return -1;
    }
  return end (PC_OP_FALLOCATE, seq, &args,
              REAL (fallocate) (fd, mode, offset, length));
}
ALIAS (fallocate64, fallocate);

int
posix_fallocate (int fd, off_t offset, off_t length)
{
  struct pc_fd f = pc_fd_get (fd);
  struct pc_args args = { f.id, fd, 0, offset, length };
  uint64_t seq;
  int err;

  if (f.kind != PC_FD_FILE)
    return REAL (posix_fallocate) (fd, offset, length);
  if (allocation_refused (&args, length, &seq))
    return ENOSPC;
  /* It returns its error instead of setting errno. */
  err = REAL (posix_fallocate) (fd, offset, length);
  pc_log_return (PC_OP_FALLOCATE, seq, &args, err ? -1 : 0, err, false,
                 NULL, 0);
  return err;
}
ALIAS (posix_fallocate64, posix_fallocate);

static int
file_sync (int fd, bool data_only, int (*call) (int))
{
  struct pc_fd f = pc_fd_get (fd);
  struct pc_args args = { f.id, fd, data_only };
  uint64_t seq;

  if (f.kind != PC_FD_FILE && f.kind != PC_FD_DIR)
    return call (fd);
  pc_maps_snapshot (f.id);
  seq = pc_log_call (PC_OP_FSYNC, &args, NULL, NULL, NULL, 0);
  if (f.kind == PC_FD_FILE && pc_fault_sync ())
    return fail (PC_OP_FSYNC, seq, &args, EIO);
  return end (PC_OP_FSYNC, seq, &args, call (fd));
}

int
fsync (int fd)
{
  return file_sync (fd, false, REAL (fsync));
}

int
fdatasync (int fd)
{
  return file_sync (fd, true, REAL (fdatasync));
}

int
sync_file_range (int fd, off_t offset, off_t length, unsigned int flags)
{
  struct pc_fd f = pc_fd_get (fd);
  struct pc_args args = { f.id, fd, flags, offset, length };
  uint64_t seq;

  if (f.kind != PC_FD_FILE)
    return REAL (sync_file_range) (fd, offset, length, flags);
  seq = pc_log_call (PC_OP_SYNC_RANGE, &args, NULL, NULL, NULL, 0);
  return end (PC_OP_SYNC_RANGE, seq, &args,
              REAL (sync_file_range) (fd, offset, length, flags));
}

/* ---- mappings -------------------------------------------------------- */

void *
mmap (void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
  void *ret = REAL (mmap) (addr, len, prot, flags, fd, offset);
  struct pc_fd f = pc_fd_get (fd);
  struct pc_args args = { f.id, fd, offset, len,
                          ((int64_t) prot << 32) | (uint32_t) flags };
  int saved = errno;

  if (ret == MAP_FAILED || f.kind != PC_FD_FILE || !pc_recording ())
    return ret;
  pc_log_event (PC_OP_MMAP, &args, NULL, NULL, 0);
  if ((flags & MAP_SHARED) && (prot & PROT_WRITE))
    pc_maps_add (ret, len, offset, f.id, fd);
  errno = saved;
  return ret;
}
ALIAS (mmap64, mmap);

int
munmap (void *addr, size_t len)
{
  pc_maps_unmap (addr, len);
  return REAL (munmap) (addr, len);
}

int
msync (void *addr, size_t len, int flags)
{
  struct pc_args args = { 0, -1, flags, 0, len };
  uint64_t seq;

  if (!pc_maps_find (addr, len, &args.id, &args.b))
    return REAL (msync) (addr, len, flags);
  seq = pc_log_call (PC_OP_MSYNC, &args, NULL, NULL, NULL, 0);
  return end (PC_OP_MSYNC, seq, &args, REAL (msync) (addr, len, flags));
}
