/* test_commit.c: unit tests for the durable commit (daemon/commit.c) with
 * the real sync thread, against commit.h and checkpoint.h: LSNs, a sync
 * asked for when a reply waits and taken in when the thread wakes the
 * loop, and what a failed sync, a failed journal write and a failed
 * checkpoint do.  Failures are injected through mq_file_ops (datadir.h).
 * No connection is involved: the test holds the LSNs a reply would wait
 * for and watches commit_synced ().
 */
#include "config.h"

#include <poll.h>
#include <string.h>

#include "checkpoint.h"
#include "commit.h"
#include "queue.h"
#include "storage.h"
#include "storagetest.h"

/* Bytes of journal entries: length and CRC, op and name length, then
 * each op's fields (entry.h). */
#define ENTRY(fields) (8 + 3 + (fields))
#define CREATE_Q ENTRY (1 + 8)
#define PUSH_Q(len) ENTRY (1 + 8 + MQ_MSG_HEADER_SIZE + (len))
#define TAKE_Q ENTRY (1 + 8 + 1 + 4 + 2)
#define END_ENTRY ENTRY (0)

typedef struct {
  StorageDir dir;
} Fixture;

static void
set_up_mode (Fixture *f, gboolean no_sync)
{
  g_autoptr (GError) error = NULL;

  sdir_init (&f->dir, no_sync, NULL);
  sdir_open (&f->dir);
  /* The first checkpoint done, so that the wake-ups that follow are the
   * test's own. */
  g_assert_true (checkpoint_wait (&error));
  g_assert_no_error (error);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  set_up_mode (f, FALSE);
}

static void
set_up_no_sync (Fixture *f, gconstpointer data)
{
  set_up_mode (f, TRUE);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  sdir_clear (&f->dir);
}

/* A set whose reply waits: its LSN is needed, and the pass ends. */
static guint64
push_waited (guint i)
{
  guint64 lsn = st_push ("q", i);

  commit_need (lsn);
  return lsn;
}

static void
end_pass (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (commit_end_pass (&error));
  g_assert_no_error (error);
}

/* Message 1 stored and synced: returns commit_synced () then. */
static guint64
synced_first (void)
{
  guint64 lsn = push_waited (1);

  end_pass ();
  st_wait_synced (lsn);
  return commit_synced ();
}

/* One wake-up of the sync thread, taken in: TRUE when commit_synced ()
 * moved on. */
static gboolean
wake (void)
{
  g_autoptr (GError) error = NULL;
  struct pollfd p = { .fd = storage_wake_fd (), .events = POLLIN };
  gboolean moved;

  g_assert_cmpint (poll (&p, 1, 10 * 1000), ==, 1);
  storage_ack ();
  moved = commit_on_wake ();
  g_assert_true (checkpoint_on_wake (&error));
  g_assert_no_error (error);
  return moved;
}

/* Cuts a checkpoint and takes in wake-ups until it is done. */
static void
checkpoint_through_wakes (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (checkpoint_pending (), ==, 0);
  g_assert_true (checkpoint_cut (&error));
  g_assert_no_error (error);
  while (checkpoint_pending () != 0)
    wake ();
}

static void
reopen_killed (Fixture *f)
{
  sdir_crash (&f->dir);
  sdir_open (&f->dir);
}

/* ---- LSNs ---- */

/* An LSN is the journal position just past an entry, counted over every
 * journal of the run: a checkpoint's END is the only gap. */
static void
test_lsn (Fixture *f, gconstpointer data)
{
  MqEntry flush = { .op = MQ_ENTRY_FLUSH, .name = "q", .name_len = 1 };
  guint64 start = commit_lsn (), lsn;

  lsn = st_push ("q", 1);
  g_assert_cmpuint (lsn, ==, start + CREATE_Q + PUSH_Q (st_bytes (1, 1)));
  g_assert_cmpuint (commit_lsn (), ==, lsn);
  st_expect_pop ("q", 1);
  g_assert_cmpuint (commit_lsn (), ==, lsn + TAKE_Q);
  lsn = commit_log (&flush);
  g_assert_cmpuint (lsn, ==, start + CREATE_Q + PUSH_Q (st_bytes (1, 1))
                    + TAKE_Q + ENTRY (1));
  checkpoint_through_wakes ();
  g_assert_cmpuint (commit_lsn (), ==, lsn + END_ENTRY);
  g_assert_cmpuint (st_push ("q", 2), ==, lsn + END_ENTRY + PUSH_Q (st_bytes (2, 2)));
  /* The checkpoint made everything before it durable. */
  g_assert_cmpuint (commit_synced (), ==, lsn + END_ENTRY);
  g_assert_true (commit_holds_replies ());
}

