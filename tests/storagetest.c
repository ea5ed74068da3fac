/* storagetest.c: the storage unit tests' common ground; see storagetest.h. */
#include "config.h"

#include <errno.h>
#include <gdbm.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "commit.h"
#include "configfile.h"
#include "datadir.h"
#include "storage.h"
#include "storagetest.h"
#include "store.h"

guint st_ready_calls;

static void
on_ready (MqQueue *queue)
{
  st_ready_calls++;
}

/* ---- faults ---- */

/* The calls the daemon would make; the hooks stay installed while a
 * directory is in use, so that arming a fault never races the sync
 * thread's reading of mq_file_ops. */
static MqFileOps real_ops;

/* Calls of one kind on files whose path ends with suffix. */
typedef struct {
  gboolean armed;
  StFaultCall call;
  char *suffix;
} Trap;

static void
trap_arm (Trap *trap, StFaultCall call, const char *suffix)
{
  g_free (trap->suffix);
  trap->suffix = g_strdup (suffix);
  trap->call = call;
  trap->armed = TRUE;
}

static void
trap_disarm (Trap *trap)
{
  trap->armed = FALSE;
  g_clear_pointer (&trap->suffix, g_free);
}

/* The file's path is looked up only while a trap of that kind is armed. */
static gboolean
trap_matches (const Trap *trap, StFaultCall call, int fd)
{
  g_autofree char *link = NULL;
  g_autofree char *path = NULL;

  if (!trap->armed || trap->call != call)
    return FALSE;
  link = g_strdup_printf ("/proc/self/fd/%d", fd);
  path = g_file_read_link (link, NULL);
  return path != NULL && g_str_has_suffix (path, trap->suffix);
}

static GMutex fault_lock;
static Trap fault;
static StFaultThread fault_thread;
static guint fault_left;
static guint fault_hits;
static GThread *main_thread;

static gboolean
fault_thread_matches (void)
{
  return fault_thread == ST_ANY_THREAD
    || (fault_thread == ST_MAIN_THREAD) == (g_thread_self () == main_thread);
}

/* Whether this call on fd fails. */
static gboolean
fault_hits_fd (StFaultCall call, int fd)
{
  gboolean hit;

  g_mutex_lock (&fault_lock);
  hit = fault_left > 0 && fault_thread_matches ()
    && trap_matches (&fault, call, fd);
  if (hit)
    {
      fault_hits++;
      if (fault_left != G_MAXUINT)
        fault_left--;
    }
  g_mutex_unlock (&fault_lock);
  if (hit)
    errno = EIO;
  return hit;
}

/* ---- holds ---- */

static GMutex hold_lock;
static GCond hold_changed;
static Trap hold;
static gboolean holding;

static void
hold_if_matches (StFaultCall call, int fd)
{
  g_mutex_lock (&hold_lock);
  if (trap_matches (&hold, call, fd))
    {
      holding = TRUE;
      g_cond_broadcast (&hold_changed);
      while (hold.armed)
        g_cond_wait (&hold_changed, &hold_lock);
    }
  g_mutex_unlock (&hold_lock);
}

void
st_hold_set (StFaultCall call, const char *suffix)
{
  g_mutex_lock (&hold_lock);
  trap_arm (&hold, call, suffix);
  holding = FALSE;
  g_mutex_unlock (&hold_lock);
}

void
st_hold_wait (void)
{
  g_mutex_lock (&hold_lock);
  while (!holding)
    g_cond_wait (&hold_changed, &hold_lock);
  g_mutex_unlock (&hold_lock);
}

void
st_hold_release (void)
{
  g_mutex_lock (&hold_lock);
  trap_disarm (&hold);
  holding = FALSE;
  g_cond_broadcast (&hold_changed);
  g_mutex_unlock (&hold_lock);
}

