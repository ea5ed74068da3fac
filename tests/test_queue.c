/* test_queue.c: unit tests for the queue layer (daemon/queue.c) over the
 * real storage: FIFO order across segments, segments partly consumed,
 * reliable reads and their holes, dead letters, a journal replay that
 * ends inside a segment, flush, delete, expiry, limits, fanout, ages, which
 * segments are live, and the memory budgets.  The specification is
 * queue.h, checkpoint.h and storage.h.
 *
 * Storage is opened with storage_open in a temporary directory under -N
 * (nothing waits for a sync); the loop's pass end is run by hand, as the
 * daemon runs it after each batch of commands.  A "reopen" is either clean
 * (the last checkpoint, then a start) or a kill (the files closed as they
 * are, then a start that replays the journal).
 */
#include "config.h"

#include <string.h>

#include "checkpoint.h"
#include "commit.h"
#include "queue.h"
#include "storage.h"
#include "storagetest.h"

/* The rules every test runs under; each limited queue is named for it. */
#define RULES \
  "[capped]\nmax_items = 3\ndiscard_old = true\n" \
  "[full]\nmax_items = 2\n" \
  "[jobs+audit]\nmax_items = 1\n" \
  "[flaky]\nmax_deliveries = 2\ndead_letter = dead\n"

/* Commands between two pass ends, as a busy loop would run them. */
#define PASS 50
/* 2100-01-01, an absolute memcache exptime. */
#define EXPTIME_2100 G_GINT64_CONSTANT (4102444800)

typedef struct {
  StorageDir dir;
  guint ops;                      /* since the last pass end */
} Fixture;

typedef enum {
  REOPEN_CLEAN,
  REOPEN_KILLED,
} Reopen;

static const Reopen clean = REOPEN_CLEAN;
static const Reopen killed = REOPEN_KILLED;

static void
set_up (Fixture *f, gconstpointer data)
{
  sdir_init (&f->dir, TRUE, RULES);
  sdir_open (&f->dir);
  f->ops = 0;
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  sdir_clear (&f->dir);
}

/* One more command: every PASS of them, the pass ends. */
static void
op_done (Fixture *f)
{
  if (++f->ops % PASS == 0)
    st_pass_end ();
}

static void
reopen (Fixture *f, Reopen how)
{
  if (how == REOPEN_CLEAN)
    sdir_stop (&f->dir);
  else
    {
      st_pass_end ();
      sdir_crash (&f->dir);
    }
  sdir_open (&f->dir);
}

static void
push_range (Fixture *f, const char *queue, guint from, guint to)
{
  for (guint i = from; i <= to; i++)
    {
      st_push (queue, i);
      op_done (f);
    }
}

/* Messages from..to, every tail sealed, then a checkpoint: a cut alone
 * carries a tail under a segment's size over in the queue's state. */
static void
push_sealed (Fixture *f, const char *queue, guint from, guint to)
{
  g_autoptr (GError) error = NULL;

  push_range (f, queue, from, to);
  g_assert_true (queues_seal_tails (TRUE, &error));
  g_assert_no_error (error);
  st_checkpoint ();
}

static void
pop_range (Fixture *f, const char *queue, guint from, guint to)
{
  for (guint i = from; i <= to; i++)
    {
      st_expect_pop (queue, i);
      op_done (f);
    }
}

static void
expect_counters (const char *name, guint64 count, guint64 enqueued,
                 guint64 dequeued, guint64 expired, guint64 discarded)
{
  MqQueue *queue = queue_lookup (name, strlen (name));

  g_assert_nonnull (queue);
  g_assert_cmpuint (queue->count, ==, count);
  g_assert_cmpuint (queue->meta.enqueued, ==, enqueued);
  g_assert_cmpuint (queue->meta.dequeued, ==, dequeued);
  g_assert_cmpuint (queue->meta.expired, ==, expired);
  g_assert_cmpuint (queue->meta.discarded, ==, discarded);
}

static MqHeld *
held (const char *name, guint i)
{
  MqQueue *queue = st_queue (name);

  g_assert_cmpuint (i, <, queue->held->len);
  return &g_array_index (queue->held, MqHeld, i);
}

/* The segments of queue on disk must follow each other from first to
 * end: each starts where the one before ended. */
static GArray *
expect_contiguous_segments (Fixture *f, const char *queue, guint64 first,
                            guint64 end)
{
  GArray *segs = sdir_segments (&f->dir, queue);
  guint64 next = first;

  for (guint i = 0; i < segs->len; i++)
    {
      StSegment *seg = &g_array_index (segs, StSegment, i);

      g_assert_cmpuint (seg->first, ==, next);
      g_assert_cmpuint (seg->count, >, 0);
      next = seg->first + seg->count;
    }
  g_assert_cmpuint (next, ==, end);
  return segs;
}

/* The first message of the segment that holds seq. */
static guint64
segment_of (GArray *segs, guint64 seq)
{
  for (guint i = 0; i < segs->len; i++)
    {
      StSegment *seg = &g_array_index (segs, StSegment, i);

      if (seq >= seg->first && seq < seg->first + seg->count)
        return seg->first;
    }
  g_assert_not_reached ();
}

/* ---- FIFO across segments ---- */

/* Tails sealed by the pass end's budget and then all of them: every
 * message comes back in order, the head walking from segment to segment
 * exactly where they begin. */
static void
test_fifo_across_segments (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) segs = NULL;
  MqQueue *queue;

  push_range (f, "q", 1, 3000);
  st_pass_end ();
  queue = st_queue ("q");
  /* Past 256 KiB the pass end sealed most of the tail already. */
  g_assert_cmpuint (queue->tail_start, >, 1);
  g_assert_true (queues_seal_tails (TRUE, &error));
  g_assert_no_error (error);
  g_assert_null (queue->tail_run);
  g_assert_cmpuint (queue->tail_start, ==, 3001);
  g_assert_cmpuint (queues_memory (), ==, 0);
  st_checkpoint ();
  segs = expect_contiguous_segments (f, "q", 1, 3001);
  g_assert_cmpuint (segs->len, >=, 3000 * 260 / (32 * 1024));
  for (guint i = 1; i <= 3000; i++)
    {
      g_assert_cmpuint (queue->meta.head, ==, i);
      g_assert_cmpuint (queue->meta.head_seg, ==, segment_of (segs, i));
      st_expect_pop ("q", i);
      op_done (f);
    }
  st_expect_empty ("q");
  expect_counters ("q", 0, 3000, 3000, 0, 0);
  g_assert_cmpuint (queue->meta.bytes, ==, 0);
}

