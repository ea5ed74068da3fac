/* values.c: see values.h. */
#include "config.h"

#include <string.h>

#include "mqshared.h"
#include "values.h"

gboolean
value_parse_uint (const char *text, guint64 max, guint64 *out, GError **error)
{
  if (g_ascii_string_to_unsigned (text, 10, 0, max, out, NULL))
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "'%s' is not a number from 0 to %" G_GUINT64_FORMAT, text, max);
  return FALSE;
}

gboolean
value_parse_mode (const char *text, guint *out, GError **error)
{
  guint64 mode;

  if (!g_ascii_string_to_unsigned (text, 8, 0, 0777, &mode, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is not an octal mode from 0 to 0777", text);
      return FALSE;
    }
  *out = (guint) mode;
  return TRUE;
}

gboolean
value_parse_size (const char *text, guint64 max, guint64 *out, GError **error)
{
  static const char suffixes[] = "KkMmGg";
  g_autofree char *digits = g_strdup (text);
  gsize len = strlen (digits);
  const char *suffix = len > 1 ? strchr (suffixes, digits[len - 1]) : NULL;
  guint shift = 0;
  guint64 number;

  if (suffix != NULL && *suffix != '\0')
    {
      shift = 10 * (1 + (guint) (suffix - suffixes) / 2);
      digits[len - 1] = '\0';
    }
  if (!g_ascii_string_to_unsigned (digits, 10, 0, max >> shift, &number,
                                   NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is not a size from 0 to %" G_GUINT64_FORMAT
                   " bytes (K, M and G suffixes allowed)", text, max);
      return FALSE;
    }
  *out = number << shift;
  return TRUE;
}

gboolean
value_parse_duration (const char *text, guint64 max_ms, guint64 *ms,
                      GError **error)
{
  if (mq_shared_parse_duration (text, max_ms, ms))
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "'%s' is not a duration from 0 to %" G_GUINT64_FORMAT "ms (a "
               "number and a unit: ms, s, m or h, as in 30s)", text, max_ms);
  return FALSE;
}

gboolean
value_parse_bool (const char *text, gboolean *out, GError **error)
{
  static const char *const truths[] = { "true", "yes", "on", "1", NULL };
  static const char *const lies[] = { "false", "no", "off", "0", NULL };

  if (g_strv_contains (truths, text))
    *out = TRUE;
  else if (g_strv_contains (lies, text))
    *out = FALSE;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is not true or false", text);
      return FALSE;
    }
  return TRUE;
}
