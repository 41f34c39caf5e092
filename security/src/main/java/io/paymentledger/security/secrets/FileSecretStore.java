package io.paymentledger.security.secrets;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;

import io.paymentledger.security.logging.SecretRedactor;
import io.paymentledger.security.pki.Pem;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

/**
 * Secrets in a JSON file ({@code {"secrets":{"name":"value",...}}}) with mode 0600, e.g.
 * {@code .ledger/secrets.json}. Every change rewrites the file atomically (0600 temporary file + rename) under
 * an exclusive lock on {@code <file>.lock}, so several processes on the host may share it. A file that is
 * readable or writable by group or others is refused. Thread-safe.
 */
public final class FileSecretStore implements SecretStore {

    private static final Set<PosixFilePermission> LOOSE = Set.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);
    private static final ConcurrentHashMap<Path, Object> JVM_LOCKS = new ConcurrentHashMap<>();

    private final Path file;

    private FileSecretStore(Path file) {
        this.file = file;
    }

    /** Opens (and on first write creates) the store at {@code file}. */
    public static FileSecretStore open(Path file) {
        Path abs = file.toAbsolutePath().normalize();
        FileSecretStore s = new FileSecretStore(abs);
        s.read(); // fail early on bad permissions or bad JSON
        return s;
    }

    public Path file() {
        return file;
    }

    @Override
    public Optional<String> get(String name) {
        SecretStore.checkName(name);
        return Optional.ofNullable(read().getString(name)).map(v -> SecretRedactor.global().register("secret:" + name, v));
    }

    @Override
    public void put(String name, String value) {
        SecretStore.checkName(name);
        if (value == null) {
            throw new IllegalArgumentException("null secret value");
        }
        update(secrets -> {
            secrets.put(name, value);
            return value;
        });
        SecretRedactor.global().register("secret:" + name, value);
    }

    @Override
    public String getOrCreate(String name, Supplier<String> generator) {
        SecretStore.checkName(name);
        String v = update(secrets -> {
            String existing = secrets.getString(name);
            if (existing != null) {
                return existing;
            }
            String created = generator.get();
            if (created == null || created.isEmpty()) {
                throw new SecretStoreException("generator for '" + name + "' returned nothing");
            }
            secrets.put(name, created);
            return created;
        });
        return SecretRedactor.global().register("secret:" + name, v);
    }

    @Override
    public Health health() {
        try {
            read();
            return Health.live("file " + file);
        } catch (SecretStoreException e) {
            return new Health(Health.State.UNAVAILABLE, e.getMessage(), null);
        }
    }

    private JsonObject read() {
        if (!Files.exists(file)) {
            return new JsonObject();
        }
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            if (perms.stream().anyMatch(LOOSE::contains)) {
                throw new SecretStoreException(file + " is accessible by group or others ("
                        + PosixFilePermissions.toString(perms) + "); run chmod 600 " + file);
            }
            String text = Files.readString(file, StandardCharsets.UTF_8);
            JsonObject root = text.isBlank() ? new JsonObject() : new JsonObject(text);
            JsonObject secrets = root.getJsonObject("secrets");
            return secrets == null ? new JsonObject() : secrets;
        } catch (IOException e) {
            throw new SecretStoreException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (DecodeException | ClassCastException e) {
            throw new SecretStoreException(file + " is not a secrets JSON file", e);
        }
    }

    private String update(Function<JsonObject, String> change) {
        Object jvmLock = JVM_LOCKS.computeIfAbsent(file, f -> new Object());
        synchronized (jvmLock) {
            Path lockFile = file.resolveSibling(file.getFileName() + ".lock");
            try {
                Files.createDirectories(file.getParent());
                try (FileChannel ch = FileChannel.open(lockFile, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
                        PosixFilePermissions.asFileAttribute(Pem.OWNER_ONLY));
                     FileLock ignored = ch.lock()) {
                    JsonObject secrets = read();
                    String before = secrets.encode();
                    String result = change.apply(secrets);
                    if (!secrets.encode().equals(before)) {
                        JsonObject root = new JsonObject().put("version", 1).put("secrets", secrets);
                        Pem.writeAtomically(file, root.encodePrettily().getBytes(StandardCharsets.UTF_8), true);
                    }
                    return result;
                }
            } catch (IOException e) {
                throw new SecretStoreException("cannot update " + file + ": " + e.getMessage(), e);
            }
        }
    }
}
