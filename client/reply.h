/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* reply.h: inside libmqclient, what the daemon's answers mean: error
 * lines, and the VALUE blocks of a get.
 */
#pragma once

#include "handle.h"

/* Error answers: ERROR, CLIENT_ERROR <text>, SERVER_ERROR <text>, each
 * with its status and the daemon's text.  MQ_OK when line is none of
 * them. */
mq_status mqc_error_answer (mq_client *c, const char *line, const char *what);

/* A line that is not the answer expected to request: an error answer, or
 * else nonsense (MQ_PROTOCOL). */
mq_status mqc_unexpected_answer (mq_client *c, const char *line,
                                 const char *what, const char *request);

/* The answer to one get line of queue: VALUE blocks then END, or an error
 * line.  The messages go to msgs[*count..max). */
mq_status mqc_read_get_answer (mq_client *c, const char *queue,
                               const char *what, mq_message **msgs,
                               size_t max, size_t *count);
