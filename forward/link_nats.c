/* link_nats.c: a route's link to NATS JetStream through libnats.
 *
 * Out: asynchronous publishes with Nats-Msg-Id = mqd's stable id, so the
 * stream drops a message sent again within its duplicate window.  The
 * library reports each publish's ack on its own thread; the reports are
 * handed to the route's thread through a queue.
 * In: a durable pull consumer, fetched one window at a time, acked one by
 * one once mqd has stored them.
 *
 * libnats's own reconnection is off: the route's linker decides when and
 * where to reconnect, as for RabbitMQ. */
#include "config.h"

#include <nats/nats.h>

#include "broker.h"

typedef enum {
  ACK_OK,
  ACK_REFUSED,     /* the stream refused it (a limit): give it back */
  ACK_FAILED,      /* no answer, no stream, connection lost: broken link */
} AckKind;

typedef struct {
  char *id;
  AckKind kind;
  char *text;
} Ack;

typedef struct {
  FwdBroker base;
  natsConnection *conn;
  jsCtx *js;
  natsSubscription *sub;
  /* Acks of the current connection.  One queue per connection, all kept
   * until the link is freed: the library may still report a publish of
   * an old connection after it was closed. */
  GAsyncQueue *acks;
  GPtrArray *old_acks;
} NatsLink;

static gboolean
fail (GError **error, const char *what, natsStatus status)
{
  const char *detail = nats_GetLastError (NULL);

  g_set_error (error, FWD_BROKER_ERROR, status, "%s: %s%s%s", what,
               natsStatus_GetText (status), detail ? ": " : "",
               detail ? detail : "");
  return FALSE;
}

static void
free_ack (gpointer data)
{
  Ack *ack = data;

  g_free (ack->id);
  g_free (ack->text);
  g_free (ack);
}

static AckKind
ack_kind (jsPubAck *pa, jsPubAckErr *pae)
{
  if (pa != NULL)
    return ACK_OK;
  /* An error code is the stream's own refusal; a status alone (time out,
   * no responders) says nothing about the message. */
  return pae->ErrCode != 0 ? ACK_REFUSED : ACK_FAILED;
}

/* libnats's thread. */
static void
on_ack (jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
        void *closure)
{
  Ack *ack = g_new0 (Ack, 1);
  const char *id = NULL;

  natsMsgHeader_Get (msg, "Nats-Msg-Id", &id);
  ack->id = g_strdup (id ? id : "");
  ack->kind = ack_kind (pa, pae);
  if (pae != NULL)
    ack->text = g_strdup_printf ("%s (%d)", pae->ErrText ? pae->ErrText
                                 : natsStatus_GetText (pae->Err),
                                 pae->ErrCode);
  g_async_queue_push (closure, ack);
  natsMsg_Destroy (msg);
}

static gboolean
connect_server (NatsLink *link, const char *url, GError **error)
{
  const FwdRoute *route = link->base.route;
  natsOptions *opts = NULL;
  natsStatus status = natsOptions_Create (&opts);

  if (status == NATS_OK)
    status = natsOptions_SetURL (opts, url);
  if (status == NATS_OK)
    status = natsOptions_SetAllowReconnect (opts, false);
  if (status == NATS_OK)
    status = natsOptions_SetTimeout (opts, route->confirm_timeout_ms);
  /* Pings every half confirm timeout: a link that died unseen breaks. */
  if (status == NATS_OK)
    status = natsOptions_SetPingInterval (opts,
                                          MAX (route->confirm_timeout_ms
                                               / 2, 500));
  if (status == NATS_OK)
    status = natsOptions_SetMaxPingsOut (opts, 2);
  if (status == NATS_OK)
    status = natsConnection_Connect (&link->conn, opts);
  natsOptions_Destroy (opts);
  return status == NATS_OK || fail (error, "connect", status);
}

