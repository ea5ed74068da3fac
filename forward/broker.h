/* broker.h: what a route needs of a broker, whichever it is.  One link
 * per route, used by the route's thread only.
 *
 * Outbound (local queue -> broker): send() publishes a window slot without
 * waiting; poll() reads what the broker said and marks slots acked or
 * refused.  Inbound (broker -> local queue): receive() takes up to a
 * window of deliveries, ack() tells the broker they are stored.
 *
 * Every call is bounded in time; a call returning FALSE (error set) means
 * the link is broken: close() it and connect again, maybe elsewhere. */
#pragma once

#include <glib.h>

#include "routes.h"
#include "window.h"

typedef struct {
  void *data;
  gsize len;
  const char *id;    /* the broker's message id, "" when none */
  guint64 tag;       /* the broker's handle, for ack() */
  gpointer message;  /* the link's own, freed with the delivery */
} FwdDelivery;

typedef struct _FwdBroker FwdBroker;

typedef struct {
  gboolean (*connect) (FwdBroker *broker, const char *url, GError **error);
  gboolean (*send) (FwdBroker *broker, FwdSlot *slot, GError **error);
  gboolean (*poll) (FwdBroker *broker, FwdWindow *window, int timeout_ms,
                    GError **error);
  /* Appends FwdDelivery pointers to deliveries (which frees them). */
  gboolean (*receive) (FwdBroker *broker, guint max, int timeout_ms,
                       GPtrArray *deliveries, GError **error);
  /* Acks list[0..n); all: they are every unacked delivery, in order. */
  gboolean (*ack) (FwdBroker *broker, FwdDelivery **list, guint n,
                   gboolean all, GError **error);
  /* How many messages the broker still has for the route (ready, or
   * delivered and not acked): a drain ends at 0. */
  gboolean (*remaining) (FwdBroker *broker, guint64 *count, GError **error);
  /* Refuses a delivery mqd can never take (too large): the broker's own
   * dead-lettering, if any, takes it. */
  gboolean (*reject) (FwdBroker *broker, FwdDelivery *delivery,
                      GError **error);
  void (*close) (FwdBroker *broker);
  void (*free) (FwdBroker *broker);
  void (*free_delivery) (gpointer delivery);
} FwdBrokerClass;

struct _FwdBroker {
  const FwdBrokerClass *klass;
  const FwdRoute *route;
};

/* The link of route's kind; NULL when this build lacks it (the
 * configuration refuses such routes first). */
FwdBroker *fwd_broker_new (const FwdRoute *route);

#ifdef HAVE_RABBITMQ
FwdBroker *fwd_rabbitmq_new (const FwdRoute *route);
#endif
#ifdef HAVE_NATS
FwdBroker *fwd_nats_new (const FwdRoute *route);
#endif

/* url without its user and password, for logs. */
char *fwd_url_for_log (const char *url);

#define FWD_BROKER_ERROR (fwd_broker_error_quark ())
GQuark fwd_broker_error_quark (void);