/* Sets and gets interleaved: the head follows the tail through segments
 * sealed while it was inside them, and into the young tail. */
static void
test_fifo_interleaved (Fixture *f, gconstpointer data)
{
  guint pushed = 0, popped = 0;

  while (pushed < 4000)
    {
      st_push ("q", ++pushed);
      op_done (f);
      if (pushed % 3 != 0)
        continue;
      st_expect_pop ("q", ++popped);
      op_done (f);
    }
  pop_range (f, "q", popped + 1, 4000);
  st_expect_empty ("q");
  expect_counters ("q", 0, 4000, 4000, 0, 0);
}

/* A segment partly consumed, a checkpoint, a clean stop and a start: the
 * rest comes back in order, counters kept. */
static void
test_partly_consumed_segment (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) segs = NULL;
  MqQueue *queue;
  guint64 head;

  push_sealed (f, "q", 1, 1000);
  segs = expect_contiguous_segments (f, "q", 1, 1001);
  g_assert_cmpuint (segs->len, >=, 3);
  head = g_array_index (segs, StSegment, 2).first + 10;
  pop_range (f, "q", 1, head - 1);
  st_pass_end ();
  queue = st_queue ("q");
  g_assert_cmpuint (queue->meta.head_seg, ==, segment_of (segs, head));
  g_assert_cmpuint (queue->meta.head_seg, ==, head - 10);
  st_checkpoint ();
  reopen (f, REOPEN_CLEAN);
  queue = st_queue ("q");
  g_assert_cmpuint (queue->meta.head, ==, head);
  g_assert_cmpuint (queue->meta.tail, ==, 1001);
  g_assert_cmpuint (queue->meta.bytes, ==, st_bytes (head, 1000));
  expect_counters ("q", 1001 - head, 1000, head - 1, 0, 0);
  pop_range (f, "q", head, 1000);
  st_expect_empty ("q");
}

/* ---- checkpoints: young tails carried over ---- */

/* A cut seals a tail of a segment's size or more, and carries a smaller
 * one over in its queue's state, a read open in it too; the messages set
 * after the cut follow it, and all come back in order after a stop or a
 * kill. */
static void
test_tail_carried (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;
  g_autoptr (GArray) segs = NULL;
  MqQueue *queue;
  guint64 seq1;

  push_range (f, "small", 1, 60);
  push_range (f, "big", 1, 200);
  seq1 = st_expect_open ("small", 1);
  pop_range (f, "small", 2, 3);
  st_pass_end ();
  g_assert_cmpuint (st_bytes (1, 60), <, 32 * 1024);
  g_assert_cmpuint (st_bytes (1, 200), >, 32 * 1024);
  g_assert_cmpuint (st_queue ("big")->tail_start, ==, 1);
  st_checkpoint ();
  segs = sdir_segments (&f->dir, "small");
  g_assert_cmpuint (segs->len, ==, 0);
  g_array_unref (expect_contiguous_segments (f, "big", 1, 201));
  queue = st_queue ("small");
  g_assert_nonnull (queue->tail_run);
  g_assert_cmpuint (queue->tail_start, ==, seq1);
  push_range (f, "small", 61, 70);
  reopen (f, *how);
  queue = st_queue ("small");
  g_assert_nonnull (queue->tail_run);
  g_assert_cmpuint (queue->tail_start, ==, 1);
  g_assert_cmpuint (queue->meta.tail, ==, 71);
  g_assert_cmpuint (queue->held->len, ==, 1);
  g_assert_false (held ("small", 0)->open);
  g_assert_cmpuint (queue->meta.bytes, ==, st_bytes (1, 1)
                    + st_bytes (4, 70));
  expect_counters ("small", 68, 70, 2, 0, 0);
  st_expect_pop ("small", 1);
  pop_range (f, "small", 4, 70);
  st_expect_empty ("small");
  pop_range (f, "big", 1, 200);
  st_expect_empty ("big");
}

/* A carried tail that is not a segment, or not the messages up to the
 * queue's tail, is refused with the queue's name: the start then treats
 * the generation as one that lost its states. */
