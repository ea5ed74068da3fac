/* settings.h: the daemon's settings, from its command line and its
 * configuration file (-f); the command line wins. */
#pragma once

#include <glib.h>

#include "mqshared.h"             /* MQ_DEFAULT_MAX_MESSAGE */
#include "rules.h"

#define MQ_DEFAULT_MASK 0700
#define MQ_DEFAULT_SYNC_INTERVAL 1
#define MQ_DEFAULT_MAX_CONNS 1024
#define MQ_MIN_CHECKPOINT_SIZE (256 * 1024)
#define MQ_DEFAULT_IDLE_TIMEOUT 300
#define MQ_DEFAULT_REQUEST_TIMEOUT 30
#define MQ_DEFAULT_INCOMING_MEMORY (64 * 1024 * 1024)

typedef struct {
  char *socket_path;              /* -s */
  guint mask;                     /* -a */
  char *home;                     /* -H */
  gsize max_message;              /* -B */
  gboolean no_sync;               /* -N */
  guint sync_interval;            /* -C, seconds; 0: only at shutdown */
  guint64 checkpoint_size;        /* journal bytes between checkpoints */
  guint max_conns;                /* -c */
  guint idle_timeout;             /* seconds; 0: none */
  guint request_timeout;          /* seconds; 0: none */
  guint64 incoming_memory;        /* set data still arriving, in all */
  gboolean daemonize;             /* -d */
  char *pid_file;                 /* -P */
  char *user;                     /* -u */
  guint verbosity;                /* -v, -vv */
  gboolean core_unlimited;        /* -r */
  gboolean show_version;          /* -V */
  gboolean show_licence;          /* -i */
  GArray *allow_uids;             /* guint32 */
  GArray *allow_gids;             /* guint32 */
  GPtrArray *ignored;             /* MemcacheQ options that mean nothing here */
  char *config_path;              /* -f */
  MqRuleBook *rules;              /* per-queue rules from the file */
} MqSettings;

MqSettings *settings_new (void);
void settings_free (MqSettings *settings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MqSettings, settings_free)

/* Parses the command line into settings, with defaults for what it leaves
 * out and paths made absolute.  Errors are meant for the user as they are. */
gboolean settings_parse_args (MqSettings *settings, int *argc, char ***argv,
                            GError **error);

/* Reads the queue rules of the configuration file again (SIGHUP); on an
 * error the rules in force stay. */
gboolean settings_reload_rules (MqSettings *settings, GError **error);

/* Where the socket and the data live when -s and -H are not given. */
char *settings_default_socket (void);
char *settings_default_home (void);
