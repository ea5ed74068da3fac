/* protocol_text.h: the memcache text protocol's command lines.
 *
 * Pure code: bytes to a command (protocol.h's MqCommand), the meta
 * commands' words (mg, ms, md, mn, me) included.
 */
#pragma once

#include <glib.h>

#include "protocol.h"

/* Parses the command line at the start of buf[0..len).  On COMMAND and ERROR,
 * *consumed is the length of the line with its "\n" (a "\r" before it is
 * optional, as in memcached).  A command that carries data
 * (protocol_takes_data) is followed by cmd->data_len bytes, then
 * cmd->data_end bytes that must be "\r\n".  On ERROR, *error is a static
 * reply line without "\r\n", and cmd->data_len + cmd->data_end bytes after
 * the line are to be skipped so that the connection stays in step: the data
 * of a storage command whose length could still be read, else none. */
MqParseStatus protocol_parse (const char *buf, gsize len, MqCommand *cmd,
                              gsize *consumed, const char **error);
