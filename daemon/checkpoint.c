/* checkpoint.c: checkpoints; see checkpoint.h. */
#include "config.h"

#include <string.h>

#include "checkpoint.h"
#include "commit.h"
#include "queue.h"
#include "space.h"

/* A cut is due once the journal holds checkpoint_size bytes, or the
 * generation being written this many times as much, or the daemon is idle
 * (the queues all empty, nothing journaled since the sweep before) while
 * the files hold CHECKPOINT_GIVE_BACK_BYTES. */
#define CHECKPOINT_PART_FACTOR 4
#define CHECKPOINT_GIVE_BACK_BYTES (1024 * 1024)
/* Copying live segments out of an old generation, per pass. */
#define CHECKPOINT_EVACUATE_BUDGET (512 * 1024)
/* Keys of old generations counted per pass: reading one reads its segment
 * too (GDBM reads a key with its value), about 32 KiB. */
#define CHECKPOINT_SURVEY_BUDGET 16
/* The generation being written goes to the disk in pieces this large, so
 * that the sync of the journal a durable reply waits for never queues
 * behind the whole of it at the checkpoint's fsync. */
#define CHECKPOINT_WRITE_BACK_BYTES (4 * 1024 * 1024)

static MqDataDir *dir;
static guint64 checkpoint_size;
static MqStore *store;
static MqSyncer *syncer;
static guint8 instance[MQ_INSTANCE_ID_SIZE];
static guint64 current;           /* the checkpoint the journal follows */
static guint64 pending;           /* a cut whose completion is awaited */
static guint64 pending_lsn;
static guint64 done;
static GPtrArray *stale_journals; /* names, removed by the next checkpoint */
static gboolean giving_back;      /* the pending cut gives the disk back */
static guint64 written_back;      /* part bytes handed to write-back */
static guint64 swept_lsn;         /* commit_lsn () at the sweep before */

void
checkpoint_init (MqDataDir *the_dir, MqStore *the_store, MqSyncer *the_syncer,
                 const guint8 the_instance[MQ_INSTANCE_ID_SIZE],
                 guint64 number, GPtrArray *journals, guint64 size)
{
  checkpoint_size = size > 0 ? size : MQ_CHECKPOINT_DEFAULT_SIZE;
  dir = the_dir;
  store = the_store;
  syncer = the_syncer;
  memcpy (instance, the_instance, sizeof instance);
  current = done = number;
  pending = 0;
  swept_lsn = 0;
  stale_journals = g_ptr_array_ref (journals);
}

void
checkpoint_shutdown (void)
{
  g_clear_pointer (&stale_journals, g_ptr_array_unref);
}

guint64
checkpoint_part_bytes (void)
{
  return store_part_bytes (store);
}

guint64
checkpoint_pending (void)
{
  return pending;
}

guint64
checkpoint_done (void)
{
  return done;
}

/* Steps 1, 2 and 4 of a cut (checkpoint.h) for checkpoint number, whose
 * generation is being written; the job for the checkpoint thread. */
static MqCheckpointJob *
checkpoint_write (guint64 number, GError **error)
{
  MqCatalog catalog = { .next_inc = queues_next_inc () };
  MqCheckpointJob *job;
  GPtrArray *retired;
  int gen_fd;

  memcpy (catalog.instance, instance, sizeof instance);
  if (!queues_seal_tails (FALSE, error)
      || !queues_save (&catalog.queues, error)
      || !store_finish (store, &catalog, &gen_fd, error))
    return NULL;
  retired = store_retire_dead (store, !queues_need_segments ());
  store_survey_start (store);
  job = g_new0 (MqCheckpointJob, 1);
  job->number = number;
  job->gen_fd = gen_fd;
  job->part_name = store_part_name (number);
  job->final_name = store_file_name (number);
  job->remove = g_steal_pointer (&stale_journals);
  job->retired = retired;
  stale_journals = g_ptr_array_new_with_free_func (g_free);
  return job;
}

/* The checkpoint thread completes the finished generation; sealing goes on
 * into the next.  A next generation that cannot be made is fatal: nothing
 * could be sealed any more. */
static gboolean
checkpoint_hand_over (MqCheckpointJob *job, GError **error)
{
  guint64 number = job->number;

  /* The next journal, made ahead by the thread, is written over a removed
   * one (journal.h); a cut that gives the disk back keeps none, and none
   * past the file size limit is kept.  Not under -N, where no reply waits
   * for a sync and nothing is written ahead of the end: appending to a new
   * file cost less CPU there (bench/RESULTS.md, "Journals written over"). */
  if (commit_holds_replies () && !giving_back)
    job->recycle_most = MIN (2 * checkpoint_size + MQ_JOURNAL_FILL_AHEAD,
                             space_file_limit ());
  job->sync_replaced = commit_holds_replies ();
  syncer_checkpoint (syncer, job);
  g_ptr_array_add (stale_journals, journal_file_name (number));
  pending = current = number;
  pending_lsn = commit_lsn ();
  written_back = 0;
  if (!store_begin (store, number + 1, syncer_take_part (syncer, number + 1),
                    error))
    return FALSE;
  syncer_prepare (syncer, number + 1);
  return TRUE;
}