static gboolean
open_stream (NatsLink *link, GError **error)
{
  const FwdRoute *route = link->base.route;
  jsOptions options;
  jsSubOptions sub_options;
  jsErrCode code = 0;
  natsStatus status;

  jsOptions_Init (&options);
  options.Wait = route->confirm_timeout_ms;
  options.PublishAsync.MaxPending = route->window;
  options.PublishAsync.AckHandler = on_ack;
  options.PublishAsync.AckHandlerClosure = link->acks;
  status = natsConnection_JetStream (&link->js, link->conn, &options);
  if (status != NATS_OK)
    return fail (error, "jetstream", status);
  if (route->direction == FWD_OUT)
    return TRUE;
  jsSubOptions_Init (&sub_options);
  sub_options.Stream = route->stream;
  sub_options.Config.AckPolicy = js_AckExplicit;
  sub_options.Config.MaxAckPending = route->window;
  /* What a forwarder that died had taken comes back after this. */
  sub_options.Config.AckWait = route->confirm_timeout_ms * 1000000;
  status = js_PullSubscribe (&link->sub, link->js, route->subject,
                             route->durable, NULL, &sub_options, &code);
  return status == NATS_OK || fail (error, "pull subscribe", status);
}

static gboolean
nats_connect (FwdBroker *broker, const char *url, GError **error)
{
  NatsLink *link = (NatsLink *) broker;

  if (link->acks != NULL)
    g_ptr_array_add (link->old_acks, link->acks);
  link->acks = g_async_queue_new_full (free_ack);
  return connect_server (link, url, error) && open_stream (link, error);
}

static gboolean
nats_send (FwdBroker *broker, FwdSlot *slot, GError **error)
{
  NatsLink *link = (NatsLink *) broker;
  natsMsg *msg = NULL;
  jsPubOptions options;
  natsStatus status;

  jsPubOptions_Init (&options);
  options.MsgId = slot->id;
  options.MaxWait = broker->route->confirm_timeout_ms;
  status = natsMsg_Create (&msg, broker->route->subject, NULL, slot->data,
                           slot->len);
  if (status == NATS_OK)
    status = js_PublishMsgAsync (link->js, &msg, &options);
  /* Still ours when the library did not take it. */
  natsMsg_Destroy (msg);
  return status == NATS_OK || fail (error, "publish", status);
}

/* Applies one ack; FALSE when it says the link is broken. */
static gboolean
apply_ack (FwdWindow *window, Ack *ack, GError **error)
{
  if (ack->kind == ACK_FAILED)
    {
      g_set_error (error, FWD_BROKER_ERROR, 0, "publish of %s: %s", ack->id,
                   ack->text);
      return FALSE;
    }
  if (ack->kind == ACK_REFUSED)
    g_message ("%s refused by the stream: %s", ack->id, ack->text);
  fwd_window_mark_id (window, ack->id, ack->kind == ACK_OK ? FWD_SLOT_ACKED
                      : FWD_SLOT_NACKED);
  return TRUE;
}

static gboolean
nats_poll (FwdBroker *broker, FwdWindow *window, int timeout_ms,
           GError **error)
{
  NatsLink *link = (NatsLink *) broker;
  Ack *ack = g_async_queue_timeout_pop (link->acks,
                                        (guint64) timeout_ms * 1000);
  gboolean ok = TRUE;

  for (; ack != NULL; ack = g_async_queue_try_pop (link->acks))
    {
      ok = ok && apply_ack (window, ack, ok ? error : NULL);
      free_ack (ack);
    }
  if (ok && natsConnection_Status (link->conn) != NATS_CONN_STATUS_CONNECTED)
    {
      g_set_error (error, FWD_BROKER_ERROR, 0, "connection lost");
      return FALSE;
    }
  return ok;
}

static void
free_delivery (gpointer data)
{
  FwdDelivery *delivery = data;

  natsMsg_Destroy (delivery->message);
  g_free (delivery);
}

