/* brokerpub: the plain publisher bench/forward holds mqd-forward against.
 * It sends COUNT persistent messages of SIZE bytes straight to the broker
 * through the libraries mqd-forward uses, as mqd-forward sends them (each
 * with a message id, never more than WINDOW unconfirmed), so its rate is
 * what one publisher gets from that broker on this machine:
 *
 *   brokerpub amqp URL QUEUE COUNT SIZE WINDOW    librabbitmq, publisher
 *                     confirms, persistent, mandatory, message_id
 *   brokerpub nats URL SUBJECT COUNT SIZE WINDOW  libnats, JetStream async
 *                     publish, Nats-Msg-Id
 *
 * Prints one line: RESULT published=N refused=N seconds=S rate=R
 * (refused: nacked or returned by RabbitMQ, failed acks of JetStream).
 * Exits 1 when the broker cannot be reached or stops answering. */
#include "config.h"

#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_RABBITMQ
#ifdef HAVE_RABBITMQ_C_AMQP_H
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif
#endif
#ifdef HAVE_NATS
#include <nats/nats.h>
#endif

#define ID_SIZE 64
/* A broker that answers nothing for this long has failed the run. */
#define ANSWER_TIMEOUT_S 60

typedef struct {
  const char *url;
  const char *target;   /* queue or subject */
  uint64_t count;
  size_t size;
  uint64_t window;
  char *payload;
  uint64_t refused;
} Run;

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
message_id (char *id, uint64_t i)
{
  snprintf (id, ID_SIZE, "brokerpub.%" PRIu64, i);
}

#ifdef HAVE_RABBITMQ
static void
amqp_check (amqp_rpc_reply_t reply, const char *what)
{
  if (reply.reply_type != AMQP_RESPONSE_NORMAL)
    errx (1, "%s: AMQP reply type %d (library error %s)", what,
          reply.reply_type, amqp_error_string2 (reply.library_error));
}

static amqp_connection_state_t
amqp_start (const Run *run)
{
  struct amqp_connection_info info;
  char *url = strdup (run->url);
  amqp_connection_state_t conn = amqp_new_connection ();
  amqp_socket_t *sock = amqp_tcp_socket_new (conn);

  if (url == NULL || amqp_parse_url (url, &info) != AMQP_STATUS_OK)
    errx (1, "%s: not an amqp:// URL", run->url);
  /* As mqd-forward: "amqp://host/" means the default vhost, not "". */
  if (info.vhost[0] == '\0')
    info.vhost = "/";
  if (sock == NULL || amqp_socket_open (sock, info.host, info.port) != 0)
    errx (1, "cannot connect to %s:%d", info.host, info.port);
  amqp_check (amqp_login (conn, info.vhost, 0, 131072, 0,
                          AMQP_SASL_METHOD_PLAIN, info.user, info.password),
              "login");
  amqp_channel_open (conn, 1);
  amqp_check (amqp_get_rpc_reply (conn), "channel.open");
  amqp_confirm_select (conn, 1);
  amqp_check (amqp_get_rpc_reply (conn), "confirm.select");
  free (url);
  return conn;
}

static void
amqp_send (amqp_connection_state_t conn, Run *run, uint64_t i)
{
  char id[ID_SIZE];
  amqp_basic_properties_t props = {
    ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG,
    .delivery_mode = 2,
  };
  amqp_bytes_t body = { run->size, run->payload };

  message_id (id, i);
  props.message_id = amqp_cstring_bytes (id);
  if (amqp_basic_publish (conn, 1, amqp_empty_bytes,
                          amqp_cstring_bytes (run->target), 1, 0, &props,
                          body) != AMQP_STATUS_OK)
    errx (1, "basic.publish failed");
}

/* Which publishes the broker has settled (acked or nacked), by delivery
 * tag: a nack may come before the ack of an earlier tag, and either may
 * settle every tag up to its own (multiple). */
typedef struct {
  unsigned char *settled;   /* [1 .. count] */
  uint64_t oldest;          /* the oldest tag not settled */
  uint64_t done;            /* how many are */
} Confirms;

static void
settle (Confirms *c, Run *run, uint64_t tag, int multiple, int refused)
{
  for (uint64_t t = multiple ? c->oldest : tag; t <= tag; t++)
    if (!c->settled[t])
      {
        c->settled[t] = 1;
        c->done++;
        run->refused += refused;
      }
  while (c->oldest <= run->count && c->settled[c->oldest])
    c->oldest++;
}