/* A reply that waits makes the pass end ask for a sync; commit_synced ()
 * moves on when the thread has made it and woken the loop.  Until then a
 * get of the message waits for the same LSN. */
static void
test_synced_advances (Fixture *f, gconstpointer data)
{
  guint64 lsn1, lsn2;
  gboolean moved = FALSE;
  MqItem item;

  lsn1 = push_waited (1);
  lsn2 = push_waited (2);
  g_assert_cmpuint (commit_synced (), <, lsn1);
  g_assert_true (queue_peek (st_queue ("q"), &item, NULL));
  g_assert_cmpuint (item.lsn, ==, lsn1);
  item_clear (&item);
  end_pass ();
  while (commit_synced () < lsn2)
    moved |= wake ();
  g_assert_true (moved);
  g_assert_cmpuint (commit_synced (), ==, lsn2);
  g_assert_false (commit_broken ());
  g_assert_true (queue_pop (st_queue ("q"), &item, NULL));
  g_assert_cmpuint (item.lsn, ==, 0);
  item_clear (&item);
}

/* ---- failures ---- */

/* A failed fdatasync of the journal: commit_synced () stays where it was,
 * even past later syncs that work, until a checkpoint is durable; then
 * every LSN that waited is passed. */
static void
test_failed_sync (Fixture *f, gconstpointer data)
{
  g_autofree char *said = NULL;
  guint64 lsn2, lsn3, frozen = synced_first ();

  st_fault_set (ST_FAULT_FDATASYNC, "/mqd-000001.journal", ST_ANY_THREAD,
                G_MAXUINT);
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
                         "cannot sync the journal: Input/output error");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
                         "a sync of the journal failed*");
  lsn2 = push_waited (2);
  end_pass ();
  g_assert_false (wake ());
  g_test_assert_expected_messages ();
  g_assert_cmpuint (st_fault_hits (), ==, 1);
  g_assert_true (commit_broken ());
  g_assert_true (checkpoint_due ());
  g_assert_cmpuint (commit_synced (), ==, frozen);
  /* A sync that works now does not vouch for what the failed one lost. */
  st_fault_clear ();
  lsn3 = push_waited (3);
  end_pass ();
  g_assert_false (wake ());
  g_assert_cmpuint (commit_synced (), ==, frozen);
  g_free (st_log_take ());
  checkpoint_through_wakes ();
  said = st_log_take ();
  g_assert_cmpstr (said, ==, "the checkpoint after the failed sync is "
                   "durable: replies go out again\n");
  g_assert_false (commit_broken ());
  g_assert_false (checkpoint_due ());
  g_assert_cmpuint (commit_synced (), >, lsn3);
  g_assert_cmpuint (lsn2, <, lsn3);
  reopen_killed (f);
  for (guint i = 1; i <= 3; i++)
    st_expect_pop ("q", i);
  st_expect_empty ("q");
}

/* A failed write of the journal at the pass end: the entries stay
 * buffered, the journal is broken as by a failed sync, and a checkpoint
 * repairs it.  cut_while_failing: the disk still refuses the journal when
 * the checkpoint is cut, so its last entries are dropped (the checkpoint
 * holds them). */
