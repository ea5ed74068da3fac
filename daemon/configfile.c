/* configfile.c: see configfile.h. */
#include "config.h"

#include <string.h>

#include "configfile.h"

struct _MqConfigFile {
  char *path;
  char *text;
  GKeyFile *keys;
};

MqConfigFile *
configfile_load (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, &local))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "%s: %s",
                   path, local->message);
      return NULL;
    }
  return configfile_parse (path, text, error);
}

MqConfigFile *
configfile_parse (const char *path, const char *text, GError **error)
{
  g_autoptr (GError) local = NULL;
  MqConfigFile *file = g_new0 (MqConfigFile, 1);

  file->path = g_strdup (path);
  file->text = g_strdup (text);
  file->keys = g_key_file_new ();
  if (!g_key_file_load_from_data (file->keys, file->text, -1,
                                  G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "%s: %s",
                   path, local->message);
      configfile_free (file);
      return NULL;
    }
  return file;
}

void
configfile_free (MqConfigFile *file)
{
  g_key_file_free (file->keys);
  g_free (file->text);
  g_free (file->path);
  g_free (file);
}

gchar **
configfile_groups (MqConfigFile *file)
{
  return g_key_file_get_groups (file->keys, NULL);
}

gchar **
configfile_keys (MqConfigFile *file, const char *group)
{
  return g_key_file_get_keys (file->keys, group, NULL, NULL);
}

char *
configfile_value (MqConfigFile *file, const char *group, const char *key)
{
  return g_key_file_get_value (file->keys, group, key, NULL);
}

static gboolean
is_group_line (const char *line, const char *group)
{
  gsize len = strlen (group);

  return line[0] == '[' && strncmp (line + 1, group, len) == 0
    && line[len + 1] == ']';
}

static gboolean
is_key_line (const char *line, const char *key)
{
  gsize len = strlen (key);

  if (strncmp (line, key, len) != 0)
    return FALSE;
  line += len;
  while (*line == ' ' || *line == '\t')
    line++;
  return *line == '=';
}

/* GKeyFile keeps no line numbers: find the key's line in the text. */
static guint
configfile_line (MqConfigFile *file, const char *group, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (file->text, "\n", -1);
  gboolean in_group = FALSE;
  guint group_line = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      while (*line == ' ' || *line == '\t')
        line++;
      if (line[0] == '[')
        {
          in_group = is_group_line (line, group);
          if (in_group && group_line == 0)
            group_line = i + 1;
        }
      else if (in_group && key != NULL && is_key_line (line, key))
        return i + 1;
    }
  return group_line;
}

void
configfile_error (MqConfigFile *file, const char *group, const char *key,
                  GError **error, const char *message)
{
  guint line = configfile_line (file, group, key);

  if (key != NULL)
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s:%u: [%s] %s: %s", file->path, line, group, key, message);
  else
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s:%u: [%s]: %s", file->path, line, group, message);
}
