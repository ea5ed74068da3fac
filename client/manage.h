/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* manage.h: inside libmqclient, the requests answered by one line:
 * delete, flush, flush_all, shutdown, version, confirm, abort.
 */
#pragma once

#include "handle.h"

/* "<command> <queue>", or "<command>" when queue is NULL, answered ok (or
 * NOT_FOUND: no such queue).  Never repeated on a new connection. */
mq_status mqc_simple_command (mq_client *c, const char *command,
                              const char *queue, const char *ok);

/* The request what (a whole line but its end), answered ok (or NOT_FOUND:
 * no such queue); command names it in a complaint.  Never repeated on a
 * new connection.  The caller began the call. */
mq_status mqc_line_command (mq_client *c, const char *what,
                            const char *command, const char *ok);

mq_status mqc_version (mq_client *c, const char **version);
