/* test_forward.c: unit tests for mqd-forward's pure parts: its
 * configuration file (every key, default and error, with the FILE:LINE:
 * of mqd's -f file), the window's bookkeeping and the backoff. */
#include "config.h"

#include <string.h>

#include "backoff.h"
#include "routes.h"
#include "window.h"

#define PATH "routes.conf"

static FwdConfig *
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  FwdConfig *config = fwd_config_parse (PATH, text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (config);
  return config;
}

static void
assert_error (const char *text, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwdConfig) config = fwd_config_parse (PATH, text, &error);

  g_assert_null (config);
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_full_file (void)
{
  g_autoptr (FwdConfig) config = parse_ok (
    "[default]\n"
    "socket = /run/mqd/mqd.sock\n"
    "status_file = /run/mqd-forward/status\n"
    "status_interval = 500ms\n"
    "backoff_min = 200ms\n"
    "backoff_max = 5s\n"
    "window = 64\n"
    "confirm_timeout = 10s\n"
    "\n"
    "[orders]\n"
    "direction = out\n"
    "local = orders\n"
    "rabbitmq = amqp://guest:guest@h1:5672/, amqp://h2:5673/vh\n"
    "queue = orders.q\n"
    "window = 512\n"
    "\n"
    "[events]\n"
    "direction = out\n"
    "local = events\n"
    "nats = nats://h1:4222 nats://h2:4222\n"
    "subject = events.new\n"
    "confirm_timeout = 2s\n"
    "\n"
    "[replies]\n"
    "direction = in\n"
    "local = replies\n"
    "nats = nats://h1:4222\n"
    "subject = replies.>\n"
    "stream = REPLIES\n"
    "durable = mqd-replies\n"
    "\n"
    "[back]\n"
    "direction = in\n"
    "local = back\n"
    "rabbitmq = amqp://h1\n"
    "queue = back.q\n");
  FwdRoute *orders, *events, *replies, *back;

  g_assert_cmpstr (config->socket, ==, "/run/mqd/mqd.sock");
  g_assert_cmpstr (config->status_file, ==, "/run/mqd-forward/status");
  g_assert_cmpuint (config->status_interval_ms, ==, 500);
  g_assert_cmpuint (config->backoff_min_ms, ==, 200);
  g_assert_cmpuint (config->backoff_max_ms, ==, 5000);
  g_assert_cmpuint (config->routes->len, ==, 4);
  orders = fwd_config_route (config, "orders");
  g_assert_true (orders == g_ptr_array_index (config->routes, 0));
  g_assert_cmpint (orders->kind, ==, FWD_KIND_RABBITMQ);
  g_assert_cmpint (orders->direction, ==, FWD_OUT);
  g_assert_cmpstr (orders->local, ==, "orders");
  g_assert_cmpuint (g_strv_length (orders->servers), ==, 2);
  g_assert_cmpstr (orders->servers[0], ==, "amqp://guest:guest@h1:5672/");
  g_assert_cmpstr (orders->servers[1], ==, "amqp://h2:5673/vh");
  g_assert_cmpstr (orders->queue, ==, "orders.q");
  g_assert_cmpuint (orders->window, ==, 512);
  g_assert_cmpuint (orders->confirm_timeout_ms, ==, 10000);
  events = fwd_config_route (config, "events");
  g_assert_cmpint (events->kind, ==, FWD_KIND_NATS);
  g_assert_cmpstr (events->subject, ==, "events.new");
  g_assert_cmpuint (g_strv_length (events->servers), ==, 2);
  g_assert_cmpuint (events->window, ==, 64);
  g_assert_cmpuint (events->confirm_timeout_ms, ==, 2000);
  g_assert_null (events->stream);
  replies = fwd_config_route (config, "replies");
  g_assert_cmpint (replies->direction, ==, FWD_IN);
  g_assert_cmpstr (replies->stream, ==, "REPLIES");
  g_assert_cmpstr (replies->durable, ==, "mqd-replies");
  back = fwd_config_route (config, "back");
  g_assert_cmpint (back->kind, ==, FWD_KIND_RABBITMQ);
  g_assert_cmpint (back->direction, ==, FWD_IN);
  g_assert_null (fwd_config_route (config, "nope"));
}

