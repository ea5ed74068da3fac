/* entry.c: journal entries' bodies; see entry.h. */
#include "config.h"

#include <string.h>

#include "entry.h"

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
      return 8;
    case MQ_ENTRY_PUSH:
      return 8 + MQ_MSG_HEADER_SIZE;
    case MQ_ENTRY_TAKE:
      return 8 + 1 + 4;
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
  gsize payload = entry->op == MQ_ENTRY_PUSH ? entry->header.len : 0;
  guint8 *p = journal_begin (journal, 2 + entry->name_len
                             + entry_fixed_size (entry->op) + payload);

  *p++ = (guint8) entry->op;
  *p++ = (guint8) entry->name_len;
  if (entry->name_len > 0)
    memcpy (p, entry->name, entry->name_len);
  p += entry->name_len;
  switch (entry->op)
    {
    case MQ_ENTRY_CREATE:
      record_put_be (p, entry->inc, 8);
      break;
    case MQ_ENTRY_PUSH:
      record_put_be (p, entry->seq, 8);
      record_msg_encode (&entry->header, p + 8);
      if (payload > 0)
        memcpy (p + 8 + MQ_MSG_HEADER_SIZE, entry->payload, payload);
      break;
    case MQ_ENTRY_TAKE:
      record_put_be (p, entry->seq, 8);
      p[8] = (guint8) entry->mode;
      record_put_be (p + 9, entry->len, 4);
      break;
    case MQ_ENTRY_CLOSE:
    case MQ_ENTRY_ABORT:
    case MQ_ENTRY_BURY:
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
      entry->seq = record_get_be (p, 8);
      entry->payload = p + 8 + MQ_MSG_HEADER_SIZE;
      return record_msg_decode (p + 8, left - 8, &entry->header)
        && entry->header.len == left - 8 - MQ_MSG_HEADER_SIZE;
    case MQ_ENTRY_TAKE:
      entry->seq = record_get_be (p, 8);
      entry->mode = (MqTakeMode) p[8];
      entry->len = (guint32) record_get_be (p + 9, 4);
      return entry->mode >= MQ_TAKE_POP && entry->mode <= MQ_TAKE_EXPIRE;
    case MQ_ENTRY_CLOSE:
    case MQ_ENTRY_ABORT:
    case MQ_ENTRY_BURY:
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
  if (len < 2)
    return FALSE;
  entry->op = (MqEntryOp) body[0];
  entry->name_len = body[1];
  entry->name = (const char *) body + 2;
  fixed = entry_fixed_size (entry->op);
  if (fixed == G_MAXSIZE || len < 2 + entry->name_len + fixed
      || (entry->op != MQ_ENTRY_PUSH && len != 2 + entry->name_len + fixed)
      || (entry->op == MQ_ENTRY_END) != (entry->name_len == 0))
    return FALSE;
  return entry_decode_fields (body + 2 + entry->name_len,
                              len - 2 - entry->name_len, entry);
}
