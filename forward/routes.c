/* routes.c: see routes.h. */
#include "config.h"

#include <string.h>

#include "configfile.h"
#include "mqshared.h"
#include "routes.h"

#define DEFAULT_GROUP "default"
#define MAX_DURATION_MS (24 * 3600 * 1000)

/* The keys a group takes, for the message that refuses another. */
#define DEFAULT_KEYS "socket, status_file, status_interval, backoff_min, " \
  "backoff_max, window, confirm_timeout"
#define ROUTE_KEYS "direction, local, rabbitmq, nats, queue, subject, " \
  "stream, durable, window, confirm_timeout"

const char *
fwd_kind_name (FwdKind kind)
{
  return kind == FWD_KIND_RABBITMQ ? "rabbitmq" : "nats";
}

static void
route_free (gpointer data)
{
  FwdRoute *route = data;

  g_free (route->name);
  g_free (route->local);
  g_strfreev (route->servers);
  g_free (route->queue);
  g_free (route->subject);
  g_free (route->stream);
  g_free (route->durable);
  g_free (route);
}

void
fwd_config_free (FwdConfig *config)
{
  g_free (config->socket);
  g_free (config->status_file);
  g_ptr_array_unref (config->routes);
  g_free (config);
}

FwdRoute *
fwd_config_route (FwdConfig *config, const char *name)
{
  for (guint i = 0; i < config->routes->len; i++)
    {
      FwdRoute *route = g_ptr_array_index (config->routes, i);

      if (strcmp (route->name, name) == 0)
        return route;
    }
  return NULL;
}

/* Reads group.key into *value when present; FALSE with the error set when
 * it is present but empty. */
static gboolean
read_text (MqConfigFile *file, const char *group, const char *key,
           char **value, GError **error)
{
  g_autofree char *raw = configfile_value (file, group, key);

  if (raw == NULL)
    return TRUE;
  g_strstrip (raw);
  if (raw[0] == '\0')
    {
      configfile_error (file, group, key, error, "empty value");
      return FALSE;
    }
  g_free (*value);
  *value = g_steal_pointer (&raw);
  return TRUE;
}

static gboolean
read_duration (MqConfigFile *file, const char *group, const char *key,
               guint64 min_ms, guint64 *ms, GError **error)
{
  g_autofree char *text = NULL;
  uint64_t value;

  if (!read_text (file, group, key, &text, error))
    return FALSE;
  if (text == NULL)
    return TRUE;
  if (!mq_shared_parse_duration (text, MAX_DURATION_MS, &value)
      || value < min_ms)
    {
      g_autofree char *why = g_strdup_printf (
        "'%s' is not a duration from %" G_GUINT64_FORMAT " ms to 24h "
        "(digits then ms, s, m or h; bare digits are seconds)", text,
        min_ms);

      configfile_error (file, group, key, error, why);
      return FALSE;
    }
  *ms = value;
  return TRUE;
}

static gboolean
read_window (MqConfigFile *file, const char *group, guint *window,
             GError **error)
{
  g_autofree char *text = NULL;
  guint64 value;

  if (!read_text (file, group, "window", &text, error))
    return FALSE;
  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, 1, FWD_MAX_WINDOW, &value,
                                   NULL))
    {
      configfile_error (file, group, "window", error,
                        "not a number of messages from 1 to "
                        G_STRINGIFY (FWD_MAX_WINDOW));
      return FALSE;
    }
  *window = value;
  return TRUE;
}

static gboolean
check_keys (MqConfigFile *file, const char *group, const char *allowed,
            GError **error)
{
  g_auto (GStrv) keys = configfile_keys (file, group);
  g_auto (GStrv) names = g_strsplit (allowed, ", ", -1);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    if (!g_strv_contains ((const char *const *) names, keys[i]))
      {
        g_autofree char *why = g_strdup_printf ("unknown key (this group "
                                                "takes %s)", allowed);

        configfile_error (file, group, keys[i], error, why);
        return FALSE;
      }
  return TRUE;
}