static void
test_defaults (void)
{
  g_autoptr (FwdConfig) config = parse_ok ("[q]\ndirection = out\n"
                                           "local = q\nnats = nats://h\n"
                                           "subject = s\n");
  FwdRoute *route = g_ptr_array_index (config->routes, 0);

  g_assert_null (config->socket);
  g_assert_null (config->status_file);
  g_assert_cmpuint (config->status_interval_ms, ==, 1000);
  g_assert_cmpuint (config->backoff_min_ms, ==, 1000);
  g_assert_cmpuint (config->backoff_max_ms, ==, 60000);
  g_assert_cmpuint (route->window, ==, 256);
  g_assert_cmpuint (route->confirm_timeout_ms, ==, 30000);
}

#define NATS_OUT "direction = out\nlocal = q\nnats = nats://h\nsubject = s\n"
#define RABBIT_OUT "direction = out\nlocal = q\nrabbitmq = amqp://h\n" \
  "queue = q\n"

/* GKeyFile's own words (translated, quoted by locale) follow the name. */
static void
test_syntax_error (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FwdConfig) config = fwd_config_parse (PATH, "[q\n", &error);

  g_assert_null (config);
  g_assert_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE);
  g_assert_true (g_str_has_prefix (error->message, PATH ": "));
}

static void
test_errors (void)
{
  assert_error ("", PATH ": no route (a group other than [default])");
  assert_error ("[default]\nwindow = 8\n",
                PATH ": no route (a group other than [default])");
  assert_error ("[default]\nport = 1\n[q]\n" NATS_OUT,
                PATH ":2: [default] port: unknown key (this group takes "
                "socket, status_file, status_interval, backoff_min, "
                "backoff_max, window, confirm_timeout)");
  assert_error ("[q]\n" NATS_OUT "host = x\n",
                PATH ":6: [q] host: unknown key (this group takes "
                "direction, local, rabbitmq, nats, queue, subject, stream, "
                "durable, window, confirm_timeout)");
  assert_error ("[q]\nlocal = q\nnats = nats://h\nsubject = s\n",
                PATH ":1: [q]: needs direction = out or in");
  assert_error ("[q]\ndirection = sideways\n",
                PATH ":2: [q] direction: must be out (local queue to "
                "broker) or in (broker to local queue)");
  assert_error ("[q]\ndirection = out\n",
                PATH ":1: [q]: needs local = the mqd queue");
  assert_error ("[q]\ndirection = out\nlocal = a/b\n",
                PATH ":3: [q] local: not a valid queue name (1 to 250 bytes "
                "without spaces, control characters or '/')");
  assert_error ("[q]\ndirection = out\nlocal =\n",
                PATH ":3: [q] local: empty value");
  assert_error ("[q]\ndirection = out\nlocal = q\n",
                PATH ":1: [q]: needs one of rabbitmq = URLs or nats = URLs");
  assert_error ("[q]\ndirection = out\nlocal = q\nrabbitmq = amqp://h\n"
                "nats = nats://h\n",
                PATH ":5: [q] nats: needs one of rabbitmq = URLs or nats = "
                "URLs");
}

static void
test_broker_errors (void)
{
#if defined(HAVE_RABBITMQ) && defined(HAVE_NATS)
  assert_error ("[q]\ndirection = out\nlocal = q\n"
                "rabbitmq = amqp://h, http://x\nqueue = q\n",
                PATH ":4: [q] rabbitmq: 'http://x' is not a "
                "amqp://host[:port]... URL");
  assert_error ("[q]\ndirection = out\nlocal = q\nnats = nats://\n"
                "subject = s\n",
                PATH ":4: [q] nats: 'nats://' is not a nats://host[:port]... "
                "URL");
  assert_error ("[q]\ndirection = out\nlocal = q\nrabbitmq = amqp://h\n",
                PATH ":1: [q]: a rabbitmq route with direction = out needs "
                "queue");
  assert_error ("[q]\n" RABBIT_OUT "subject = s\n",
                PATH ":6: [q] subject: not a key of a rabbitmq route with "
                "direction = out");
  assert_error ("[q]\n" NATS_OUT "durable = d\n",
                PATH ":6: [q] durable: not a key of a nats route with "
                "direction = out");
  assert_error ("[q]\ndirection = in\nlocal = q\nnats = nats://h\n"
                "subject = s\n",
                PATH ":1: [q]: a nats route with direction = in needs "
                "stream");
  assert_error ("[q]\ndirection = in\nlocal = q\nnats = nats://h\n"
                "subject = s\nstream = S\n",
                PATH ":1: [q]: a nats route with direction = in needs "
                "durable");
  assert_error ("[q]\n" NATS_OUT "window = 0\n",
                PATH ":6: [q] window: not a number of messages from 1 to "
                "65535");
  assert_error ("[q]\n" NATS_OUT "confirm_timeout = 5ms\n",
                PATH ":6: [q] confirm_timeout: '5ms' is not a duration from "
                "100 ms to 24h (digits then ms, s, m or h; bare digits are "
                "seconds)");
  assert_error ("[default]\nbackoff_min = 2s\nbackoff_max = 1s\n[q]\n"
                NATS_OUT, PATH ":3: [default] backoff_max: shorter than "
                "backoff_min");
#else
  g_test_fail_printf ("built without librabbitmq or libnats: their "
                      "routes' keys cannot be checked");
#endif
}

