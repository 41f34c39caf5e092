package io.paymentledger.replication.postgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.List;
import java.util.Map;

/**
 * Files and directories that PostgreSQL's programs (the server, pg_receivewal, pg_basebackup, restore_command)
 * read or write: owned by the OS user they run as (see {@link PgBinaries#osUser()}), 0600 for files. One place
 * for what the servers and the WAL keeper both need.
 */
public final class ServerUserFiles {

    private final PgBinaries bin;

    public ServerUserFiles(PgBinaries bin) {
        this.bin = bin;
    }

    /** Creates the directories (and hands them to the server's OS user). */
    public void directories(List<Path> dirs) {
        for (Path d : dirs) {
            try {
                Files.createDirectories(d);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create " + d, e);
            }
            if (bin.osUser() != null) {
                chown(d);
            }
        }
    }

    /** Fails with a clear message when the server's OS user cannot write {@code d} (e.g. under a 0700 home). */
    public void requireAccessible(Path d) {
        if (bin.osUser() == null) {
            return;
        }
        var r = ProcessRunner.run(List.of("runuser", "-u", bin.osUser(), "--", "test", "-w", d.toString()), 30, null,
                Map.of(), false);
        if (r.exitCode() != 0) {
            throw new IllegalStateException("PostgreSQL runs as OS user '" + bin.osUser() + "', which cannot write "
                    + d + " (a parent directory is not traversable by it). Use a data directory it can reach, "
                    + "e.g. under /var/tmp, or see PgDirectories.");
        }
    }

    /** Writes a 0600 file owned by the server's OS user. */
    public void write(Path file, String content) {
        try {
            if (!Files.exists(file)) {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            }
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            Files.writeString(file, content);
            if (bin.osUser() != null) {
                chown(file);
            }
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /**
     * Copies a TLS client/server identity where the server's OS user reads it: {@code dir}/server.crt, server.key,
     * ca.crt, and the superuser's password file pgpass; the directory 0700.
     */
    public void installTls(Path dir, PgCluster.Security sec) {
        try {
            directories(List.of(dir));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            write(dir.resolve("server.crt"), Files.readString(sec.certFile()));
            write(dir.resolve("server.key"), Files.readString(sec.keyFile()));
            write(dir.resolve("ca.crt"), Files.readString(sec.caFile()));
            write(dir.resolve("pgpass"), "*:*:*:" + PgCluster.SUPERUSER + ":" + sec.superuserPassword() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot install the TLS files in " + dir, e);
        }
    }

    private void chown(Path path) {
        try {
            UserPrincipalLookupService lookup = path.getFileSystem().getUserPrincipalLookupService();
            UserPrincipal user = lookup.lookupPrincipalByName(bin.osUser());
            GroupPrincipal group = lookup.lookupPrincipalByGroupName(bin.osUser());
            PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class);
            view.setOwner(user);
            view.setGroup(group);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot hand " + path + " to OS user " + bin.osUser(), e);
        }
    }
}
