/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl push: messages from the arguments, or standard input (whole, or
 * framed by newlines or NUL bytes), pushed pipelined. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqctl.h"

#define PUSH_BATCH_BYTES (1 << 20)

typedef struct {
  mqctl *ctl;
  const char *queue;
  uint32_t flags;
  int64_t exptime;
  int64_t delay_ms;               /* -D; MQ_QUEUE_RULE: the queue's */
  unsigned long long pushed;      /* messages handed to the library */
  unsigned long long stored;      /* of which stored */
  int code;                       /* worst exit code so far */
  int stop;                       /* the connection broke: stop reading */
} push_state;

/* Standard input as it is read. */
typedef struct {
  char *buf;
  size_t len, cap;
  int eof;
  const char *what;               /* for "out of memory for ..." */
} input;

/* Messages cut out of the input. */
typedef struct {
  mq_buffer *items;
  size_t n, cap;
} message_list;

/* Reports a push that failed: the first failure with its details, the
 * others counted by kind. */
static void
push_report (push_state *ps, const mq_status *results, size_t n)
{
  int reported = 0;

  ctl_warn ("push %s: %s", ps->queue, mq_client_error (ps->ctl->client));
  for (size_t i = 0; i < n; i++)
    {
      if (results[i] == MQ_OK)
        continue;
      ps->code = ctl_worse (ps->code, ctl_exit_code (results[i]));
      if (results[i] == MQ_IO || results[i] == MQ_MAYBE_STORED
          || results[i] == MQ_CONNECT)
        ps->stop = 1;
      if (reported++ > 0 && reported <= 10)
        ctl_warn ("push %s: message %llu: %s", ps->queue,
                  ps->pushed + i + 1, mq_strerror (results[i]));
    }
  if (ps->stop)
    ctl_warn ("push %s: %llu messages stored before the connection was "
              "lost", ps->queue, ps->stored);
}

static void
push_batch (push_state *ps, const mq_buffer *msgs, size_t n)
{
  mq_status *results;
  size_t stored;
  mq_status st;

  if (n == 0 || ps->stop)
    return;
  results = malloc (n * sizeof *results);
  if (results == NULL)
    {
      ctl_warn ("out of memory");
      ps->code = EXIT_FAILED;
      ps->stop = 1;
      return;
    }
  st = mq_push_many_delayed (ps->ctl->client, ps->queue, msgs, n, ps->flags,
                             ps->exptime, ps->delay_ms, results, &stored);
  ps->stored += stored;
  if (st != MQ_OK)
    push_report (ps, results, n);
  ps->pushed += n;
  free (results);
}

/* ---- standard input ----------------------------------------------------- */

static int
input_new (input *in, size_t cap, const char *what)
{
  *in = (input) { malloc (cap), 0, cap, 0, what };
  if (in->buf != NULL)
    return EXIT_DONE;
  ctl_warn ("out of memory for %s", what);
  return EXIT_FAILED;
}

/* One read into in, which grows when it is full. */
static int
input_read (input *in)
{
  for (;;)
    {
      ssize_t r;

      if (in->len == in->cap)
        {
          char *bigger = in->cap > SIZE_MAX / 2 ? NULL
            : realloc (in->buf, in->cap * 2);

          if (bigger == NULL)
            {
              ctl_warn ("out of memory for %s", in->what);
              return EXIT_FAILED;
            }
          in->buf = bigger;
          in->cap *= 2;
        }
      r = read (STDIN_FILENO, in->buf + in->len, in->cap - in->len);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          ctl_warn ("cannot read standard input: %s", strerror (errno));
          return EXIT_FAILED;
        }
      in->eof = r == 0;
      in->len += (size_t) r;
      return EXIT_DONE;
    }
}

/* Reads whatever is ready (up to half the buffer), at least once. */
static int
input_fill (input *in)
{
  struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
  int code;

  do
    code = input_read (in);
  while (code == EXIT_DONE && !in->eof && in->len < in->cap / 2
         && poll (&p, 1, 0) > 0);
  return code;
}

/* The messages ended by sep in in->buf[*start..len), into list. */
static int
cut_messages (const input *in, char sep, message_list *list, size_t *start)
{
  for (size_t i = *start; i < in->len; i++)
    {
      if (in->buf[i] != sep)
        continue;
      if (list->n == list->cap)
        {
          size_t cap = list->cap > 0 ? list->cap * 2 : 4096;
          mq_buffer *bigger = realloc (list->items, cap * sizeof *bigger);

          if (bigger == NULL)
            {
              ctl_warn ("out of memory");
              return EXIT_FAILED;
            }
          list->items = bigger;
          list->cap = cap;
        }
      list->items[list->n++] = (mq_buffer) { in->buf + *start, i - *start };
      *start = i + 1;
    }
  return EXIT_DONE;
}

