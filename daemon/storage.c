/* storage.c: the storage's start and stop; see storage.h. */
#include "config.h"

#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "checkpoint.h"
#include "commit.h"
#include "convert.h"
#include "datadir.h"
#include "entry.h"
#include "salvage.h"
#include "space.h"
#include "storage.h"
#include "store.h"
#include "syncer.h"

static MqDataDir *dir;
static MqStore *store;
static MqSyncer *syncer;
static char instance_hex[2 * MQ_INSTANCE_ID_SIZE + 1];

typedef struct {
  gboolean ended;                 /* the last entry was END */
} Replay;

static gboolean
replay_entry (const guint8 *body, gsize len, gpointer user_data,
              GError **error)
{
  Replay *replay = user_data;
  MqEntry entry;

  if (replay->ended || !entry_decode (body, len, &entry))
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT,
                   "an entry %s", replay->ended ? "after END"
                   : "of an unknown kind");
      return FALSE;
    }
  if (entry.op == MQ_ENTRY_END)
    {
      replay->ended = TRUE;
      return TRUE;
    }
  return queues_replay (&entry, error);
}

/* Replays the journal name; *ended tells whether it ended with END.  One
 * that did not is the last of the chain, and gets an END now, so that the
 * journal of this run follows it. */
static gboolean
replay_journal (const char *name, gboolean *ended, GError **error)
{
  MqJournal *journal = journal_open (datadir_fd (dir), name, error);
  MqEntry end = { .op = MQ_ENTRY_END };
  Replay replay = { FALSE };
  guint64 entries;
  gboolean ok;

  if (journal == NULL)
    return FALSE;
  if (journal_starts_run (journal))
    queues_give_back_open ();
  ok = journal_replay (journal, replay_entry, &replay, &entries, error)
    && queues_replay_end (error);
  if (!ok)
    g_prefix_error (error, "cannot replay %s/%s: ", datadir_path (dir),
                    name);
  /* After a clean stop the journal is empty. */
  else if (entries > 0)
    g_message ("%s/%s: %" G_GUINT64_FORMAT " entries replayed",
               datadir_path (dir), name, entries);
  if (ok && !replay.ended)
    {
      entry_put (journal, &end);
      ok = journal_write (journal, error)
        && mq_file_ops.fdatasync (journal_fd (journal)) == 0;
    }
  journal_free (journal);
  *ended = replay.ended;
  return ok;
}

static gint
compare_journals (gconstpointer a, gconstpointer b)
{
  guint64 x = 0, y = 0;

  store_parse_name (*(char *const *) a, "journal", &x);
  store_parse_name (*(char *const *) b, "journal", &y);
  return x < y ? -1 : x > y;
}

/* Step 4 of a start: the chain of journals after checkpoint `newest`,
 * among names, the directory as the start saw it (storage_open).
 * journals gets every journal name, for the first checkpoint to remove. */
static gboolean
replay_journals (GPtrArray *names, guint64 newest, GPtrArray *journals,
                 GError **error)
{
  g_autoptr (GPtrArray) chain = g_ptr_array_new ();
  gboolean ended = TRUE;
  guint64 number;

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      if (store_parse_name (name, "journal" MQ_JOURNAL_NEW_SUFFIX, &number)
          && !datadir_remove (dir, name, error))
        return FALSE;
      if (!store_parse_name (name, "journal", &number))
        continue;
      g_ptr_array_add (journals, g_strdup (name));
      if (number >= newest)
        g_ptr_array_add (chain, (gpointer) name);
    }
  g_ptr_array_sort (chain, compare_journals);
  for (guint i = 0; i < chain->len && ended; i++)
    {
      const char *name = g_ptr_array_index (chain, i);

      if (!replay_journal (name, &ended, error))
        return FALSE;
      /* A journal not reached by the chain was never written to after a
       * sync of its predecessor: it goes before this run's follows. */
      if (!ended)
        for (guint j = i + 1; j < chain->len; j++)
          if (!datadir_remove (dir, g_ptr_array_index (chain, j), error))
            return FALSE;
    }
  return datadir_sync (dir, error);
}

static void
set_instance (const guint8 id[MQ_INSTANCE_ID_SIZE])
{
  for (guint i = 0; i < MQ_INSTANCE_ID_SIZE; i++)
    g_snprintf (instance_hex + 2 * i, 3, "%02x", id[i]);
}

