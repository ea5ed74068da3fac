/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* openread.h: inside libmqclient, the reliable reads open on a handle,
 * each with the connection it was opened on: an ack or abort is only
 * sent on that connection.
 */
#pragma once

#include "handle.h"

mq_status mqc_open_read_add (mq_client *c, const char *queue);
void mqc_open_read_forget (mq_client *c, const char *queue);

/* MQ_OK when a read of queue is open on the current connection, else
 * MQ_NOT_FOUND with the reason (what names the call). */
mq_status mqc_open_read_check (mq_client *c, const char *queue,
                               const char *what);

void mqc_open_reads_free (mq_client *c);
