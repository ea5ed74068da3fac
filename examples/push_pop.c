/* push_pop: libmqclient in a few lines.
 *
 * Pushes each argument as a message to the queue "example", then pops them
 * back (waiting up to a second for each) and prints them.  The daemon's
 * socket is $MQD_SOCKET, or mqd's default.
 *
 *   make                      # cc push_pop.c $(pkg-config --libs libmqclient)
 *   ./push_pop hello world
 */
#include <stdio.h>
#include <string.h>

#include <mqclient.h>

int
main (int argc, char **argv)
{
  mq_client *mq;
  mq_status st;
  int i;

  st = mq_connect (NULL, &mq);
  if (st != MQ_OK)
    {
      fprintf (stderr, "push_pop: %s\n", mq_client_error (mq));
      mq_client_free (mq);
      return 1;
    }

  for (i = 1; i < argc; i++)
    {
      st = mq_push (mq, "example", argv[i], strlen (argv[i]), 0, 0);
      if (st != MQ_OK)
        {
          /* MQ_MAYBE_STORED: the connection broke before the answer. */
          fprintf (stderr, "push_pop: %s\n", mq_client_error (mq));
          mq_client_free (mq);
          return 1;
        }
    }

  for (i = 1; i < argc; i++)
    {
      mq_message *msg;

      st = mq_pop (mq, "example", 1000, &msg);
      if (st == MQ_EMPTY)
        break;
      if (st != MQ_OK)
        {
          fprintf (stderr, "push_pop: %s\n", mq_client_error (mq));
          mq_client_free (mq);
          return 1;
        }
      /* The data is binary-safe; a NUL follows it for convenience. */
      printf ("popped: %.*s\n", (int) msg->len, (const char *) msg->data);
      mq_message_free (msg);
    }

  mq_client_free (mq);
  return 0;
}