static ssize_t
hook_pwrite (int fd, const void *buf, size_t len, off_t offset)
{
  hold_if_matches (ST_FAULT_PWRITE, fd);
  return fault_hits_fd (ST_FAULT_PWRITE, fd) ? -1
    : real_ops.pwrite (fd, buf, len, offset);
}

static int
hook_fdatasync (int fd)
{
  hold_if_matches (ST_FAULT_FDATASYNC, fd);
  return fault_hits_fd (ST_FAULT_FDATASYNC, fd) ? -1
    : real_ops.fdatasync (fd);
}

static int
hook_fsync (int fd)
{
  hold_if_matches (ST_FAULT_FSYNC, fd);
  return fault_hits_fd (ST_FAULT_FSYNC, fd) ? -1 : real_ops.fsync (fd);
}

void
st_fault_set (StFaultCall call, const char *suffix, StFaultThread thread,
              guint times)
{
  g_mutex_lock (&fault_lock);
  trap_arm (&fault, call, suffix);
  fault_thread = thread;
  fault_left = times;
  fault_hits = 0;
  g_mutex_unlock (&fault_lock);
}

void
st_fault_clear (void)
{
  g_mutex_lock (&fault_lock);
  trap_disarm (&fault);
  g_mutex_unlock (&fault_lock);
}

guint
st_fault_hits (void)
{
  guint hits;

  g_mutex_lock (&fault_lock);
  hits = fault_hits;
  g_mutex_unlock (&fault_lock);
  return hits;
}

/* ---- what the daemon said ---- */

static GMutex log_lock;
static GString *log_text;
static guint log_handler;

static void
log_capture (const char *domain, GLogLevelFlags level, const char *message,
             gpointer user_data)
{
  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s\n", message);
  g_mutex_unlock (&log_lock);
}

char *
st_log_take (void)
{
  char *text;

  g_mutex_lock (&log_lock);
  text = g_strdup (log_text->str);
  g_string_truncate (log_text, 0);
  g_mutex_unlock (&log_lock);
  return text;
}

/* ---- the directory ---- */

static MqRuleBook *
rules_from_text (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MqConfigFile) file = NULL;
  g_autofree char *path = NULL;
  MqRuleBook *rules;
  int fd = g_file_open_tmp ("mqd-test-rules-XXXXXX", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, text, -1, &error));
  file = configfile_load (path, &error);
  g_assert_no_error (error);
  rules = rules_load (file, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_unlink (path), ==, 0);
  return rules;
}

void
sdir_init (StorageDir *d, gboolean no_sync, const char *rules_text)
{
  g_autoptr (GError) error = NULL;

  d->path = g_dir_make_tmp ("mqd-test-storage-XXXXXX", &error);
  g_assert_no_error (error);
  d->rules = rules_text != NULL ? rules_from_text (rules_text) : rules_new ();
  d->no_sync = no_sync;
  d->open = FALSE;
  main_thread = g_thread_self ();
  real_ops = mq_file_ops;
  mq_file_ops.pwrite = hook_pwrite;
  mq_file_ops.fdatasync = hook_fdatasync;
  mq_file_ops.fsync = hook_fsync;
  st_ready_calls = 0;
  log_text = g_string_new (NULL);
  log_handler = g_log_set_handler (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE
                                   | G_LOG_LEVEL_INFO, log_capture, NULL);
}

gboolean
sdir_try_open (StorageDir *d, GError **error)
{
  MqStorageOptions options = {
    .path = d->path,
    .owner_uid = G_MAXUINT32,
    .no_sync = d->no_sync,
    .rules = d->rules,
    .ready = on_ready,
  };

  g_assert_false (d->open);
  d->open = storage_open (&options, error);
  /* A start that failed half way leaves things to close all the same. */
  if (!d->open)
    storage_close ();
  return d->open;
}

void
sdir_open (StorageDir *d)
{
  g_autoptr (GError) error = NULL;

  sdir_try_open (d, &error);
  g_assert_no_error (error);
  g_assert_true (d->open);
}

