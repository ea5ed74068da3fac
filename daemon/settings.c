/* settings.c: the daemon's command line; see settings.h. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"

#define MAX_MESSAGE_LIMIT (1024 * 1024 * 1024)  /* GDBM values are int-sized */

char *
settings_default_socket (void)
{
  const char *runtime = g_getenv ("XDG_RUNTIME_DIR");

  if (getuid () == 0)
    return g_strdup ("/run/mqd/mqd.sock");
  if (runtime != NULL && *runtime != '\0')
    return g_build_filename (runtime, "mqd.sock", NULL);
  return g_strdup_printf ("/tmp/mqd-%u/mqd.sock", (guint) getuid ());
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
  settings->sync_interval = MQ_DEFAULT_SYNC_INTERVAL;
  settings->max_conns = MQ_DEFAULT_MAX_CONNS;
  settings->allow_uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  settings->allow_gids = g_array_new (FALSE, FALSE, sizeof (guint32));
  settings->ignored = g_ptr_array_new_with_free_func (g_free);
  return settings;
}

void
settings_free (MqSettings *settings)
{
  g_free (settings->socket_path);
  g_free (settings->home);
  g_free (settings->pid_file);
  g_free (settings->user);
  g_array_unref (settings->allow_uids);
  g_array_unref (settings->allow_gids);
  g_ptr_array_unref (settings->ignored);
  g_free (settings);
}

static gboolean
parse_number (const char *option, const char *value, guint base,
              guint64 max, guint64 *out, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!g_ascii_string_to_unsigned (value, base, 0, max, out, &local))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: '%s' is not a number from 0 to %" G_GUINT64_FORMAT
                   "%s", option, value, max,
                   base == 8 ? " in octal" : "");
      return FALSE;
    }
  return TRUE;
}

static gboolean
on_mask (const char *option, const char *value, gpointer data, GError **error)
{
  MqSettings *settings = data;
  guint64 mask;

  if (!parse_number (option, value, 8, 0777, &mask, error))
    return FALSE;
  settings->mask = (guint) mask;
  return TRUE;
}

/* -B takes bytes, or a number with a K, M or G suffix. */
static gboolean
on_max_message (const char *option, const char *value, gpointer data,
                GError **error)
{
  MqSettings *settings = data;
  g_autofree char *digits = g_strdup (value);
  gsize len = strlen (digits);
  guint shift = 0;
  guint64 bytes;

  if (len > 1)
    {
      const char *suffix = strchr ("KkMmGg", digits[len - 1]);

      if (suffix != NULL)
        {
          shift = 10 * (1 + (guint) (suffix - "KkMmGg") / 2);
          digits[len - 1] = '\0';
        }
    }
  if (!parse_number (option, digits, 10, MAX_MESSAGE_LIMIT >> shift, &bytes,
                     error))
    return FALSE;
  settings->max_message = (gsize) (bytes << shift);
  return TRUE;
}

static gboolean
on_sync_interval (const char *option, const char *value, gpointer data,
                  GError **error)
{
  guint64 seconds;

  if (!parse_number (option, value, 10, 86400, &seconds, error))
    return FALSE;
  ((MqSettings *) data)->sync_interval = (guint) seconds;
  return TRUE;
}

static gboolean
on_max_conns (const char *option, const char *value, gpointer data,
              GError **error)
{
  guint64 count;

  if (!parse_number (option, value, 10, 1000000, &count, error))
    return FALSE;
  if (count == 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: at least one connection must be allowed", option);
      return FALSE;
    }
  ((MqSettings *) data)->max_conns = (guint) count;
  return TRUE;
}

static gboolean
on_verbose (const char *option, const char *value, gpointer data,
            GError **error)
{
  ((MqSettings *) data)->verbosity++;
  return TRUE;
}

/* An id is a number or a name; lists are comma-separated. */
static gboolean
parse_ids (const char *option, const char *value, gboolean groups,
           GArray *out, GError **error)
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
                       "%s: no such %s: '%s'", option,
                       groups ? "group" : "user", item);
          return FALSE;
        }
      g_array_append_val (out, id);
    }
  return TRUE;
}

static gboolean
on_allow_uid (const char *option, const char *value, gpointer data,
              GError **error)
{
  return parse_ids (option, value, FALSE, ((MqSettings *) data)->allow_uids,
                    error);
}

