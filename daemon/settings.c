/* settings.c: the daemon's command line and configuration file; see
 * settings.h. */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "settings.h"
#include "values.h"

#define MAX_MESSAGE_LIMIT (1024 * 1024 * 1024)  /* GDBM values are int-sized */

char *
settings_default_socket (void)
{
  gsize len = mq_shared_default_socket (NULL, 0);
  char *path = g_malloc (len + 1);

  mq_shared_default_socket (path, len + 1);
  return path;
}

char *
settings_default_home (void)
{
  if (getuid () == 0)
    return g_strdup ("/var/lib/mqd");
  return g_build_filename (g_get_user_data_dir (), "mqd", NULL);
}

MqSettings *
settings_new (void)
{
  MqSettings *settings = g_new0 (MqSettings, 1);

  settings->mask = MQ_DEFAULT_MASK;
  settings->max_message = MQ_DEFAULT_MAX_MESSAGE;
  settings->checkpoint_size = MQ_CHECKPOINT_DEFAULT_SIZE;
  settings->sync_interval = MQ_DEFAULT_SYNC_INTERVAL;
  settings->max_conns = MQ_DEFAULT_MAX_CONNS;
  settings->idle_timeout = MQ_DEFAULT_IDLE_TIMEOUT;
  settings->request_timeout = MQ_DEFAULT_REQUEST_TIMEOUT;
  settings->incoming_memory = MQ_DEFAULT_INCOMING_MEMORY;
  settings->allow_uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  settings->allow_gids = g_array_new (FALSE, FALSE, sizeof (guint32));
  settings->ignored = g_ptr_array_new_with_free_func (g_free);
  settings->rules = rules_new ();
  return settings;
}

void
settings_free (MqSettings *settings)
{
  g_free (settings->socket_path);
  g_free (settings->home);
  g_free (settings->pid_file);
  g_free (settings->user);
  g_free (settings->config_path);
  g_array_unref (settings->allow_uids);
  g_array_unref (settings->allow_gids);
  g_ptr_array_unref (settings->ignored);
  rules_free (settings->rules);
  g_free (settings);
}

/* ---- one setter per setting, shared by the command line and the file ---- */

typedef gboolean (*Setter) (MqSettings *settings, const char *value,
                            GError **error);

static gboolean
set_string (char **field, const char *value)
{
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

static gboolean
set_socket (MqSettings *s, const char *value, GError **error)
{
  return set_string (&s->socket_path, value);
}

static gboolean
set_home (MqSettings *s, const char *value, GError **error)
{
  return set_string (&s->home, value);
}

static gboolean
set_pid_file (MqSettings *s, const char *value, GError **error)
{
  return set_string (&s->pid_file, value);
}

static gboolean
set_user (MqSettings *s, const char *value, GError **error)
{
  if (getpwnam (value) == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "no such user: '%s'", value);
      return FALSE;
    }
  return set_string (&s->user, value);
}

static gboolean
set_mask (MqSettings *s, const char *value, GError **error)
{
  return value_parse_mode (value, &s->mask, error);
}

static gboolean
set_max_message (MqSettings *s, const char *value, GError **error)
{
  guint64 bytes;

  if (!value_parse_size (value, MAX_MESSAGE_LIMIT, &bytes, error))
    return FALSE;
  s->max_message = (gsize) bytes;
  return TRUE;
}

static gboolean
set_checkpoint_size (MqSettings *s, const char *value, GError **error)
{
  if (!value_parse_size (value, G_MAXINT64, &s->checkpoint_size, error))
    return FALSE;
  if (s->checkpoint_size < MQ_MIN_CHECKPOINT_SIZE)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is below the smallest checkpoint size, %d KiB",
                   value, MQ_MIN_CHECKPOINT_SIZE / 1024);
      return FALSE;
    }
  return TRUE;
}

static gboolean
set_no_sync (MqSettings *s, const char *value, GError **error)
{
  return value_parse_bool (value, &s->no_sync, error);
}

static gboolean
set_seconds (guint *out, const char *value, GError **error)
{
  guint64 seconds;

  if (!value_parse_uint (value, 86400, &seconds, error))
    return FALSE;
  *out = (guint) seconds;
  return TRUE;
}

static gboolean
set_sync_interval (MqSettings *s, const char *value, GError **error)
{
  return set_seconds (&s->sync_interval, value, error);
}

static gboolean
set_max_conns (MqSettings *s, const char *value, GError **error)
{
  guint64 count;

  if (!value_parse_uint (value, 1000000, &count, error))
    return FALSE;
  if (count == 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "at least one connection must be allowed");
      return FALSE;
    }
  s->max_conns = (guint) count;
  return TRUE;
}

