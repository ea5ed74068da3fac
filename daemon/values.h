/* values.h: option values as users write them, on the command line and in
 * the configuration file.  Pure code; errors say what was expected. */
#pragma once

#include <glib.h>

gboolean value_parse_uint (const char *text, guint64 max, guint64 *out,
                           GError **error);
/* Octal permission bits, up to 0777. */
gboolean value_parse_mode (const char *text, guint *out, GError **error);
/* Bytes, or a number with a K, M or G suffix (binary). */
gboolean value_parse_size (const char *text, guint64 max, guint64 *out,
                           GError **error);
/* A duration in milliseconds, up to max_ms: a number and a unit, ms, s, m
 * or h (a bare number is seconds, as max_age reads). */
gboolean value_parse_duration (const char *text, guint64 max_ms,
                               guint64 *ms, GError **error);
/* true/false, yes/no, on/off, 1/0. */
gboolean value_parse_bool (const char *text, gboolean *out, GError **error);
