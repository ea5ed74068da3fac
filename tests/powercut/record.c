/* record.c: the recorder's log (see recorder.h for its layout) and its
 * set-up from the environment. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "recorder.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char root[PATH_MAX];
static bool have_root;
static int log_fd = -1;
/* Taken around numbering a record and writing it, so that the file holds
 * the records of one process in the order of their numbers. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_seq;
static atomic_uint_fast64_t last_id;

void
pc_die (const char *what)
{
  static const char prefix[] = "mqd recorder: ";

  /* Straight to the descriptor: stdio may hold locks of the caller. */
  if (write (2, prefix, sizeof prefix - 1) < 0
      || write (2, what, strlen (what)) < 0 || write (2, "\n", 1) < 0)
    abort ();
  abort ();
}

void *
pc_next (const char *name, void **cache)
{
  void *fn = __atomic_load_n (cache, __ATOMIC_ACQUIRE);

  if (fn == NULL)
    {
      fn = dlsym (RTLD_NEXT, name);
      if (fn == NULL)
        pc_die (name);
      __atomic_store_n (cache, fn, __ATOMIC_RELEASE);
    }
  return fn;
}

static void
write_all (struct iovec *iov, int count)
{
  while (count > 0)
    {
      ssize_t n = REAL (writev) (log_fd, iov, count);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        pc_die ("cannot write the log: a record missing would make the "
                "checker wrong");
      while (count > 0 && (size_t) n >= iov->iov_len)
        {
          n -= iov->iov_len;
          iov++;
          count--;
        }
      if (count > 0)
        {
          iov->iov_base = (char *) iov->iov_base + n;
          iov->iov_len -= n;
        }
    }
}

static uint64_t
log_record (struct pc_record *rec, const char *name, const char *name2,
            const void *data, size_t len)
{
  int saved = errno;
  size_t name_len = name != NULL ? strlen (name) : 0;
  size_t name2_len = name2 != NULL ? strlen (name2) : 0;
  struct iovec iov[] = {
    { rec, sizeof *rec },
    { (void *) name, name_len },
    { (void *) name2, name2_len },
    { (void *) data, len },
  };
  uint64_t seq;

  if (log_fd < 0)
    return 0;
  if (len > UINT32_MAX - sizeof *rec - 2 * PATH_MAX)
    pc_die ("a record over 4 GiB");
  rec->size = sizeof *rec + name_len + name2_len + len;
  rec->name_len = name_len;
  rec->name2_len = name2_len;
  rec->data_len = len;
  rec->pid = getpid ();
  rec->tid = gettid ();
  pthread_mutex_lock (&log_lock);
  seq = rec->seq = ++last_seq;
  write_all (iov, 4);
  pthread_mutex_unlock (&log_lock);
  errno = saved;
  return seq;
}

static void
fill (struct pc_record *rec, enum pc_op op, enum pc_phase phase,
      const struct pc_args *args)
{
  memset (rec, 0, sizeof *rec);
  rec->op = op;
  rec->phase = phase;
  rec->fd = -1;
  if (args != NULL)
    {
      rec->id = args->id;
      rec->fd = args->fd;
      rec->a = args->a;
      rec->b = args->b;
      rec->c = args->c;
    }
}

uint64_t
pc_log_call (enum pc_op op, const struct pc_args *args, const char *name,
             const char *name2, const void *data, size_t len)
{
  struct pc_record rec;

  fill (&rec, op, PC_CALL, args);
  return log_record (&rec, name, name2, data, len);
}

void
pc_log_return (enum pc_op op, uint64_t call, const struct pc_args *args,
               int64_t ret, int err, bool injected, const void *data,
               size_t len)
{
  struct pc_record rec;

  fill (&rec, op, PC_RETURN, args);
  rec.call = call;
  rec.ret = ret;
  rec.err = ret < 0 ? err : 0;
  rec.flags = injected ? PC_FLAG_INJECTED : 0;
  log_record (&rec, NULL, NULL, data, len);
}

void
pc_log_event (enum pc_op op, const struct pc_args *args, const char *name,
              const void *data, size_t len)
{
  struct pc_record rec;

  fill (&rec, op, PC_EVENT, args);
  log_record (&rec, name, NULL, data, len);
}

uint64_t
pc_new_id (void)
{
  return atomic_fetch_add (&last_id, 1) + 1;
}

/* A fork while another thread writes a record would leave the child's
 * lock taken for good. */
static void
before_fork (void)
{
  pthread_mutex_lock (&log_lock);
}

static void
after_fork (void)
{
  pthread_mutex_unlock (&log_lock);
}

static void
in_child (void)
{
  struct pc_args args = { 0, -1, getppid () };

  pthread_mutex_unlock (&log_lock);
  pc_log_event (PC_OP_START, &args, root, NULL, 0);
}

static void
init (void)
{
  const char *dir = getenv ("MQD_RECORD_DIR");
  const char *log = getenv ("MQD_RECORD_LOG");

  if (dir == NULL || dir[0] != '/')
    return;
  /* The directory may not exist yet: the daemon makes it. */
  have_root = pc_canonical (dir, root, sizeof root);
  if (!have_root)
    pc_die ("MQD_RECORD_DIR: its parent directory does not exist");
  pc_faults_init ();
  if (log == NULL)
    return;
  log_fd = REAL (open) (log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                        0600);
  if (log_fd < 0)
    pc_die ("cannot open MQD_RECORD_LOG");
  pthread_atfork (before_fork, after_fork, in_child);
  pc_log_event (PC_OP_START, NULL, root, NULL, 0);
}

void
pc_init (void)
{
  pthread_once (&once, init);
}

/* Before main(): the START record comes first. */
__attribute__ ((constructor)) static void
constructor (void)
{
  pc_init ();
}

bool
pc_recording (void)
{
  pc_init ();
  return log_fd >= 0;
}

const char *
pc_root (void)
{
  pc_init ();
  return have_root ? root : NULL;
}
