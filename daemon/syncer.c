/* syncer.c: the sync thread; see syncer.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "store.h"
#include "syncer.h"

/* The journal is written ahead in pieces this large, between syncs. */
#define SYNCER_FILL_CHUNK (1024 * 1024)

typedef struct {
  GCond cond;
  gboolean waiting;
} SyncerWork;

struct _MqSyncer {
  GThread *thread;                /* syncs the journal, writes it ahead */
  GThread *checkpointer;          /* checkpoints' last steps, files ahead */
  GMutex lock;
  /* GLib's GCond makes a system call at every signal, waiter or not, and
   * a woken thread two more: each thread waits on a cond of its own,
   * signalled only when it waits there, and busy flags are broadcast only
   * when someone waits for them. */
  SyncerWork sync_work;           /* the sync thread waits here */
  SyncerWork checkpoint_work;     /* the checkpoint thread here */
  GCond changed;                  /* the loop, and busy flags, here */
  guint busy_waiters;
  MqDataDir *dir;
  int wake_fd;
  MqJournal *journal;             /* the one appended to */
  GPtrArray *replaced;            /* MqJournal: synced once, then freed */
  gboolean replaced_busy;         /* a thread is syncing some of them */
  guint journal_busy;             /* syncs and writes ahead of it under
                                     way (a write ahead may overlap a
                                     sync made on the loop's thread): a
                                     checkpoint must not free it */
  guint64 requested;
  guint64 synced;
  guint64 failed;
  GQueue jobs;                    /* MqCheckpointJob */
  guint64 checkpointed;
  char *failure;
  guint64 prepare;                /* make journal prepare and generation
                                     file prepare + 1 */
  guint64 preparing;              /* the number being made */
  MqJournal *prepared;
  MqPart *prepared_part;
  int write_back_fd;              /* -1: none asked for */
  gboolean fill_failed;           /* stop writing ahead after an error */
  gboolean quit;
};

/* Called locked: lets the lock go, then wakes the thread of work if it
 * waits and tell is TRUE.  Woken under the lock, the thread would block on
 * it at once; a thread not waiting sees what changed at its next step. */
static void
syncer_unlock_telling (MqSyncer *syncer, SyncerWork *work, gboolean tell)
{
  gboolean wake = tell && work->waiting;

  if (wake)
    work->waiting = FALSE;
  g_mutex_unlock (&syncer->lock);
  if (wake)
    g_cond_signal (&work->cond);
}

