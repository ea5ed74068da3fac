/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqshared.h: the rules mqd and libmqclient both build from, so the daemon
 * and its clients cannot drift apart: what a queue name is, the protocol's
 * limits, how a duration is written, and where the daemon's socket is when
 * nobody says.
 *
 * Plain C and libc (the client library links nothing else); not installed.
 */
#ifndef MQSHARED_H
#define MQSHARED_H

#include <stddef.h>
#include <stdint.h>

#define MQ_MAX_NAME 250           /* longest queue name, as memcache keys */
#define MQ_MAX_LINE 8192          /* longest command line, "\r\n" included */
#define MQ_MAX_KEYS 128           /* most queues named by one get */
#define MQ_MAX_TIMEOUT_MS 2147483647  /* longest wait of a get, /t=<ms> */
/* Most reliable reads one connection holds open, over all its queues: a
 * window of 256 on 256 queues. */
#define MQ_MAX_OPEN_READS 65536
/* A message's stable id, <instance>.<incarnation>.<seq>: 16 hex digits and
 * two numbers of at most 20 digits, and the NUL. */
#define MQ_SHARED_ID_SIZE 64
/* Longest delay or lease, /delay=<ms> and /lease=<ms>: ten years.  No
 * suffix: C99 gives a decimal constant a type it fits (64 bits), and
 * MQ_SHARED_STR spells it in messages. */
#define MQ_MAX_DELAY_MS 315360000000
#define MQ_DEFAULT_MAX_MESSAGE (1024 * 1024)  /* largest message without -B */

#define MQ_SHARED_STR_(x) #x
#define MQ_SHARED_STR(x) MQ_SHARED_STR_ (x)
/* The name rule in words, for messages that refuse a name. */
#define MQ_NAME_RULE \
  "1 to " MQ_SHARED_STR (MQ_MAX_NAME) \
  " bytes without spaces, control characters or '/'"

/* 1 when name[0..len) is a valid queue name, else 0.  Space and controls
 * would split or corrupt a command line; '/' starts a get option.  Inline:
 * the daemon's parser checks every name it reads. */
static inline int
mq_shared_valid_name (const char *name, size_t len)
{
  if (name == NULL || len == 0 || len > MQ_MAX_NAME)
    return 0;
  for (size_t i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char) name[i];

      if (c <= 0x20 || c == 0x7f || c == '/')
        return 0;
    }
  return 1;
}

/* Reads a duration, digits then a unit: ms, s, m or h ("500ms", "30s",
 * "2h"); a bare number is seconds, as mqd's max_age has always read.
 * 1 and *ms set when text is one of at most max_ms, else 0.  The rules of
 * mqd's configuration file and mqctl's options read the same text. */
int mq_shared_parse_duration (const char *text, uint64_t max_ms,
                              uint64_t *ms);

/* Writes the daemon's default socket path into buf (at most size bytes, NUL
 * included) and returns its length, as snprintf does: /run/mqd/mqd.sock
 * for root, else $XDG_RUNTIME_DIR/mqd.sock, else /tmp/mqd-<uid>/mqd.sock. */
size_t mq_shared_default_socket (char *buf, size_t size);

#endif /* MQSHARED_H */
