/* commit.c: the durable commit; see commit.h. */
#include "config.h"

#include "commit.h"

static MqSyncer *syncer;
static MqJournal *journal;
static gboolean no_sync;
static CommitSyncHere sync_here; /* whether the pass end syncs itself */
static guint64 base;              /* LSN = base + offset in journal */
static guint64 handed_out;        /* the highest LSN handed out */
static guint64 written;           /* LSN written to the file */
static guint64 needed;            /* the highest LSN a reply waits for */
static guint64 requested;         /* asked of the sync thread */
static guint64 thread_synced;     /* what its syncs covered */
static guint64 durable_cut;       /* the latest durable checkpoint's LSN */
/* After a failed sync nothing past trusted counts as synced until a
 * checkpoint made at or after broken_at is durable. */
static guint64 broken_at;
static guint64 trusted;

void
commit_start (MqSyncer *the_syncer, MqJournal *the_journal,
              gboolean without_sync)
{
  syncer = the_syncer;
  journal = the_journal;
  no_sync = without_sync;
  base = handed_out = 0;
  written = requested = thread_synced = durable_cut = needed
    = journal_end (journal);
  broken_at = trusted = 0;
  syncer_set_journal (syncer, journal);
}

void
commit_stop (void)
{
  syncer = NULL;
  journal = NULL;
}

MqJournal *
commit_journal (void)
{
  return journal;
}

guint64
commit_lsn (void)
{
  return base + journal_end (journal);
}

guint64
commit_log (const MqEntry *entry)
{
  entry_put (journal, entry);
  handed_out = commit_lsn ();
  return handed_out;
}

guint64
commit_synced (void)
{
  guint64 synced = thread_synced;

  if (no_sync)
    return commit_lsn ();
  if (broken_at != 0)
    synced = MIN (synced, trusted);
  return MAX (synced, durable_cut);
}

gboolean
commit_holds_replies (void)
{
  return !no_sync;
}

void
commit_need (guint64 lsn)
{
  needed = MAX (needed, lsn);
}

/* The journal can no longer be trusted to hold what follows: replies wait
 * until a checkpoint has written everything into a generation. */
static void
commit_break (void)
{
  if (broken_at != 0)
    return;
  trusted = commit_synced ();
  broken_at = commit_lsn ();
}

gboolean
commit_end_pass (GError **error)
{
  if (!journal_write (journal, error))
    {
      commit_break ();
      return FALSE;
    }
  written = commit_lsn ();
  if (!no_sync && needed > requested)
    {
      requested = written;
      if (sync_here != NULL && sync_here ())
        {
          syncer_sync_here (syncer, requested);
          commit_on_wake ();
        }
      else
        syncer_request (syncer, requested);
    }
  return TRUE;
}

void
commit_set_sync_here (CommitSyncHere here)
{
  sync_here = here;
}

void
commit_request_sync (void)
{
  requested = MAX (requested, written);
  syncer_request (syncer, written);
}

gboolean
commit_on_wake (void)
{
  guint64 before = commit_synced (), failed;

  thread_synced = syncer_synced (syncer, &failed);
  if (failed > trusted && broken_at == 0)
    {
      g_critical ("a sync of the journal failed: replies that wait for one "
                  "wait until a checkpoint has written everything again");
      trusted = before;
      broken_at = commit_lsn ();
    }
  return commit_synced () != before;
}

MqJournal *
commit_switch (MqJournal *next)
{
  MqJournal *old = journal;

  /* Entries a broken journal could not take were dropped (the checkpoint
   * holds their changes): LSNs handed out for them are never reused. */
  base = MAX (commit_lsn (), handed_out) - journal_end (next);
  journal = next;
  syncer_set_journal (syncer, journal);
  return old;
}

void
commit_checkpoint_durable (guint64 lsn)
{
  durable_cut = MAX (durable_cut, lsn);
  if (broken_at != 0 && lsn >= broken_at)
    {
      g_message ("the checkpoint after the failed sync is durable: "
                 "replies go out again");
      broken_at = 0;
      trusted = lsn;
    }
}

gboolean
commit_broken (void)
{
  return broken_at != 0;
}
