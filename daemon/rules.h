/* rules.h: per-queue rules (limits, expiry, dead letters, delays, leases,
 * retries) from the configuration file: a [default] group and one group
 * per queue name. */
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
  guint64 default_delay_ms;       /* a set without /delay=: 0, none */
  guint64 lease_ms;               /* an open read without lease=: 0, none */
  guint64 retry_delay_min_ms;     /* a message given back waits min, */
  guint64 retry_delay_max_ms;     /* doubling up to max; 0: none */
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
/* How long a message given back the deliveries-th time (this time
 * included; 0 counts as 1) waits before it is due again under the
 * retry_delay rule: min * 2^(deliveries - 1), at most max; 0 without the
 * rule.  Pure. */
guint64 rules_retry_delay_ms (const MqQueueRules *rules, guint deliveries);
gboolean rules_is_key (const char *key);

#define MQ_RULES_DEFAULT_GROUP "default"