static void
syncer_wake (MqSyncer *syncer)
{
  const guint64 one = 1;

  if (write (syncer->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
    g_critical ("cannot wake the main loop: %s", g_strerror (errno));
}

void
syncer_job_free (MqCheckpointJob *job)
{
  g_free (job->part_name);
  g_free (job->final_name);
  g_ptr_array_unref (job->remove);
  g_ptr_array_unref (job->retired);
  g_free (job);
}

/* Called locked: waits for a busy flag to change. */
static void
syncer_wait_busy (MqSyncer *syncer)
{
  syncer->busy_waiters++;
  g_cond_wait (&syncer->changed, &syncer->lock);
  syncer->busy_waiters--;
}

static void
syncer_busy_ended (MqSyncer *syncer)
{
  if (syncer->busy_waiters > 0)
    g_cond_broadcast (&syncer->changed);
}

static gboolean
syncer_sync_journals (GPtrArray *journals)
{
  gboolean ok = TRUE;

  for (guint i = 0; i < journals->len; i++)
    {
      MqJournal *journal = g_ptr_array_index (journals, i);

      if (mq_file_ops.fdatasync (journal_fd (journal)) != 0)
        {
          g_critical ("cannot sync a replaced journal: %s",
                      g_strerror (errno));
          ok = FALSE;
        }
    }
  return ok;
}

/* Called locked, from either thread; returns locked with every journal a
 * checkpoint replaced synced (when sync is TRUE) and freed.  Their END
 * makes the journal after them count at a start, so no sync of that one
 * may be trusted, nor a checkpoint finished, before.  A failure fails
 * every sync asked so far. */
static gboolean
syncer_sync_replaced (MqSyncer *syncer, gboolean sync)
{
  gboolean ok = TRUE;

  for (;;)
    {
      g_autoptr (GPtrArray) replaced = NULL;
      guint64 covered;

      /* The journal being synced or written ahead may be among them. */
      while (syncer->replaced_busy
             || (syncer->journal_busy > 0 && syncer->replaced->len > 0))
        syncer_wait_busy (syncer);
      if (syncer->replaced->len == 0)
        return ok;
      covered = syncer->requested;
      replaced = g_steal_pointer (&syncer->replaced);
      syncer->replaced = g_ptr_array_new_with_free_func (
        (GDestroyNotify) journal_free);
      syncer->replaced_busy = TRUE;
      g_mutex_unlock (&syncer->lock);
      if (sync && !syncer_sync_journals (replaced))
        ok = FALSE;
      g_mutex_lock (&syncer->lock);
      syncer->replaced_busy = FALSE;
      if (!ok)
        syncer->failed = MAX (syncer->failed, covered);
      syncer_busy_ended (syncer);
    }
}

/* A sync asked for and not made, nor failed. */
static gboolean
syncer_wants_sync (MqSyncer *syncer)
{
  return syncer->requested > syncer->synced
    && syncer->requested > syncer->failed;
}

/* Called locked, from either thread.  One sync of the journal at a time:
 * the other thread may begin one while the replaced journals are synced,
 * and it may cover all that was asked. */
static void
syncer_do_sync (MqSyncer *syncer)
{
  gboolean ok = TRUE;
  guint64 target;
  int fd;

  for (;;)
    {
      if (!syncer_sync_replaced (syncer, TRUE))
        ok = FALSE;
      if (syncer->journal_busy == 0)
        break;
      syncer_wait_busy (syncer);
    }
  if (!syncer_wants_sync (syncer))
    return;
  target = syncer->requested;
  fd = journal_fd (syncer->journal);
  syncer->journal_busy++;
  g_mutex_unlock (&syncer->lock);
  if (mq_file_ops.fdatasync (fd) != 0)
    {
      g_critical ("cannot sync the journal: %s", g_strerror (errno));
      ok = FALSE;
    }
  g_mutex_lock (&syncer->lock);
  syncer->journal_busy--;
  syncer_busy_ended (syncer);
  if (ok)
    syncer->synced = MAX (syncer->synced, target);
  else
    syncer->failed = MAX (syncer->failed, target);
}

static char *
job_run (MqSyncer *syncer, MqCheckpointJob *job)
{
  int dirfd = datadir_fd (syncer->dir);

  if (mq_file_ops.fsync (job->gen_fd) != 0)
    return g_strdup_printf ("cannot sync %s: %s", job->part_name,
                            g_strerror (errno));
  if (renameat (dirfd, job->part_name, dirfd, job->final_name) != 0)
    return g_strdup_printf ("cannot rename %s to %s: %s", job->part_name,
                            job->final_name, g_strerror (errno));
  if (mq_file_ops.fsync (dirfd) != 0)
    return g_strdup_printf ("cannot sync the directory after renaming %s: "
                            "%s", job->final_name, g_strerror (errno));
  for (guint i = 0; i < job->remove->len; i++)
    {
      const char *name = g_ptr_array_index (job->remove, i);

      if (i > 0 || job->recycle_most == 0
          || !journal_recycle (dirfd, name, job->number + 1,
                               job->recycle_most))
        unlinkat (dirfd, name, 0);
    }
  while (job->retired->len > 0)
    store_retired_dispose (g_ptr_array_steal_index (job->retired, 0), dirfd);
  return NULL;
}

/* The job stays queued while it runs: syncer_settle waits for it. */
static void
syncer_do_job (MqSyncer *syncer)
{
  MqCheckpointJob *job = g_queue_peek_head (&syncer->jobs);
  /* The journals before the checkpoint are needed until it is durable.
   * Under -N a power cut may lose what they hold, and the durable
   * generation holds it all: unsynced, a journal removed soon after is
   * never written to the disk at all. */
  gboolean replaced_ok = syncer_sync_replaced (syncer, job->sync_replaced);
  char *failure;

  g_mutex_unlock (&syncer->lock);
  failure = replaced_ok ? job_run (syncer, job)
    : g_strdup ("cannot sync the journal the checkpoint replaced");
  g_mutex_lock (&syncer->lock);
  g_queue_pop_head (&syncer->jobs);
  if (failure == NULL)
    syncer->checkpointed = job->number;
  else if (syncer->failure == NULL)
    syncer->failure = failure;
  else
    g_free (failure);
  g_cond_broadcast (&syncer->changed);
  syncer_job_free (job);
}

/* What was made ahead and not taken: the next start need not see it. */
static void
syncer_discard_prepared (MqSyncer *syncer)
{
  if (syncer->prepared != NULL)
    {
      g_autofree char *name = journal_file_name (
        journal_number (syncer->prepared));

      unlinkat (datadir_fd (syncer->dir), name, 0);
      g_clear_pointer (&syncer->prepared, journal_free);
    }
  if (syncer->prepared_part != NULL)
    store_part_discard (syncer->dir,
                        g_steal_pointer (&syncer->prepared_part));
}

/* Either may fail: the loop then makes it when it needs it. */
static void
syncer_do_prepare (MqSyncer *syncer)
{
  guint64 number = syncer->prepare;
  g_autofree char *name = journal_file_name (number);
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) part_error = NULL;
  MqJournal *journal;
  MqPart *part;

  syncer->prepare = 0;
  syncer->preparing = number;
  g_mutex_unlock (&syncer->lock);
  journal = journal_create (datadir_fd (syncer->dir), name, number, FALSE,
                            &error);
  if (journal == NULL)
    g_warning ("%s", error->message);
  part = store_part_new (syncer->dir, number + 1, &part_error);
  if (part == NULL)
    g_warning ("%s", part_error->message);
  g_mutex_lock (&syncer->lock);
  syncer_discard_prepared (syncer);
  syncer->prepared = journal;
  syncer->prepared_part = part;
  syncer->preparing = 0;
  g_cond_broadcast (&syncer->changed);
}

static void
syncer_do_fill (MqSyncer *syncer)
{
  MqJournal *journal = syncer->journal;
  g_autoptr (GError) error = NULL;
  gboolean ok;

  syncer->journal_busy++;
  g_mutex_unlock (&syncer->lock);
  ok = journal_fill (journal, SYNCER_FILL_CHUNK, &error);
  g_mutex_lock (&syncer->lock);
  syncer->journal_busy--;
  syncer_busy_ended (syncer);
  if (!ok)
    {
      g_info ("%s: appending goes on without it", error->message);
      syncer->fill_failed = TRUE;
    }
}

static gboolean
syncer_wants_fill (MqSyncer *syncer)
{
  return syncer->journal != NULL && !syncer->fill_failed
    && journal_wants_fill (syncer->journal);
}

/* What a thread did in one step, called locked. */
typedef enum {
  STEP_WAKE,                      /* something the loop waits for */
  STEP_QUIET,                     /* something the loop need not hear of */
  STEP_IDLE,                      /* nothing to do */
  STEP_QUIT,
} SyncerStep;

static SyncerStep
syncer_sync_step (MqSyncer *syncer)
{
  /* A sync under way on the loop's thread covers what was asked for. */
  if (syncer_wants_sync (syncer) && syncer->journal_busy == 0)
    {
      syncer_do_sync (syncer);
      return STEP_WAKE;
    }
  if (syncer->quit)
    return STEP_QUIT;
  if (!syncer_wants_fill (syncer))
    return STEP_IDLE;
  syncer_do_fill (syncer);
  return STEP_QUIET;
}

/* Advice to the kernel, not a promise: only fsync makes it durable. */
static void
syncer_do_write_back (MqSyncer *syncer)
{
  int fd = syncer->write_back_fd;

  syncer->write_back_fd = -1;
  g_mutex_unlock (&syncer->lock);
  if (sync_file_range (fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE
                       | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER)
      != 0)
    g_debug ("cannot write the generation being written back: %s",
             g_strerror (errno));
  g_mutex_lock (&syncer->lock);
}

static SyncerStep
syncer_checkpoint_step (MqSyncer *syncer)
{
  if (!g_queue_is_empty (&syncer->jobs))
    {
      syncer_do_job (syncer);
      return STEP_WAKE;
    }
  if (syncer->prepare != 0)
    {
      syncer_do_prepare (syncer);
      return STEP_QUIET;
    }
  if (syncer->quit)
    return STEP_QUIT;
  if (syncer->write_back_fd < 0)
    return STEP_IDLE;
  syncer_do_write_back (syncer);
  return STEP_QUIET;
}

static void
syncer_run (MqSyncer *syncer, SyncerStep (*step) (MqSyncer *),
            SyncerWork *work)
{
  SyncerStep done;

  g_mutex_lock (&syncer->lock);
  while ((done = step (syncer)) != STEP_QUIT)
    if (done == STEP_WAKE)
      /* Under the lock: whoever sees what the step did has its wake-up
       * already, and none is left behind for a later look. */
      syncer_wake (syncer);
    else if (done == STEP_IDLE)
      {
        work->waiting = TRUE;
        g_cond_wait (&work->cond, &syncer->lock);
        work->waiting = FALSE;
      }
  g_mutex_unlock (&syncer->lock);
}

static gpointer
syncer_sync_thread (gpointer data)
{
  MqSyncer *syncer = data;

  syncer_run (syncer, syncer_sync_step, &syncer->sync_work);
  return NULL;
}

static gpointer
syncer_checkpoint_thread (gpointer data)
{
  MqSyncer *syncer = data;

  syncer_run (syncer, syncer_checkpoint_step, &syncer->checkpoint_work);
  return NULL;
}

MqSyncer *
syncer_new (MqDataDir *dir, GError **error)
{
  MqSyncer *syncer;
  int wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);

  if (wake_fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "cannot create an eventfd: %s", g_strerror (saved));
      return NULL;
    }
  syncer = g_new0 (MqSyncer, 1);
  g_mutex_init (&syncer->lock);
  g_cond_init (&syncer->sync_work.cond);
  g_cond_init (&syncer->checkpoint_work.cond);
  g_cond_init (&syncer->changed);
  g_queue_init (&syncer->jobs);
  syncer->dir = dir;
  syncer->wake_fd = wake_fd;
  syncer->write_back_fd = -1;
  syncer->replaced = g_ptr_array_new_with_free_func (
    (GDestroyNotify) journal_free);
  syncer->thread = g_thread_new ("mqd-sync", syncer_sync_thread, syncer);
  syncer->checkpointer = g_thread_new ("mqd-checkpoint",
                                       syncer_checkpoint_thread, syncer);
  return syncer;
}

