/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* request.h: inside libmqclient, building the request of a call: text
 * gathered in the handle's buffer, large payloads left where the caller
 * has them, all written by one mqc_out_send().
 */
#pragma once

#include "handle.h"

/* An empty request. */
void mqc_out_reset (mq_client *c);

/* Back to the start of the same request, to send it on a new
 * connection. */
void mqc_out_rewind (mq_client *c);

mq_status mqc_out_text (mq_client *c, const void *text, size_t len);
mq_status mqc_out_printf (mq_client *c, const char *format, ...)
  MQC_PRINTF (2, 3);

/* A payload: copied when small, else written from the caller's memory,
 * which must stay as it is until the request is sent. */
mq_status mqc_out_data (mq_client *c, const void *data, size_t len);