static gboolean
set_idle_timeout (MqSettings *s, const char *value, GError **error)
{
  return set_seconds (&s->idle_timeout, value, error);
}

static gboolean
set_request_timeout (MqSettings *s, const char *value, GError **error)
{
  return set_seconds (&s->request_timeout, value, error);
}

static gboolean
set_incoming_memory (MqSettings *s, const char *value, GError **error)
{
  return value_parse_size (value, G_MAXINT64, &s->incoming_memory, error);
}

static gboolean
set_daemonize (MqSettings *s, const char *value, GError **error)
{
  return value_parse_bool (value, &s->daemonize, error);
}

static gboolean
set_verbosity (MqSettings *s, const char *value, GError **error)
{
  guint64 level;

  if (!value_parse_uint (value, 2, &level, error))
    return FALSE;
  s->verbosity = (guint) level;
  return TRUE;
}

/* An id is a number or a name; lists are comma-separated. */
static gboolean
append_ids (GArray *out, const char *value, gboolean groups, GError **error)
{
  g_auto (GStrv) items = g_strsplit (value, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *item = g_strstrip (items[i]);
      guint64 number;
      guint32 id;

      if (g_ascii_string_to_unsigned (item, 10, 0, G_MAXUINT32 - 1, &number,
                                      NULL))
        id = (guint32) number;
      else if (!groups && getpwnam (item) != NULL)
        id = getpwnam (item)->pw_uid;
      else if (groups && getgrnam (item) != NULL)
        id = getgrnam (item)->gr_gid;
      else
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "no such %s: '%s'", groups ? "group" : "user", item);
          return FALSE;
        }
      g_array_append_val (out, id);
    }
  return TRUE;
}

static gboolean
set_allow_uid (MqSettings *s, const char *value, GError **error)
{
  return append_ids (s->allow_uids, value, FALSE, error);
}

static gboolean
set_allow_gid (MqSettings *s, const char *value, GError **error)
{
  return append_ids (s->allow_gids, value, TRUE, error);
}

static const struct {
  const char *key;                /* long option and file key */
  char short_name;
  Setter set;
} settings_keys[] = {
  { "socket", 's', set_socket },
  { "mask", 'a', set_mask },
  { "home", 'H', set_home },
  { "max_message", 'B', set_max_message },
  { "no_sync", 'N', set_no_sync },
  { "sync_interval", 'C', set_sync_interval },
  { "checkpoint_size", 0, set_checkpoint_size },
  { "max_connections", 'c', set_max_conns },
  { "idle_timeout", 0, set_idle_timeout },
  { "request_timeout", 0, set_request_timeout },
  { "incoming_memory", 0, set_incoming_memory },
  { "daemon", 'd', set_daemonize },
  { "pid_file", 'P', set_pid_file },
  { "user", 'u', set_user },
  { "verbose", 'v', set_verbosity },
  { "allow_uid", 0, set_allow_uid },
  { "allow_gid", 0, set_allow_gid },
};

/* Finds a setting by file key, "--long-name" or "-x". */
static gint
settings_find (const char *name)
{
  g_autofree char *key = NULL;

  if (name[0] == '-' && name[1] != '-' && name[1] != '\0')
    {
      for (guint i = 0; i < G_N_ELEMENTS (settings_keys); i++)
        if (settings_keys[i].short_name == name[1])
          return (gint) i;
      return -1;
    }
  key = g_strdelimit (g_strdup (name + strspn (name, "-")), "-", '_');
  for (guint i = 0; i < G_N_ELEMENTS (settings_keys); i++)
    if (strcmp (settings_keys[i].key, key) == 0)
      return (gint) i;
  return -1;
}

/* ---- the configuration file -------------------------------------------- */

/* given: the settings the command line set, which the file does not
 * override (NULL: none). */
