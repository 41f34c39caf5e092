package io.paymentledger.replication.postgres;

import java.nio.file.Path;

/**
 * Who connects to a PostgreSQL server as a replication or tool client (a standby, pg_rewind acting for it, the WAL
 * keeper, pg_basebackup): its application_name (what synchronous_standby_names matches) and, with TLS, the
 * directory holding its certificate, key, CA and password file (see {@link ServerUserFiles#installTls}).
 *
 * @param tlsDir  null when the server takes plain connections (throw-away test clusters only)
 */
public record PgClient(String applicationName, Path tlsDir) {}
