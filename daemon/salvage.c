/* salvage.c: queues rebuilt from their segments; see salvage.h. */
#include "config.h"

#include <string.h>

#include "queue.h"
#include "salvage.h"

typedef struct {
  guint64 inc;                    /* the newest incarnation found */
  GArray *firsts;                 /* its segments' first seqs */
} Found;

static void
found_free (gpointer data)
{
  Found *found = data;

  g_array_unref (found->firsts);
  g_free (found);
}

static void
note_segment (const char *name, gsize name_len, guint64 inc, guint64 first,
              gpointer user_data)
{
  g_autofree char *key = g_strndup (name, name_len);
  Found *found = g_hash_table_lookup (user_data, key);

  if (found == NULL)
    {
      found = g_new0 (Found, 1);
      found->firsts = g_array_new (FALSE, FALSE, sizeof (guint64));
      g_hash_table_insert (user_data, g_steal_pointer (&key), found);
    }
  if (inc > found->inc)
    {
      found->inc = inc;
      g_array_set_size (found->firsts, 0);
    }
  if (inc == found->inc)
    g_array_append_val (found->firsts, first);
}

static gint
compare_seqs (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

/* Every message of the segments of one queue, in order; a segment that
 * cannot be read is passed over, said so. */
static gboolean
salvage_queue (MqStore *store, const char *name, Found *found,
               guint64 *messages, GError **error)
{
  MqQueue *queue = queue_lookup_or_create (name, strlen (name));
  guint64 hint = 0, done = 0;

  g_array_sort (found->firsts, compare_seqs);
  for (guint i = 0; i < found->firsts->len; i++)
    {
      guint64 first = g_array_index (found->firsts, guint64, i);
      g_autoptr (GError) local = NULL;
      MqRun *run;

      if (first < done)
        continue;                 /* a copy left by an evacuation */
      run = store_fetch (store, name, strlen (name), found->inc, first,
                         &hint, &local);
      if (run == NULL)
        {
          g_warning ("salvage of %s: segment from %" G_GUINT64_FORMAT
                     " lost: %s", name, first,
                     local != NULL ? local->message : "unreadable");
          continue;
        }
      for (guint64 seq = run_first (run); seq < run_end (run); seq++)
        {
          MqMsgHeader header;
          const guint8 *payload;

          run_find (run, seq, &header, &payload);
          if (!queue_load (queue, &header, payload, error))
            {
              run_unref (run);
              return FALSE;
            }
          (*messages)++;
        }
      done = run_end (run);
      run_unref (run);
      if (!queues_tidy (error))
        return FALSE;
    }
  return TRUE;
}

gboolean
salvage_queues (MqStore *store, GError **error)
{
  g_autoptr (GHashTable) found = g_hash_table_new_full (g_str_hash,
                                                        g_str_equal, g_free,
                                                        found_free);
  g_autoptr (GList) names = NULL;
  guint64 messages = 0;

  if (!store_scan_segments (store, note_segment, found, error))
    return FALSE;
  if (g_hash_table_size (found) == 0)
    return FALSE;
  names = g_list_sort (g_hash_table_get_keys (found), (GCompareFunc) strcmp);
  for (GList *l = names; l != NULL; l = l->next)
    if (!salvage_queue (store, l->data, g_hash_table_lookup (found, l->data),
                        &messages, error))
      return FALSE;
  g_critical ("the newest generation lost its queue states: %u queues and %"
              G_GUINT64_FORMAT " messages salvaged from the segments found "
              "(counters and open reads lost; consumed messages may come "
              "back)", g_hash_table_size (found), messages);
  return TRUE;
}
