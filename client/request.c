/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* request.c: building a call's request; see request.h.
 *
 * A request is a list of segments: text copied into the handle's buffer,
 * or a large payload written from the caller's memory (one writev, no
 * copy).  Consecutive text shares one segment.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

#define COPY_LIMIT 4096           /* smaller payloads are copied */

void
mqc_out_reset (mq_client *c)
{
  c->olen = 0;
  c->nsegs = 0;
  c->out_total = 0;
  mqc_out_rewind (c);
}

void
mqc_out_rewind (mq_client *c)
{
  c->out_sent = 0;
  c->seg_idx = 0;
  c->seg_off = 0;
}

static mq_status
seg_add (mq_client *c, const char *ext, size_t off, size_t len)
{
  if (c->nsegs == c->segcap)
    {
      size_t cap = c->segcap > 0 ? c->segcap * 2 : 16;
      mqc_seg *bigger = realloc (c->segs, cap * sizeof *bigger);

      if (bigger == NULL)
        return mqc_set_error (c, MQ_NOMEM, "out of memory for the request");
      c->segs = bigger;
      c->segcap = cap;
    }
  c->segs[c->nsegs++] = (mqc_seg) { ext, off, len };
  c->out_total += len;
  return MQ_OK;
}

mq_status
mqc_out_text (mq_client *c, const void *text, size_t len)
{
  mqc_seg *last = c->nsegs > 0 ? &c->segs[c->nsegs - 1] : NULL;

  if (len == 0)
    return MQ_OK;
  if (c->ocap - c->olen < len
      && mqc_buffer_grow (c, &c->obuf, &c->ocap, 4096, c->olen, len,
                          "the request") != MQ_OK)
    return MQ_NOMEM;
  memcpy (c->obuf + c->olen, text, len);
  if (last != NULL && last->ext == NULL && last->off + last->len == c->olen)
    {
      last->len += len;
      c->out_total += len;
    }
  else if (seg_add (c, NULL, c->olen, len) != MQ_OK)
    return MQ_NOMEM;
  c->olen += len;
  return MQ_OK;
}

mq_status
mqc_out_printf (mq_client *c, const char *format, ...)
{
  char line[512];
  va_list args;
  int n;

  va_start (args, format);
  n = vsnprintf (line, sizeof line, format, args);
  va_end (args);
  if (n < 0 || (size_t) n >= sizeof line)
    return mqc_set_error (c, MQ_INVALID, "request line too long");
  return mqc_out_text (c, line, (size_t) n);
}

mq_status
mqc_out_data (mq_client *c, const void *data, size_t len)
{
  if (len < COPY_LIMIT)
    return mqc_out_text (c, data, len);
  return seg_add (c, data, 0, len);
}