static gboolean
settings_read_file (MqSettings *settings, const char *path,
                    const gboolean *given, GError **error)
{
  g_autoptr (MqConfigFile) file = configfile_load (path, error);
  g_auto (GStrv) keys = NULL;
  MqRuleBook *rules;

  if (file == NULL)
    return FALSE;
  keys = configfile_keys (file, MQ_RULES_DEFAULT_GROUP);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      gint found = settings_find (keys[i]);
      g_autofree char *value = NULL;
      g_autoptr (GError) local = NULL;

      if (rules_is_key (keys[i]) || (found >= 0 && given != NULL
                                     && given[found]))
        continue;
      if (found < 0)
        {
          configfile_error (file, MQ_RULES_DEFAULT_GROUP, keys[i], error,
                            "unknown key");
          return FALSE;
        }
      value = configfile_value (file, MQ_RULES_DEFAULT_GROUP, keys[i]);
      if (!settings_keys[found].set (settings, g_strstrip (value), &local))
        {
          configfile_error (file, MQ_RULES_DEFAULT_GROUP, keys[i], error,
                            local->message);
          return FALSE;
        }
    }
  rules = rules_load (file, error);
  if (rules == NULL)
    return FALSE;
  rules_free (settings->rules);
  settings->rules = rules;
  return TRUE;
}

/* The whole file is checked as at start; only its queue rules are taken:
 * the daemon's own settings need a restart. */
gboolean
settings_reload_rules (MqSettings *settings, GError **error)
{
  g_autoptr (MqSettings) fresh = NULL;
  MqRuleBook *rules;

  if (settings->config_path == NULL)
    return TRUE;
  fresh = settings_new ();
  if (!settings_read_file (fresh, settings->config_path, NULL, error))
    return FALSE;
  rules = fresh->rules;
  fresh->rules = settings->rules;
  settings->rules = rules;
  return TRUE;
}

/* ---- the command line --------------------------------------------------- */

typedef struct {
  MqSettings *settings;
  gboolean given[G_N_ELEMENTS (settings_keys)];
} ArgsState;

static gboolean
on_option (const char *option, const char *value, gpointer data,
           GError **error)
{
  ArgsState *state = data;
  MqSettings *settings = state->settings;
  gint found = settings_find (option);
  g_autoptr (GError) local = NULL;
  const char *key;

  g_assert (found >= 0);
  key = settings_keys[found].key;
  state->given[found] = TRUE;
  if (strcmp (key, "verbose") == 0)
    {
      settings->verbosity++;      /* -v counts */
      return TRUE;
    }
  if (!settings_keys[found].set (settings, value != NULL ? value : "true",
                                 &local))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: %s",
                   option, local->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
on_network (const char *option, const char *value, gpointer data,
            GError **error)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
               "%s: mqd listens only on a Unix socket (-s PATH); it has no "
               "TCP or UDP port", option);
  return FALSE;
}

/* BerkeleyDB tuning and threads: accepted so MemcacheQ's command lines
 * keep working, and named in one warning. */
static gboolean
on_ignored (const char *option, const char *value, gpointer data,
            GError **error)
{
  g_ptr_array_add (((ArgsState *) data)->settings->ignored, g_strdup (option));
  return TRUE;
}

#define SETTING(long_name, short_name, flags, help, arg) \
  { long_name, short_name, flags, G_OPTION_ARG_CALLBACK, on_option, help, arg }
#define FLAG(long_name, short_name, help) \
  SETTING (long_name, short_name, G_OPTION_FLAG_NO_ARG, help, NULL)
/* GOption needs a long name too: MemcacheQ had none, so these are ours. */
#define IGNORED(long_name, short_name, arg) \
  { long_name, short_name, \
    G_OPTION_FLAG_HIDDEN | (arg ? 0 : G_OPTION_FLAG_NO_ARG), \
    G_OPTION_ARG_CALLBACK, on_ignored, NULL, NULL }
#define NETWORK(long_name, short_name) \
  { long_name, short_name, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_CALLBACK, \
    on_network, NULL, NULL }

