/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* handle.h: inside libmqclient, the handle every part works on (one
 * connection, its input buffer, the request being built, the reliable reads
 * open on it) and the message of its last failed call.
 *
 * Names the library's files share start with mqc_: the static archive
 * carries them next to the mq_ ones, so they must not look like an
 * application's.  Only mqclient.h's functions are exported from the shared
 * library (libmqclient.sym).
 */
#pragma once

#include <stddef.h>

#include "mqclient.h"

#define MQC_PRINTF(fmt, args) __attribute__ ((format (printf, fmt, args)))

#define MQC_ERR_SIZE 1024         /* the handle's message */
#define MQC_WHAT_SIZE 300         /* "<verb> <queue>", the head of a message */

/* A piece of the request: text in the handle's buffer (ext NULL, at off)
 * or the caller's bytes (ext), sent from where they are. */
typedef struct {
  const char *ext;
  size_t off;
  size_t len;
} mqc_seg;

struct mqc_open_read;             /* openread.c */

struct mq_client {
  char *path;
  int fd;                         /* -1: not connected */
  int io_timeout_ms;              /* 0: the daemon may stay silent for ever */
  int call_wait_ms;               /* how long the daemon may hold this call's
                                     answer back (a get's /t=) */
  unsigned gen;                   /* grows each time a connection ends */

  char *in;                       /* answers read, [in_start, in_end) */
  size_t in_start, in_end, in_cap;

  char *obuf;                     /* request text */
  size_t olen, ocap;
  mqc_seg *segs;
  size_t nsegs, segcap;
  size_t out_total, out_sent;     /* bytes in the request, bytes written */
  size_t seg_idx, seg_off;        /* where writing resumes */

  char *version;
  struct mqc_open_read *open_reads;
  char err[MQC_ERR_SIZE];
};

/* A handle for socket_path (NULL: $MQD_SOCKET or the default), not yet
 * connected; NULL when out of memory. */
mq_client *mqc_handle_new (const char *socket_path);
void mqc_handle_free (mq_client *c);

/* mq_socket_path(): $MQD_SOCKET, else the daemon's default. */
size_t mqc_socket_path (char *buf, size_t size);

/* Makes room in *buf (*cap bytes, used of them in use) for want more: its
 * size doubles from *cap (first when 0).  what names the buffer in the
 * message when there is no memory. */
mq_status mqc_buffer_grow (mq_client *c, char **buf, size_t *cap,
                           size_t first, size_t used, size_t want,
                           const char *what);

/* Keeps the daemon's version text. */
mq_status mqc_set_version (mq_client *c, const char *version);

/* snprintf into a fixed buffer where cutting a long message is fine. */
void mqc_format_into (char *dst, size_t size, const char *format, ...)
  MQC_PRINTF (3, 4);

/* Sets the handle's message; returns status. */
mq_status mqc_set_error (mq_client *c, mq_status status,
                         const char *format, ...) MQC_PRINTF (3, 4);

/* Puts "<prefix>: " before the handle's message; returns status. */
mq_status mqc_prefix_error (mq_client *c, mq_status status,
                            const char *format, ...) MQC_PRINTF (3, 4);
