/* link_rabbitmq.c: a route's link to RabbitMQ, AMQP 0.9.1 through
 * librabbitmq, on channel 1 of one connection.
 *
 * Out: publisher confirms, persistent messages, mandatory, message_id =
 * mqd's stable id, to the default exchange with the queue as routing key.
 * A basic.return (the queue is gone) or a basic.nack is a refusal.
 * In: basic.consume with manual acks and a prefetch of one window. */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#ifdef HAVE_RABBITMQ_C_AMQP_H
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#include "broker.h"

#define CHANNEL 1
#define SIDE_CHANNEL 2   /* for queue.declare, away from the deliveries */
#define FRAME_MAX 131072

typedef struct {
  FwdBroker base;
  amqp_connection_state_t conn;
  guint64 next_tag;       /* the delivery tag of the next publish */
} RabbitLink;

static gboolean
fail (GError **error, const char *what, const char *why)
{
  g_set_error (error, FWD_BROKER_ERROR, 0, "%s: %s", what, why);
  return FALSE;
}

static gboolean
check_status (int status, const char *what, GError **error)
{
  return status == AMQP_STATUS_OK
    || fail (error, what, amqp_error_string2 (status));
}

static char *
close_reason (const amqp_method_t *method)
{
  const amqp_channel_close_t *close = method->decoded;

  /* connection.close has the same first two fields as channel.close. */
  return g_strdup_printf ("%s closed by the broker: %d %.*s",
                          method->id == AMQP_CHANNEL_CLOSE_METHOD
                          ? "channel" : "connection", close->reply_code,
                          (int) close->reply_text.len,
                          (const char *) close->reply_text.bytes);
}

static gboolean
check_reply (amqp_rpc_reply_t reply, const char *what, GError **error)
{
  g_autofree char *why = NULL;

  switch (reply.reply_type)
    {
    case AMQP_RESPONSE_NORMAL:
      return TRUE;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return fail (error, what, amqp_error_string2 (reply.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      why = close_reason (&reply.reply);
      return fail (error, what, why);
    default:
      return fail (error, what, "no reply");
    }
}

static void
set_timeouts (RabbitLink *link, int fd)
{
  guint64 ms = link->base.route->confirm_timeout_ms;
  struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };
  unsigned int user_timeout = ms;

  amqp_set_handshake_timeout (link->conn, &tv);
  amqp_set_rpc_timeout (link->conn, &tv);
  /* librabbitmq writes without a deadline: the kernel bounds how long
   * sent bytes may stay unacknowledged by a broker that vanished. */
  setsockopt (fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
              sizeof user_timeout);
}

static gboolean
open_socket (RabbitLink *link, struct amqp_connection_info *info,
             GError **error)
{
  guint64 ms = link->base.route->confirm_timeout_ms;
  struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };
  amqp_socket_t *socket;

  link->conn = amqp_new_connection ();
  socket = amqp_tcp_socket_new (link->conn);
  if (socket == NULL)
    return fail (error, "connect", "cannot make a socket");
  if (!check_status (amqp_socket_open_noblock (socket, info->host,
                                               info->port, &tv),
                     "connect", error))
    return FALSE;
  set_timeouts (link, amqp_socket_get_sockfd (socket));
  return TRUE;
}

/* Heartbeats every half confirm timeout (1 to 60 s): an idle link that
 * died unseen is noticed by the library. */
static int
heartbeat_seconds (const FwdRoute *route)
{
  return CLAMP (route->confirm_timeout_ms / 2000, 1, 60);
}

