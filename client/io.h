/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* io.h: inside libmqclient, the socket's bytes: answers read into the
 * handle's input buffer, the request written out, and the two ways a
 * connection ends under a call (it broke; the daemon's answer made no
 * sense).
 */
#pragma once

#include "handle.h"

/* Closes the connection; the input buffer is left to the caller. */
void mqc_conn_close (mq_client *c);

/* The daemon's answer made no sense: says so, closes the connection and
 * returns MQ_PROTOCOL. */
mq_status mqc_protocol_error (mq_client *c, const char *format, ...)
  MQC_PRINTF (2, 3);

/* The next answer line, without its "\r\n", NUL-terminated in place.  Valid
 * until the input buffer is read into again. */
mq_status mqc_read_line (mq_client *c, char **line, size_t *len);

/* Exactly n bytes of the answer into dst. */
mq_status mqc_read_exact (mq_client *c, void *dst, size_t n);

/* Writes the request.  While the socket is full, reads answers into the
 * input buffer.  On failure the connection is closed, c->out_sent says how
 * much went out, and the answers read so far stay buffered. */
mq_status mqc_out_send (mq_client *c);

/* Writes a small request on a fresh connection (the greeting): 0, or an
 * errno. */
int mqc_send_small (mq_client *c, const char *text, size_t len);