static void
test_tail_restore_refused (Fixture *f, gconstpointer data)
{
  MqMsgHeader header = { .len = 3 };
  MqQueueMeta meta = { .inc = 9, .head = 5, .tail = 8, .head_seg = 5 };
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (MqHeld));
  g_autoptr (GByteArray) tail = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  MqRun *run = run_new (5);

  run_append (run, &header, (const guint8 *) "abc");
  run_append (run, &header, (const guint8 *) "def");
  run_encode_segment (run, G_MAXSIZE, tail);
  run_unref (run);
  g_assert_false (queue_restore ("r", 1, &meta, held, tail->data, tail->len,
                                 NULL, &error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_STATE);
  g_assert_cmpstr (error->message, ==, "the young tail of queue r: not the "
                   "messages up to its tail");
  g_clear_error (&error);
  g_assert_false (queue_restore ("r", 1, &meta, held, (const guint8 *) "xyz",
                                 3, NULL, &error));
  g_assert_cmpstr (error->message, ==, "the young tail of queue r: damaged "
                   "segment: unknown header");
  g_clear_error (&error);
  g_assert_null (queue_lookup ("r", 1));
  meta.tail = 7;
  g_assert_true (queue_restore ("r", 1, &meta, held, tail->data, tail->len,
                                NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (st_queue ("r")->tail_start, ==, 5);
  g_assert_cmpuint (st_queue ("r")->count, ==, 2);
}

/* ---- reliable reads ---- */

/* Reads open below the head, and one closed between them: the open ones
 * come back first after a reopen, not counted as failed deliveries; the
 * closed one is gone. */
static void
test_holes_survive (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;
  guint64 seq1, seq2, seq4;
  MqQueue *queue;

  push_range (f, "q", 1, 20);
  st_checkpoint ();
  seq1 = st_expect_open ("q", 1);
  seq2 = st_expect_open ("q", 2);
  st_expect_pop ("q", 3);
  seq4 = st_expect_open ("q", 4);
  g_assert_true (queue_close_read (st_queue ("q"), seq2, NULL));
  g_assert_false (queue_close_read (st_queue ("q"), seq2, NULL));
  queue = st_queue ("q");
  g_assert_cmpuint (queue->meta.head, ==, 5);
  g_assert_cmpuint (queue->open_reads, ==, 2);
  g_assert_cmpuint (queue->meta.bytes, ==, st_bytes (5, 20));
  expect_counters ("q", 16, 20, 2, 0, 0);
  if (*how == REOPEN_CLEAN)
    st_checkpoint ();
  reopen (f, *how);
  queue = st_queue ("q");
  g_assert_cmpuint (queue->held->len, ==, 2);
  g_assert_cmpuint (held ("q", 0)->seq, ==, seq1);
  g_assert_cmpuint (held ("q", 1)->seq, ==, seq4);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_false (held ("q", i)->open);
      g_assert_cmpuint (held ("q", i)->deliveries, ==, 0);
    }
  g_assert_cmpuint (queue->open_reads, ==, 0);
  g_assert_cmpuint (queue->meta.bytes, ==,
                    st_bytes (5, 20) + st_bytes (1, 1) + st_bytes (4, 4));
  expect_counters ("q", 18, 20, 2, 0, 0);
  st_expect_pop ("q", 1);
  st_expect_pop ("q", 4);
  pop_range (f, "q", 5, 20);
  st_expect_empty ("q");
  expect_counters ("q", 0, 20, 20, 0, 0);
}

/* A window closed at once (confirm): the reads named, in any order, are
 * closed, a seq not open is skipped, the others stay held in order; a
 * reopen (replaying the CLOSE entries) agrees. */
static void
test_close_window (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;
  guint64 seqs[6], confirm[4];
  MqQueue *queue;

  push_range (f, "q", 1, 10);
  for (guint i = 0; i < 6; i++)
    seqs[i] = st_expect_open ("q", i + 1);
  /* Message 2 given back and handed out again: out of seq order in the
   * reader's window. */
  g_assert_true (queue_abort_read (st_queue ("q"), seqs[1], 0, NULL));
  g_assert_cmpuint (st_expect_open ("q", 2), ==, seqs[1]);
  confirm[0] = seqs[3];
  confirm[1] = seqs[1];
  confirm[2] = seqs[0];
  confirm[3] = seqs[5] + 1;
  queue = st_queue ("q");
  g_assert_cmpuint (queue_close_reads (queue, confirm, 4), ==, 3);
  g_assert_cmpuint (queue->held->len, ==, 3);
  g_assert_cmpuint (held ("q", 0)->seq, ==, seqs[2]);
  g_assert_cmpuint (held ("q", 1)->seq, ==, seqs[4]);
  g_assert_cmpuint (held ("q", 2)->seq, ==, seqs[5]);
  g_assert_cmpuint (queue->open_reads, ==, 3);
  expect_counters ("q", 4, 10, 3, 0, 0);
  reopen (f, *how);
  expect_counters ("q", 7, 10, 3, 0, 0);
  st_expect_pop ("q", 3);
  st_expect_pop ("q", 5);
  pop_range (f, "q", 6, 10);
  st_expect_empty ("q");
}

/* Replay makes a queue's closes in a row together: closes of two queues
 * interleaved, and a give-back between two closes of one queue, come back
 * as they were made. */
static void
test_replay_closes (Fixture *f, gconstpointer data)
{
  guint64 q[6], r[3];

  push_range (f, "q", 1, 6);
  push_range (f, "r", 1, 3);
  for (guint i = 0; i < 6; i++)
    q[i] = st_expect_open ("q", i + 1);
  for (guint i = 0; i < 3; i++)
    r[i] = st_expect_open ("r", i + 1);
  g_assert_true (queue_close_read (st_queue ("q"), q[0], NULL));
  g_assert_true (queue_close_read (st_queue ("q"), q[1], NULL));
  g_assert_true (queue_close_read (st_queue ("r"), r[0], NULL));
  g_assert_true (queue_close_read (st_queue ("q"), q[2], NULL));
  g_assert_true (queue_abort_read (st_queue ("q"), q[3], 0, NULL));
  g_assert_true (queue_close_read (st_queue ("q"), q[4], NULL));
  reopen (f, REOPEN_KILLED);
  expect_counters ("q", 2, 6, 4, 0, 0);
  expect_counters ("r", 2, 3, 1, 0, 0);
  st_expect_pop ("q", 4);
  st_expect_pop ("q", 6);
  st_expect_empty ("q");
  st_expect_pop ("r", 2);
  st_expect_pop ("r", 3);
  st_expect_empty ("r");
}

/* A journal that closes a read not open, or one read twice, is out of step
 * with its queue: the start fails and names the message. */
static void
test_replay_close_refused (Fixture *f, gconstpointer data)
{
  gboolean twice = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;
  MqEntry close = { .op = MQ_ENTRY_CLOSE, .name = "q", .name_len = 1 };
  guint64 first;

  push_range (f, "q", 1, 3);
  first = st_expect_open ("q", 1);
  close.inc = st_queue ("q")->meta.inc;
  close.seq = twice ? first : first + 1;
  if (twice)
    g_assert_true (queue_close_read (st_queue ("q"), first, NULL));
  commit_log (&close);
  st_pass_end ();
  sdir_crash (&f->dir);
  g_assert_false (sdir_try_open (&f->dir, &error));
  g_assert_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT);
  expected = g_strdup_printf ("a close of message %" G_GUINT64_FORMAT
                              " (head", close.seq);
  g_assert_nonnull (strstr (error->message, expected));
}

/* A read out when the daemon was killed comes back after the start; if
 * it is then taken and closed, the next kill and start (the daemon killed
 * again while starting, too) do not bring it back. */
static void
test_given_back_then_closed (Fixture *f, gconstpointer data)
{
  guint64 seq;

  push_range (f, "q", 1, 3);
  st_expect_open ("q", 1);
  st_expect_open ("q", 2);
  reopen (f, REOPEN_KILLED);
  sdir_crash (&f->dir);
  sdir_open (&f->dir);
  seq = st_expect_open ("q", 1);
  g_assert_true (queue_close_read (st_queue ("q"), seq, NULL));
  st_expect_pop ("q", 2);
  reopen (f, REOPEN_KILLED);
  g_assert_cmpuint (st_queue ("q")->held->len, ==, 0);
  expect_counters ("q", 1, 3, 2, 0, 0);
  st_expect_pop ("q", 3);
  st_expect_empty ("q");
}

/* A window of reads given back below the head, from sealed segments:
 * each segment is read once for them, not once a message, and every
 * message comes again in order. */
static void
test_given_back_read_once (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) segs = NULL;
  guint64 seqs[600], reads;

  push_sealed (f, "q", 1, 600);
  segs = expect_contiguous_segments (f, "q", 1, 601);
  g_assert_cmpuint (segs->len, >, 1);
  for (guint i = 1; i <= 600; i++)
    seqs[i - 1] = st_expect_open ("q", i);
  for (guint i = 0; i < 600; i++)
    g_assert_true (queue_abort_read (st_queue ("q"), seqs[i], -1, NULL));
  reads = queues_segment_reads ();
  pop_range (f, "q", 1, 600);
  g_assert_cmpuint (queues_segment_reads () - reads, ==, segs->len);
  st_expect_empty ("q");
}