static void
test_failed_write (Fixture *f, gconstpointer data)
{
  gboolean cut_while_failing = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  guint64 lsn2, frozen = synced_first ();

  st_fault_set (ST_FAULT_PWRITE, "/mqd-000001.journal", ST_MAIN_THREAD,
                G_MAXUINT);
  lsn2 = push_waited (2);
  for (guint pass = 1; pass <= 2; pass++)
    {
      g_assert_false (commit_end_pass (&error));
      g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_IO);
      g_assert_cmpstr (error->message, ==, "cannot write to "
                       "mqd-000001.journal: Input/output error");
      g_clear_error (&error);
      g_assert_cmpuint (st_fault_hits (), ==, pass);
    }
  g_assert_true (commit_broken ());
  g_assert_true (checkpoint_due ());
  g_assert_cmpuint (commit_synced (), ==, frozen);
  if (!cut_while_failing)
    {
      st_fault_clear ();
      end_pass ();
      g_assert_false (wake ());
      g_assert_cmpuint (commit_synced (), ==, frozen);
    }
  checkpoint_through_wakes ();
  st_fault_clear ();
  g_assert_false (commit_broken ());
  g_assert_cmpuint (commit_synced (), >=, lsn2);
  reopen_killed (f);
  st_expect_pop ("q", 1);
  st_expect_pop ("q", 2);
  st_expect_empty ("q");
}

/* A failed fsync of the generation a checkpoint finished: the checkpoint
 * fails, and says so, for the daemon to stop.  Nothing is lost. */
static void
test_failed_checkpoint (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  struct pollfd p = { .fd = storage_wake_fd (), .events = POLLIN };
  synced_first ();
  st_fault_set (ST_FAULT_FSYNC, ".gdbm.part", ST_ANY_THREAD, 1);
  g_assert_true (checkpoint_cut (&error));
  g_assert_no_error (error);
  g_assert_cmpint (poll (&p, 1, 10 * 1000), ==, 1);
  storage_ack ();
  g_assert_false (commit_on_wake ());
  g_assert_false (checkpoint_on_wake (&error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "checkpoint 2 failed: cannot sync "
                   "mqd-000002.gdbm.part: Input/output error");
  g_assert_cmpuint (st_fault_hits (), ==, 1);
  g_assert_cmpuint (checkpoint_done (), ==, 1);
  reopen_killed (f);
  st_expect_pop ("q", 1);
  st_expect_empty ("q");
}

/* A checkpoint's last steps sync a whole generation on their own thread:
 * a reply that waits for a sync of the journal does not wait for them. */
static void
test_sync_beside_checkpoint (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  guint64 lsn;

  st_hold_set (ST_FAULT_FSYNC, ".gdbm.part");
  g_assert_true (checkpoint_cut (&error));
  g_assert_no_error (error);
  st_hold_wait ();
  lsn = push_waited (1);
  end_pass ();
  st_wait_synced (lsn);
  g_assert_cmpuint (checkpoint_pending (), !=, 0);
  st_hold_release ();
  while (checkpoint_pending () != 0)
    wake ();
  reopen_killed (f);
  st_expect_pop ("q", 1);
  st_expect_empty ("q");
}

/* A sync asked for while the thread is in the middle of one is made next,
 * though the thread is told nothing then (it waits for no signal): the
 * thread looks for more work before it waits. */
static void
test_request_while_syncing (Fixture *f, gconstpointer data)
{
  guint64 first, second;

  st_hold_set (ST_FAULT_FDATASYNC, ".journal");
  first = push_waited (1);
  end_pass ();
  st_hold_wait ();
  second = push_waited (2);
  end_pass ();
  g_assert_cmpuint (commit_synced (), <, first);
  st_hold_release ();
  st_wait_synced (second);
  g_assert_cmpuint (commit_synced (), >=, second);
  reopen_killed (f);
  st_expect_pop ("q", 1);
  st_expect_pop ("q", 2);
  st_expect_empty ("q");
}

/* With one client the pass end makes the sync itself: the reply can go
 * out at once, with no wake-up from the sync thread (whose syncs of the
 * journal would fail here).  A failed sync made there holds replies back
 * as one of the thread's does. */
static gboolean
always (void)
{
  return TRUE;
}

static void
test_sync_here (Fixture *f, gconstpointer data)
{
  guint64 lsn, before;

  commit_set_sync_here (always);
  st_fault_set (ST_FAULT_FDATASYNC, ".journal", ST_SYNCER_THREADS,
                G_MAXUINT);
  lsn = push_waited (1);
  end_pass ();
  g_assert_cmpuint (commit_synced (), >=, lsn);
  g_assert_cmpuint (st_fault_hits (), ==, 0);
  before = commit_synced ();
  st_fault_set (ST_FAULT_FDATASYNC, ".journal", ST_MAIN_THREAD, 1);
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
                         "cannot sync the journal: *");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
                         "a sync of the journal failed: *");
  lsn = push_waited (2);
  end_pass ();
  g_test_assert_expected_messages ();
  g_assert_cmpuint (st_fault_hits (), ==, 1);
  g_assert_true (commit_broken ());
  g_assert_cmpuint (commit_synced (), ==, before);
  g_assert_cmpuint (before, <, lsn);
  st_fault_clear ();
  commit_set_sync_here (NULL);
  reopen_killed (f);
  st_expect_pop ("q", 1);
  st_expect_pop ("q", 2);
  st_expect_empty ("q");
}

