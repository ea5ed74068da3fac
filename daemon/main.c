/* main.c: mqd's start, its main loop and its orderly stop. */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "command.h"
#include "conn.h"
#include "daemon.h"
#include "dispatch.h"
#include "loop.h"
#include "queue.h"
#include "server.h"
#include "settings.h"
#include "store.h"
#include "waiter.h"

/* Expired messages are swept from idle queues, and an empty store's file
 * shrunk, this often. */
#define SWEEP_INTERVAL_SECONDS 1
/* A large data file is mapped afresh this often: its pages a load touched
 * count as resident until then. */
#define TRIM_INTERVAL_MS 500

#define EXIT_USAGE 2

static GMainLoop *main_loop;
static MqSettings *settings;
static MqStore *store;
static MqWatch sync_watch;      /* the sync thread's wake-ups */
static gboolean stopping;

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
            gpointer user_data)
{
  if ((level & G_LOG_LEVEL_DEBUG) && settings->verbosity < 2)
    return G_LOG_WRITER_HANDLED;
  if ((level & G_LOG_LEVEL_INFO) && settings->verbosity < 1)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* The pass end: every command of this pass has run, and so have the waiting
 * gets woken or whose time is up.  Every change reaches the journal before a
 * reply goes out.  By default the replies of a pass that stored messages
 * wait for one fdatasync of the journal, made by the sync thread while the
 * loop goes on (group commit); a pass of gets writes its counters, and the
 * 1-second timer makes them and the deletes durable.  Under -N nothing waits
 * and the timer writes the counters too: after a kill they catch up from the
 * items found (all but the byte count). */
static void
on_pass_end (gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  dispatch_serve_ready ();
  dispatch_expire (g_get_monotonic_time ());
  dispatch_resume ();
  if (settings->no_sync)
    queues_write (&error);
  else
    {
      guint64 request = queues_commit_async (&error);
      guint64 done, failed;

      if (request > 0)
        conns_hold (request);
      done = store_synced (store, &failed);
      conns_release (done, failed);
    }
  if (error != NULL)
    {
      g_critical ("%s: dropping the connections that waited on it",
                  error->message);
      conns_drop_pending ();
    }
  conns_flush ();
  loop_set_deadline (waiters_next_deadline ());
  if (stopping || command_shutdown_requested ())
    g_main_loop_quit (main_loop);
}

/* A sync finished: the pass that follows sends what waited for it. */
static void
on_synced (MqWatch *watch, guint32 events)
{
  store_sync_ack (store);
}

/* -v, -vv, or `verbosity N` from a client. */
static void
set_verbosity (guint level)
{
  settings->verbosity = level;
  conn_log_commands = level >= 2;
}

static gboolean
on_sync_timer (gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!queues_commit (TRUE, &error))
    g_critical ("%s", error->message);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_trim_timer (gpointer user_data)
{
  store_trim_mapping (store);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sweep_timer (gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!queues_sweep (&error) || !queues_commit (!settings->no_sync, &error)
      || !queues_compact (&error))
    g_critical ("expiry sweep: %s", error->message);
  return G_SOURCE_CONTINUE;
}

/* SIGHUP: new queue rules, same connections and messages. */
static gboolean
on_reload_signal (gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!settings_reload_rules (settings, &error))
    {
      g_warning ("SIGHUP: keeping the rules in force: %s", error->message);
      return G_SOURCE_CONTINUE;
    }
  queues_set_rules (settings->rules);
  command_set_rules (settings->rules);
  g_message ("SIGHUP: queue rules reloaded from %s",
             settings->config_path != NULL ? settings->config_path
             : "(no file)");
  return G_SOURCE_CONTINUE;
}

static gboolean
on_stop_signal (gpointer user_data)
{
  g_message ("stopping on %s", (const char *) user_data);
  stopping = TRUE;
  loop_wake ();
  return G_SOURCE_CONTINUE;
}

static void
warn_ignored_options (void)
{
  g_autoptr (GString) names = g_string_new (NULL);

  if (settings->ignored->len == 0)
    return;
  for (guint i = 0; i < settings->ignored->len; i++)
    g_string_append_printf (names, " %s",
                            (char *) g_ptr_array_index (settings->ignored, i));
  g_warning ("ignoring MemcacheQ options that mean nothing to mqd:%s",
             names->str);
}

/* Every connection is a descriptor: the usual soft limit of 1024 is below
 * the default -c once the daemon's own are counted. */
static void
raise_fd_limit (guint max_conns)
{
  struct rlimit limit;
  rlim_t want = (rlim_t) max_conns + 64;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= want)
    return;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? want
    : MIN (want, limit.rlim_max);
  setrlimit (RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < want)
    g_warning ("open files limit %lu is below -c %u plus the daemon's own: "
               "connections past it are refused", (unsigned long) limit.rlim_cur,
               max_conns);
}

static void
raise_core_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_CORE, &limit) == 0)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_CORE, &limit);
    }
}

/* -u: the files the daemon keeps using, or uses again at its next start,
 * go to the user before it becomes that user.  A socket systemd handed over
 * stays systemd's. */