/* An abort gives the message back to the head with its delivery counted;
 * a close takes it for good.  The counts survive a kill. */
static void
test_abort_counts_deliveries (Fixture *f, gconstpointer data)
{
  MqQueue *queue;
  guint64 seq;

  st_push ("q", 1);
  st_push ("q", 2);
  for (guint n = 1; n <= 2; n++)
    {
      guint ready = st_ready_calls;

      seq = st_expect_open ("q", 1);
      g_assert_true (queue_abort_read (st_queue ("q"), seq, -1, NULL));
      g_assert_cmpuint (st_ready_calls, ==, ready + 1);
      g_assert_cmpuint (held ("q", 0)->deliveries, ==, n);
      g_assert_false (held ("q", 0)->open);
      expect_counters ("q", 2, 2, 0, 0, 0);
    }
  seq = st_expect_open ("q", 1);
  g_assert_true (queue_close_read (st_queue ("q"), seq, NULL));
  seq = st_expect_open ("q", 2);
  g_assert_true (queue_abort_read (st_queue ("q"), seq, -1, NULL));
  reopen (f, REOPEN_KILLED);
  queue = st_queue ("q");
  g_assert_cmpuint (queue->held->len, ==, 1);
  g_assert_cmpuint (held ("q", 0)->seq, ==, seq);
  g_assert_cmpuint (held ("q", 0)->deliveries, ==, 1);
  expect_counters ("q", 1, 2, 1, 0, 0);
  seq = st_expect_open ("q", 2);
  g_assert_true (queue_abort_read (st_queue ("q"), seq, -1, NULL));
  g_assert_cmpuint (held ("q", 0)->deliveries, ==, 2);
  /* No max_deliveries: it stays. */
  st_expect_pop ("q", 2);
  st_expect_empty ("q");
}

/* Given back max_deliveries times, a message moves to the dead-letter
 * queue with its bytes, flags and times. */
static void
test_dead_letter (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;
  MqMsgHeader header;
  MqItem item;
  guint64 seq;

  st_push_full ("flaky", 1, 7, EXPTIME_2100);
  st_push ("flaky", 2);
  g_assert_true (queue_peek (st_queue ("flaky"), &item, NULL));
  header = item.header;
  item_clear (&item);
  for (guint n = 1; n <= 2; n++)
    {
      seq = st_expect_open ("flaky", 1);
      g_assert_true (queue_abort_read (st_queue ("flaky"), seq, -1, NULL));
    }
  expect_counters ("flaky", 1, 2, 0, 0, 1);
  g_assert_cmpuint (st_queue ("flaky")->held->len, ==, 0);
  expect_counters ("dead", 1, 1, 0, 0, 0);
  reopen (f, *how);
  expect_counters ("flaky", 1, 2, 0, 0, 1);
  expect_counters ("dead", 1, 1, 0, 0, 0);
  g_assert_true (queue_pop (st_queue ("dead"), &item, NULL));
  g_assert_cmpmem (&item.header, sizeof header, &header, sizeof header);
  g_assert_cmpuint (item.header.flags, ==, 7);
  g_assert_cmpint (item.header.expires_ms, ==, EXPTIME_2100 * 1000);
  item_clear (&item);
  st_expect_pop ("flaky", 2);
  st_expect_empty ("dead");
}

/* ---- a replay that ends inside a segment ---- */

typedef struct {
  MqQueueMeta meta;
  guint64 count;
} QueueState;

static QueueState
queue_state (const char *name)
{
  MqQueue *queue = st_queue (name);
  QueueState state = { queue->meta, queue->count };

  return state;
}

/* Segments written by a checkpoint, the head moved into the second, then
 * a kill: the replay of the journal after the checkpoint gives the same
 * state, counters and next message. */
static void
test_replay_mid_segment (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) segs = NULL;
  QueueState before, after;

  push_sealed (f, "q", 1, 1000);
  segs = expect_contiguous_segments (f, "q", 1, 1001);
  g_assert_cmpuint (segs->len, >=, 3);
  pop_range (f, "q", 1, g_array_index (segs, StSegment, 1).first + 9);
  st_pass_end ();
  before = queue_state ("q");
  g_assert_cmpuint (before.meta.head_seg, ==,
                    g_array_index (segs, StSegment, 1).first);
  reopen (f, REOPEN_KILLED);
  after = queue_state ("q");
  g_assert_cmpmem (&after, sizeof after, &before, sizeof before);
  pop_range (f, "q", before.meta.head, 1000);
  st_expect_empty ("q");
}

/* The same with the segments sealed into the generation being written,
 * which a kill throws away: the replay rebuilds them from the journal
 * alone. */
static void
test_replay_sealed_unfinished (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  QueueState before, after;

  push_range (f, "q", 1, 1000);
  g_assert_true (queues_seal_tails (TRUE, &error));
  g_assert_no_error (error);
  pop_range (f, "q", 1, 150);
  st_pass_end ();
  before = queue_state ("q");
  g_assert_cmpuint (before.meta.head_seg, >, 1);
  g_assert_cmpuint (before.meta.head_seg, <=, 151);
  reopen (f, REOPEN_KILLED);
  /* The first checkpoint seals what the replay rebuilt, from the head. */
  g_assert_true (checkpoint_wait (&error));
  g_assert_no_error (error);
  g_array_unref (expect_contiguous_segments (f, "q", 151, 1001));
  after = queue_state ("q");
  /* Where segments begin is the replay's own business. */
  after.meta.head_seg = before.meta.head_seg;
  g_assert_cmpmem (&after, sizeof after, &before, sizeof before);
  pop_range (f, "q", 151, 1000);
  st_expect_empty ("q");
}

/* ---- emptying ---- */

/* flush drops what waits, sealed or not, and keeps reads that are open;
 * what comes after it is served. */
