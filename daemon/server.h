/* server.h: the listening Unix socket, its access mask and who may connect. */
#pragma once

#include <gio/gio.h>

typedef struct {
  const char *path;
  int activated_fd;               /* handed over by systemd, or -1 */
  guint mode;                     /* -a: permission bits of the socket file */
  guint max_conns;                /* -c */
  GArray *allow_uids;             /* uid_t; empty: any */
  GArray *allow_gids;             /* gid_t; empty: any */
} MqServerOptions;

/* Creates the socket file (never wider than mode) and starts accepting, or
 * accepts on activated_fd.  Refuses if another daemon answers on the path;
 * replaces a stale file. */
gboolean server_listen (const MqServerOptions *options, GError **error);
/* The checks server_listen makes of the path before it touches anything,
 * so that a daemon that must refuse does so before it makes its data
 * directory: FALSE when another daemon answers there or something that is
 * not a socket is in the way. */
gboolean server_check_path (const char *path, GError **error);
/* The socket's directory when mqd had to create it (-u hands it over, so
 * the daemon can remove its socket when it stops), else NULL. */
const char *server_created_dir (void);
/* The socket file mqd made, or NULL (socket activation). */
const char *server_socket_path (void);
/* Stops accepting and removes the socket file. */
void server_close (void);