/* Steps 3 and 4; a new directory gets a new instance id (*made). */
static gboolean
storage_recover (GPtrArray *names, guint8 instance[MQ_INSTANCE_ID_SIZE],
                 gboolean *made, GPtrArray *journals, GError **error)
{
  guint64 newest = store_newest (store);
  g_autoptr (GError) local = NULL;
  MqCatalog catalog = { 0 };

  *made = newest == 0;
  if (newest == 0)
    {
      if (getrandom (instance, MQ_INSTANCE_ID_SIZE, 0)
          != MQ_INSTANCE_ID_SIZE)
        for (guint i = 0; i < MQ_INSTANCE_ID_SIZE; i++)
          instance[i] = (guint8) g_random_int ();
      return convert_directory (dir, error)
        && replay_journals (names, 0, journals, error);
    }
  if (!convert_remove_leftovers (dir, error))
    return FALSE;
  /* Every state checked before any is restored: salvaging after some
   * were restored would load their messages a second time. */
  if (!store_load (store, &catalog, queue_check_state, NULL, &local)
      || !store_load (store, &catalog, queue_restore, NULL, &local))
    {
      if (!g_error_matches (local, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_STATE)
          || !salvage_queues (store, error))
        {
          if (error != NULL && *error == NULL)
            g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      if (getrandom (catalog.instance, MQ_INSTANCE_ID_SIZE, 0)
          != MQ_INSTANCE_ID_SIZE)
        memset (catalog.instance, 0, MQ_INSTANCE_ID_SIZE);
      *made = TRUE;
    }
  memcpy (instance, catalog.instance, MQ_INSTANCE_ID_SIZE);
  queues_raise_next_inc (catalog.next_inc);
  return replay_journals (names, newest, journals, error);
}

gboolean
storage_open (const MqStorageOptions *options, GError **error)
{
  g_autoptr (GPtrArray) journals = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) names = NULL;
  guint8 instance[MQ_INSTANCE_ID_SIZE];
  gboolean made = FALSE;

  dir = datadir_open (options->path, options->owner_uid, error);
  if (dir == NULL)
    return FALSE;
  space_start (datadir_fd (dir));
  /* One look at the directory for the whole start: this run's files are
   * numbered above every name in it, and the first checkpoint removes the
   * journals in it by name.  Looked at twice, a journal name that
   * appeared in between (a link planted by the -u user) had the number of
   * this run's first journal, and that checkpoint removed the journal. */
  names = datadir_list (dir, error);
  if (names == NULL)
    return FALSE;
  store = store_open (dir, names, error);
  if (store == NULL
      || !store_begin (store, store_highest (store) + 1, NULL, error))
    return FALSE;
  queues_open (store, options->rules, options->ready, 1);
  queues_begin_recovery ();
  if (!storage_recover (names, instance, &made, journals, error))
    return FALSE;
  queues_replayed ();
  set_instance (instance);
  syncer = syncer_new (dir, error);
  if (syncer == NULL)
    return FALSE;
  checkpoint_init (dir, store, syncer, instance, store_newest (store),
                   journals, options->checkpoint_size);
  /* A new instance id is durable before any message is acknowledged:
   * ids made under it must survive a kill at once. */
  return checkpoint_first (options->no_sync, error)
    && (!made || checkpoint_wait (error))
    && convert_finish (dir, error);
}

gboolean
storage_checkpoint (GError **error)
{
  return checkpoint_final (error);
}

void
storage_close (void)
{
  queues_close ();
  if (syncer != NULL)
    syncer_free (syncer);
  commit_stop ();
  checkpoint_shutdown ();
  if (store != NULL)
    store_close (store);
  datadir_free (dir);
  syncer = NULL;
  store = NULL;
  dir = NULL;
}

int
storage_wake_fd (void)
{
  return syncer_wake_fd (syncer);
}

void
storage_ack (void)
{
  syncer_ack (syncer);
}

gboolean
storage_hand_over (guint32 uid, guint32 gid, GError **error)
{
  syncer_settle (syncer);
  return datadir_hand_over (dir, uid, gid, error);
}

const char *
storage_dir_path (void)
{
  return datadir_path (dir);
}

const char *
storage_instance (void)
{
  return instance_hex;
}