static gboolean
hand_over (GError **error)
{
  g_autofree char *lock = g_build_filename (settings->home, MQ_STORE_LOCK_FILE,
                                           NULL);
  g_autoptr (GPtrArray) owned = g_ptr_array_new ();
  const char *maybe[] = { settings->pid_file, server_created_dir (),
    server_socket_path () };

  g_ptr_array_add (owned, settings->home);
  g_ptr_array_add (owned, lock);
  g_ptr_array_add (owned, (gpointer) store_path (store));
  g_ptr_array_add (owned, (gpointer) store_journal_path (store));
  for (guint i = 0; i < G_N_ELEMENTS (maybe); i++)
    if (maybe[i] != NULL)
      g_ptr_array_add (owned, (gpointer) maybe[i]);
  g_ptr_array_add (owned, NULL);
  return daemon_drop_privileges (settings->user,
                                 (const char *const *) owned->pdata, error);
}

static gboolean
start (GError **error)
{
  MqServerOptions server = {
    .path = settings->socket_path,
    .mode = settings->mask,
    .max_conns = settings->max_conns,
    .allow_uids = settings->allow_uids,
    .allow_gids = settings->allow_gids,
  };
  MqCommandLimits limits = {
    .max_message = settings->max_message,
    .no_sync = settings->no_sync,
    .set_verbosity = set_verbosity,
  };

  if (settings->daemonize && !daemon_detach (error))
    return FALSE;
  server.activated_fd = daemon_activated_socket (error);
  if (server.activated_fd == -2)
    return FALSE;
  store = store_open (settings->home, error);
  if (store == NULL
      || !queues_open (store, settings->rules, waiters_on_ready, error))
    return FALSE;
  loop_init (on_pass_end, NULL);
  loop_watch (&sync_watch, store_sync_wake_fd (store), EPOLLIN, on_synced);
  command_init (&limits);
  command_set_rules (settings->rules);
  if (!server_listen (&server, error))
    return FALSE;
  if (settings->pid_file != NULL
      && !daemon_write_pid_file (settings->pid_file, error))
    return FALSE;
  if (server.activated_fd >= 0)
    g_info ("listening on the socket systemd handed over, data in %s",
            store_path (store));
  else
    g_info ("listening on %s, data in %s", settings->socket_path,
            store_path (store));
  return settings->user == NULL || hand_over (error);
}

static void
stop (void)
{
  g_autoptr (GError) error = NULL;

  daemon_stopping ();
  server_close ();
  /* STOREDs still waiting for the sync thread go out after this sync. */
  if (queues_commit (TRUE, &error))
    conns_release (G_MAXUINT64, 0);
  else
    g_critical ("%s", error->message);
  g_clear_error (&error);
  conns_close_all ();
  if (!queues_commit (TRUE, &error))
    g_critical ("%s", error->message);
  queues_close ();
  g_clear_error (&error);
  if (!store_close (store, &error))
    g_critical ("%s", error->message);
  loop_shutdown ();
  if (settings->pid_file != NULL)
    remove (settings->pid_file);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  setlocale (LC_ALL, "");
  settings = settings_new ();
  g_log_set_writer_func (log_writer, NULL, NULL);
  g_log_set_debug_enabled (TRUE);
  if (!settings_parse_args (settings, &argc, &argv, &error))
    {
      g_printerr ("mqd: %s\nTry 'mqd --help' for more information.\n",
                  error->message);
      return EXIT_USAGE;
    }
  if (settings->show_version || settings->show_licence)
    {
      g_print ("mqd %s\n", PACKAGE_VERSION);
      if (settings->show_licence)
        g_print ("Licence: GPL-3.0-or-later (mqd links GDBM).\n"
                 "This is free software: you are free to change and "
                 "redistribute it.\nThere is NO WARRANTY, to the extent "
                 "permitted by law.\n");
      return 0;
    }
  set_verbosity (settings->verbosity);
  warn_ignored_options ();
  if (settings->core_unlimited)
    raise_core_limit ();
  raise_fd_limit (settings->max_conns);
  signal (SIGPIPE, SIG_IGN);
  /* Past a file size limit a write fails with EFBIG, which the store
   * reports; the signal's default would end the daemon. */
  signal (SIGXFSZ, SIG_IGN);
  if (!start (&error))
    {
      g_printerr ("mqd: %s\n", error->message);
      server_close ();            /* no socket left behind by a failed start */
      return 1;
    }
  main_loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_stop_signal, "SIGTERM");
  g_unix_signal_add (SIGINT, on_stop_signal, "SIGINT");
  g_unix_signal_add (SIGHUP, on_reload_signal, NULL);
  g_timeout_add_seconds (SWEEP_INTERVAL_SECONDS, on_sweep_timer, NULL);
  g_timeout_add (TRIM_INTERVAL_MS, on_trim_timer, NULL);
  if (settings->no_sync && settings->sync_interval > 0)
    g_timeout_add_seconds (settings->sync_interval, on_sync_timer, NULL);
  daemon_ready (settings->verbosity > 0);
  g_main_loop_run (main_loop);
  stop ();
  g_main_loop_unref (main_loop);
  settings_free (settings);
  return 0;
}