static void
test_flush (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;
  MqQueue *queue;
  guint64 seq, inc;

  push_range (f, "q", 1, 500);
  st_checkpoint ();
  push_range (f, "q", 501, 600);
  seq = st_expect_open ("q", 1);
  queue = st_queue ("q");
  inc = queue->meta.inc;
  g_assert_true (queue_flush (queue, NULL));
  g_assert_cmpuint (queue->meta.bytes, ==, 0);
  g_assert_cmpuint (queue->open_reads, ==, 1);
  expect_counters ("q", 0, 600, 0, 0, 0);
  st_expect_empty ("q");
  g_assert_true (queues_segment_live ("q", 1, inc, 1, NULL));
  g_assert_true (queue_close_read (queue, seq, NULL));
  g_assert_false (queues_segment_live ("q", 1, inc, 1, NULL));
  st_push ("q", 601);
  reopen (f, *how);
  expect_counters ("q", 1, 601, 1, 0, 0);
  g_assert_cmpuint (st_queue ("q")->meta.inc, ==, inc);
  st_expect_pop ("q", 601);
  st_expect_empty ("q");
}

/* delete then a set: a new incarnation, whose sequence starts again at 1;
 * the old one's segments are not live, and the next checkpoint gives
 * their file back. */
static void
test_delete_recreate (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;
  g_autoptr (GArray) before = NULL;
  g_autoptr (GArray) after = NULL;
  guint64 inc;

  push_range (f, "q", 1, 500);
  st_checkpoint ();
  inc = st_queue ("q")->meta.inc;
  before = expect_contiguous_segments (f, "q", 1, 501);
  g_assert_true (queue_delete (st_queue ("q"), NULL));
  g_assert_null (queue_lookup ("q", 1));
  for (guint i = 0; i < before->len; i++)
    g_assert_false (queues_segment_live (
      "q", 1, inc, g_array_index (before, StSegment, i).first, NULL));
  st_push ("q", 501);
  g_assert_cmpuint (st_queue ("q")->meta.inc, >, inc);
  g_assert_cmpuint (st_queue ("q")->meta.head, ==, 1);
  g_assert_cmpuint (st_queue ("q")->meta.tail, ==, 2);
  expect_counters ("q", 1, 1, 0, 0, 0);
  reopen (f, *how);
  g_assert_cmpuint (st_queue ("q")->meta.inc, >, inc);
  expect_counters ("q", 1, 1, 0, 0, 0);
  st_expect_pop ("q", 501);
  st_expect_empty ("q");
  st_checkpoint ();
  after = sdir_segments (&f->dir, "q");
  for (guint i = 0; i < after->len; i++)
    g_assert_cmpuint (g_array_index (after, StSegment, i).inc, !=, inc);
}

/* ---- expiry ---- */

/* Messages whose time is up are passed over, and counted, whether in the
 * tail or in segments, before and after a replay; the others keep their
 * flags and expiry time. */
static void
test_expiry (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  MqMsgHeader header;

  st_push_full ("q", 1, 0, -1);                 /* already expired */
  st_push_full ("q", 2, 0, 60 * 60 * 24 * 30 + 1);      /* 1970 */
  st_push_full ("q", 3, 0, 0);
  st_push_full ("q", 4, 44, EXPTIME_2100);
  st_expect_pop ("q", 3);
  expect_counters ("q", 1, 4, 1, 2, 0);
  header = st_expect_pop ("q", 4);
  g_assert_cmpuint (header.flags, ==, 44);
  g_assert_cmpint (header.expires_ms, ==, EXPTIME_2100 * 1000);
  /* The sweep drops an expired head without a get. */
  st_push_full ("q", 5, 0, -1);
  st_push ("q", 6);
  g_assert_true (queues_sweep (&error));
  g_assert_no_error (error);
  expect_counters ("q", 1, 6, 2, 3, 0);
  st_expect_pop ("q", 6);
  /* Every other one expired, across segments and a replay. */
  for (guint i = 7; i <= 2006; i++)
    {
      st_push_full ("q", i, i, i % 2 ? -1 : EXPTIME_2100);
      op_done (f);
    }
  g_assert_true (queues_seal_tails (TRUE, &error));
  g_assert_no_error (error);
  reopen (f, REOPEN_KILLED);
  for (guint i = 8; i <= 2006; i += 2)
    {
      header = st_expect_pop ("q", i);
      g_assert_cmpuint (header.flags, ==, i);
      g_assert_cmpint (header.expires_ms, ==, EXPTIME_2100 * 1000);
      op_done (f);
    }
  st_expect_empty ("q");
  expect_counters ("q", 0, 2006, 1003, 1003, 0);
}

/* ---- limits and fanout ---- */

/* discard_old drops the oldest to make room; without it a full queue
 * refuses.  Both survive a replay. */
static void
test_discard_old (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree char *payload = st_payload (3, &len);
  guint64 lsn = 0;

  for (guint i = 1; i <= 5; i++)
    st_push ("capped", i);
  expect_counters ("capped", 3, 5, 0, 0, 2);
  st_push ("full", 1);
  st_push ("full", 2);
  g_assert_cmpint (queue_push (st_queue ("full"), 0, 0, -1, payload, len, &lsn,
                               &error), ==, MQ_PUSH_FULL);
  g_assert_no_error (error);
  expect_counters ("full", 2, 2, 0, 0, 0);
  reopen (f, REOPEN_KILLED);
  expect_counters ("capped", 3, 5, 0, 0, 2);
  expect_counters ("full", 2, 2, 0, 0, 0);
  pop_range (f, "capped", 3, 5);
  pop_range (f, "full", 1, 2);
  st_expect_empty ("capped");
}

/* A child named "parent+child" gets a copy of every set from then on,
 * under its own limits, after a reopen too. */
static void
test_fanout (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;
  MqQueue *child = st_queue ("jobs+audit");

  g_assert_true (child->persistent);
  g_assert_true (child->parent == queue_lookup ("jobs", 4));
  st_push ("jobs", 1);
  st_push ("jobs", 2);                  /* the child is full: dropped */
  expect_counters ("jobs", 2, 2, 0, 0, 0);
  expect_counters ("jobs+audit", 1, 1, 0, 0, 1);
  reopen (f, *how);
  st_push ("jobs", 3);
  g_assert_cmpuint (st_queue ("jobs+audit")->count, ==, 1);
  g_assert_cmpuint (st_queue ("jobs+audit")->meta.enqueued, ==, 1);
  st_expect_pop ("jobs+audit", 1);
  st_push ("jobs", 4);
  st_expect_pop ("jobs+audit", 4);
  pop_range (f, "jobs", 1, 4);
  st_expect_empty ("jobs+audit");
}

/* A parent deleted and named again adopts its children again (and, under
 * LSan, frees the name its children waited under).  The child holds one
 * message at most (the fixture's rules). */
