/* rules.c: see rules.h. */
#include "config.h"

#include <string.h>

#include "protocol.h"
#include "rules.h"
#include "values.h"

struct _MqRuleBook {
  MqQueueRules defaults;
  GHashTable *queues;             /* name -> MqQueueRules */
};

typedef gboolean (*RuleSetter) (MqQueueRules *rules, const char *value,
                                GError **error);

static gboolean
set_max_items (MqQueueRules *rules, const char *value, GError **error)
{
  return value_parse_uint (value, G_MAXUINT64, &rules->max_items, error);
}

static gboolean
set_max_bytes (MqQueueRules *rules, const char *value, GError **error)
{
  return value_parse_size (value, G_MAXINT64, &rules->max_bytes, error);
}

static gboolean
set_max_message_size (MqQueueRules *rules, const char *value, GError **error)
{
  return value_parse_size (value, G_MAXINT32, &rules->max_message_size,
                           error);
}

static gboolean
set_max_age (MqQueueRules *rules, const char *value, GError **error)
{
  guint64 seconds;

  if (!value_parse_uint (value, G_MAXINT32, &seconds, error))
    return FALSE;
  rules->max_age_ms = seconds * 1000;
  return TRUE;
}

static gboolean
set_discard_old (MqQueueRules *rules, const char *value, GError **error)
{
  return value_parse_bool (value, &rules->discard_old, error);
}

static gboolean
set_max_deliveries (MqQueueRules *rules, const char *value, GError **error)
{
  guint64 count;

  if (!value_parse_uint (value, G_MAXUINT16, &count, error))
    return FALSE;
  rules->max_deliveries = (guint) count;
  return TRUE;
}

static gboolean
set_default_delay (MqQueueRules *rules, const char *value, GError **error)
{
  return value_parse_duration (value, MQ_MAX_DELAY_MS,
                               &rules->default_delay_ms, error);
}

static gboolean
set_lease (MqQueueRules *rules, const char *value, GError **error)
{
  return value_parse_duration (value, MQ_MAX_DELAY_MS, &rules->lease_ms,
                               error);
}

static gboolean
retry_delay_error (const char *value, GError **error, const char *why)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "'%s' %s", value, why);
  return FALSE;
}

/* One duration, or MIN..MAX: the delay doubles from MIN up to MAX. */
static gboolean
set_retry_delay (MqQueueRules *rules, const char *value, GError **error)
{
  const char *dots = strstr (value, "..");
  g_autofree char *first = dots != NULL
    ? g_strndup (value, (gsize) (dots - value)) : g_strdup (value);
  guint64 min, max;

  if (!mq_shared_parse_duration (first, MQ_MAX_DELAY_MS, &min)
      || !mq_shared_parse_duration (dots != NULL ? dots + 2 : value,
                                    MQ_MAX_DELAY_MS, &max))
    return retry_delay_error (value, error, "is not a duration or MIN..MAX "
                              "(as in 30s or 1s..10m: a number and a unit, "
                              "ms, s, m or h, up to "
                              G_STRINGIFY (MQ_MAX_DELAY_MS) "ms)");
  if (min > max)
    return retry_delay_error (value, error, "starts above its maximum");
  /* Doubling 0 gives 0: a rule that would never delay. */
  if (min == 0 && max > 0)
    return retry_delay_error (value, error, "must start above 0 (0 alone: "
                              "no delay)");
  rules->retry_delay_min_ms = min;
  rules->retry_delay_max_ms = max;
  return TRUE;
}

static gboolean
set_dead_letter (MqQueueRules *rules, const char *value, GError **error)
{
  if (!protocol_valid_name (value, strlen (value)))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "'%s' is not a valid queue name", value);
      return FALSE;
    }
  g_free (rules->dead_letter);
  rules->dead_letter = g_strdup (value);
  return TRUE;
}

static const struct {
  const char *key;
  RuleSetter set;
} rule_keys[] = {
  { "max_items", set_max_items },
  { "max_bytes", set_max_bytes },
  { "max_message_size", set_max_message_size },
  { "max_age", set_max_age },
  { "discard_old", set_discard_old },
  { "max_deliveries", set_max_deliveries },
  { "dead_letter", set_dead_letter },
  { "default_delay", set_default_delay },
  { "lease", set_lease },
  { "retry_delay", set_retry_delay },
};

static RuleSetter
rule_setter (const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (rule_keys); i++)
    if (strcmp (rule_keys[i].key, key) == 0)
      return rule_keys[i].set;
  return NULL;
}

gboolean
rules_is_key (const char *key)
{
  return rule_setter (key) != NULL;
}

static void
rules_clear (MqQueueRules *rules)
{
  g_free (rules->dead_letter);
}

