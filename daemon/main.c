/* main.c: mqd's start, its main loop and its orderly stop. */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "checkpoint.h"
#include "command.h"
#include "commit.h"
#include "conn.h"
#include "daemon.h"
#include "dispatch.h"
#include "due.h"
#include "loop.h"
#include "queue.h"
#include "server.h"
#include "settings.h"
#include "space.h"
#include "storage.h"
#include "waiter.h"

/* Expired messages are swept from idle queues, space given back after a
 * drain, and idle or late connections closed, this often. */
#define SWEEP_INTERVAL_SECONDS 1
/* Free space and the file size limit are read this often. */
#define SPACE_INTERVAL_MS 100

#define EXIT_USAGE 2

static GMainLoop *main_loop;
static MqSettings *settings;
static MqWatch sync_watch;      /* the sync thread's wake-ups */
static gboolean stopping;
static int exit_status;

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

/* The storage cannot go on (a checkpoint failed): stop, without a last
 * checkpoint; the next start recovers from the journal. */
static void
fail_storage (const GError *error)
{
  g_critical ("%s: stopping", error->message);
  exit_status = 1;
  stopping = TRUE;
  loop_wake ();
}

/* With one client, or none ready to be served, no one is kept waiting while
 * the pass end syncs the journal itself (commit.h). */
static gboolean
sync_here (void)
{
  return conns_count () <= 1 || loop_idle ();
}

/* The pass end: every command of this pass has run, and so have the waiting
 * gets woken or whose time is up.  Tails that grew too large are sealed, a
 * checkpoint is cut when one is due, then the pass's journal entries are
 * written (commit.h): replies that wait for a sync go out once the sync
 * thread has made one that covers them, the others at once. */
static void
on_pass_end (gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  due_serve ();
  dispatch_serve_ready ();
  dispatch_expire (g_get_monotonic_time ());
  dispatch_resume ();
  if (!queues_tidy (&error) || !checkpoint_maintain (&error))
    {
      g_warning ("%s", error->message);
      g_clear_error (&error);
    }
  if (!stopping && checkpoint_due () && !checkpoint_cut (&error))
    {
      fail_storage (error);
      g_clear_error (&error);
    }
  /* Entries that could not be written stay buffered for the next pass;
   * the replies that wait for them wait too, the others go out. */
  if (!commit_end_pass (&error))
    g_warning ("%s", error->message);
  space_note_files (MAX (journal_end (commit_journal ()),
                         checkpoint_part_bytes ()));
  conns_release (commit_synced ());
  conns_flush ();
  loop_set_deadline (due_next_deadline ());
  /* A sync made here that failed makes a checkpoint due at once. */
  if (!stopping && checkpoint_due ())
    loop_wake ();
  if (stopping || command_shutdown_requested ())
    g_main_loop_quit (main_loop);
}

/* The syncer made a sync or a checkpoint: the pass that follows sends
 * what waited for it. */
static void
on_synced (MqWatch *watch, guint32 events)
{
  g_autoptr (GError) error = NULL;

  commit_on_wake ();
  if (!checkpoint_on_wake (&error))
    fail_storage (error);
}

/* -v, -vv, or `verbosity N` from a client. */
static void
set_verbosity (guint level)
{
  settings->verbosity = level;
  conn_log_commands = level >= 2;
}

/* -N: the journal is synced every -C seconds, not before each reply. */
static gboolean
on_sync_timer (gpointer user_data)
{
  commit_request_sync ();
  return G_SOURCE_CONTINUE;
}

