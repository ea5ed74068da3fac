/* test_conn.c: unit tests for the connection states (daemon/conn.c) and for
 * waiting gets served after the command (daemon/dispatch.c, waiter.c).
 *
 * Each client is a socketpair: the daemon's end is a real connection on the
 * real loop, over the real queue layer and store in a temporary directory;
 * the test writes requests to its end, runs passes of the loop and reads the
 * exact replies.  Passes run as the daemon's do under -N (nothing waits for
 * the sync thread).
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "command.h"
#include "commit.h"
#include "conn.h"
#include "dispatch.h"
#include "loop.h"
#include "queue.h"
#include "storage.h"
#include "waiter.h"

/* A get that waits on q longer than any test runs, and its replies. */
#define WAIT_LONG "get q/t=60000\r\n"
#define WOKEN(len, data) "VALUE q/t=60000 0 " #len "\r\n" data "\r\nEND\r\n"
#define ITEM_SIZE (1024 * 1024)

/* The test's end of a socketpair, and the daemon's connection at the other
 * (freed once CLOSED and a pass has ended). */
typedef struct {
  int fd;
  MqConn *conn;
} Client;

typedef struct {
  char *tmp;
  MqRuleBook *rules;
  Client clients[3];
  guint n_clients;
} Fixture;

static void
pass_end (gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  dispatch_serve_ready ();
  dispatch_expire (g_get_monotonic_time ());
  dispatch_resume ();
  g_assert_true (commit_end_pass (&error));
  conns_release (commit_synced ());
  conns_flush ();
  loop_set_deadline (waiters_next_deadline ());
}

static void
set_verbosity (guint level)
{
}

/* data: TRUE for the durable mode, whose replies wait for a sync. */
static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gboolean no_sync = !GPOINTER_TO_INT (data);
  MqCommandLimits limits = { .max_message = ITEM_SIZE, .no_sync = no_sync,
    .set_verbosity = set_verbosity };

  MqStorageOptions storage = { .owner_uid = G_MAXUINT32, .no_sync = no_sync,
    .ready = waiters_on_ready };

  f->tmp = g_dir_make_tmp ("mqd-test-conn-XXXXXX", &error);
  g_assert_no_error (error);
  f->rules = rules_new ();
  storage.path = f->tmp;
  storage.rules = f->rules;
  g_assert_true (storage_open (&storage, &error));
  g_assert_no_error (error);
  loop_init (pass_end, NULL);
  command_init (&limits);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = NULL;
  const char *name;

  conns_close_all ();
  g_assert_cmpint (waiters_next_deadline (), ==, -1);
  for (guint i = 0; i < f->n_clients; i++)
    if (f->clients[i].fd >= 0)
      close (f->clients[i].fd);
  storage_close ();
  loop_shutdown ();
  rules_free (f->rules);
  dir = g_dir_open (f->tmp, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->tmp, name, NULL);

      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (f->tmp), ==, 0);
  g_free (f->tmp);
}

/* ---- clients ---- */

static Client *
client_open (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  Client *c = &f->clients[f->n_clients++];
  int fds[2];
  GSocket *socket;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                   ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  c->conn = dispatch_accept (socket);
  c->fd = fds[1];
  return c;
}

static void
client_hang_up (Client *c)
{
  close (c->fd);
  c->fd = -1;
}

static void
client_send (Client *c, const char *text)
{
  gsize len = strlen (text);

  g_assert_cmpint (send (c->fd, text, len, MSG_NOSIGNAL), ==, (gssize) len);
}

