package io.paymentledger.cli.deploy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.HexFormat;
import java.util.Set;

/**
 * Where a PostgreSQL data directory of the local deployment lives. Normally under the deployment directory;
 * but when we run as root, PostgreSQL runs as an unprivileged user that must be able to reach it, and a
 * checkout under a 0700 directory (a home, a mktemp dir) is out of its reach. Then the data goes under
 * /var/tmp/paymentledger/<hash of the deployment dir>/ instead, and topology.json records where.
 */
public final class PgDirectories {

    private PgDirectories() {}

    public static Path choose(Path deploymentDir, String name) {
        Path wanted = deploymentDir.toAbsolutePath().resolve(name);
        if (!"root".equals(System.getProperty("user.name")) || reachableByOthers(deploymentDir.toAbsolutePath())) {
            return wanted;
        }
        String hash = HexFormat.of().formatHex(sha256(deploymentDir.toAbsolutePath().toString())).substring(0, 12);
        return Path.of("/var/tmp/paymentledger", hash, name);
    }

    /** Can a user other than the owner traverse every directory down to {@code dir} (that exists)? */
    static boolean reachableByOthers(Path dir) {
        for (Path p = dir; p != null; p = p.getParent()) {
            if (!Files.exists(p)) {
                continue;
            }
            try {
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
                if (!perms.contains(PosixFilePermission.OTHERS_EXECUTE)) {
                    return false;
                }
            } catch (java.io.IOException e) {
                return false;
            }
        }
        return true;
    }

    private static byte[] sha256(String s) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