static void
test_fanout_parent_again (Fixture *f, gconstpointer data)
{
  st_queue ("jobs+audit");
  st_push ("jobs", 1);
  st_expect_pop ("jobs+audit", 1);
  g_assert_true (queue_delete (st_queue ("jobs"), NULL));
  g_assert_null (st_queue ("jobs+audit")->parent);
  st_push ("jobs", 2);
  g_assert_true (st_queue ("jobs+audit")->parent == queue_lookup ("jobs", 4));
  st_expect_pop ("jobs+audit", 2);
  st_expect_pop ("jobs", 2);
  st_expect_empty ("jobs");
}

/* A copy the child's limits refused is counted as discarded, and the
 * count survives a kill as every other counter does. */
static void
test_fanout_refused_counted (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;

  st_queue ("jobs+audit");
  st_push ("jobs", 1);
  st_push ("jobs", 2);
  expect_counters ("jobs+audit", 1, 1, 0, 0, 1);
  reopen (f, *how);
  expect_counters ("jobs+audit", 1, 1, 0, 0, 1);
}

/* ---- age ---- */

/* The age of the next message to hand out: the head, or one given back
 * before it; 0 for an empty queue. */
static void
test_age (Fixture *f, gconstpointer data)
{
  MqQueue *queue = st_queue ("q");
  gint64 created, before, after, age;
  MqItem item;
  guint64 seq;

  g_assert_cmpint (queue_age_ms (queue), ==, 0);
  st_push ("q", 1);
  st_push ("q", 2);
  g_assert_true (queue_peek (queue, &item, NULL));
  created = item.header.created_ms;
  item_clear (&item);
  seq = st_expect_open ("q", 1);
  g_assert_true (queue_abort_read (queue, seq, -1, NULL));
  reopen (f, REOPEN_KILLED);
  queue = st_queue ("q");
  before = g_get_real_time () / 1000;
  age = queue_age_ms (queue);
  after = g_get_real_time () / 1000;
  g_assert_cmpint (age, >=, before - created);
  g_assert_cmpint (age, <=, after - created);
  st_expect_pop ("q", 1);
  st_expect_pop ("q", 2);
  g_assert_cmpint (queue_age_ms (queue), ==, 0);
}

/* ---- segments ---- */

/* A segment is live while it holds the head, a message after it, or a
 * message out on a read; never for another incarnation or name, nor in
 * the young tail. */
static void
test_segment_live (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) segs = NULL;
  guint64 inc, seq, s[3];
  MqQueue *queue;

  push_sealed (f, "q", 1, 1000);
  queue = st_queue ("q");
  inc = queue->meta.inc;
  segs = expect_contiguous_segments (f, "q", 1, 1001);
  g_assert_cmpuint (segs->len, >=, 4);
  for (guint i = 0; i < 3; i++)
    s[i] = g_array_index (segs, StSegment, i).first;
  for (guint i = 0; i < segs->len; i++)
    g_assert_true (queues_segment_live (
      "q", 1, inc, g_array_index (segs, StSegment, i).first, NULL));
  seq = st_expect_open ("q", 1);
  pop_range (f, "q", 2, s[2]);
  g_assert_true (queues_segment_live ("q", 1, inc, s[0], NULL));
  g_assert_true (queues_segment_live ("q", 1, inc, s[2], NULL));
  /* Nothing of s[1] is needed, but every segment from the oldest open
   * read to the head counts as live: one read left open pins on disk all
   * that was consumed after it. */
  g_assert_false (queues_segment_live ("q", 1, inc, s[1], NULL));
  g_assert_true (queue_close_read (queue, seq, NULL));
  g_assert_false (queues_segment_live ("q", 1, inc, s[0], NULL));
  g_assert_false (queues_segment_live ("q", 1, inc, s[1], NULL));
  g_assert_false (queues_segment_live ("q", 1, inc + 1, s[2], NULL));
  g_assert_false (queues_segment_live ("r", 1, inc, s[2], NULL));
  st_push ("q", 1001);
  g_assert_false (queues_segment_live ("q", 1, inc, 1001, NULL));
  pop_range (f, "q", s[2] + 1, 1001);
  st_expect_empty ("q");
}

/* Once less than half of a generation's segments are live, the pass ends
 * copy the live ones into the generation being written, and the next
 * checkpoint gives the old file back; the messages are still served, in
 * order, after a reopen. */
static void
test_segments_evacuated (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) segs = NULL;
  g_autoptr (GArray) moved = NULL;
  guint64 old_gen, keep_from;

  push_range (f, "q", 1, 2000);
  st_checkpoint ();
  segs = expect_contiguous_segments (f, "q", 1, 2001);
  old_gen = g_array_index (segs, StSegment, 0).gen;
  keep_from = g_array_index (segs, StSegment, segs->len - 3).first;
  pop_range (f, "q", 1, keep_from - 1);
  st_checkpoint ();              /* begins a round of counting */
  /* The pass ends count 16 keys each, find the live share under half,
   * and copy the three live segments into the generation being written. */
  for (guint i = 0; i < 64 && checkpoint_part_bytes () == 0; i++)
    st_pass_end ();
  g_assert_cmpuint (checkpoint_part_bytes (), >, 0);
  st_pass_end ();
  st_checkpoint ();              /* retires the old generation */
  moved = expect_contiguous_segments (f, "q", keep_from, 2001);
  g_assert_cmpuint (moved->len, ==, 3);
  for (guint i = 0; i < moved->len; i++)
    g_assert_cmpuint (g_array_index (moved, StSegment, i).gen, >, old_gen);
  reopen (f, REOPEN_CLEAN);
  pop_range (f, "q", keep_from, 2000);
  st_expect_empty ("q");
}

/* ---- memory ---- */

#define BUDGET_QUEUES 1000
#define BUDGET_MESSAGE 1000
#define BUDGET_EACH 53            /* 53 MB in all: more than 50 MiB */
#define BUDGET_LIMIT (12 * 1024 * 1024)

static void
budget_message (char *buf, guint queue, guint i)
{
  memset (buf, 'a' + (queue + i) % 26, BUDGET_MESSAGE);
  g_snprintf (buf, BUDGET_MESSAGE, "queue %u message %u|", queue, i);
}

static void
budget_op_done (Fixture *f, gsize *peak)
{
  *peak = MAX (*peak, queues_memory ());
  if (++f->ops % 100 == 0)
    {
      st_pass_end ();
      g_assert_cmpuint (queues_memory (), <=, BUDGET_LIMIT);
    }
}

/* 50 MiB into 1,000 queues and out again: the young tails and loaded
 * heads stay within their budgets (8 and 4 MiB) at every pass end, and
 * barely above them within a pass. */
