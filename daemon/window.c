/* window.c: a connection's reliable reads; see window.h. */
#include "config.h"

#include <string.h>

#include "lease.h"
#include "mqshared.h"
#include "queue.h"
#include "window.h"

typedef struct _MqWindow MqWindow;

typedef struct {
  guint64 seq;
  MqLease *lease;                 /* NULL: none, or it ran out */
  gint64 lease_ms;
  gboolean expired;               /* given back when its lease ran out */
  MqWindow *window;
} MqOpenRead;

struct _MqWindow {
  GQueue reads;                   /* MqOpenRead, oldest first */
  gsize name_len;
  char name[];                    /* NUL-terminated: the table's key */
};

static void
open_read_give_back (MqOpenRead *open)
{
  MqWindow *window = open->window;
  MqQueue *queue = queue_lookup (window->name, window->name_len);
  g_autoptr (GError) error = NULL;

  if (queue != NULL && !queue_abort_read (queue, open->seq, -1, &error)
      && error != NULL)
    g_warning ("cannot give back a read of %s: %s", queue->name,
               error->message);
}

/* The lease ran out: the message goes back as if the read was aborted. */
static void
open_read_expire (gpointer data)
{
  MqOpenRead *open = data;

  open->lease = NULL;
  open->expired = TRUE;
  open_read_give_back (open);
}

/* A lease that ran out since the last pass end runs out now: a close
 * after the deadline is refused, whenever the loop gets to it. */
static gboolean
open_read_expired (MqOpenRead *open)
{
  if (open->lease != NULL
      && lease_deadline (open->lease) <= g_get_monotonic_time ())
    {
      lease_end (open->lease);
      open_read_expire (open);
    }
  return open->expired;
}

static void
open_read_free (gpointer data)
{
  MqOpenRead *open = data;

  if (open->lease != NULL)
    lease_end (open->lease);
  g_free (open);
}

static void
window_free (gpointer data)
{
  MqWindow *window = data;

  g_queue_clear_full (&window->reads, open_read_free);
  g_free (window);
}

static MqWindow *
window_find (MqWindows *windows, const char *name, gsize len)
{
  char key[MQ_MAX_NAME + 1];

  if (windows->queues == NULL || len > MQ_MAX_NAME)
    return NULL;
  memcpy (key, name, len);
  key[len] = '\0';
  return g_hash_table_lookup (windows->queues, key);
}

/* An empty window is forgotten: a connection that reads many queues in
 * turn keeps no memory for them. */
static void
window_forget_if_empty (MqWindows *windows, MqWindow *window)
{
  if (g_queue_is_empty (&window->reads))
    g_hash_table_remove (windows->queues, window->name);
}

void
windows_clear (MqWindows *windows)
{
  g_clear_pointer (&windows->queues, g_hash_table_unref);
  windows->n = 0;
}

void
windows_give_back (MqWindows *windows)
{
  GHashTableIter iter;
  gpointer value;

  if (windows->queues == NULL)
    return;
  /* A queue hands given-back messages out again by sequence number, so
   * the order in which they go back does not matter. */
  g_hash_table_iter_init (&iter, windows->queues);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MqWindow *window = value;

      for (GList *l = window->reads.head; l != NULL; l = l->next)
        if (!open_read_expired (l->data))
          open_read_give_back (l->data);
    }
  windows_clear (windows);
}

guint
windows_count (const MqWindows *windows)
{
  return windows->n;
}

guint
window_length (MqWindows *windows, const char *name, gsize len)
{
  MqWindow *window = window_find (windows, name, len);

  return window != NULL ? window->reads.length : 0;
}

gboolean
window_has_open (MqWindows *windows, const char *name, gsize len)
{
  MqWindow *window = window_find (windows, name, len);

  for (GList *l = window != NULL ? window->reads.head : NULL; l != NULL;
       l = l->next)
    if (!open_read_expired (l->data))
      return TRUE;
  return FALSE;
}

static void
open_read_lease (MqOpenRead *open, gint64 lease_ms)
{
  gint64 deadline = g_get_monotonic_time () + lease_ms * 1000;

  open->lease_ms = lease_ms;
  if (open->lease != NULL)
    lease_extend (open->lease, deadline);
  else
    open->lease = lease_start (deadline, open_read_expire, open);
}

void
window_add (MqWindows *windows, const char *name, gsize len, guint64 seq,
            gint64 lease_ms)
{
  MqWindow *window = window_find (windows, name, len);
  MqOpenRead *open = g_new0 (MqOpenRead, 1);

  g_return_if_fail (len <= MQ_MAX_NAME);
  if (windows->queues == NULL)
    windows->queues = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                             window_free);
  if (window == NULL)
    {
      window = g_malloc0 (sizeof *window + len + 1);
      window->name_len = len;
      memcpy (window->name, name, len);
      g_hash_table_insert (windows->queues, window->name, window);
    }
  open->seq = seq;
  open->window = window;
  if (lease_ms > 0)
    open_read_lease (open, lease_ms);
  g_queue_push_tail (&window->reads, open);
  windows->n++;
}

guint
window_drop_expired (MqWindows *windows, const char *name, gsize len)
{
  MqWindow *window = window_find (windows, name, len);
  guint dropped = 0;
  GList *l, *next;

  if (window == NULL)
    return 0;
  for (l = window->reads.head; l != NULL; l = next)
    {
      next = l->next;
      if (open_read_expired (l->data))
        {
          open_read_free (l->data);
          g_queue_delete_link (&window->reads, l);
          dropped++;
        }
    }
  windows->n -= dropped;
  window_forget_if_empty (windows, window);
  return dropped;
}

guint
window_take (MqWindows *windows, const char *name, gsize len, guint n,
             GArray *seqs)
{
  MqWindow *window = window_find (windows, name, len);
  guint expired = 0;

  g_return_val_if_fail (n == 0 || (window != NULL
                                   && n <= window->reads.length), 0);
  for (guint i = 0; i < n; i++)
    {
      MqOpenRead *open = g_queue_pop_head (&window->reads);

      if (open_read_expired (open))
        expired++;
      else
        g_array_append_val (seqs, open->seq);
      open_read_free (open);
    }
  windows->n -= n;
  if (window != NULL)
    window_forget_if_empty (windows, window);
  return expired;
}

MqReadState
window_touch (MqWindows *windows, const char *name, gsize len,
              gint64 lease_ms)
{
  guint expired = window_drop_expired (windows, name, len);
  MqWindow *window = window_find (windows, name, len);

  for (GList *l = window != NULL ? window->reads.head : NULL; l != NULL;
       l = l->next)
    {
      MqOpenRead *open = l->data;

      if (lease_ms > 0 || open->lease_ms > 0)
        open_read_lease (open, lease_ms > 0 ? lease_ms : open->lease_ms);
    }
  if (expired > 0)
    return MQ_READ_EXPIRED;
  return window != NULL ? MQ_READ_OPEN : MQ_READ_NONE;
}
