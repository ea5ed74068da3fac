/* lease.c: deadlines of reliable reads; see lease.h. */
#include "config.h"

#include "lease.h"

struct _MqLease {
  gint64 deadline_us;
  MqLeaseFunc func;
  gpointer data;
  GSequenceIter *iter;
};

static GSequence *leases;         /* MqLease by deadline */

static gint
compare_leases (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const MqLease *x = a, *y = b;

  if (x->deadline_us != y->deadline_us)
    return x->deadline_us < y->deadline_us ? -1 : 1;
  return x < y ? -1 : x > y;
}

MqLease *
lease_start (gint64 deadline_us, MqLeaseFunc func, gpointer data)
{
  MqLease *lease = g_new (MqLease, 1);

  if (leases == NULL)
    leases = g_sequence_new (g_free);
  lease->deadline_us = deadline_us;
  lease->func = func;
  lease->data = data;
  lease->iter = g_sequence_insert_sorted (leases, lease, compare_leases,
                                          NULL);
  return lease;
}

void
lease_extend (MqLease *lease, gint64 deadline_us)
{
  lease->deadline_us = deadline_us;
  g_sequence_sort_changed (lease->iter, compare_leases, NULL);
}

gint64
lease_deadline (const MqLease *lease)
{
  return lease->deadline_us;
}

void
lease_end (MqLease *lease)
{
  g_sequence_remove (lease->iter);
}

static MqLease *
leases_first (void)
{
  GSequenceIter *first;

  if (leases == NULL)
    return NULL;
  first = g_sequence_get_begin_iter (leases);
  return g_sequence_iter_is_end (first) ? NULL : g_sequence_get (first);
}

void
leases_expire (gint64 now_us)
{
  MqLease *lease;

  while ((lease = leases_first ()) != NULL && lease->deadline_us <= now_us)
    {
      MqLeaseFunc func = lease->func;
      gpointer data = lease->data;

      lease_end (lease);
      func (data);
    }
}

gint64
leases_next_deadline (void)
{
  MqLease *lease = leases_first ();

  return lease != NULL ? lease->deadline_us : -1;
}
