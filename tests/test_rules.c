/* test_rules.c: unit tests for daemon/rules.c's delays, leases and retries
 * (issue 14): the keys default_delay, lease and retry_delay in every form
 * and error, read from a real file as mqd -f reads it, and
 * rules_retry_delay_ms's backoff. */
#include "config.h"

#include <string.h>

#include "configfile.h"
#include "rules.h"
#include "testdir.h"

#define MAX_MS G_GUINT64_CONSTANT (315360000000)
#define NOT_A_DURATION "is not a duration from 0 to 315360000000ms (a " \
  "number and a unit: ms, s, m or h, as in 30s)"
#define NOT_A_RETRY "is not a duration or MIN..MAX (as in 30s or 1s..10m: " \
  "a number and a unit, ms, s, m or h, up to 315360000000ms)"

/* A file holding text, in a directory of its own. */
typedef struct {
  char *dir;
  char *path;
} Conf;

static Conf *
conf_new (const char *text)
{
  Conf *c = g_new0 (Conf, 1);

  c->dir = testdir_make ("mqd-test-rules-XXXXXX");
  c->path = g_build_filename (c->dir, "mqd.conf", NULL);
  testdir_write (c->dir, "mqd.conf", text, strlen (text));
  return c;
}

static void
conf_free (Conf *c)
{
  testdir_remove (c->dir);
  g_free (c->dir);
  g_free (c->path);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Conf, conf_free)

static MqRuleBook *
load_ok (const char *text)
{
  g_autoptr (Conf) c = conf_new (text);
  g_autoptr (GError) error = NULL;
  g_autoptr (MqConfigFile) file = configfile_load (c->path, &error);
  MqRuleBook *book;

  g_assert_no_error (error);
  book = rules_load (file, &error);
  g_assert_no_error (error);
  g_assert_nonnull (book);
  return book;
}