void
sdir_stop (StorageDir *d)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (d->open);
  g_assert_true (storage_checkpoint (&error));
  g_assert_no_error (error);
  storage_close ();
  d->open = FALSE;
}

void
sdir_crash (StorageDir *d)
{
  g_assert_true (d->open);
  storage_close ();
  d->open = FALSE;
}

void
sdir_clear (StorageDir *d)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GError) error = NULL;
  const char *name;

  if (d->open)
    storage_close ();
  st_fault_clear ();
  st_hold_release ();
  mq_file_ops = real_ops;
  g_log_remove_handler (G_LOG_DOMAIN, log_handler);
  g_string_free (g_steal_pointer (&log_text), TRUE);
  dir = g_dir_open (d->path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = sdir_file_path (d, name);

      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (d->path), ==, 0);
  g_clear_pointer (&d->path, g_free);
  g_clear_pointer (&d->rules, rules_free);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

char *
sdir_files (StorageDir *d)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  dir = g_dir_open (d->path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

char *
sdir_file_path (StorageDir *d, const char *name)
{
  return g_build_filename (d->path, name, NULL);
}

/* ---- the loop, by hand ---- */

/* Takes in one wake-up of the sync thread, waiting up to timeout_ms;
 * *woken tells whether there was one. */
static gboolean
take_wake (int timeout_ms, gboolean *woken, GError **error)
{
  struct pollfd p = { .fd = storage_wake_fd (), .events = POLLIN };
  int n = poll (&p, 1, timeout_ms);

  g_assert_cmpint (n, >=, 0);
  *woken = n > 0;
  if (n == 0)
    return TRUE;
  storage_ack ();
  commit_on_wake ();
  return checkpoint_on_wake (error);
}

void
st_pass_end (void)
{
  g_autoptr (GError) error = NULL;
  gboolean woken = TRUE;

  g_assert_true (queues_tidy (&error) && checkpoint_maintain (&error));
  if (checkpoint_due ())
    g_assert_true (checkpoint_cut (&error));
  g_assert_true (commit_end_pass (&error));
  while (woken)
    g_assert_true (take_wake (0, &woken, &error));
  g_assert_no_error (error);
}

gboolean
st_wait_wake (GError **error)
{
  gboolean woken;
  gboolean ok = take_wake (10 * 1000, &woken, error);

  g_assert_true (woken);
  return ok;
}

void
st_wait_synced (guint64 lsn)
{
  g_autoptr (GError) error = NULL;

  while (commit_synced () < lsn)
    {
      g_assert_true (st_wait_wake (&error));
      g_assert_no_error (error);
    }
}

void
st_checkpoint (void)
{
  g_autoptr (GError) error = NULL;

  /* A cut while another is pending would leave that one's generation
   * incomplete in the store's eyes: the daemon cuts only when none is. */
  g_assert_true (checkpoint_wait (&error));
  g_assert_true (checkpoint_cut (&error));
  g_assert_true (checkpoint_wait (&error));
  g_assert_no_error (error);
}

/* ---- messages ---- */

static gsize
payload_len (guint i)
{
  return 60 + (i * 7919u) % 400;
}

char *
st_payload (guint i, gsize *len)
{
  GString *s = g_string_new (NULL);

  g_string_printf (s, "message %u|", i);
  *len = payload_len (i);
  while (s->len < *len)
    g_string_append_c (s, (char) ('a' + (i + s->len) % 26));
  g_string_truncate (s, *len);
  return g_string_free (s, FALSE);
}

guint64
st_bytes (guint from, guint to)
{
  guint64 total = 0;

  for (guint i = from; i <= to; i++)
    total += payload_len (i);
  return total;
}

MqQueue *
st_queue (const char *name)
{
  return queue_lookup_or_create (name, strlen (name));
}

guint64
st_push_full (const char *queue, guint i, guint32 flags, gint64 exptime)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree char *data = st_payload (i, &len);
  guint64 lsn = 0;

  g_assert_cmpint (queue_push (st_queue (queue), flags, exptime, -1, data, len,
                               &lsn, &error), ==, MQ_PUSH_STORED);
  g_assert_no_error (error);
  return lsn;
}

