/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* conn.h: inside libmqclient, a connection's life: opened with a greeting,
 * checked and reopened at the start of each call, a request sent (again,
 * on a new connection, when that is safe), dropped.
 */
#pragma once

#include "handle.h"

/* Connects and asks the daemon's version: a daemon that refuses the
 * connection (too many, access denied) says so at once. */
mq_status mqc_conn_open (mq_client *c);

/* Starts a call: clears the message, and makes sure there is a connection.
 * A connection the daemon closed (it stopped or restarted) is noticed here
 * and replaced before anything is sent on it. */
mq_status mqc_call_begin (mq_client *c);

/* Sends the request built.  retry: when not one byte went out, connect
 * again and send it once more (only for requests that may be repeated). */
mq_status mqc_send_request (mq_client *c, int retry);

/* Starts a call whose request is text, and sends it.  A request sent in
 * part is not an error here: what the daemon answered is read all the
 * same. */
mq_status mqc_call_send_text (mq_client *c, const char *what,
                              const char *text, size_t len);

/* Closes the connection now and forgets what was read from it. */
void mqc_disconnect (mq_client *c);
