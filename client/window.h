/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* window.h: inside libmqclient, windows of reliable reads: many opened in
 * one round trip (monitor), the oldest ones acked or given back (confirm,
 * abort).  Arguments are checked by the caller (api.c).
 */
#pragma once

#include "handle.h"

/* max >= 1. */
mq_status mqc_open_many (mq_client *c, const char *queue, int timeout_ms,
                         size_t max, mq_message **messages, size_t *count);

/* command: "confirm" or "abort"; n >= 1. */
mq_status mqc_window_end (mq_client *c, const char *command,
                          const char *queue, size_t n);
