/* configfile.h: mqd's configuration file, a GKeyFile, read with errors that
 * name the file, the line and the key. */
#pragma once

#include <glib.h>

typedef struct _MqConfigFile MqConfigFile;

MqConfigFile *configfile_load (const char *path, GError **error);
/* The same from text already read; path names it in errors. */
MqConfigFile *configfile_parse (const char *path, const char *text,
                                GError **error);
void configfile_free (MqConfigFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MqConfigFile, configfile_free)

gchar **configfile_groups (MqConfigFile *file);
gchar **configfile_keys (MqConfigFile *file, const char *group);
/* The raw value of group.key; NULL if absent. */
char *configfile_value (MqConfigFile *file, const char *group,
                        const char *key);
/* Sets error to "FILE:LINE: [group] key: message". */
void configfile_error (MqConfigFile *file, const char *group,
                       const char *key, GError **error, const char *message);