static gboolean
nats_receive (FwdBroker *broker, guint max, int timeout_ms,
              GPtrArray *deliveries, GError **error)
{
  NatsLink *link = (NatsLink *) broker;
  natsMsgList list = { 0 };
  jsErrCode code = 0;
  natsStatus status = natsSubscription_Fetch (&list, link->sub, max,
                                              timeout_ms, &code);

  if (status == NATS_TIMEOUT)
    return TRUE;
  if (status != NATS_OK)
    return fail (error, "fetch", status);
  for (int i = 0; i < list.Count; i++)
    {
      FwdDelivery *delivery = g_new0 (FwdDelivery, 1);

      delivery->message = list.Msgs[i];
      list.Msgs[i] = NULL;
      delivery->data = (void *) natsMsg_GetData (delivery->message);
      delivery->len = natsMsg_GetDataLength (delivery->message);
      if (natsMsgHeader_Get (delivery->message, "Nats-Msg-Id",
                             &delivery->id) != NATS_OK)
        delivery->id = "";
      g_ptr_array_add (deliveries, delivery);
    }
  natsMsgList_Destroy (&list);
  return TRUE;
}

static gboolean
nats_ack (FwdBroker *broker, FwdDelivery **list, guint n, gboolean all,
          GError **error)
{
  NatsLink *link = (NatsLink *) broker;

  for (guint i = 0; i < n; i++)
    {
      natsStatus status = natsMsg_Ack (list[i]->message, NULL);

      if (status != NATS_OK)
        return fail (error, "ack", status);
    }
  /* Acks are not answered: flushing at least puts them on the wire, so a
   * crash right after redelivers less. */
  natsConnection_FlushTimeout (link->conn, broker->route->confirm_timeout_ms);
  return TRUE;
}

static gboolean
nats_remaining (FwdBroker *broker, guint64 *count, GError **error)
{
  NatsLink *link = (NatsLink *) broker;
  jsConsumerInfo *info = NULL;
  jsErrCode code = 0;
  natsStatus status = js_GetConsumerInfo (&info, link->js,
                                          broker->route->stream,
                                          broker->route->durable, NULL,
                                          &code);

  if (status != NATS_OK)
    return fail (error, "consumer info", status);
  *count = info->NumPending + info->NumAckPending;
  jsConsumerInfo_Destroy (info);
  return TRUE;
}

static gboolean
nats_reject (FwdBroker *broker, FwdDelivery *delivery, GError **error)
{
  natsStatus status = natsMsg_Term (delivery->message, NULL);

  return status == NATS_OK || fail (error, "term", status);
}

static void
nats_close (FwdBroker *broker)
{
  NatsLink *link = (NatsLink *) broker;

  /* The connection is closed first: that joins its reader thread.  In
   * libnats 3.4.1 the reader uses a subscription it looked up without
   * holding it (nats.c #637, fixed in 3.6.1), so destroying one while
   * replies still arrive (the publish-ack inbox, in jsCtx_Destroy) freed
   * it under the reader. */
  if (link->conn != NULL)
    natsConnection_Close (link->conn);
  g_clear_pointer (&link->sub, natsSubscription_Destroy);
  g_clear_pointer (&link->js, jsCtx_Destroy);
  g_clear_pointer (&link->conn, natsConnection_Destroy);
}

static void
nats_free (FwdBroker *broker)
{
  NatsLink *link = (NatsLink *) broker;

  nats_close (broker);
  if (link->acks != NULL)
    g_async_queue_unref (link->acks);
  g_ptr_array_unref (link->old_acks);
  g_free (link);
}

static const FwdBrokerClass nats_class = {
  .connect = nats_connect,
  .send = nats_send,
  .poll = nats_poll,
  .receive = nats_receive,
  .ack = nats_ack,
  .remaining = nats_remaining,
  .reject = nats_reject,
  .close = nats_close,
  .free = nats_free,
  .free_delivery = free_delivery,
};

FwdBroker *
fwd_nats_new (const FwdRoute *route)
{
  NatsLink *link = g_new0 (NatsLink, 1);

  link->base.klass = &nats_class;
  link->base.route = route;
  link->old_acks = g_ptr_array_new_with_free_func (
    (GDestroyNotify) g_async_queue_unref);
  return &link->base;
}
