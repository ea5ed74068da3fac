/* run.h: one route's thread: its settings, its counters (read by the main
 * thread for the log and the status file) and the stop request it obeys. */
#pragma once

#include <mqclient.h>

#include "backoff.h"
#include "broker.h"
#include "routes.h"

typedef struct {
  guint64 forwarded;   /* messages sent on (to the broker / to mqd) */
  guint64 confirmed;   /* messages settled on both sides */
  guint64 retried;     /* sends repeated after a broken link */
  guint64 nacked;      /* refused by the broker (outbound: given back to
                          mqd; inbound: rejected, too large for mqd) */
  guint64 lag;         /* outbound: messages waiting in the local queue;
                          inbound: deliveries held, not yet stored */
} FwdCounters;

typedef struct {
  const FwdConfig *config;
  const FwdRoute *route;
  gboolean drain;      /* return once there is nothing to move */

  GMutex lock;         /* guards what follows */
  GCond wake;
  gboolean stopping;
  FwdCounters counters;
  char *state;         /* "up amqp://host:5672/", "down: why", ... */
} FwdRun;

void fwd_run_init (FwdRun *run, const FwdConfig *config,
                   const FwdRoute *route, gboolean drain);
void fwd_run_clear (FwdRun *run);

/* Asks the route to return. */
void fwd_run_stop (FwdRun *run);
gboolean fwd_run_stopping (FwdRun *run);
/* Waits ms unless asked to stop; TRUE when asked. */
gboolean fwd_run_sleep (FwdRun *run, guint64 ms);

/* Adds to the counters (delta), sets lag when lag >= 0. */
void fwd_run_count (FwdRun *run, const FwdCounters *delta, gint64 lag);
/* Sets the state the status shows, and logs it. */
void fwd_run_set_state (FwdRun *run, gboolean up, const char *format, ...)
  G_GNUC_PRINTF (3, 4);
/* "NAME forwarded=.. confirmed=.. retried=.. nacked=.. lag=.. state=.." */
char *fwd_run_status_line (FwdRun *run);

/* A handle on mqd for the route: its calls give up on an mqd that stays
 * silent for the route's confirm_timeout (beyond a blocking read's own
 * wait), so a hung mqd is a broken connection, not a hung route. */
mq_client *fwd_run_connect (FwdRun *run);

/* Connects to the next of the route's servers, after a backoff when the
 * last try failed; TRUE when the link is up. */
typedef struct {
  FwdRun *run;
  FwdBroker *broker;
  FwdBackoff backoff;
  GRand *rand;
  guint next_server;
  gboolean failed;      /* the last link failed: back off first */
  gboolean up;
} FwdLinker;

void fwd_linker_init (FwdLinker *linker, FwdRun *run);
void fwd_linker_clear (FwdLinker *linker);
gboolean fwd_linker_up (FwdLinker *linker);
/* The route's state is "up" and the server linked to, again (after its
 * mqd side failed and came back). */
void fwd_linker_say_up (FwdLinker *linker);
/* The link broke (error says why): closed, the next try backs off. */
void fwd_linker_down (FwdLinker *linker, const GError *error);

/* The two pumps; each returns when stopped or, with drain, done. */
void fwd_outbound_run (FwdRun *run);
void fwd_inbound_run (FwdRun *run);