/* A build without a broker's library refuses its routes, saying why. */
static void
test_missing_kind (void)
{
#ifdef HAVE_RABBITMQ
  g_autoptr (FwdConfig) rabbit = parse_ok ("[q]\n" RABBIT_OUT);

  g_assert_cmpuint (rabbit->routes->len, ==, 1);
#else
  assert_error ("[q]\n" RABBIT_OUT,
                PATH ":4: [q] rabbitmq: RabbitMQ routes are not available: "
                "this mqd-forward was built without librabbitmq (configure "
                "--without-rabbitmq, or librabbitmq-dev was missing)");
#endif
#ifdef HAVE_NATS
  g_autoptr (FwdConfig) nats = parse_ok ("[q]\n" NATS_OUT);

  g_assert_cmpuint (nats->routes->len, ==, 1);
#else
  assert_error ("[q]\n" NATS_OUT,
                PATH ":4: [q] nats: NATS routes are not available: this "
                "mqd-forward was built without libnats (configure "
                "--without-nats, or libnats-dev was missing)");
#endif
}

/* ---- the window ---- */

static guint freed;

static void
count_free (gpointer message)
{
  freed++;
  g_free (message);
}

static FwdWindow *
window_with (guint capacity, guint n)
{
  FwdWindow *window = fwd_window_new (capacity, count_free);

  for (guint i = 0; i < n; i++)
    {
      char *id = g_strdup_printf ("id%u", i);
      FwdSlot *slot = fwd_window_push (window, id, id, id, strlen (id));

      slot->state = FWD_SLOT_SENT;
      slot->tag = i + 1;
      slot->sent_at = 100 + i;
    }
  return window;
}

static void
assert_settled (FwdWindow *window, FwdSettle expect, guint expect_n)
{
  guint n = 99;

  g_assert_cmpint (fwd_window_settled (window, &n), ==, expect);
  g_assert_cmpuint (n, ==, expect_n);
}

static void
test_window_in_order (void)
{
  g_autoptr (FwdWindow) window = window_with (4, 4);

  freed = 0;
  g_assert_cmpuint (fwd_window_room (window), ==, 0);
  assert_settled (window, FWD_SETTLE_NONE, 0);
  /* Out of order: 3 first, then 1 and 2 by one multiple ack. */
  g_assert_cmpuint (fwd_window_mark_tag (window, 3, FALSE, FWD_SLOT_ACKED),
                    ==, 1);
  assert_settled (window, FWD_SETTLE_NONE, 0);
  g_assert_cmpuint (fwd_window_mark_tag (window, 2, TRUE, FWD_SLOT_ACKED),
                    ==, 2);
  assert_settled (window, FWD_SETTLE_CONFIRM, 3);
  fwd_window_drop (window, 3);
  g_assert_cmpuint (freed, ==, 3);
  g_assert_cmpuint (fwd_window_count (window), ==, 1);
  g_assert_cmpstr (fwd_window_nth (window, 0)->id, ==, "id3");
  /* The ring wraps. */
  fwd_window_push (window, g_strdup ("x"), "x", "x", 1);
  g_assert_cmpstr (fwd_window_nth (window, 1)->id, ==, "x");
  g_assert_cmpint (fwd_window_nth (window, 1)->state, ==, FWD_SLOT_UNSENT);
  /* An ack of a tag already settled marks nothing. */
  g_assert_cmpuint (fwd_window_mark_tag (window, 3, FALSE, FWD_SLOT_ACKED),
                    ==, 0);
}