static gboolean
start_channel (RabbitLink *link, GError **error)
{
  const FwdRoute *route = link->base.route;

  amqp_channel_open (link->conn, CHANNEL);
  if (!check_reply (amqp_get_rpc_reply (link->conn), "channel.open", error))
    return FALSE;
  if (route->direction == FWD_OUT)
    {
      amqp_confirm_select (link->conn, CHANNEL);
      link->next_tag = 1;
      return check_reply (amqp_get_rpc_reply (link->conn),
                          "confirm.select", error);
    }
  amqp_basic_qos (link->conn, CHANNEL, 0, route->window, 0);
  if (!check_reply (amqp_get_rpc_reply (link->conn), "basic.qos", error))
    return FALSE;
  amqp_basic_consume (link->conn, CHANNEL, amqp_cstring_bytes (route->queue),
                      amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  return check_reply (amqp_get_rpc_reply (link->conn), "basic.consume",
                      error);
}

static gboolean
rabbit_connect (FwdBroker *broker, const char *url, GError **error)
{
  RabbitLink *link = (RabbitLink *) broker;
  g_autofree char *copy = g_strdup (url);
  struct amqp_connection_info info;

  if (amqp_parse_url (copy, &info) != AMQP_STATUS_OK)
    return fail (error, "connect", "not an amqp:// URL");
  /* "amqp://host/" names the empty vhost, which no broker has: the
   * default one is meant, as in pika and the Java client. */
  if (info.vhost[0] == '\0')
    info.vhost = "/";
  return open_socket (link, &info, error)
    && check_reply (amqp_login (link->conn, info.vhost, 0, FRAME_MAX,
                                heartbeat_seconds (broker->route),
                                AMQP_SASL_METHOD_PLAIN, info.user,
                                info.password), "login", error)
    && start_channel (link, error);
}

static gboolean
rabbit_send (FwdBroker *broker, FwdSlot *slot, GError **error)
{
  RabbitLink *link = (RabbitLink *) broker;
  amqp_basic_properties_t props = {
    ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG,
    .delivery_mode = AMQP_DELIVERY_PERSISTENT,
    .message_id = amqp_cstring_bytes (slot->id),
  };
  amqp_bytes_t body = { .len = slot->len, .bytes = (void *) slot->data };

  if (!check_status (amqp_basic_publish (link->conn, CHANNEL,
                                         amqp_empty_bytes,
                                         amqp_cstring_bytes (broker->route->queue),
                                         1, 0, &props, body),
                     "basic.publish", error))
    return FALSE;
  slot->tag = link->next_tag++;
  return TRUE;
}

/* basic.return comes before the ack of its message: mark it refused by
 * its id, and the ack that follows finds it settled already. */
static gboolean
read_return (RabbitLink *link, FwdWindow *window, GError **error)
{
  amqp_message_t message;
  g_autofree char *id = NULL;

  if (!check_reply (amqp_read_message (link->conn, CHANNEL, &message, 0),
                    "basic.return", error))
    return FALSE;
  if (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
    {
      id = g_strndup (message.properties.message_id.bytes,
                      message.properties.message_id.len);
      fwd_window_mark_id (window, id, FWD_SLOT_NACKED);
    }
  amqp_destroy_message (&message);
  return TRUE;
}

static gboolean
handle_method (RabbitLink *link, FwdWindow *window, amqp_method_t *method,
               GError **error)
{
  g_autofree char *why = NULL;

  switch (method->id)
    {
    case AMQP_BASIC_ACK_METHOD:
      {
        amqp_basic_ack_t *ack = method->decoded;

        fwd_window_mark_tag (window, ack->delivery_tag, ack->multiple,
                             FWD_SLOT_ACKED);
        return TRUE;
      }
    case AMQP_BASIC_NACK_METHOD:
      {
        amqp_basic_nack_t *nack = method->decoded;

        fwd_window_mark_tag (window, nack->delivery_tag, nack->multiple,
                             FWD_SLOT_NACKED);
        return TRUE;
      }
    case AMQP_BASIC_RETURN_METHOD:
      return read_return (link, window, error);
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
      why = close_reason (method);
      return fail (error, "link", why);
    default:
      return TRUE;
    }
}

static gboolean
rabbit_poll (FwdBroker *broker, FwdWindow *window, int timeout_ms,
             GError **error)
{
  RabbitLink *link = (RabbitLink *) broker;
  struct timeval tv = { .tv_sec = timeout_ms / 1000,
                        .tv_usec = timeout_ms % 1000 * 1000 };

  amqp_maybe_release_buffers (link->conn);
  /* The first frame may be waited for; the rest are what came with it. */
  for (;;)
    {
      amqp_frame_t frame;
      int status = amqp_simple_wait_frame_noblock (link->conn, &frame, &tv);

      if (status == AMQP_STATUS_TIMEOUT)
        return TRUE;
      if (!check_status (status, "waiting for confirms", error))
        return FALSE;
      if (frame.frame_type == AMQP_FRAME_METHOD
          && !handle_method (link, window, &frame.payload.method, error))
        return FALSE;
      tv = (struct timeval) { 0 };
    }
}

static void
free_delivery (gpointer data)
{
  FwdDelivery *delivery = data;

  amqp_destroy_envelope (delivery->message);
  g_free (delivery->message);
  g_free ((char *) delivery->id);
  g_free (delivery);
}

static void
add_delivery (amqp_envelope_t *envelope, GPtrArray *deliveries)
{
  FwdDelivery *delivery = g_new0 (FwdDelivery, 1);
  amqp_basic_properties_t *props = &envelope->message.properties;

  delivery->message = g_memdup2 (envelope, sizeof *envelope);
  delivery->data = envelope->message.body.bytes;
  delivery->len = envelope->message.body.len;
  delivery->tag = envelope->delivery_tag;
  delivery->id = props->_flags & AMQP_BASIC_MESSAGE_ID_FLAG
    ? g_strndup (props->message_id.bytes, props->message_id.len)
    : g_strdup ("");
  g_ptr_array_add (deliveries, delivery);
}

/* A frame other than a delivery came: the broker closing the channel or
 * cancelling the consumer (its queue was deleted) breaks the link. */
static gboolean
read_other_frame (RabbitLink *link, GError **error)
{
  amqp_frame_t frame;
  struct timeval none = { 0 };
  int status = amqp_simple_wait_frame_noblock (link->conn, &frame, &none);
  g_autofree char *why = NULL;

  if (status == AMQP_STATUS_TIMEOUT)
    return TRUE;
  if (!check_status (status, "consuming", error))
    return FALSE;
  if (frame.frame_type != AMQP_FRAME_METHOD)
    return TRUE;
  switch (frame.payload.method.id)
    {
    case AMQP_BASIC_CANCEL_METHOD:
      return fail (error, "consuming", "the broker cancelled the consumer");
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
      why = close_reason (&frame.payload.method);
      return fail (error, "consuming", why);
    default:
      return TRUE;
    }
}

static gboolean
rabbit_receive (FwdBroker *broker, guint max, int timeout_ms,
                GPtrArray *deliveries, GError **error)
{
  RabbitLink *link = (RabbitLink *) broker;
  struct timeval tv = { .tv_sec = timeout_ms / 1000,
                        .tv_usec = timeout_ms % 1000 * 1000 };

  amqp_maybe_release_buffers (link->conn);
  while (deliveries->len < max)
    {
      amqp_envelope_t envelope;
      amqp_rpc_reply_t reply = amqp_consume_message (link->conn, &envelope,
                                                     &tv, 0);

      tv = (struct timeval) { 0 };
      if (reply.reply_type == AMQP_RESPONSE_NORMAL)
        add_delivery (&envelope, deliveries);
      else if (reply.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION)
        return check_reply (reply, "consuming", error);
      else if (reply.library_error == AMQP_STATUS_TIMEOUT)
        return TRUE;
      else if (reply.library_error != AMQP_STATUS_UNEXPECTED_STATE)
        return check_reply (reply, "consuming", error);
      else if (!read_other_frame (link, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
rabbit_ack (FwdBroker *broker, FwdDelivery **list, guint n, gboolean all,
            GError **error)
{
  RabbitLink *link = (RabbitLink *) broker;

  if (all && n > 0)
    return check_status (amqp_basic_ack (link->conn, CHANNEL,
                                         list[n - 1]->tag, 1),
                         "basic.ack", error);
  for (guint i = 0; i < n; i++)
    if (!check_status (amqp_basic_ack (link->conn, CHANNEL, list[i]->tag, 0),
                       "basic.ack", error))
      return FALSE;
  return TRUE;
}

static gboolean
rabbit_remaining (FwdBroker *broker, guint64 *count, GError **error)
{
  RabbitLink *link = (RabbitLink *) broker;
  amqp_queue_declare_ok_t *ok;

  amqp_channel_open (link->conn, SIDE_CHANNEL);
  if (!check_reply (amqp_get_rpc_reply (link->conn), "channel.open", error))
    return FALSE;
  ok = amqp_queue_declare (link->conn, SIDE_CHANNEL,
                           amqp_cstring_bytes (broker->route->queue), 1, 0, 0,
                           0, amqp_empty_table);
  if (!check_reply (amqp_get_rpc_reply (link->conn), "queue.declare", error))
    return FALSE;
  *count = ok->message_count;
  return check_reply (amqp_channel_close (link->conn, SIDE_CHANNEL,
                                          AMQP_REPLY_SUCCESS),
                      "channel.close", error);
}

static gboolean
rabbit_reject (FwdBroker *broker, FwdDelivery *delivery, GError **error)
{
  RabbitLink *link = (RabbitLink *) broker;

  return check_status (amqp_basic_reject (link->conn, CHANNEL,
                                          delivery->tag, 0),
                       "basic.reject", error);
}

/* No closing handshake: the link is closed because it failed, or the
 * program is stopping; either way the broker requeues what was not
 * acked, and a dead broker must not hold us for a timeout. */
static void
rabbit_close (FwdBroker *broker)
{
  RabbitLink *link = (RabbitLink *) broker;

  if (link->conn != NULL)
    amqp_destroy_connection (link->conn);
  link->conn = NULL;
}

static void
rabbit_free (FwdBroker *broker)
{
  rabbit_close (broker);
  g_free (broker);
}

static const FwdBrokerClass rabbit_class = {
  .connect = rabbit_connect,
  .send = rabbit_send,
  .poll = rabbit_poll,
  .receive = rabbit_receive,
  .ack = rabbit_ack,
  .remaining = rabbit_remaining,
  .reject = rabbit_reject,
  .close = rabbit_close,
  .free = rabbit_free,
  .free_delivery = free_delivery,
};

FwdBroker *
fwd_rabbitmq_new (const FwdRoute *route)
{
  RabbitLink *link = g_new0 (RabbitLink, 1);

  link->base.klass = &rabbit_class;
  link->base.route = route;
  return &link->base;
}
