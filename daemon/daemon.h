/* daemon.h: the process around the server: background start, readiness,
 * pid file, privileges. */
#pragma once

#include <glib.h>

/* Forks; the parent waits until the child calls daemon_ready() and exits 0,
 * or exits 1 if the child dies first (the child prints its own error).
 * Returns in the child. */
gboolean daemon_detach (GError **error);
/* Start-up is over: tells the waiting parent and systemd (NOTIFY_SOCKET).
 * keep_stdio: leave stdout/stderr open for logs (-v with -d). */
void daemon_ready (gboolean keep_stdio);
void daemon_stopping (void);

/* The listening socket systemd handed over (LISTEN_FDS), -1 when there is
 * none (or mqd was built without libsystemd), -2 with error set when what
 * was handed over is not one listening Unix stream socket. */
int daemon_activated_socket (GError **error);

gboolean daemon_write_pid_file (const char *path, GError **error);
/* Switches to user, handing it the files it will keep using. */
gboolean daemon_drop_privileges (const char *user, const char *const *paths,
                                 GError **error);