static void
test_memory_budget (Fixture *f, gconstpointer data)
{
  char buf[BUDGET_MESSAGE], name[16];
  gsize peak = 0;

  for (guint i = 0; i < BUDGET_EACH; i++)
    for (guint q = 0; q < BUDGET_QUEUES; q++)
      {
        guint64 lsn;

        g_snprintf (name, sizeof name, "m%u", q);
        budget_message (buf, q, i);
        g_assert_cmpint (queue_push (st_queue (name), 0, 0, -1, buf,
                                     BUDGET_MESSAGE, &lsn, NULL), ==,
                         MQ_PUSH_STORED);
        budget_op_done (f, &peak);
      }
  g_test_message ("peak while filling: %" G_GSIZE_FORMAT " KiB, "
                  "checkpoints done: %" G_GUINT64_FORMAT, peak / 1024,
                  checkpoint_done ());
  /* The journal passed 32 MiB: a checkpoint was cut on the way. */
  g_assert_true (checkpoint_wait (NULL));
  g_assert_cmpuint (checkpoint_done (), >=, 2);
  /* Drained as the sets came, one queue after the other: every head
   * segment is read again, and let go when the budget is full. */
  for (guint i = 0; i < BUDGET_EACH; i++)
    for (guint q = 0; q < BUDGET_QUEUES; q++)
      {
        MqItem item;

        g_snprintf (name, sizeof name, "m%u", q);
        g_assert_true (queue_pop (st_queue (name), &item, NULL));
        budget_message (buf, q, i);
        g_assert_cmpmem (item.data, item.len, buf, BUDGET_MESSAGE);
        item_clear (&item);
        budget_op_done (f, &peak);
      }
  g_test_message ("peak overall: %" G_GSIZE_FORMAT " KiB", peak / 1024);
  g_assert_cmpuint (peak, <=, BUDGET_LIMIT + 100 * (BUDGET_MESSAGE + 24));
  g_assert_true (queues_all_empty ());
}

/* ---- heads of many queues ---- */

#define WINDOW_QUEUES 1000
#define WINDOW_EACH 60
#define HEAD_BUDGET (4 * 1024 * 1024)

/* 1,000 deep queues taken from in turn hold more heads than their 4 MiB
 * budget: each head let go is cut to a window of about 2 KiB from the
 * head, and the next gets of its queue come from there.  A segment is
 * read once every few gets (once a get before the windows), every message
 * comes back in order, and the heads keep to their budget. */
static void
test_head_windows (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) segments = NULL;
  char name[16];
  guint64 reads;

  for (guint i = 1; i <= WINDOW_EACH; i++)
    for (guint q = 0; q < WINDOW_QUEUES; q++)
      {
        g_snprintf (name, sizeof name, "w%u", q);
        st_push (name, i);
        op_done (f);
      }
  g_assert_true (queues_seal_tails (TRUE, &error));
  g_assert_no_error (error);
  st_checkpoint ();
  segments = sdir_segments (&f->dir, NULL);
  reads = queues_segment_reads ();
  for (guint i = 1; i <= WINDOW_EACH; i++)
    for (guint q = 0; q < WINDOW_QUEUES; q++)
      {
        g_snprintf (name, sizeof name, "w%u", q);
        st_expect_pop (name, i);
        op_done (f);
        if (f->ops % PASS == 0)
          g_assert_cmpuint (queues_memory (), <=, HEAD_BUDGET);
      }
  reads = queues_segment_reads () - reads;
  g_test_message ("%" G_GUINT64_FORMAT " segments read for %u gets from %u"
                  " segments", reads,
                  WINDOW_QUEUES * WINDOW_EACH, segments->len);
  /* A read serves the gets of a window, 2 KiB of records of 84 to 484
   * bytes (five at least), or the rest of its segment. */
  g_assert_cmpuint (reads, >=, WINDOW_QUEUES);
  g_assert_cmpuint (reads, <=, WINDOW_QUEUES * WINDOW_EACH / 5
                    + segments->len);
  g_assert_true (queues_all_empty ());
}

/* ---- delays and retries ---- */

static void
push_later (const char *queue, guint i, gint64 delay_ms)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree char *data = st_payload (i, &len);
  guint64 lsn = 0;

  g_assert_cmpint (queue_push (st_queue (queue), 0, 0, delay_ms, data, len,
                               &lsn, &error), ==, MQ_PUSH_STORED);
  g_assert_no_error (error);
}

/* Moves every delayed message due at now_ms, one a call at most; returns
 * the calls. */
static guint
release (gint64 now_ms)
{
  g_autoptr (GError) error = NULL;
  gboolean more = TRUE;
  guint rounds = 0;

  while (more)
    {
      g_assert_true (queues_release_due (now_ms, 1, &more, &error));
      g_assert_no_error (error);
      rounds++;
      st_pass_end ();
    }
  return rounds;
}

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* Delayed sets are counted as set but wait out of sight; each joins the
 * queue when due, in due order, moving down the wheel's levels at most
 * once a level.  Across a stop or a kill too. */
static void
test_delays (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;
  static const gint64 delays[] = { 5000, 70, 600000, 2, 3000000000 };
  gint64 start = now_ms ();
  guint moves;

  for (guint i = 0; i < G_N_ELEMENTS (delays); i++)
    push_later ("q", i + 1, delays[i]);
  st_push ("q", 9);
  expect_counters ("q", 1, 6, 0, 0, 0);
  g_assert_cmpuint (st_queue ("q")->delayed, ==, 5);
  g_assert_cmpint (queues_next_due_ms (), >, start);
  g_assert_cmpint (queues_next_due_ms (), <=, now_ms () + 3);
  reopen (f, *how);
  g_assert_cmpuint (st_queue ("q")->delayed, ==, 5);
  expect_counters ("q", 1, 6, 0, 0, 0);
  /* Nothing is due before its time. */
  g_assert_cmpuint (release (start), ==, 1);
  st_expect_pop ("q", 9);
  st_expect_empty ("q");
  moves = release (start + 10000);
  g_assert_cmpuint (moves, >=, 3);
  g_assert_cmpuint (moves, <=, 3 * MQ_WHEEL_LEVELS + 1);
  st_expect_pop ("q", 4);
  st_expect_pop ("q", 2);
  st_expect_pop ("q", 1);
  st_expect_empty ("q");
  g_assert_cmpuint (st_queue ("q")->delayed, ==, 2);
  reopen (f, *how);
  release (start + 4000000000);
  st_expect_pop ("q", 3);
  st_expect_pop ("q", 5);
  expect_counters ("q", 0, 6, 6, 0, 0);
  g_assert_cmpuint (st_queue ("q")->delayed, ==, 0);
  g_assert_cmpint (queues_next_due_ms (), ==, G_MAXINT64);
  g_assert_true (queues_all_empty ());
}

