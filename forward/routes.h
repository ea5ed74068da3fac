/* routes.h: mqd-forward's configuration file, a GKeyFile in the style of
 * mqd's -f file: [default] for the program, one group per route.
 * fwd_config_parse is pure, so it is unit-tested. */
#pragma once

#include <glib.h>

typedef enum {
  FWD_KIND_RABBITMQ,
  FWD_KIND_NATS,
} FwdKind;

typedef enum {
  FWD_OUT,   /* local queue -> broker */
  FWD_IN,    /* broker -> local queue */
} FwdDirection;

typedef struct {
  char *name;
  FwdKind kind;
  FwdDirection direction;
  char *local;             /* the mqd queue */
  GStrv servers;           /* broker URLs, tried in turn */
  char *queue;             /* RabbitMQ: the queue published to / consumed */
  char *subject;           /* NATS: subject published to / consumer filter */
  char *stream;            /* NATS in: the consumer's stream */
  char *durable;           /* NATS in: the durable consumer's name */
  guint window;            /* messages in flight at most */
  guint64 confirm_timeout_ms;  /* an ack not back by then: broken link */
} FwdRoute;

typedef struct {
  char *socket;            /* mqd's socket; NULL: libmqclient's default */
  char *status_file;       /* counters written there; NULL: none */
  guint64 status_interval_ms;
  guint64 backoff_min_ms;
  guint64 backoff_max_ms;
  GPtrArray *routes;       /* FwdRoute *, in file order */
} FwdConfig;

#define FWD_DEFAULT_WINDOW 256
#define FWD_MAX_WINDOW 65535

FwdConfig *fwd_config_load (const char *path, GError **error);
/* The same from text already read; path names it in errors. */
FwdConfig *fwd_config_parse (const char *path, const char *text,
                             GError **error);
void fwd_config_free (FwdConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FwdConfig, fwd_config_free)

/* The route called name, or NULL. */
FwdRoute *fwd_config_route (FwdConfig *config, const char *name);

const char *fwd_kind_name (FwdKind kind);
