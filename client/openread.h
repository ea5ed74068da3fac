/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* openread.h: inside libmqclient, the reliable reads open on a handle,
 * counted per queue with the connection they were opened on: an ack,
 * confirm or abort is only sent on that connection.
 */
#pragma once

#include "handle.h"

/* n more reads of queue were opened on the current connection. */
mq_status mqc_open_read_add (mq_client *c, const char *queue, size_t n);
/* The oldest n of them were ended; forget: all of them. */
void mqc_open_read_drop (mq_client *c, const char *queue, size_t n);
void mqc_open_read_forget (mq_client *c, const char *queue);

/* MQ_OK when at least n reads of queue are open on the current
 * connection, else MQ_NOT_FOUND with the reason (what names the call). */
mq_status mqc_open_read_check (mq_client *c, const char *queue, size_t n,
                               const char *what);

void mqc_open_reads_free (mq_client *c);