static gboolean
on_space_timer (gpointer user_data)
{
  space_refresh ();
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sweep_timer (gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  conns_tick ();
  if (!queues_sweep (&error))
    g_critical ("expiry sweep: %s", error->message);
  else if (!checkpoint_give_back (&error))
    fail_storage (error);
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
 * go to the user before it becomes that user: the data directory's by
 * descriptor (storage_hand_over), the rest by name.  A socket systemd
 * handed over stays systemd's. */
static gboolean
hand_over (GError **error)
{
  const char *paths[] = { settings->pid_file, server_created_dir (),
    server_socket_path (), NULL };
  g_autoptr (GPtrArray) owned = g_ptr_array_new ();
  struct passwd *pw = getpwnam (settings->user);

  if (pw != NULL && getuid () == 0
      && !storage_hand_over (pw->pw_uid, pw->pw_gid, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    if (paths[i] != NULL)
      g_ptr_array_add (owned, (gpointer) paths[i]);
  g_ptr_array_add (owned, NULL);
  return daemon_drop_privileges (settings->user,
                                 (const char *const *) owned->pdata, error);
}

/* The user the data directory may belong to besides the daemon's. */
static guint32
data_owner (void)
{
  struct passwd *pw = settings->user != NULL ? getpwnam (settings->user)
    : NULL;

  return pw != NULL ? pw->pw_uid : G_MAXUINT32;
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
  MqConnLimits conn_limits = {
    .idle_timeout = settings->idle_timeout,
    .request_timeout = settings->request_timeout,
    .incoming_memory = settings->incoming_memory,
  };

  if (settings->daemonize && !daemon_detach (error))
    return FALSE;
  server.activated_fd = daemon_activated_socket (error);
  if (server.activated_fd == -2)
    return FALSE;
  MqStorageOptions storage = {
    .path = settings->home,
    .owner_uid = data_owner (),
    .no_sync = settings->no_sync,
    .checkpoint_size = settings->checkpoint_size,
    .rules = settings->rules,
    .ready = waiters_on_ready,
  };

  if (server.activated_fd < 0 && !server_check_path (server.path, error))
    return FALSE;
  if (!storage_open (&storage, error))
    return FALSE;
  /* Messages that came due while the daemon was down join their queues
   * before any client's set (a first batch; the passes do the rest). */
  due_serve ();
  loop_init (on_pass_end, NULL);
  /* Edge-triggered: every write to an eventfd is an event, so it need not
   * be read. */
  loop_watch (&sync_watch, storage_wake_fd (), EPOLLIN | EPOLLET, on_synced);
  commit_set_sync_here (sync_here);
  command_init (&limits);
  conns_set_limits (&conn_limits);
  if (!server_listen (&server, error))
    return FALSE;
  if (settings->pid_file != NULL
      && !daemon_write_pid_file (settings->pid_file, error))
    return FALSE;
  if (server.activated_fd >= 0)
    g_info ("listening on the socket systemd handed over, data in %s",
            storage_dir_path ());
  else
    g_info ("listening on %s, data in %s", settings->socket_path,
            storage_dir_path ());
  return settings->user == NULL || hand_over (error);
}

/* Every reply that waited goes out after a last checkpoint; with a
 * storage that failed, the connections close without them. */
static void
stop (void)
{
  g_autoptr (GError) error = NULL;

  daemon_stopping ();
  server_close ();
  if (exit_status == 0 && storage_checkpoint (&error))
    conns_release (G_MAXUINT64);
  else
    {
      if (error != NULL)
        g_critical ("%s", error->message);
      exit_status = 1;
      conns_drop_pending ();
    }
  conns_close_all ();
  storage_close ();
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
      storage_close ();
      return 1;
    }
  main_loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_stop_signal, "SIGTERM");
  g_unix_signal_add (SIGINT, on_stop_signal, "SIGINT");
  g_unix_signal_add (SIGHUP, on_reload_signal, NULL);
  g_timeout_add_seconds (SWEEP_INTERVAL_SECONDS, on_sweep_timer, NULL);
  g_timeout_add (SPACE_INTERVAL_MS, on_space_timer, NULL);
  if (settings->no_sync && settings->sync_interval > 0)
    g_timeout_add_seconds (settings->sync_interval, on_sync_timer, NULL);
  daemon_ready (settings->verbosity > 0);
  g_main_loop_run (main_loop);
  stop ();
  g_main_loop_unref (main_loop);
  settings_free (settings);
  return exit_status;
}
