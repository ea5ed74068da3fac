/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* get.h: inside libmqclient, the calls that take, look at or settle
 * messages: one get with Kestrel's options, and many pops pipelined.
 * Arguments are checked by the caller (api.c).
 */
#pragma once

#include <stdint.h>

#include "handle.h"

/* What one get asks: MQ_READ_* options, and the numbers of lease= (with
 * open or touch) and delay= (with abort); MQ_QUEUE_RULE: not sent. */
typedef struct {
  unsigned options;
  int64_t lease_ms;
  int64_t delay_ms;
} mqc_read;

/* Whether a get with these options hands a message out (ack, abort and
 * touch alone do not). */
int mqc_get_hands_out (unsigned options);

mq_status mqc_get (mq_client *c, const char *queue, const mqc_read *read,
                   int timeout_ms, mq_message **message);

/* max >= 1. */
mq_status mqc_get_many (mq_client *c, const char *queue, int timeout_ms,
                        mq_message **messages, size_t max, size_t *count);

/* One round trip that takes up to max messages of queue, waiting up to
 * wait_ms for the first. */
typedef mq_status (*mqc_round) (mq_client *c, const char *queue, int wait_ms,
                                const char *what, mq_message **messages,
                                size_t max, size_t *count);

/* Rounds until one gives something or timeout_ms (MQ_WAIT_FOREVER: for
 * ever, a round of the longest wait at a time) has passed. */
mq_status mqc_rounds (mq_client *c, const char *queue, int timeout_ms,
                      const char *what, mqc_round round,
                      mq_message **messages, size_t max, size_t *count);