static gboolean
on_allow_gid (const char *option, const char *value, gpointer data,
              GError **error)
{
  return parse_ids (option, value, TRUE, ((MqSettings *) data)->allow_gids,
                    error);
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
  g_ptr_array_add (((MqSettings *) data)->ignored, g_strdup (option));
  return TRUE;
}

#define IGNORED(short_name, arg) \
  { NULL, short_name, G_OPTION_FLAG_HIDDEN | (arg ? 0 : G_OPTION_FLAG_NO_ARG), \
    G_OPTION_ARG_CALLBACK, on_ignored, NULL, NULL }
#define NETWORK(long_name, short_name) \
  { long_name, short_name, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_CALLBACK, \
    on_network, NULL, NULL }

static GOptionGroup *
settings_option_group (MqSettings *settings)
{
  const GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &settings->socket_path,
      "Unix socket to listen on (default: $XDG_RUNTIME_DIR/mqd.sock, "
      "/run/mqd/mqd.sock for root)", "PATH" },
    { "mask", 'a', 0, G_OPTION_ARG_CALLBACK, on_mask,
      "Permission bits of the socket, in octal (default: 0700)", "MODE" },
    { "home", 'H', 0, G_OPTION_ARG_FILENAME, &settings->home,
      "Data directory (default: ~/.local/share/mqd, /var/lib/mqd for root)",
      "DIR" },
    { "max-message", 'B', 0, G_OPTION_ARG_CALLBACK, on_max_message,
      "Largest message in bytes, K/M/G suffixes allowed (default: 1M)",
      "BYTES" },
    { "no-sync", 'N', 0, G_OPTION_ARG_NONE, &settings->no_sync,
      "Acknowledge writes before they are synced to disk", NULL },
    { "sync-interval", 'C', 0, G_OPTION_ARG_CALLBACK, on_sync_interval,
      "With -N, sync every SECONDS (default: 1; 0: only at exit)",
      "SECONDS" },
    { "max-connections", 'c', 0, G_OPTION_ARG_CALLBACK, on_max_conns,
      "Most connections at once (default: 1024)", "N" },
    { "daemon", 'd', 0, G_OPTION_ARG_NONE, &settings->daemonize,
      "Run in the background once ready", NULL },
    { "pid-file", 'P', 0, G_OPTION_ARG_FILENAME, &settings->pid_file,
      "Write the daemon's process id to FILE", "FILE" },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &settings->user,
      "When started as root, run as USER", "USER" },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, on_verbose,
      "Log client errors; twice (-vv): also every command", NULL },
    { "allow-uid", 0, 0, G_OPTION_ARG_CALLBACK, on_allow_uid,
      "Accept only peers with these user ids or names (comma-separated, "
      "repeatable)", "UID" },
    { "allow-gid", 0, 0, G_OPTION_ARG_CALLBACK, on_allow_gid,
      "Accept only peers with these group ids or names", "GID" },
    { "enable-coredumps", 'r', 0, G_OPTION_ARG_NONE,
      &settings->core_unlimited, "Raise the core file size limit", NULL },
    { "license", 'i', 0, G_OPTION_ARG_NONE, &settings->show_licence,
      "Print the licence and exit", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &settings->show_version,
      "Print the version and exit", NULL },
    NETWORK ("port", 'p'),
    NETWORK ("listen", 'l'),
    NETWORK ("udp-port", 'U'),
    IGNORED ('t', TRUE), IGNORED ('m', TRUE), IGNORED ('A', TRUE),
    IGNORED ('L', TRUE), IGNORED ('T', TRUE), IGNORED ('S', TRUE),
    IGNORED ('e', TRUE), IGNORED ('E', TRUE), IGNORED ('D', TRUE),
    IGNORED ('R', FALSE),
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("mqd", "mqd options",
                                            "Show mqd options", settings,
                                            NULL);

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

  g_option_context_set_summary (context,
    "mqd keeps message queues in a GDBM file and serves them over a Unix "
    "socket\nwith the memcache text protocol: 'set QUEUE 0 0 LEN' enqueues, "
    "'get QUEUE' dequeues.");
  g_option_context_set_main_group (context, settings_option_group (settings));
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "unexpected argument '%s'", (*argv)[1]);
      return FALSE;
    }
  if (settings->socket_path == NULL)
    settings->socket_path = settings_default_socket ();
  if (settings->home == NULL)
    settings->home = settings_default_home ();
  settings->socket_path = absolute_path (settings->socket_path);
  settings->home = absolute_path (settings->home);
  settings->pid_file = absolute_path (settings->pid_file);
  return TRUE;
}