/* Reads standard input; each part ended by sep is a message (the last one
 * may lack its end).  Reads as much as is there before pushing it all with
 * one pipelined call. */
static int
push_separated (push_state *ps, char sep)
{
  message_list list = { NULL, 0, 0 };
  input in;
  int code = input_new (&in, PUSH_BATCH_BYTES, "a message");

  while (code == EXIT_DONE && !in.eof && !ps->stop)
    {
      size_t start = 0;

      list.n = 0;
      code = input_fill (&in);
      if (code == EXIT_DONE)
        code = cut_messages (&in, sep, &list, &start);
      if (code != EXIT_DONE)
        break;
      push_batch (ps, list.items, list.n);
      if (in.eof && start < in.len)
        {
          mq_buffer last = { in.buf + start, in.len - start };

          push_batch (ps, &last, 1);
          start = in.len;
        }
      memmove (in.buf, in.buf + start, in.len - start);
      in.len -= start;
    }
  free (in.buf);
  free (list.items);
  return code != EXIT_DONE ? code : ps->code;
}

static int
push_whole_input (push_state *ps)
{
  input in;
  int code = input_new (&in, 65536, "the message");

  while (code == EXIT_DONE && !in.eof)
    code = input_read (&in);
  if (code == EXIT_DONE)
    push_batch (ps, &(mq_buffer) { in.buf, in.len }, 1);
  free (in.buf);
  return code != EXIT_DONE ? code : ps->code;
}

static int
push_arguments (push_state *ps, int argc, char **argv)
{
  size_t n = (size_t) (argc - optind);
  mq_buffer *msgs = malloc (n * sizeof *msgs);

  if (msgs == NULL)
    {
      ctl_warn ("out of memory");
      return EXIT_FAILED;
    }
  for (size_t i = 0; i < n; i++)
    msgs[i] = (mq_buffer) { argv[optind + (int) i],
                            strlen (argv[optind + (int) i]) };
  push_batch (ps, msgs, n);
  free (msgs);
  return ps->code;
}

static int
run_push (mqctl *ctl, int argc, char **argv)
{
  push_state ps = { .ctl = ctl, .delay_ms = MQ_QUEUE_RULE };
  int sep = -1;
  const ctl_option options[] = {
    { 'l', "lines", NULL, &sep, '\n' },
    { '0', "null", NULL, &sep, '\0' },
    { 'F', "flags", ctl_parse_flags, &ps.flags, 0 },
    { 'e', "expire", ctl_parse_exptime, &ps.exptime, 0 },
    { 'D', "delay", ctl_parse_duration, &ps.delay_ms, 0 },
  };
  int code = ctl_parse_options (ctl, argc, argv, options,
                                sizeof options / sizeof options[0]);

  if (code != CTL_GO_ON)
    return code;
  code = ctl_queue_argument (ctl, argc, argv, "push needs a queue name",
                             &ps.queue);
  if (code != EXIT_DONE)
    return code;
  if (optind < argc && sep >= 0)
    return ctl_usage_error (ctl, "-l and -0 frame standard input: give "
                            "messages as arguments or on standard input, "
                            "not both");
  if ((code = ctl_connect (ctl)) != EXIT_DONE)
    return code;
  if (optind < argc)
    return push_arguments (&ps, argc, argv);
  if (sep >= 0)
    return push_separated (&ps, (char) sep);
  return push_whole_input (&ps);
}

const ctl_command ctl_push = {
  "push", run_push, "[-l|-0] [-F FLAGS] [-e EXPTIME] [-D DURATION] QUEUE "
  "[MESSAGE...]",
"Adds messages to the tail of QUEUE (created by its first message).  Each\n"
"MESSAGE argument is one message.  Without arguments, standard input is\n"
"read: the whole of it is one message, or, with -l or -0, each line or\n"
"NUL-terminated part is one.  Bytes are sent exactly as read.\n"
"\n"
"  -l, --lines         one message per line (the newline is not part of it)\n"
"  -0, --null          one message per NUL-terminated part\n"
"  -F, --flags=FLAGS   a number from 0 to 4294967295 kept with each message\n"
"  -e, --expire=SECS   expire after SECS seconds (over 2592000: a Unix time)\n"
"  -D, --delay=DURATION  hold each message back this long (500ms, 30s, 5m,\n"
"                      2h): no get sees it before; 0: at once, whatever the\n"
"                      queue's default_delay\n"
"\n"
"Many messages are sent pipelined, without waiting for each answer.\n"
"Exit status: 0 all stored; 3 cannot connect or the connection broke;\n"
"4 some message was refused (queue full, or too large).\n",
};
