/* common-private.h — helpers shared between the files of common/ only.
 *
 * Not installed and not included outside common/: other modules use common.h.
 */
#ifndef TB_COMMON_PRIVATE_H
#define TB_COMMON_PRIVATE_H

#include "common.h"

/* Returns true if SPEC is a valid log level spec (see tb_log_set_spec),
 * without changing the active filter. Any thread. */
bool tb__log_spec_valid(const char *spec);

#endif