/* Everything the daemon has sent so far; *eof when it closed its end. */
static GString *
client_take (Client *c, gboolean *eof)
{
  GString *got = g_string_new (NULL);
  char buf[64 * 1024];
  gssize n;

  while ((n = recv (c->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
    g_string_append_len (got, buf, n);
  if (eof != NULL)
    *eof = n == 0;
  return got;
}

static void
client_expect (Client *c, const char *reply)
{
  g_autoptr (GString) got = client_take (c, NULL);

  g_assert_cmpstr (got->str, ==, reply);
}

static void
client_expect_bytes (Client *c, const char *reply, gsize len)
{
  g_autoptr (GString) got = client_take (c, NULL);

  g_assert_cmpmem (got->str, got->len, reply, len);
}

/* A pass of the loop, which the test's request has made due. */
static void
run_pass (void)
{
  g_assert_true (g_main_context_iteration (NULL, FALSE));
}

/* Sends a request, which makes a pass due, and runs it. */
static void
client_run (Client *c, const char *request)
{
  client_send (c, request);
  run_pass ();
}

static Client *
client_block (Fixture *f, const char *get)
{
  Client *c = client_open (f);

  client_run (c, get);
  g_assert_cmpint (c->conn->state, ==, MQ_CONN_BLOCKED);
  client_expect (c, "");
  return c;
}

static MqQueue *
queue_named (const char *name)
{
  return queue_lookup (name, strlen (name));
}

static void
push (const char *name, const char *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  MqQueue *queue = queue_lookup_or_create (name, strlen (name));
  guint64 lsn;

  g_assert_cmpint (queue_push (queue, 0, 0, -1, data, len, &lsn, &error), ==,
                   MQ_PUSH_STORED);
}

/* ---- waiting gets: served after the command ---- */

/* A pipelined set then get: the waiter takes the item after the set has
 * returned and before the get runs, as when the set woke it at once. */
static void
test_set_then_get_pipelined (Fixture *f, gconstpointer data)
{
  Client *reader, *writer;

  reader = client_block (f, WAIT_LONG);
  writer = client_open (f);
  client_run (writer, "set q 0 0 5\r\nhello\r\nget q\r\n");
  client_expect (writer, "STORED\r\nEND\r\n");
  client_expect (reader, WOKEN (5, "hello"));
  g_assert_cmpint (reader->conn->state, ==, MQ_CONN_READING);
  g_assert_cmpuint (queue_named ("q")->count, ==, 0);
}

/* The queue layer's hook runs nothing: the waiter is served only when the
 * dispatcher asks, and the loop is asked for a pass at once meanwhile. */
static void
test_ready_hook_only_marks (Fixture *f, gconstpointer data)
{
  Client *reader;
  MqQueue *queue;

  reader = client_block (f, WAIT_LONG);
  queue = queue_named ("q");
  push ("q", "x", 1);
  g_assert_cmpint (reader->conn->state, ==, MQ_CONN_BLOCKED);
  g_assert_cmpuint (g_queue_get_length (&queue->waiters), ==, 1);
  g_assert_cmpuint (queue->count, ==, 1);
  g_assert_cmpint (waiters_next_deadline (), ==, 0);
  dispatch_serve_ready ();
  g_assert_cmpint (reader->conn->state, ==, MQ_CONN_READING);
  g_assert_cmpuint (g_queue_get_length (&queue->waiters), ==, 0);
  g_assert_cmpuint (queue->count, ==, 0);
  g_assert_cmpint (waiters_next_deadline (), ==, -1);
  conns_flush ();
  client_expect (reader, WOKEN (1, "x"));
}

/* A set marks its queue once however many waiters it has; one item wakes
 * one waiter, the first, and the next set the second. */
static void
test_one_item_one_waiter (Fixture *f, gconstpointer data)
{
  Client *first, *second, *writer;

  first = client_block (f, WAIT_LONG);
  second = client_block (f, WAIT_LONG);
  writer = client_open (f);
  client_run (writer, "set q 0 0 1\r\na\r\n");
  client_expect (first, WOKEN (1, "a"));
  client_expect (second, "");
  g_assert_cmpint (second->conn->state, ==, MQ_CONN_BLOCKED);
  client_run (writer, "set q 0 0 1\r\nb\r\n");
  client_expect (second, WOKEN (1, "b"));
  client_expect (writer, "STORED\r\nSTORED\r\n");
}

/* delete: the waiters wait again, on the queue the name names next. */
static void
test_delete_waits_again (Fixture *f, gconstpointer data)
{
  Client *reader, *writer;

  reader = client_block (f, WAIT_LONG);
  writer = client_open (f);
  client_run (writer, "delete q\r\n");
  client_expect (writer, "DELETED\r\n");
  g_assert_cmpint (reader->conn->state, ==, MQ_CONN_BLOCKED);
  g_assert_nonnull (queue_named ("q"));
  g_assert_cmpuint (g_queue_get_length (&queue_named ("q")->waiters), ==, 1);
  client_run (writer, "set q 0 0 2\r\nhi\r\n");
  client_expect (writer, "STORED\r\n");
  client_expect (reader, WOKEN (2, "hi"));
}

/* A reader that leaves while it waits on another queue is closed in its
 * event: its item goes back and the waiter has it in the same pass. */
static void
test_given_back_by_a_waiting_reader (Fixture *f, gconstpointer data)
{
  Client *holder, *reader;

  push ("q", "item", 4);
  holder = client_open (f);
  client_run (holder, "get q/open\r\nget other/t=60000\r\n");
  client_expect (holder, "VALUE q/open 0 4\r\nitem\r\nEND\r\n");
  g_assert_cmpint (holder->conn->state, ==, MQ_CONN_BLOCKED);
  reader = client_block (f, WAIT_LONG);
  client_hang_up (holder);
  run_pass ();
  g_assert_cmpuint (conns_count (), ==, 1);
  client_expect (reader, WOKEN (4, "item"));
  g_assert_cmpuint (g_queue_get_length (&queue_named ("other")->waiters), ==,
                    0);
}

/* A reader that quits is closed by the pass end's flush, after the commit:
 * its item goes back then, and the next pass, due at once, serves the
 * waiter. */
static void
test_given_back_at_the_flush (Fixture *f, gconstpointer data)
{
  Client *holder, *reader;
  gboolean eof;

  push ("q", "item", 4);
  holder = client_open (f);
  client_run (holder, "get q/open\r\n");
  client_expect (holder, "VALUE q/open 0 4\r\nitem\r\nEND\r\n");
  reader = client_block (f, WAIT_LONG);
  client_run (holder, "quit\r\n");
  g_string_free (client_take (holder, &eof), TRUE);
  g_assert_true (eof);
  g_assert_cmpint (reader->conn->state, ==, MQ_CONN_BLOCKED);
  g_assert_cmpint (waiters_next_deadline (), ==, 0);
  run_pass ();
  client_expect (reader, WOKEN (4, "item"));
}

/* BLOCKED -> READING on time out; the commands behind the get run then. */
static void
test_timed_out_then_the_rest (Fixture *f, gconstpointer data)
{
  Client *reader;

  reader = client_open (f);
  client_run (reader, "get q/t=1\r\nversion\r\n");
  g_assert_cmpint (reader->conn->state, ==, MQ_CONN_BLOCKED);
  g_assert_cmpint (reader->conn->in->len, ==, strlen ("version\r\n"));
  /* The deadline wakes the loop; the input behind the get runs in the
   * same pass. */
  while (reader->conn->state == MQ_CONN_BLOCKED)
    g_main_context_iteration (NULL, TRUE);
  client_expect (reader, "END\r\nVERSION " PACKAGE_VERSION "\r\n");
  g_assert_cmpint (reader->conn->state, ==, MQ_CONN_READING);
}

/* ---- the other states ---- */

/* READING -> PAUSED past 4 MiB unsent: the commands after wait, unparsed,
 * until the client has read; then PAUSED -> READING and they run. */
static void
test_paused_until_drained (Fixture *f, gconstpointer data)
{
  g_autofree char *item = g_strnfill (ITEM_SIZE, 'x');
  g_autofree char *header = g_strdup_printf ("VALUE q/peek 0 %d\r\n",
                                             ITEM_SIZE);
  gsize per_get = strlen (header) + ITEM_SIZE + strlen ("\r\nEND\r\n");
  gsize expected = 6 * per_get + strlen ("STORED\r\n");
  g_autoptr (GString) got = g_string_new (NULL);
  Client *client;

  push ("q", item, ITEM_SIZE);
  client = client_open (f);
  client_run (client, "get q/peek\r\nget q/peek\r\nget q/peek\r\n"
              "get q/peek\r\nget q/peek\r\nget q/peek\r\n"
              "set r 0 0 1\r\nx\r\n");
  g_assert_cmpint (client->conn->state, ==, MQ_CONN_PAUSED);
  g_assert_null (queue_named ("r"));
  while (got->len < expected)
    {
      g_autoptr (GString) more = client_take (client, NULL);

      if (more->len == 0)
        g_main_context_iteration (NULL, TRUE);
      g_string_append_len (got, more->str, more->len);
    }
  g_assert_cmpuint (got->len, ==, expected);
  g_assert_true (g_str_has_suffix (got->str, "END\r\nSTORED\r\n"));
  g_assert_cmpint (client->conn->state, ==, MQ_CONN_READING);
  g_assert_cmpuint (queue_named ("r")->count, ==, 1);
}

/* READING -> CLOSING on quit: nothing after it runs; CLOSED once the reply
 * is out. */
static void
test_quit_closes_after_reply (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) got = NULL;
  Client *client;
  gboolean eof;

  client = client_open (f);
  client_run (client, "version\r\nquit\r\nset q 0 0 1\r\nx\r\n");
  got = client_take (client, &eof);
  g_assert_cmpstr (got->str, ==, "VERSION " PACKAGE_VERSION "\r\n");
  g_assert_true (eof);
  g_assert_cmpuint (conns_count (), ==, 0);
  g_assert_null (queue_named ("q"));
}

/* In the durable mode, a binary SET's success, as a text STORED, goes out
 * once a sync covers it; so does what follows on its connection, such as
 * the NOOP that ends a run of quiet SETQs.  (The fixture never takes the
 * sync thread's wake-up in: the test says when the journal is durable.) */
static void
test_binary_set_waits_for_sync (Fixture *f, gconstpointer data)
{
  /* SET q "v" (opaque 7), SETQ q "w", NOOP (opaque 8) */
  static const char requests[] =
    "\x80\x01\x00\x01\x08\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x07"
    "\0\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0" "qv"
    "\x80\x11\x00\x01\x08\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x00"
    "\0\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0" "qw"
    "\x80\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08"
    "\0\0\0\0\0\0\0\0";
  static const char replies[] =
    "\x81\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\x07\0\0\0\0\0\0\0\0"
    "\x81\x0a\0\0\0\0\0\0\0\0\0\0\0\0\0\x08\0\0\0\0\0\0\0\0";
  Client *client = client_open (f);

  g_assert_cmpint (send (client->fd, requests, sizeof requests - 1,
                         MSG_NOSIGNAL), ==, (gssize) sizeof requests - 1);
  run_pass ();
  client_expect (client, "");
  g_assert_cmpuint (queue_named ("q")->count, ==, 2);
  g_assert_cmpuint (client->conn->hold_lsn, >, commit_synced ());
  conns_release (client->conn->hold_lsn);
  conns_flush ();
  client_expect_bytes (client, replies, sizeof replies - 1);
}

/* loop_idle takes what it finds for the next pass: requests it saw are
 * served by that pass, in the order they came, and a connection closed in
 * between leaves no event behind. */
static void
test_loop_idle (Fixture *f, gconstpointer data)
{
  Client *a = client_open (f), *b = client_open (f), *gone = client_open (f);

  g_assert_true (loop_idle ());
  client_send (a, "get q\r\n");
  client_send (gone, "get q\r\n");
  g_assert_false (loop_idle ());
  client_send (b, "get r\r\n");
  g_assert_false (loop_idle ());
  conn_close (gone->conn);
  conns_flush ();
  run_pass ();
  client_expect (a, "END\r\n");
  client_expect (b, "");
  g_assert_false (loop_idle ());
  run_pass ();
  client_expect (b, "END\r\n");
  g_assert_true (loop_idle ());
}

/* A client that half-closes still gets its answers. */
static void
test_half_close_answered (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) got = g_string_new (NULL);
  Client *client;
  gboolean eof = FALSE;

  client = client_open (f);
  client_send (client, "version\r\n");
  g_assert_cmpint (shutdown (client->fd, SHUT_WR), ==, 0);
  while (!eof)
    {
      g_autoptr (GString) more = NULL;

      run_pass ();
      more = client_take (client, &eof);
      g_string_append_len (got, more->str, more->len);
    }
  g_assert_cmpstr (got->str, ==, "VERSION " PACKAGE_VERSION "\r\n");
  g_assert_cmpuint (conns_count (), ==, 0);
}

/* A move conn.h does not list aborts, naming both states. */
static void
test_illegal_move_aborts (Fixture *f, gconstpointer data)
{
  if (g_test_subprocess ())
    {
      Client *client;

      client = client_open (f);
      conn_close_after_reply (client->conn);
      conn_set_state (client->conn, MQ_CONN_READING);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*no move from CLOSING to READING*");
}

/* BLOCKED is the state of a connection with a waiter, and only that. */
static void
test_blocked_needs_a_waiter (Fixture *f, gconstpointer data)
{
  if (g_test_subprocess ())
    {
      Client *client;

      client = client_open (f);
      conn_set_state (client->conn, MQ_CONN_BLOCKED);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*BLOCKED*waiter*");
}

#define ADD(path, func) \
  g_test_add ("/conn/" path, Fixture, NULL, fixture_set_up, func, \
              fixture_tear_down)

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  ADD ("wait/set-then-get-pipelined", test_set_then_get_pipelined);
  ADD ("wait/ready-hook-only-marks", test_ready_hook_only_marks);
  ADD ("wait/one-item-one-waiter", test_one_item_one_waiter);
  ADD ("wait/delete-waits-again", test_delete_waits_again);
  ADD ("wait/given-back-by-a-waiting-reader",
       test_given_back_by_a_waiting_reader);
  ADD ("wait/given-back-at-the-flush", test_given_back_at_the_flush);
  ADD ("wait/timed-out-then-the-rest", test_timed_out_then_the_rest);
  ADD ("state/paused-until-drained", test_paused_until_drained);
  ADD ("state/quit-closes-after-reply", test_quit_closes_after_reply);
  ADD ("state/half-close-answered", test_half_close_answered);
  ADD ("state/illegal-move-aborts", test_illegal_move_aborts);
  ADD ("state/blocked-needs-a-waiter", test_blocked_needs_a_waiter);
  ADD ("loop/idle-takes-for-the-next-pass", test_loop_idle);
  g_test_add ("/conn/sync/binary-set-waits", Fixture, GINT_TO_POINTER (TRUE),
              fixture_set_up, test_binary_set_waits_for_sync,
              fixture_tear_down);
  return g_test_run ();
}