static void
rules_free_one (gpointer rules)
{
  rules_clear (rules);
  g_free (rules);
}

static void
rules_copy (MqQueueRules *to, const MqQueueRules *from)
{
  *to = *from;
  to->dead_letter = g_strdup (from->dead_letter);
}

MqRuleBook *
rules_new (void)
{
  MqRuleBook *book = g_new0 (MqRuleBook, 1);

  book->queues = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        rules_free_one);
  return book;
}

void
rules_free (MqRuleBook *book)
{
  rules_clear (&book->defaults);
  g_hash_table_unref (book->queues);
  g_free (book);
}

static gboolean
rules_check (MqConfigFile *file, const char *group, const MqQueueRules *rules,
             GError **error)
{
  if (rules->max_deliveries > 0 && rules->dead_letter == NULL)
    {
      configfile_error (file, group, "max_deliveries", error,
                        "needs dead_letter: the queue that gets the item");
      return FALSE;
    }
  g_autofree char *own_dead_letter = configfile_value (file, group,
                                                      "dead_letter");

  /* Inherited from [default], a queue's own name is harmless: it is never
   * its own dead letter.  Written in its group, it is a mistake. */
  if (rules->max_deliveries > 0 && own_dead_letter != NULL
      && strcmp (rules->dead_letter, group) == 0)
    {
      configfile_error (file, group, "dead_letter", error,
                        "a queue cannot be its own dead-letter queue");
      return FALSE;
    }
  return TRUE;
}

/* Applies group's keys over rules.  In [default], non-rule keys belong to
 * the daemon and are skipped; in a queue's group they are errors. */
static gboolean
rules_read_group (MqConfigFile *file, const char *group, MqQueueRules *rules,
                  GError **error)
{
  gboolean is_default = strcmp (group, MQ_RULES_DEFAULT_GROUP) == 0;
  g_auto (GStrv) keys = configfile_keys (file, group);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      RuleSetter set = rule_setter (keys[i]);
      g_autofree char *value = NULL;
      g_autoptr (GError) local = NULL;

      if (set == NULL && is_default)
        continue;
      if (set == NULL)
        {
          configfile_error (file, group, keys[i], error,
                            "unknown key (a queue's group takes max_items, "
                            "max_bytes, max_message_size, max_age, "
                            "discard_old, max_deliveries, dead_letter, "
                            "default_delay, lease, retry_delay)");
          return FALSE;
        }
      value = configfile_value (file, group, keys[i]);
      if (!set (rules, g_strstrip (value), &local))
        {
          configfile_error (file, group, keys[i], error, local->message);
          return FALSE;
        }
    }
  return rules_check (file, group, rules, error);
}

MqRuleBook *
rules_load (MqConfigFile *file, GError **error)
{
  g_autoptr (MqRuleBook) book = rules_new ();
  g_auto (GStrv) groups = configfile_groups (file);

  if (g_strv_contains ((const char *const *) groups, MQ_RULES_DEFAULT_GROUP)
      && !rules_read_group (file, MQ_RULES_DEFAULT_GROUP, &book->defaults,
                            error))
    return NULL;
  for (guint i = 0; groups[i] != NULL; i++)
    {
      MqQueueRules *rules;

      if (strcmp (groups[i], MQ_RULES_DEFAULT_GROUP) == 0)
        continue;
      if (!protocol_valid_name (groups[i], strlen (groups[i])))
        {
          configfile_error (file, groups[i], NULL, error,
                            "not a valid queue name");
          return NULL;
        }
      rules = g_new0 (MqQueueRules, 1);
      rules_copy (rules, &book->defaults);
      g_hash_table_insert (book->queues, g_strdup (groups[i]), rules);
      if (!rules_read_group (file, groups[i], rules, error))
        return NULL;
    }
  return g_steal_pointer (&book);
}

const MqQueueRules *
rules_lookup (MqRuleBook *book, const char *name, gsize name_len)
{
  char key[MQ_MAX_NAME + 1];
  const MqQueueRules *rules;

  if (name_len > MQ_MAX_NAME)
    return &book->defaults;
  memcpy (key, name, name_len);
  key[name_len] = '\0';
  rules = g_hash_table_lookup (book->queues, key);
  return rules != NULL ? rules : &book->defaults;
}

guint64
rules_retry_delay_ms (const MqQueueRules *rules, guint deliveries)
{
  guint64 delay = rules->retry_delay_min_ms;
  guint64 max = rules->retry_delay_max_ms;

  /* Each turn doubles a delay above 0 or reaches max: at most 64 turns,
   * however many deliveries. */
  for (guint i = 1; i < deliveries && delay > 0 && delay < max; i++)
    delay = delay > max / 2 ? max : delay * 2;
  return MIN (delay, max);
}
