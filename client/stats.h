/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* stats.h: inside libmqclient, the daemon's stats: read as name/value
 * pairs, and a queue's numbers found among them.
 */
#pragma once

#include "handle.h"

mq_status mqc_stats (mq_client *c, mq_stat **stats, size_t *count);
void mqc_stats_free (mq_stat *stats, size_t count);
mq_status mqc_queue_stats (mq_client *c, const char *queue,
                           mq_queue_info *info);
mq_status mqc_list_queues (mq_client *c, mq_queue_info **queues,
                           size_t *count);