/* text is refused with "FILE:" then message. */
static void
load_error (const char *text, const char *message)
{
  g_autoptr (Conf) c = conf_new (text);
  g_autoptr (GError) error = NULL;
  g_autoptr (MqConfigFile) file = configfile_load (c->path, &error);
  g_autofree char *want = g_strdup_printf ("%s:%s", c->path, message);

  g_assert_no_error (error);
  g_assert_null (rules_load (file, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, want);
}

static const MqQueueRules *
lookup (MqRuleBook *book, const char *name)
{
  return rules_lookup (book, name, strlen (name));
}

/* ---- the keys ---- */

static void
test_none_by_default (void)
{
  g_autoptr (MqRuleBook) empty = rules_new ();
  g_autoptr (MqRuleBook) other = load_ok ("[jobs]\nmax_items = 5\n");
  const MqQueueRules *r[] = { lookup (empty, "q"), lookup (other, "jobs"),
                              lookup (other, "q") };

  for (gsize i = 0; i < G_N_ELEMENTS (r); i++)
    {
      g_assert_cmpuint (r[i]->default_delay_ms, ==, 0);
      g_assert_cmpuint (r[i]->lease_ms, ==, 0);
      g_assert_cmpuint (r[i]->retry_delay_min_ms, ==, 0);
      g_assert_cmpuint (r[i]->retry_delay_max_ms, ==, 0);
      g_assert_cmpuint (rules_retry_delay_ms (r[i], 1), ==, 0);
      g_assert_cmpuint (rules_retry_delay_ms (r[i], 100), ==, 0);
    }
}

static void
test_durations (void)
{
  static const struct {
    const char *text;
    guint64 ms;
  } forms[] = {
    { "0", 0 }, { "0ms", 0 }, { "0h", 0 }, { "1ms", 1 }, { "500ms", 500 },
    { "30s", 30000 }, { "5m", 300000 }, { "2h", 7200000 },
    { "0030s", 30000 },
    /* A bare number is seconds, as max_age reads. */
    { "45", 45000 },
    { "315360000000ms", MAX_MS }, { "315360000s", MAX_MS },
    { "5256000m", MAX_MS }, { "87600h", MAX_MS },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_autofree char *text = g_strdup_printf (
        "[default]\ndefault_delay = %s\n[jobs]\nlease = %s\n"
        "retry_delay = %s\n", forms[i].text, forms[i].text, forms[i].text);
      g_autoptr (MqRuleBook) book = load_ok (text);
      const MqQueueRules *jobs = lookup (book, "jobs");

      g_assert_cmpuint (lookup (book, "q")->default_delay_ms, ==,
                        forms[i].ms);
      g_assert_cmpuint (lookup (book, "q")->lease_ms, ==, 0);
      g_assert_cmpuint (jobs->default_delay_ms, ==, forms[i].ms);
      g_assert_cmpuint (jobs->lease_ms, ==, forms[i].ms);
      /* One duration: the same delay every time. */
      g_assert_cmpuint (jobs->retry_delay_min_ms, ==, forms[i].ms);
      g_assert_cmpuint (jobs->retry_delay_max_ms, ==, forms[i].ms);
    }
}

static void
test_inherited_and_overridden (void)
{
  g_autoptr (MqRuleBook) book = load_ok (
    "[default]\ndefault_delay = 1s\nlease = 30s\nretry_delay = 1s..10m\n"
    "[jobs]\nlease = 5m\n"
    "[now]\ndefault_delay = 0\nretry_delay = 0\n");
  const MqQueueRules *other = lookup (book, "other");
  const MqQueueRules *jobs = lookup (book, "jobs");
  const MqQueueRules *now = lookup (book, "now");

  g_assert_cmpuint (other->default_delay_ms, ==, 1000);
  g_assert_cmpuint (other->lease_ms, ==, 30000);
  g_assert_cmpuint (other->retry_delay_min_ms, ==, 1000);
  g_assert_cmpuint (other->retry_delay_max_ms, ==, 600000);
  g_assert_cmpuint (jobs->default_delay_ms, ==, 1000);
  g_assert_cmpuint (jobs->lease_ms, ==, 300000);
  g_assert_cmpuint (jobs->retry_delay_max_ms, ==, 600000);
  g_assert_cmpuint (now->default_delay_ms, ==, 0);
  g_assert_cmpuint (now->lease_ms, ==, 30000);
  g_assert_cmpuint (now->retry_delay_min_ms, ==, 0);
  g_assert_cmpuint (now->retry_delay_max_ms, ==, 0);
}

static void
test_retry_delay_ranges (void)
{
  static const struct {
    const char *text;
    guint64 min, max;
  } forms[] = {
    { "1s..10m", 1000, 600000 }, { "250ms..250ms", 250, 250 },
    { "0..0", 0, 0 }, { "1ms..87600h", 1, MAX_MS },
    { "2..3", 2000, 3000 }, { "90s..2h", 90000, 7200000 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_autofree char *text = g_strdup_printf ("[jobs]\nretry_delay = %s\n",
                                               forms[i].text);
      g_autoptr (MqRuleBook) book = load_ok (text);

      g_assert_cmpuint (lookup (book, "jobs")->retry_delay_min_ms, ==,
                        forms[i].min);
      g_assert_cmpuint (lookup (book, "jobs")->retry_delay_max_ms, ==,
                        forms[i].max);
    }
}

static void
test_duration_errors (void)
{
  static const char *const bad[] = {
    "x", "s", "ms", "-5s", "+5s", "1.5s", "5 s", "5S", "5sec", "5d", "5msx",
    "0x10", "1e3", "315360000001ms", "315360001s", "5256001m", "87601h",
    "99999999999999999999", "18446744073709551616ms", "1s..2s",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *delay = g_strdup_printf (
        "[default]\nmax_items = 1\ndefault_delay = %s\n", bad[i]);
      g_autofree char *lease = g_strdup_printf (
        "# leases\n[jobs]\n\nlease = %s\n", bad[i]);
      g_autofree char *delay_error = g_strdup_printf (
        "3: [default] default_delay: '%s' " NOT_A_DURATION, bad[i]);
      g_autofree char *lease_error = g_strdup_printf (
        "4: [jobs] lease: '%s' " NOT_A_DURATION, bad[i]);

      load_error (delay, delay_error);
      load_error (lease, lease_error);
    }
  load_error ("[jobs]\nlease =\n",
              "2: [jobs] lease: '' " NOT_A_DURATION);
}

static void
test_retry_delay_errors (void)
{
  static const char *const bad[] = {
    "x", "1s..", "..1s", "..", "1s..2s..3s", "1s...2s", "1s-10m",
    "1s .. 10m", "1s..10x", "1s..87601h", "-1s..1s", "",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strdup_printf ("[jobs]\nretry_delay = %s\n",
                                               bad[i]);
      g_autofree char *error = g_strdup_printf (
        "2: [jobs] retry_delay: '%s' " NOT_A_RETRY, bad[i]);

      load_error (text, error);
    }
  load_error ("[jobs]\nretry_delay = 10m..1s\n",
              "2: [jobs] retry_delay: '10m..1s' starts above its maximum");
  load_error ("[jobs]\nretry_delay = 1001ms..1s\n",
              "2: [jobs] retry_delay: '1001ms..1s' starts above its "
              "maximum");
  load_error ("[default]\nretry_delay = 0..10m\n",
              "2: [default] retry_delay: '0..10m' must start above 0 "
              "(0 alone: no delay)");
}

static void
test_unknown_key_names_them (void)
{
  load_error ("[jobs]\nretry_delays = 1s\n",
              "2: [jobs] retry_delays: unknown key (a queue's group takes "
              "max_items, max_bytes, max_message_size, max_age, "
              "discard_old, max_deliveries, dead_letter, default_delay, "
              "lease, retry_delay)");
  g_assert_true (rules_is_key ("default_delay"));
  g_assert_true (rules_is_key ("lease"));
  g_assert_true (rules_is_key ("retry_delay"));
}

/* ---- the backoff ---- */

static MqQueueRules
retry_rule (guint64 min, guint64 max)
{
  return (MqQueueRules) { .retry_delay_min_ms = min,
                          .retry_delay_max_ms = max };
}

static void
test_backoff_doubles_up_to_max (void)
{
  MqQueueRules r = retry_rule (1000, 600000);
  static const struct {
    guint deliveries;
    guint64 ms;
  } want[] = {
    { 0, 1000 }, { 1, 1000 }, { 2, 2000 }, { 3, 4000 }, { 4, 8000 },
    { 10, 512000 }, { 11, 600000 }, { 12, 600000 }, { 64, 600000 },
    { 65, 600000 }, { 1000, 600000 }, { G_MAXUINT, 600000 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    g_assert_cmpuint (rules_retry_delay_ms (&r, want[i].deliveries), ==,
                      want[i].ms);
}

static void
test_backoff_edges (void)
{
  MqQueueRules fixed = retry_rule (5000, 5000);
  MqQueueRules longest = retry_rule (MAX_MS, MAX_MS);
  MqQueueRules tiny = retry_rule (1, MAX_MS);
  MqQueueRules wide = retry_rule (3, G_MAXUINT64);
  MqQueueRules none = retry_rule (0, 0);
  MqQueueRules zero_min = retry_rule (0, 1000);

  for (guint d = 1; d < 100; d++)
    g_assert_cmpuint (rules_retry_delay_ms (&fixed, d), ==, 5000);
  g_assert_cmpuint (rules_retry_delay_ms (&longest, G_MAXUINT), ==, MAX_MS);
  /* 2^38 ms is under ten years, 2^39 over. */
  g_assert_cmpuint (rules_retry_delay_ms (&tiny, 39), ==,
                    G_GUINT64_CONSTANT (1) << 38);
  g_assert_cmpuint (rules_retry_delay_ms (&tiny, 40), ==, MAX_MS);
  /* No overflow, whatever the numbers. */
  g_assert_cmpuint (rules_retry_delay_ms (&wide, 63), ==,
                    G_GUINT64_CONSTANT (3) << 62);
  g_assert_cmpuint (rules_retry_delay_ms (&wide, 64), ==, G_MAXUINT64);
  g_assert_cmpuint (rules_retry_delay_ms (&wide, G_MAXUINT), ==,
                    G_MAXUINT64);
  g_assert_cmpuint (rules_retry_delay_ms (&none, G_MAXUINT), ==, 0);
  g_assert_cmpuint (rules_retry_delay_ms (&zero_min, G_MAXUINT), ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/rules/delays/none-by-default", test_none_by_default);
  g_test_add_func ("/rules/delays/durations", test_durations);
  g_test_add_func ("/rules/delays/inherited", test_inherited_and_overridden);
  g_test_add_func ("/rules/delays/retry-ranges", test_retry_delay_ranges);
  g_test_add_func ("/rules/delays/duration-errors", test_duration_errors);
  g_test_add_func ("/rules/delays/retry-errors", test_retry_delay_errors);
  g_test_add_func ("/rules/delays/unknown-key", test_unknown_key_names_them);
  g_test_add_func ("/rules/backoff/doubles", test_backoff_doubles_up_to_max);
  g_test_add_func ("/rules/backoff/edges", test_backoff_edges);

  return g_test_run ();
}
