/* broker.c: see broker.h. */
#include "config.h"

#include <string.h>

#include "broker.h"

G_DEFINE_QUARK (fwd-broker-error-quark, fwd_broker_error)

FwdBroker *
fwd_broker_new (const FwdRoute *route)
{
  switch (route->kind)
    {
#ifdef HAVE_RABBITMQ
    case FWD_KIND_RABBITMQ:
      return fwd_rabbitmq_new (route);
#endif
#ifdef HAVE_NATS
    case FWD_KIND_NATS:
      return fwd_nats_new (route);
#endif
    default:
      return NULL;
    }
}

char *
fwd_url_for_log (const char *url)
{
  const char *host = strstr (url, "://");
  const char *at;

  if (host == NULL)
    return g_strdup (url);
  host += 3;
  at = strchr (host, '@');
  if (at == NULL || strcspn (host, "/") < (gsize) (at - host))
    return g_strdup (url);
  return g_strdup_printf ("%.*s%s", (int) (host - url), url, at + 1);
}
