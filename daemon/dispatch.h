/* dispatch.h: drives connections through the loop: reads their input,
 * parses it and runs the commands, and runs again the waiting gets that a
 * queue woke.
 *
 * A command never runs inside another: a set (or an item given back) only
 * marks its queue ready (waiter.c), and the gets waiting on it run after
 * the command has returned, before the next command of any connection, so
 * a waiting get still takes the message in the same pass.
 */
#pragma once

#include "conn.h"

/* -vv: every command line is logged (formatting it costs, so not always). */
extern gboolean conn_log_commands;

/* Takes ownership of socket, which is already accepted and allowed. */
MqConn *dispatch_accept (GSocket *socket);

/* The pass end's first phases, in this order: */
/* Waiting gets whose queue was made ready outside a command (a reader that
 * left gave its items back) run again. */
void dispatch_serve_ready (void);
/* Waiting gets whose time is up answer END. */
void dispatch_expire (gint64 now_us);
/* Connections back to READING (unpaused, or their get answered) run the
 * input they buffered meanwhile. */
void dispatch_resume (void);
