/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* get.h: inside libmqclient, the calls that take, look at or settle
 * messages: one get with Kestrel's options, and many pops pipelined.
 * Arguments are checked by the caller (api.c).
 */
#pragma once

#include "handle.h"

/* Whether a get with these options hands a message out (ack and abort
 * alone do not). */
int mqc_get_hands_out (unsigned options);

mq_status mqc_get (mq_client *c, const char *queue, unsigned options,
                   int timeout_ms, mq_message **message);

/* max >= 1. */
mq_status mqc_get_many (mq_client *c, const char *queue, int timeout_ms,
                        mq_message **messages, size_t max, size_t *count);