guint64
st_push (const char *queue, guint i)
{
  return st_push_full (queue, i, 0, 0);
}

static MqMsgHeader
expect_item (MqItem *item, guint i)
{
  gsize len;
  g_autofree char *data = st_payload (i, &len);
  MqMsgHeader header = item->header;

  g_assert_cmpmem (item->data, item->len, data, len);
  g_assert_cmpuint (header.len, ==, len);
  item_clear (item);
  return header;
}

typedef gboolean (*TakeFunc) (MqQueue *queue, MqItem *item, GError **error);

/* Takes message i from queue the way take does; *seq gets its seq. */
static MqMsgHeader
take_expected (const char *queue, TakeFunc take, guint i, guint64 *seq)
{
  g_autoptr (GError) error = NULL;
  MqItem item;

  g_assert_true (take (st_queue (queue), &item, &error));
  g_assert_no_error (error);
  *seq = item.seq;
  return expect_item (&item, i);
}

MqMsgHeader
st_expect_pop (const char *queue, guint i)
{
  guint64 seq;

  return take_expected (queue, queue_pop, i, &seq);
}

guint64
st_expect_open (const char *queue, guint i)
{
  guint64 seq;

  take_expected (queue, queue_open_read, i, &seq);
  return seq;
}

void
st_expect_empty (const char *queue)
{
  g_autoptr (GError) error = NULL;
  MqItem item;

  g_assert_false (queue_pop (st_queue (queue), &item, &error));
  g_assert_no_error (error);
}

/* ---- segments on disk ---- */

static void
gen_segments (const char *path, guint64 gen, const char *queue,
              GArray *out)
{
  GDBM_FILE dbf = gdbm_open (path, 0, GDBM_READER | GDBM_NOLOCK
                             | GDBM_NOMMAP, 0, NULL);
  datum key;

  g_assert_nonnull (dbf);
  for (key = gdbm_firstkey (dbf); key.dptr != NULL;)
    {
      StSegment seg = { .gen = gen };
      const char *name;
      gsize name_len;
      datum next, value;
      guint32 crc;

      if (record_key_decode ((const guint8 *) key.dptr, key.dsize, &name,
                             &name_len, &seg.inc, &seg.first)
          == MQ_KEY_SEGMENT
          && (queue == NULL || (name_len == strlen (queue)
                                && memcmp (name, queue, name_len) == 0)))
        {
          guint64 first;

          value = gdbm_fetch (dbf, key);
          g_assert_true (record_segment_header_decode (
            (const guint8 *) value.dptr, value.dsize, &first, &seg.count,
            &crc));
          g_assert_cmpuint (first, ==, seg.first);
          free (value.dptr);
          g_array_append_val (out, seg);
        }
      next = gdbm_nextkey (dbf, key);
      free (key.dptr);
      key = next;
    }
  gdbm_close (dbf);
}

static gint
compare_segments (gconstpointer a, gconstpointer b)
{
  const StSegment *x = a, *y = b;

  if (x->gen != y->gen)
    return x->gen < y->gen ? -1 : 1;
  return x->first < y->first ? -1 : x->first > y->first;
}

GArray *
sdir_segments (StorageDir *d, const char *queue)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GError) error = NULL;
  GArray *out = g_array_new (FALSE, FALSE, sizeof (StSegment));
  const char *name;

  dir = g_dir_open (d->path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = sdir_file_path (d, name);
      guint64 gen;

      if (store_parse_name (name, "gdbm", &gen))
        gen_segments (path, gen, queue, out);
    }
  g_array_sort (out, compare_segments);
  return out;
}
