/* rules.h: per-queue rules (limits, expiry, dead letters) from the
 * configuration file: a [default] group and one group per queue name. */
#pragma once

#include <glib.h>

#include "configfile.h"

typedef struct {
  guint64 max_items;              /* 0: no limit */
  guint64 max_bytes;              /* 0: no limit */
  guint64 max_message_size;       /* 0: only the daemon's -B */
  guint64 max_age_ms;             /* 0: no limit */
  gboolean discard_old;           /* full: drop the oldest, not the new */
  guint max_deliveries;           /* 0: never dead-letter */
  char *dead_letter;              /* queue given the item after that */
  guint64 default_delay_ms;       /* 0: a set is handed out at once */
  guint64 lease_ms;               /* 0: an open read has no lease */
  guint64 retry_delay_min_ms;     /* 0: a read given back is due at once */
  guint64 retry_delay_max_ms;
} MqQueueRules;

typedef struct _MqRuleBook MqRuleBook;

/* Rules that limit nothing: what a daemon without a file uses. */
MqRuleBook *rules_new (void);
/* Reads the rules of every group of file; unknown keys in queue groups and
 * bad values are errors naming the file, line and key.  Keys of [default]
 * that are not rules are left to the caller. */
MqRuleBook *rules_load (MqConfigFile *file, GError **error);
void rules_free (MqRuleBook *book);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MqRuleBook, rules_free)

/* The rules for a queue: its own group, else [default]. */
const MqQueueRules *rules_lookup (MqRuleBook *book, const char *name,
                                  gsize name_len);
gboolean rules_is_key (const char *key);

#define MQ_RULES_DEFAULT_GROUP "default"
/* The delay before a message given back for the deliveries-th time is
 * handed out again: retry_delay_min doubled per delivery, up to max. */
guint64 rules_retry_delay_ms (const MqQueueRules *rules, guint deliveries);