static GOptionGroup *
settings_option_group (MqSettings *settings, ArgsState *state)
{
  const GOptionEntry entries[] = {
    SETTING ("socket", 's', 0, "Unix socket to listen on (default: "
             "$XDG_RUNTIME_DIR/mqd.sock, /run/mqd/mqd.sock for root)", "PATH"),
    SETTING ("mask", 'a', 0, "Permission bits of the socket, in octal "
             "(default: 0700)", "MODE"),
    SETTING ("home", 'H', 0, "Data directory (default: ~/.local/share/mqd, "
             "/var/lib/mqd for root)", "DIR"),
    SETTING ("max-message", 'B', 0, "Largest message in bytes, K/M/G "
             "suffixes allowed (default: 1M)", "BYTES"),
    FLAG ("no-sync", 'N', "Acknowledge writes before they are synced to "
          "disk"),
    SETTING ("sync-interval", 'C', 0, "With -N, sync every SECONDS "
             "(default: 1; 0: only at exit)", "SECONDS"),
    SETTING ("checkpoint-size", 0, 0, "Journal bytes between two "
             "checkpoints, K/M/G suffixes allowed: a start after a crash "
             "replays at most about this much (default: 32M)", "BYTES"),
    SETTING ("max-connections", 'c', 0, "Most connections at once "
             "(default: 1024)", "N"),
    SETTING ("idle-timeout", 0, 0, "Close a connection on which nothing "
             "was sent or received for SECONDS, unless a get of it waits or "
             "it holds a reliable read (default: 300; 0: never)",
             "SECONDS"),
    SETTING ("request-timeout", 0, 0, "Close a connection whose request "
             "has not all come SECONDS after its first byte, plus a second "
             "per 64 KiB received (default: 30; 0: never)", "SECONDS"),
    SETTING ("incoming-memory", 0, 0, "Most memory for the data of sets "
             "still arriving, over all connections, K/M/G suffixes allowed; "
             "a set past it is refused (default: 64M; 0: no limit)",
             "BYTES"),
    FLAG ("daemon", 'd', "Run in the background once ready"),
    SETTING ("pid-file", 'P', 0, "Write the daemon's process id to FILE",
             "FILE"),
    SETTING ("user", 'u', 0, "When started as root, run as USER", "USER"),
    FLAG ("verbose", 'v', "Log client errors; twice (-vv): also every "
          "command"),
    SETTING ("allow-uid", 0, 0, "Accept only peers with these user ids or "
             "names (comma-separated, repeatable)", "UID"),
    SETTING ("allow-gid", 0, 0, "Accept only peers with these group ids or "
             "names", "GID"),
    { "config", 'f', 0, G_OPTION_ARG_FILENAME, &settings->config_path,
      "Read settings and queue rules from FILE (see mqd(8))", "FILE" },
    { "enable-coredumps", 'r', 0, G_OPTION_ARG_NONE,
      &settings->core_unlimited, "Raise the core file size limit", NULL },
    { "license", 'i', 0, G_OPTION_ARG_NONE, &settings->show_licence,
      "Print the licence and exit", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &settings->show_version,
      "Print the version and exit", NULL },
    NETWORK ("port", 'p'),
    NETWORK ("listen", 'l'),
    NETWORK ("udp-port", 'U'),
    IGNORED ("threads", 't', TRUE),
    IGNORED ("bdb-cache-size", 'm', TRUE),
    IGNORED ("bdb-page-size", 'A', TRUE),
    IGNORED ("bdb-log-buffer", 'L', TRUE),
    IGNORED ("bdb-trickle-interval", 'T', TRUE),
    IGNORED ("stats-dump-interval", 'S', TRUE),
    IGNORED ("bdb-trickle-percent", 'e', TRUE),
    IGNORED ("bdb-pages-per-file", 'E', TRUE),
    IGNORED ("bdb-deadlock-interval", 'D', TRUE),
    IGNORED ("bdb-remove-logs", 'R', FALSE),
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("mqd", "mqd options",
                                            "Show mqd options", state, NULL);

  g_option_group_add_entries (group, entries);
  return group;
}

static char *
absolute_path (char *path)
{
  char *absolute;

  if (path == NULL || g_path_is_absolute (path))
    return path;
  /* -d changes directory to /: resolve against where mqd was started. */
  absolute = g_canonicalize_filename (path, NULL);
  g_free (path);
  return absolute;
}

gboolean
settings_parse_args (MqSettings *settings, int *argc, char ***argv,
                     GError **error)
{
  g_autoptr (GOptionContext) context =
    g_option_context_new ("- local message queue daemon");
  ArgsState state = { .settings = settings };

  g_option_context_set_summary (context,
    "mqd keeps message queues in a GDBM file and serves them over a Unix "
    "socket\nwith the memcache text protocol: 'set QUEUE 0 0 LEN' enqueues, "
    "'get QUEUE' dequeues.");
  g_option_context_set_main_group (context,
                                   settings_option_group (settings, &state));
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "unexpected argument '%s'", (*argv)[1]);
      return FALSE;
    }
  /* The file fills in what the command line left out. */
  if (settings->config_path != NULL
      && !settings_read_file (settings, settings->config_path, state.given,
                              error))
    return FALSE;
  if (settings->socket_path == NULL)
    settings->socket_path = settings_default_socket ();
  if (settings->home == NULL)
    settings->home = settings_default_home ();
  settings->socket_path = absolute_path (settings->socket_path);
  settings->home = absolute_path (settings->home);
  settings->pid_file = absolute_path (settings->pid_file);
  settings->config_path = absolute_path (settings->config_path);
  return TRUE;
}
