/* cmd.h — tribud's subcommands besides the server (private to server/). */
#ifndef TB_SERVER_CMD_H
#define TB_SERVER_CMD_H

#include "common.h"

/* `tribud recordings list | show ID | verify`: ARGV[1] is the verb (after
 * option parsing). Returns the process exit status. */
int tb_cmd_recordings(int argc, char **argv, const tb_config *config);

#endif