/* Delays at random, all due long before the release: they still come in
 * due order, though the wheel put them in buckets of many levels. */
static void
test_delays_late (Fixture *f, gconstpointer data)
{
  gint64 due = 0;

  for (guint i = 0; i < 300; i++)
    push_later ("r", i, g_test_rand_int_range (1, 20000));
  release (now_ms () + 30000);
  for (guint i = 0; i < 300; i++)
    {
      MqItem item;

      g_assert_true (queue_pop (st_queue ("r"), &item, NULL));
      g_assert_cmpint (item.header.due_ms, >=, due);
      due = item.header.due_ms;
      item_clear (&item);
    }
  st_expect_empty ("r");
}

/* A read given back with a delay leaves the queue until then, keeps its
 * delivery count, and is counted as set once. */
static void
test_retry_later (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;
  gint64 start = now_ms ();
  guint64 seq;

  st_push ("q", 1);
  st_push ("q", 2);
  seq = st_expect_open ("q", 1);
  g_assert_true (queue_abort_read (st_queue ("q"), seq, 60000, NULL));
  g_assert_cmpuint (st_queue ("q")->open_reads, ==, 0);
  g_assert_cmpuint (st_queue ("q")->delayed, ==, 1);
  expect_counters ("q", 1, 2, 0, 0, 0);
  reopen (f, *how);
  g_assert_cmpuint (st_queue ("q")->delayed, ==, 1);
  st_expect_pop ("q", 2);
  st_expect_empty ("q");
  release (start + 61000);
  seq = st_expect_open ("q", 1);
  g_assert_cmpuint (held ("q", 0)->deliveries, ==, 1);
  g_assert_true (queue_abort_read (st_queue ("q"), seq, 0, NULL));
  g_assert_cmpuint (held ("q", 0)->deliveries, ==, 2);
  st_expect_pop ("q", 1);
  expect_counters ("q", 0, 2, 2, 0, 0);
}

/* flush and delete take the delayed messages with the waiting ones. */
static void
test_delays_emptied (Fixture *f, gconstpointer data)
{
  const Reopen *how = data;

  push_later ("a", 1, 60000);
  push_later ("b", 2, 60000);
  push_later ("b", 3, 6000000);
  g_assert_true (queue_flush (st_queue ("a"), NULL));
  g_assert_true (queue_delete (st_queue ("b"), NULL));
  g_assert_cmpuint (st_queue ("a")->delayed, ==, 0);
  reopen (f, *how);
  g_assert_cmpuint (st_queue ("a")->delayed, ==, 0);
  g_assert_cmpuint (st_queue ("b")->delayed, ==, 0);
  g_assert_cmpint (queues_next_due_ms (), ==, G_MAXINT64);
  release (now_ms () + 7000000);
  st_expect_empty ("a");
  st_expect_empty ("b");
}

/* A delayed message of a fanout parent is copied to the children when it
 * is due, not before. */
static void
test_delayed_fanout (Fixture *f, gconstpointer data)
{
  st_queue ("jobs+log");
  push_later ("jobs", 1, 1000);
  st_expect_empty ("jobs+log");
  release (now_ms () + 2000);
  st_expect_pop ("jobs", 1);
  st_expect_pop ("jobs+log", 1);
}

#define ADD(path, func) \
  g_test_add ("/queue/" path, Fixture, NULL, set_up, func, tear_down)
#define ADD_BOTH(path, func) \
  g_test_add ("/queue/" path "/clean", Fixture, &clean, set_up, func, \
              tear_down); \
  g_test_add ("/queue/" path "/killed", Fixture, &killed, set_up, func, \
              tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("fifo/across-segments", test_fifo_across_segments);
  ADD ("fifo/interleaved", test_fifo_interleaved);
  ADD ("fifo/partly-consumed-segment", test_partly_consumed_segment);
  ADD_BOTH ("checkpoint/tail-carried", test_tail_carried);
  ADD ("checkpoint/tail-restore-refused", test_tail_restore_refused);
  ADD_BOTH ("reliable/holes-survive", test_holes_survive);
  ADD_BOTH ("reliable/close-window", test_close_window);
  ADD ("reliable/given-back-then-closed", test_given_back_then_closed);
  ADD ("reliable/replay-closes", test_replay_closes);
  g_test_add ("/queue/reliable/replay-close-refused/not-open", Fixture,
              GINT_TO_POINTER (FALSE), set_up, test_replay_close_refused,
              tear_down);
  g_test_add ("/queue/reliable/replay-close-refused/twice", Fixture,
              GINT_TO_POINTER (TRUE), set_up, test_replay_close_refused,
              tear_down);
  ADD ("reliable/abort-counts-deliveries", test_abort_counts_deliveries);
  ADD ("reliable/given-back-read-once", test_given_back_read_once);
  ADD_BOTH ("reliable/dead-letter", test_dead_letter);
  ADD ("replay/mid-segment", test_replay_mid_segment);
  ADD ("replay/sealed-unfinished", test_replay_sealed_unfinished);
  ADD_BOTH ("empty/flush", test_flush);
  ADD_BOTH ("empty/delete-recreate", test_delete_recreate);
  ADD ("expiry", test_expiry);
  ADD ("limits/discard-old", test_discard_old);
  ADD_BOTH ("fanout/copies", test_fanout);
  g_test_add ("/queue/fanout/refused-counted/clean", Fixture, &clean, set_up,
              test_fanout_refused_counted, tear_down);
  ADD ("fanout/parent-again", test_fanout_parent_again);
  /* queue_push counts a refused copy in the child's meta without a
   * journal entry: a kill before the next checkpoint loses it. */
  g_test_add ("/queue/fanout/refused-counted/killed", Fixture, &killed,
              set_up, test_fanout_refused_counted, tear_down);
  ADD ("age", test_age);
  ADD_BOTH ("delay/order", test_delays);
  ADD_BOTH ("delay/retry-later", test_retry_later);
  ADD_BOTH ("delay/emptied", test_delays_emptied);
  ADD ("delay/fanout", test_delayed_fanout);
  ADD ("delay/late", test_delays_late);
  ADD ("segments/live", test_segment_live);
  ADD ("segments/evacuated", test_segments_evacuated);
  ADD ("memory/budgets", test_memory_budget);
  ADD ("memory/head-windows", test_head_windows);
  return g_test_run ();
}
