/* entry.c: journal entries' bodies; see entry.h. */
#include "config.h"

#include <string.h>

#include "entry.h"

gboolean
entry_has_message (MqEntryOp op)
{
  return op == MQ_ENTRY_PUSH || op == MQ_ENTRY_MOVE;
}

/* The bytes each op has after the name. */
static gsize
entry_fixed_size (MqEntryOp op)
{
  switch (op)
    {
    case MQ_ENTRY_CREATE:
    case MQ_ENTRY_CLOSE:
    case MQ_ENTRY_ABORT:
    case MQ_ENTRY_BURY:
    case MQ_ENTRY_RETRY:
      return 8;
    case MQ_ENTRY_PUSH:
    case MQ_ENTRY_MOVE:
      return 8 + MQ_MSG_HEADER_SIZE;
    case MQ_ENTRY_TAKE:
      return 8 + 1 + 4 + 2;
    case MQ_ENTRY_FLUSH:
    case MQ_ENTRY_DROP:
    case MQ_ENTRY_END:
    case MQ_ENTRY_REFUSE:
      return 0;
    }
  return G_MAXSIZE;
}

void
entry_put (MqJournal *journal, const MqEntry *entry)
{
  gsize payload = entry_has_message (entry->op) ? entry->header.len : 0;
  guint8 *p = journal_begin (journal, 3 + entry->name_len
                             + entry_fixed_size (entry->op) + payload);

  *p++ = (guint8) entry->op;
  record_put_be (p, entry->name_len, 2);
  p += 2;
  if (entry->name_len > 0)
    memcpy (p, entry->name, entry->name_len);
  p += entry->name_len;
  switch (entry->op)
    {
    case MQ_ENTRY_CREATE:
      record_put_be (p, entry->inc, 8);
      break;
    case MQ_ENTRY_PUSH:
    case MQ_ENTRY_MOVE:
      record_put_be (p, entry->seq, 8);
      record_msg_encode (&entry->header, p + 8);
      if (payload > 0)
        memcpy (p + 8 + MQ_MSG_HEADER_SIZE, entry->payload, payload);
      break;
    case MQ_ENTRY_TAKE:
      record_put_be (p, entry->seq, 8);
      p[8] = (guint8) entry->mode;
      record_put_be (p + 9, entry->len, 4);
      record_put_be (p + 13, entry->deliveries, 2);
      break;
    case MQ_ENTRY_CLOSE:
    case MQ_ENTRY_ABORT:
    case MQ_ENTRY_BURY:
    case MQ_ENTRY_RETRY:
      record_put_be (p, entry->seq, 8);
      break;
    case MQ_ENTRY_FLUSH:
    case MQ_ENTRY_DROP:
    case MQ_ENTRY_END:
    case MQ_ENTRY_REFUSE:
      break;
    }
  journal_finish (journal);
}

static gboolean
entry_decode_fields (const guint8 *p, gsize left, MqEntry *entry)
{
  switch (entry->op)
    {
    case MQ_ENTRY_CREATE:
      entry->inc = record_get_be (p, 8);
      return TRUE;
    case MQ_ENTRY_PUSH:
    case MQ_ENTRY_MOVE:
      entry->seq = record_get_be (p, 8);
      entry->payload = p + 8 + MQ_MSG_HEADER_SIZE;
      return record_msg_decode (p + 8, left - 8, &entry->header)
        && entry->header.len == left - 8 - MQ_MSG_HEADER_SIZE;
    case MQ_ENTRY_TAKE:
      entry->seq = record_get_be (p, 8);
      entry->mode = (MqTakeMode) p[8];
      entry->len = (guint32) record_get_be (p + 9, 4);
      entry->deliveries = (guint16) record_get_be (p + 13, 2);
      return entry->mode >= MQ_TAKE_POP && entry->mode <= MQ_TAKE_MOVE;
    case MQ_ENTRY_CLOSE:
    case MQ_ENTRY_ABORT:
    case MQ_ENTRY_BURY:
    case MQ_ENTRY_RETRY:
      entry->seq = record_get_be (p, 8);
      return TRUE;
    case MQ_ENTRY_FLUSH:
    case MQ_ENTRY_DROP:
    case MQ_ENTRY_END:
    case MQ_ENTRY_REFUSE:
      return left == 0;
    }
  return FALSE;
}

gboolean
entry_decode (const guint8 *body, gsize len, MqEntry *entry)
{
  gsize fixed;

  memset (entry, 0, sizeof *entry);
  if (len < 3)
    return FALSE;
  entry->op = (MqEntryOp) body[0];
  entry->name_len = record_get_be (body + 1, 2);
  entry->name = (const char *) body + 3;
  fixed = entry_fixed_size (entry->op);
  if (fixed == G_MAXSIZE || len < 3 + entry->name_len + fixed
      || (!entry_has_message (entry->op) && len != 3 + entry->name_len + fixed)
      || (entry->op == MQ_ENTRY_END) != (entry->name_len == 0))
    return FALSE;
  return entry_decode_fields (body + 3 + entry->name_len,
                              len - 3 - entry->name_len, entry);
}
