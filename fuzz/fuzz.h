/* fuzz.h: what the halves of the protocol harness share (fuzz_protocol.c,
 * the text protocol and the entry point; fuzz_binary.c, the binary one). */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "protocol.h"

/* The daemon's default -B: a longer set is refused and its data skipped. */
#define FUZZ_MAX_MESSAGE (1024 * 1024)

#define CHECK(cond, ...)                                                    \
  do                                                                        \
    {                                                                       \
      if (!(cond))                                                          \
        {                                                                   \
          fprintf (stderr, "fuzz_protocol: %s:%d: invariant broken: %s\n  ", \
                   __FILE__, __LINE__, #cond);                              \
          fprintf (stderr, __VA_ARGS__);                                    \
          fputc ('\n', stderr);                                             \
          abort ();                                                         \
        }                                                                   \
    }                                                                       \
  while (0)

typedef struct {
  GString *log;                   /* events so far */
  guint64 swallow;                /* data bytes of a refused set to skip */
  gboolean closed;                /* the daemon would hang up */
  gboolean binary;                /* the first byte was 0x80 */
} Stream;

/* One record per event of the stream: what the daemon would answer or run.
 * Compared between a whole feed and a feed in pieces. */
void log_event (GString *log, const char *kind, const MqCommand *cmd,
                const char *error, gsize offset);

/* conn.c's walk of a binary connection: runs the complete requests at the
 * start of buf (base: its offset in the stream); returns bytes consumed. */
gsize process_binary (Stream *s, const char *buf, gsize len, gsize base);
