package io.paymentledger.security.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSecretStoreTest {

    @TempDir
    Path dir;

    @Test
    void putGetAndPersistenceInA0600File() throws Exception {
        Path file = dir.resolve("deploy/secrets.json");
        FileSecretStore store = FileSecretStore.open(file);
        assertThat(store.get("db-password")).isEmpty();
        store.put("db-password", "hunter2-long");
        assertThat(store.get("db-password")).contains("hunter2-long");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(FileSecretStore.open(file).require("db-password")).isEqualTo("hunter2-long");
        store.put("db-password", "rotated-value");
        assertThat(FileSecretStore.open(file).require("db-password")).isEqualTo("rotated-value");
        assertThat(store.health().state()).isEqualTo(Health.State.LIVE);
        assertThatThrownBy(() -> store.require("nope")).isInstanceOf(SecretStoreException.class).hasMessageContaining("nope");
        assertThatThrownBy(() -> store.put("../etc", "x")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void getOrCreateGeneratesOnceEvenWithConcurrentCallers() throws Exception {
        Path file = dir.resolve("secrets.json");
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Callable<String>> calls = java.util.stream.IntStream.range(0, 16)
                    .<Callable<String>>mapToObj(i -> () -> FileSecretStore.open(file).getOrCreate("api-key-pepper", SecretStore.random(32)))
                    .toList();
            Set<String> values = pool.invokeAll(calls).stream().map(FileSecretStoreTest::get).collect(Collectors.toSet());
            assertThat(values).hasSize(1);
            assertThat(values.iterator().next()).hasSize(43);
        } finally {
            pool.shutdownNow();
        }
        assertThat(FileSecretStore.open(file).getOrCreate("api-key-pepper", () -> "other"))
                .isNotEqualTo("other");
    }

    @Test
    void refusesAFileReadableByOthers() throws Exception {
        Path file = dir.resolve("loose.json");
        Files.writeString(file, "{\"secrets\":{\"a\":\"b\"}}");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> FileSecretStore.open(file)).isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("chmod 600");
    }

    private static String get(Future<String> f) {
        try {
            return f.get();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
