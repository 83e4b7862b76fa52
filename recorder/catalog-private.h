/* catalog-private.h — catalog internals shared with the recorder's own tests.
 *
 * Not part of the public contract (recorder.h); nothing outside recorder/ and
 * tests/unit/recorder/ includes it.
 */
#ifndef TB_CATALOG_PRIVATE_H
#define TB_CATALOG_PRIVATE_H

#include "recorder.h"

G_BEGIN_DECLS

/* Most consecutive queued writes committed in one transaction. */
#define TB__CATALOG_BATCH_MAX 512

/* Current database schema: the number of the last migration this build has. */
#define TB__CATALOG_SCHEMA_VERSION 4

/* Queues SQL (one or more statements, copied) to run on the catalog thread
 * after the writes queued before it have committed. Meant for tests, e.g.
 * "PRAGMA max_page_count = N" to make the disk look full. A failure is
 * logged and counted like a failed write. Any thread. */
void tb__catalog_exec(tb_catalog *catalog, const char *sql);

G_END_DECLS

#endif