static void
test_window_refusals (void)
{
  g_autoptr (FwdWindow) window = window_with (8, 5);

  g_assert_true (fwd_window_mark_id (window, "id0", FWD_SLOT_NACKED));
  g_assert_true (fwd_window_mark_id (window, "id1", FWD_SLOT_NACKED));
  /* A returned message is refused before its ack comes; the ack then
   * leaves it refused. */
  g_assert_true (fwd_window_mark_id (window, "id3", FWD_SLOT_NACKED));
  g_assert_false (fwd_window_mark_id (window, "id3", FWD_SLOT_ACKED));
  g_assert_cmpuint (fwd_window_mark_tag (window, 5, TRUE, FWD_SLOT_ACKED),
                    ==, 2);
  assert_settled (window, FWD_SETTLE_ABORT, 2);
  fwd_window_drop (window, 2);
  assert_settled (window, FWD_SETTLE_CONFIRM, 1);
  fwd_window_drop (window, 1);
  assert_settled (window, FWD_SETTLE_ABORT, 1);
  fwd_window_drop (window, 1);
  assert_settled (window, FWD_SETTLE_CONFIRM, 1);
  fwd_window_drop (window, 1);
  assert_settled (window, FWD_SETTLE_NONE, 0);
  g_assert_false (fwd_window_mark_id (window, "nope", FWD_SLOT_ACKED));
}

static void
test_window_unsend (void)
{
  g_autoptr (FwdWindow) window = window_with (8, 4);

  g_assert_cmpint (fwd_window_oldest_sent (window), ==, 100);
  fwd_window_mark_tag (window, 1, FALSE, FWD_SLOT_ACKED);
  g_assert_cmpint (fwd_window_oldest_sent (window), ==, 101);
  /* The link broke: what was in flight is sent again; acked stays. */
  g_assert_cmpuint (fwd_window_unsend (window), ==, 3);
  g_assert_cmpint (fwd_window_nth (window, 0)->state, ==, FWD_SLOT_ACKED);
  for (guint i = 1; i < 4; i++)
    g_assert_cmpint (fwd_window_nth (window, i)->state, ==, FWD_SLOT_UNSENT);
  g_assert_cmpint (fwd_window_oldest_sent (window), ==, 0);
  /* Acks of the old link's tags find nothing in flight. */
  g_assert_cmpuint (fwd_window_mark_tag (window, 4, TRUE, FWD_SLOT_ACKED),
                    ==, 0);
  freed = 0;
  fwd_window_free (g_steal_pointer (&window));
  g_assert_cmpuint (freed, ==, 4);
}

/* ---- the backoff ---- */

static void
test_backoff (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  FwdBackoff backoff;
  guint64 steps[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
  gboolean jittered = FALSE;

  fwd_backoff_init (&backoff, 1000, 60000, rand);
  for (guint round = 0; round < 50; round++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
        {
          guint64 wait = fwd_backoff_next (&backoff);

          g_assert_cmpuint (wait, >=, MAX (1000, steps[i] / 2));
          g_assert_cmpuint (wait, <=, steps[i]);
          jittered = jittered || (i > 0 && wait != steps[i]);
        }
      fwd_backoff_reset (&backoff);
    }
  g_assert_true (jittered);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/forward/config/full", test_full_file);
  g_test_add_func ("/forward/config/defaults", test_defaults);
  g_test_add_func ("/forward/config/syntax", test_syntax_error);
  g_test_add_func ("/forward/config/errors", test_errors);
  g_test_add_func ("/forward/config/broker-errors", test_broker_errors);
  g_test_add_func ("/forward/config/missing-kind", test_missing_kind);
  g_test_add_func ("/forward/window/in-order", test_window_in_order);
  g_test_add_func ("/forward/window/refusals", test_window_refusals);
  g_test_add_func ("/forward/window/unsend", test_window_unsend);
  g_test_add_func ("/forward/backoff", test_backoff);
  return g_test_run ();
}
