/* command.h: runs one parsed command for a connection. */
#pragma once

#include "conn.h"
#include "protocol.h"

typedef struct {
  gsize max_message;              /* -B */
  gboolean no_sync;               /* -N */
  void (*set_verbosity) (guint level);    /* what `verbosity N` does */
} MqCommandLimits;

void command_init (const MqCommandLimits *limits);
/* data is the set's payload (cmd->data_len bytes), NULL for other commands. */
void command_execute (MqConn *conn, const MqCommand *cmd, const char *data);
/* The reply to a set whose data is being skipped, or NULL to store it. */
const char *command_refuse_set (const MqCommand *cmd);
/* TRUE once a client asked the daemon to stop. */
gboolean command_shutdown_requested (void);
