/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* push.h: inside libmqclient, messages pushed pipelined: every set
 * written at once, the answers read as they come, and, when the connection
 * breaks, which messages may have been stored.  Arguments are checked by
 * the caller (api.c).
 */
#pragma once

#include <stdint.h>

#include "handle.h"

/* count >= 1; delay_ms >= 0 is sent as the key's /delay=. */
mq_status mqc_push_many (mq_client *c, const char *queue,
                         const mq_buffer *messages, size_t count,
                         uint32_t flags, int64_t exptime, int64_t delay_ms,
                         mq_status *results, size_t *stored);

/* Every message's outcome is st (results may be NULL). */
void mqc_push_fail_all (mq_status *results, size_t count, mq_status st);