/* The journal a checkpoint replaced must be synced before the checkpoint
 * counts: if that fails, the checkpoint fails. */
static void
test_failed_replaced_sync (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  st_push ("q", 1);
  end_pass ();
  st_fault_set (ST_FAULT_FDATASYNC, "/mqd-000001.journal", ST_ANY_THREAD,
                G_MAXUINT);
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
                         "cannot sync a replaced journal: Input/output "
                         "error");
  g_assert_true (checkpoint_cut (&error));
  g_assert_no_error (error);
  g_assert_false (checkpoint_wait (&error));
  g_test_assert_expected_messages ();
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "checkpoint 2 failed: cannot sync "
                   "the journal the checkpoint replaced");
  st_fault_clear ();
  reopen_killed (f);
  st_expect_pop ("q", 1);
  st_expect_empty ("q");
}

/* Under -N no reply waited for the replaced journal: the checkpoint does
 * not sync it (a sync would fail here), and the durable generation holds
 * its message. */
static void
test_no_sync_replaced_unsynced (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *files = NULL;

  st_push ("q", 1);
  end_pass ();
  st_fault_set (ST_FAULT_FDATASYNC, "/mqd-000001.journal", ST_ANY_THREAD,
                G_MAXUINT);
  g_assert_true (checkpoint_cut (&error));
  g_assert_no_error (error);
  g_assert_true (checkpoint_wait (&error));
  g_assert_no_error (error);
  g_assert_cmpuint (st_fault_hits (), ==, 0);
  st_fault_clear ();
  files = sdir_files (&f->dir);
  g_assert_null (strstr (files, "mqd-000001.journal"));
  reopen_killed (f);
  st_expect_pop ("q", 1);
  st_expect_empty ("q");
}

#define ADD(path, data, func) \
  g_test_add ("/commit/" path, Fixture, data, set_up, func, tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("lsn", NULL, test_lsn);
  ADD ("synced-advances", NULL, test_synced_advances);
  ADD ("sync-beside-checkpoint", NULL, test_sync_beside_checkpoint);
  ADD ("sync-here", NULL, test_sync_here);
  ADD ("request-while-syncing", NULL, test_request_while_syncing);
  ADD ("failed/sync", NULL, test_failed_sync);
  ADD ("failed/write", GINT_TO_POINTER (FALSE), test_failed_write);
  /* checkpoint_cut drops the entries it cannot write before commit_switch
   * computes the new base: the LSN goes back below the ones replies wait
   * for, the checkpoint's LSN is below broken_at, and the journal stays
   * broken with commit_synced () short of the durable message's LSN. */
  ADD ("failed/write-then-cut-while-failing", GINT_TO_POINTER (TRUE),
       test_failed_write);
  ADD ("failed/checkpoint", NULL, test_failed_checkpoint);
  ADD ("failed/replaced-journal-sync", NULL, test_failed_replaced_sync);
  g_test_add ("/commit/no-sync/replaced-journal-unsynced", Fixture, NULL,
              set_up_no_sync, test_no_sync_replaced_unsynced, tear_down);
  return g_test_run ();
}