static gboolean
read_defaults (MqConfigFile *file, FwdConfig *config, FwdRoute *defaults,
               GError **error)
{
  return check_keys (file, DEFAULT_GROUP, DEFAULT_KEYS, error)
    && read_text (file, DEFAULT_GROUP, "socket", &config->socket, error)
    && read_text (file, DEFAULT_GROUP, "status_file", &config->status_file,
                  error)
    && read_duration (file, DEFAULT_GROUP, "status_interval", 10,
                      &config->status_interval_ms, error)
    && read_duration (file, DEFAULT_GROUP, "backoff_min", 10,
                      &config->backoff_min_ms, error)
    && read_duration (file, DEFAULT_GROUP, "backoff_max", 10,
                      &config->backoff_max_ms, error)
    && read_window (file, DEFAULT_GROUP, &defaults->window, error)
    && read_duration (file, DEFAULT_GROUP, "confirm_timeout", 100,
                      &defaults->confirm_timeout_ms, error);
}

static gboolean
read_direction (MqConfigFile *file, FwdRoute *route, GError **error)
{
  g_autofree char *text = NULL;

  if (!read_text (file, route->name, "direction", &text, error))
    return FALSE;
  if (g_strcmp0 (text, "out") == 0)
    route->direction = FWD_OUT;
  else if (g_strcmp0 (text, "in") == 0)
    route->direction = FWD_IN;
  else
    {
      configfile_error (file, route->name, text ? "direction" : NULL, error,
                        text ? "must be out (local queue to broker) or in "
                        "(broker to local queue)"
                        : "needs direction = out or in");
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_local (MqConfigFile *file, FwdRoute *route, GError **error)
{
  if (!read_text (file, route->name, "local", &route->local, error))
    return FALSE;
  if (route->local == NULL)
    {
      configfile_error (file, route->name, NULL, error,
                        "needs local = the mqd queue");
      return FALSE;
    }
  if (!mq_shared_valid_name (route->local, strlen (route->local)))
    {
      configfile_error (file, route->name, "local", error,
                        "not a valid queue name (" MQ_NAME_RULE ")");
      return FALSE;
    }
  return TRUE;
}

/* Why a kind cannot be used by this build, or NULL when it can. */
static const char *
kind_missing (FwdKind kind)
{
#ifndef HAVE_RABBITMQ
  if (kind == FWD_KIND_RABBITMQ)
    return "RabbitMQ routes are not available: this mqd-forward was built "
      "without librabbitmq (configure --without-rabbitmq, or "
      "librabbitmq-dev was missing)";
#endif
#ifndef HAVE_NATS
  if (kind == FWD_KIND_NATS)
    return "NATS routes are not available: this mqd-forward was built "
      "without libnats (configure --without-nats, or libnats-dev was "
      "missing)";
#endif
  return NULL;
}

/* Broker URLs: separated by commas or blanks, each scheme://host[...]. */
static gboolean
read_servers (MqConfigFile *file, FwdRoute *route, const char *key,
              GError **error)
{
  g_autofree char *text = NULL;
  g_autofree char *scheme = g_strconcat (key[0] == 'r' ? "amqp" : "nats",
                                         "://", NULL);
  g_autoptr (GPtrArray) servers = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) parts = NULL;

  if (!read_text (file, route->name, key, &text, error))
    return FALSE;
  parts = g_strsplit_set (text, ", \t", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0')
        continue;
      if (!g_str_has_prefix (parts[i], scheme)
          || parts[i][strlen (scheme)] == '\0')
        {
          g_autofree char *why = g_strdup_printf (
            "'%s' is not a %shost[:port]... URL", parts[i], scheme);

          configfile_error (file, route->name, key, error, why);
          return FALSE;
        }
      g_ptr_array_add (servers, g_strdup (parts[i]));
    }
  g_ptr_array_add (servers, NULL);
  route->servers = (GStrv) g_ptr_array_steal (servers, NULL);
  return TRUE;
}

static gboolean
read_kind (MqConfigFile *file, FwdRoute *route, GError **error)
{
  g_autofree char *rabbitmq = configfile_value (file, route->name,
                                                "rabbitmq");
  g_autofree char *nats = configfile_value (file, route->name, "nats");
  const char *key = rabbitmq != NULL ? "rabbitmq" : "nats";

  if ((rabbitmq == NULL) == (nats == NULL))
    {
      configfile_error (file, route->name, rabbitmq ? "nats" : NULL, error,
                        "needs one of rabbitmq = URLs or nats = URLs");
      return FALSE;
    }
  route->kind = rabbitmq != NULL ? FWD_KIND_RABBITMQ : FWD_KIND_NATS;
  if (kind_missing (route->kind) != NULL)
    {
      configfile_error (file, route->name, key, error,
                        kind_missing (route->kind));
      return FALSE;
    }
  return read_servers (file, route, key, error);
}

/* name is the key the route's kind and direction need; the others it must
 * not have. */
static gboolean
read_broker_key (MqConfigFile *file, FwdRoute *route, const char *key,
                 gboolean wanted, gboolean required, char **value,
                 GError **error)
{
  if (!read_text (file, route->name, key, value, error))
    return FALSE;
  if (*value != NULL && !wanted)
    {
      g_autofree char *why = g_strdup_printf ("not a key of a %s route "
                                              "with direction = %s",
                                              fwd_kind_name (route->kind),
                                              route->direction == FWD_OUT
                                              ? "out" : "in");

      configfile_error (file, route->name, key, error, why);
      return FALSE;
    }
  if (*value == NULL && required)
    {
      g_autofree char *why = g_strdup_printf ("a %s route with direction "
                                              "= %s needs %s",
                                              fwd_kind_name (route->kind),
                                              route->direction == FWD_OUT
                                              ? "out" : "in", key);

      configfile_error (file, route->name, NULL, error, why);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_broker_keys (MqConfigFile *file, FwdRoute *route, GError **error)
{
  gboolean rabbitmq = route->kind == FWD_KIND_RABBITMQ;
  gboolean nats_in = !rabbitmq && route->direction == FWD_IN;

  return read_broker_key (file, route, "queue", rabbitmq, rabbitmq,
                          &route->queue, error)
    && read_broker_key (file, route, "subject", !rabbitmq, !rabbitmq,
                        &route->subject, error)
    && read_broker_key (file, route, "stream", nats_in, nats_in,
                        &route->stream, error)
    && read_broker_key (file, route, "durable", nats_in, nats_in,
                        &route->durable, error);
}

static FwdRoute *
read_route (MqConfigFile *file, const char *group, const FwdRoute *defaults,
            GError **error)
{
  FwdRoute *route = g_new0 (FwdRoute, 1);

  route->name = g_strdup (group);
  route->window = defaults->window;
  route->confirm_timeout_ms = defaults->confirm_timeout_ms;
  if (check_keys (file, group, ROUTE_KEYS, error)
      && read_direction (file, route, error)
      && read_local (file, route, error)
      && read_kind (file, route, error)
      && read_broker_keys (file, route, error)
      && read_window (file, group, &route->window, error)
      && read_duration (file, group, "confirm_timeout", 100,
                        &route->confirm_timeout_ms, error))
    return route;
  route_free (route);
  return NULL;
}

static gboolean
check_backoff (MqConfigFile *file, FwdConfig *config, GError **error)
{
  if (config->backoff_min_ms <= config->backoff_max_ms)
    return TRUE;
  configfile_error (file, DEFAULT_GROUP, "backoff_max", error,
                    "shorter than backoff_min");
  return FALSE;
}

static FwdConfig *
read_config (MqConfigFile *file, const char *path, GError **error)
{
  g_autoptr (FwdConfig) config = g_new0 (FwdConfig, 1);
  FwdRoute defaults = { .window = FWD_DEFAULT_WINDOW,
                        .confirm_timeout_ms = 30000 };
  g_auto (GStrv) groups = NULL;

  config->routes = g_ptr_array_new_with_free_func (route_free);
  config->status_interval_ms = 1000;
  config->backoff_min_ms = 1000;
  config->backoff_max_ms = 60000;
  groups = configfile_groups (file);
  if (g_strv_contains ((const char *const *) groups, DEFAULT_GROUP)
      && !(read_defaults (file, config, &defaults, error)
           && check_backoff (file, config, error)))
    return NULL;
  for (guint i = 0; groups[i] != NULL; i++)
    {
      FwdRoute *route;

      if (strcmp (groups[i], DEFAULT_GROUP) == 0)
        continue;
      route = read_route (file, groups[i], &defaults, error);
      if (route == NULL)
        return NULL;
      g_ptr_array_add (config->routes, route);
    }
  if (config->routes->len == 0)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
                   "%s: no route (a group other than [default])", path);
      return NULL;
    }
  return g_steal_pointer (&config);
}

FwdConfig *
fwd_config_load (const char *path, GError **error)
{
  g_autoptr (MqConfigFile) file = configfile_load (path, error);

  return file != NULL ? read_config (file, path, error) : NULL;
}

FwdConfig *
fwd_config_parse (const char *path, const char *text, GError **error)
{
  g_autoptr (MqConfigFile) file = configfile_parse (path, text, error);

  return file != NULL ? read_config (file, path, error) : NULL;
}