void
syncer_free (MqSyncer *syncer)
{
  g_mutex_lock (&syncer->lock);
  syncer->quit = TRUE;
  g_cond_signal (&syncer->sync_work.cond);
  g_cond_signal (&syncer->checkpoint_work.cond);
  g_mutex_unlock (&syncer->lock);
  g_thread_join (syncer->thread);
  g_thread_join (syncer->checkpointer);
  close (syncer->wake_fd);
  g_ptr_array_unref (syncer->replaced);
  if (syncer->journal != NULL)
    journal_free (syncer->journal);
  g_queue_clear_full (&syncer->jobs, (GDestroyNotify) syncer_job_free);
  syncer_discard_prepared (syncer);
  g_free (syncer->failure);
  g_mutex_clear (&syncer->lock);
  g_cond_clear (&syncer->sync_work.cond);
  g_cond_clear (&syncer->checkpoint_work.cond);
  g_cond_clear (&syncer->changed);
  g_free (syncer);
}

int
syncer_wake_fd (MqSyncer *syncer)
{
  return syncer->wake_fd;
}

void
syncer_ack (MqSyncer *syncer)
{
  guint64 count;

  if (read (syncer->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN)
    g_critical ("cannot read the sync thread's eventfd: %s",
                g_strerror (errno));
}

void
syncer_set_journal (MqSyncer *syncer, MqJournal *journal)
{
  g_mutex_lock (&syncer->lock);
  if (syncer->journal != NULL)
    g_ptr_array_add (syncer->replaced, syncer->journal);
  syncer->journal = journal;
  syncer->fill_failed = FALSE;
  syncer_unlock_telling (syncer, &syncer->sync_work, TRUE);
}

void
syncer_request (MqSyncer *syncer, guint64 lsn)
{
  gboolean more;

  g_mutex_lock (&syncer->lock);
  more = lsn > syncer->requested;
  syncer->requested = MAX (syncer->requested, lsn);
  syncer_unlock_telling (syncer, &syncer->sync_work, more);
}

void
syncer_sync_here (MqSyncer *syncer, guint64 lsn)
{
  g_mutex_lock (&syncer->lock);
  while (syncer->journal_busy > 0)
    syncer_wait_busy (syncer);
  if (syncer->synced < lsn)
    {
      syncer->requested = MAX (syncer->requested, lsn);
      syncer_do_sync (syncer);
    }
  /* What the thread may have put off while this sync went on. */
  syncer_unlock_telling (syncer, &syncer->sync_work,
                         syncer_wants_sync (syncer)
                         || syncer_wants_fill (syncer));
}

guint64
syncer_synced (MqSyncer *syncer, guint64 *failed)
{
  guint64 synced;

  g_mutex_lock (&syncer->lock);
  synced = syncer->synced;
  *failed = syncer->failed;
  g_mutex_unlock (&syncer->lock);
  return synced;
}

void
syncer_checkpoint (MqSyncer *syncer, MqCheckpointJob *job)
{
  g_mutex_lock (&syncer->lock);
  g_queue_push_tail (&syncer->jobs, job);
  syncer->write_back_fd = -1;
  syncer_unlock_telling (syncer, &syncer->checkpoint_work, TRUE);
}

guint64
syncer_checkpointed (MqSyncer *syncer, char **failure)
{
  guint64 done;

  g_mutex_lock (&syncer->lock);
  done = syncer->checkpointed;
  *failure = g_steal_pointer (&syncer->failure);
  g_mutex_unlock (&syncer->lock);
  return done;
}

void
syncer_wait_checkpoint (MqSyncer *syncer, guint64 number)
{
  g_mutex_lock (&syncer->lock);
  while (syncer->checkpointed < number && syncer->failure == NULL)
    g_cond_wait (&syncer->changed, &syncer->lock);
  g_mutex_unlock (&syncer->lock);
}

void
syncer_settle (MqSyncer *syncer)
{
  g_mutex_lock (&syncer->lock);
  while (!g_queue_is_empty (&syncer->jobs) || syncer->prepare != 0
         || syncer->preparing != 0)
    g_cond_wait (&syncer->changed, &syncer->lock);
  g_mutex_unlock (&syncer->lock);
}

void
syncer_write_back (MqSyncer *syncer, int fd)
{
  g_mutex_lock (&syncer->lock);
  syncer->write_back_fd = fd;
  syncer_unlock_telling (syncer, &syncer->checkpoint_work, TRUE);
}

void
syncer_prepare (MqSyncer *syncer, guint64 number)
{
  g_mutex_lock (&syncer->lock);
  syncer->prepare = number;
  syncer_unlock_telling (syncer, &syncer->checkpoint_work, TRUE);
}

/* Called locked: waits while what is made for number is under way. */
static void
syncer_wait_prepared (MqSyncer *syncer, guint64 number)
{
  while (syncer->prepare == number || syncer->preparing == number)
    g_cond_wait (&syncer->changed, &syncer->lock);
}

MqJournal *
syncer_take_journal (MqSyncer *syncer, guint64 number)
{
  MqJournal *journal = NULL;

  g_mutex_lock (&syncer->lock);
  syncer_wait_prepared (syncer, number);
  if (syncer->prepared != NULL && journal_number (syncer->prepared) == number)
    journal = g_steal_pointer (&syncer->prepared);
  g_mutex_unlock (&syncer->lock);
  return journal;
}

MqPart *
syncer_take_part (MqSyncer *syncer, guint64 number)
{
  MqPart *part = NULL;

  g_mutex_lock (&syncer->lock);
  syncer_wait_prepared (syncer, number - 1);
  if (syncer->prepared_part != NULL
      && store_part_number (syncer->prepared_part) == number)
    part = g_steal_pointer (&syncer->prepared_part);
  g_mutex_unlock (&syncer->lock);
  return part;
}