/* Waits for the broker's next frame and takes what it says. */
static void
amqp_answer (amqp_connection_state_t conn, Run *run, Confirms *c)
{
  struct timeval timeout = { ANSWER_TIMEOUT_S, 0 };
  amqp_frame_t frame;
  amqp_message_t returned;

  if (amqp_simple_wait_frame_noblock (conn, &frame, &timeout)
      != AMQP_STATUS_OK)
    errx (1, "no confirm within %d s (%" PRIu64 " of %" PRIu64
          " settled)", ANSWER_TIMEOUT_S, c->done, run->count);
  if (frame.frame_type != AMQP_FRAME_METHOD)
    return;
  switch (frame.payload.method.id)
    {
    case AMQP_BASIC_ACK_METHOD:
      {
        amqp_basic_ack_t *ack = frame.payload.method.decoded;

        settle (c, run, ack->delivery_tag, ack->multiple, 0);
        break;
      }
    case AMQP_BASIC_NACK_METHOD:
      {
        amqp_basic_nack_t *nack = frame.payload.method.decoded;

        settle (c, run, nack->delivery_tag, nack->multiple, 1);
        break;
      }
    case AMQP_BASIC_RETURN_METHOD:
      /* Unroutable: the message comes back, then its ack. */
      run->refused++;
      amqp_check (amqp_read_message (conn, 1, &returned, 0), "return");
      amqp_destroy_message (&returned);
      break;
    default:
      errx (1, "unexpected method 0x%08x", frame.payload.method.id);
    }
}

static void
publish_amqp (Run *run)
{
  amqp_connection_state_t conn = amqp_start (run);
  Confirms c = { calloc (run->count + 1, 1), 1, 0 };
  uint64_t sent = 0;

  if (c.settled == NULL)
    errx (1, "out of memory");
  while (c.done < run->count)
    {
      /* Tags count from 1; those below oldest are settled. */
      while (sent < run->count && sent + 1 - c.oldest < run->window)
        amqp_send (conn, run, sent++);
      amqp_answer (conn, run, &c);
    }
  free (c.settled);
  amqp_channel_close (conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close (conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection (conn);
}
#endif

#ifdef HAVE_NATS
static void
nats_check (natsStatus s, const char *what)
{
  if (s != NATS_OK)
    errx (1, "%s: %s (%s)", what, natsStatus_GetText (s),
          nats_GetLastError (NULL) ? nats_GetLastError (NULL) : "");
}

static void
on_failed_ack (jsCtx *js, jsPubAckErr *err, void *closure)
{
  Run *run = closure;

  run->refused++;
}

static void
publish_nats (Run *run)
{
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  jsOptions options;
  jsPubOptions pub;

  nats_check (natsConnection_ConnectTo (&nc, run->url), "connect");
  jsOptions_Init (&options);
  options.PublishAsync.MaxPending = (int64_t) run->window;
  options.PublishAsync.StallWait = ANSWER_TIMEOUT_S * 1000;
  options.PublishAsync.ErrHandler = on_failed_ack;
  options.PublishAsync.ErrHandlerClosure = run;
  nats_check (natsConnection_JetStream (&js, nc, &options), "JetStream");
  for (uint64_t i = 0; i < run->count; i++)
    {
      char id[ID_SIZE];

      message_id (id, i);
      jsPubOptions_Init (&pub);
      pub.MsgId = id;
      nats_check (js_PublishAsync (js, run->target, run->payload,
                                   (int) run->size, &pub), "publish");
    }
  jsPubOptions_Init (&pub);
  pub.MaxWait = ANSWER_TIMEOUT_S * 1000;
  nats_check (js_PublishAsyncComplete (js, &pub), "waiting for the acks");
  jsCtx_Destroy (js);
  natsConnection_Destroy (nc);
}
#endif

static const struct {
  const char *name;
  void (*publish) (Run *run);
} publishers[] = {
#ifdef HAVE_RABBITMQ
  { "amqp", publish_amqp },
#endif
#ifdef HAVE_NATS
  { "nats", publish_nats },
#endif
  { NULL, NULL },
};

static uint64_t
number (const char *text, const char *what)
{
  char *end;
  unsigned long long n = strtoull (text, &end, 10);

  if (*text == '\0' || *end != '\0' || n == 0)
    errx (1, "%s: '%s' is not a positive number", what, text);
  return n;
}

int
main (int argc, char **argv)
{
  Run run = { 0 };
  size_t p = 0;

  if (argc != 7)
    errx (1, "usage: brokerpub amqp|nats URL QUEUE|SUBJECT COUNT SIZE "
          "WINDOW");
  while (publishers[p].name != NULL && strcmp (publishers[p].name, argv[1]))
    p++;
  if (publishers[p].name == NULL)
    errx (1, "'%s': not amqp or nats, or built without its library",
          argv[1]);
  run.url = argv[2];
  run.target = argv[3];
  run.count = number (argv[4], "COUNT");
  run.size = number (argv[5], "SIZE");
  run.window = number (argv[6], "WINDOW");
  if ((run.payload = malloc (run.size)) == NULL)
    errx (1, "out of memory");
  memset (run.payload, 'x', run.size);

  double start = now ();
  publishers[p].publish (&run);
  double seconds = now () - start;

  printf ("RESULT published=%" PRIu64 " refused=%" PRIu64
          " seconds=%.3f rate=%.0f\n", run.count, run.refused, seconds,
          run.count / seconds);
  free (run.payload);
  return 0;
}