gboolean
checkpoint_first (gboolean no_sync, GError **error)
{
  guint64 number = store_highest (store);
  g_autofree char *name = journal_file_name (number);
  MqCheckpointJob *job;
  MqJournal *journal;

  journal = journal_create (datadir_fd (dir), name, number, TRUE, error);
  if (journal == NULL)
    return FALSE;
  if ((job = checkpoint_write (number, error)) == NULL)
    {
      journal_free (journal);
      return FALSE;
    }
  commit_start (syncer, journal, no_sync);
  return checkpoint_hand_over (job, error);
}

gboolean
checkpoint_due (void)
{
  guint64 limit = space_file_limit () / 2;

  if (pending != 0)
    return FALSE;
  return commit_broken ()
    || journal_end (commit_journal ()) >= MIN (checkpoint_size, limit)
    || store_part_bytes (store)
       >= MIN (CHECKPOINT_PART_FACTOR * checkpoint_size, limit);
}

gboolean
checkpoint_cut (GError **error)
{
  guint64 number = current + 1;
  MqEntry end = { .op = MQ_ENTRY_END };
  MqCheckpointJob *job;

  /* One at a time: a cut waits for the one before it to be durable. */
  g_return_val_if_fail (pending == 0, FALSE);
  job = checkpoint_write (number, error);
  MqJournal *next;

  if (job == NULL)
    return FALSE;
  commit_log (&end);
  /* A journal that cannot take its last entries needs them no more: this
   * checkpoint holds their changes, and until it is durable no reply that
   * waits for them goes out (commit.h). */
  if (!commit_end_pass (NULL))
    journal_drop_pending (commit_journal ());
  next = syncer_take_journal (syncer, number);
  if (next == NULL)
    {
      g_autofree char *name = journal_file_name (number);

      next = journal_create (datadir_fd (dir), name, number, FALSE, error);
      if (next == NULL)
        {
          syncer_job_free (job);
          return FALSE;
        }
    }
  commit_switch (next);
  return checkpoint_hand_over (job, error);
}

gboolean
checkpoint_on_wake (GError **error)
{
  g_autofree char *failure = NULL;
  guint64 now = syncer_checkpointed (syncer, &failure);

  if (failure != NULL)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED,
                   "checkpoint %" G_GUINT64_FORMAT " failed: %s", pending,
                   failure);
      return FALSE;
    }
  if (pending != 0 && now >= pending)
    {
      store_completed (store, pending);
      commit_checkpoint_durable (pending_lsn);
      /* The generation finished by the cut held the messages of its
       * epoch: the next cut removes it, and then the disk is given back. */
      if (giving_back && !store_holds_segments (store))
        g_message ("every queue is empty: checkpoint %" G_GUINT64_FORMAT
                   " gave the disk back, %" G_GUINT64_FORMAT " KiB of "
                   "generation files left", pending,
                   store_disk_bytes (store) / 1024);
      giving_back = FALSE;
      done = pending;
      pending = 0;
    }
  return TRUE;
}

/* A steady load whose queues are empty between its requests is not idle:
 * giving the disk back at every sweep would cut at every sweep, and such a
 * cut writes no journal over. */
gboolean
checkpoint_give_back (GError **error)
{
  guint64 lsn = commit_lsn ();
  gboolean quiet = lsn == swept_lsn;

  swept_lsn = lsn;
  if (!quiet || pending != 0 || !queues_all_empty ())
    return TRUE;
  if (journal_end (commit_journal ()) < CHECKPOINT_GIVE_BACK_BYTES
      && !store_holds_segments (store))
    return TRUE;
  giving_back = TRUE;
  return checkpoint_cut (error);
}

static void
checkpoint_write_back (void)
{
  guint64 bytes = store_part_bytes (store);

  if (bytes >= written_back + CHECKPOINT_WRITE_BACK_BYTES)
    {
      written_back = bytes;
      syncer_write_back (syncer, store_part_fd (store));
    }
}

gboolean
checkpoint_maintain (GError **error)
{
  checkpoint_write_back ();
  return store_survey_step (store, queues_segment_live, NULL,
                            CHECKPOINT_SURVEY_BUDGET, error)
    && store_evacuate (store, queues_segment_live, NULL,
                       CHECKPOINT_EVACUATE_BUDGET, error);
}

gboolean
checkpoint_wait (GError **error)
{
  if (pending == 0)
    return TRUE;
  syncer_wait_checkpoint (syncer, pending);
  return checkpoint_on_wake (error);
}

gboolean
checkpoint_final (GError **error)
{
  return checkpoint_wait (error) && checkpoint_cut (error)
    && checkpoint_wait (error);
}
