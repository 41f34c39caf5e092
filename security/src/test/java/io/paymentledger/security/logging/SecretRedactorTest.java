package io.paymentledger.security.logging;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.paymentledger.security.secrets.FileSecretStore;
import io.paymentledger.security.secrets.SecretStore;

class SecretRedactorTest {

    @TempDir
    Path dir;

    @Test
    void secretsHandedOutByAStoreAreMaskedInFormattedLogLinesAndStackTraces() {
        FileSecretStore store = FileSecretStore.open(dir.resolve("secrets.json"));
        String password = store.getOrCreate("db-password", SecretStore.random(24));

        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        ByteArrayOutputStream redacted = new ByteArrayOutputStream();
        StreamHandler rawHandler = new StreamHandler(raw, new LogSetup.OneLine("test"));
        StreamHandler redactedHandler = new StreamHandler(redacted, SecretRedactor.global().wrap(new LogSetup.OneLine("test")));
        Logger log = Logger.getLogger("redactor-test");
        log.setUseParentHandlers(false);
        log.addHandler(rawHandler);
        log.addHandler(redactedHandler);
        try {
            log.info("connecting with password " + password);
            log.log(Level.INFO, "param form {0}", password);
            log.log(Level.WARNING, "failed", new IllegalStateException("bad password " + password));
        } finally {
            rawHandler.flush();
            redactedHandler.flush();
            log.removeHandler(rawHandler);
            log.removeHandler(redactedHandler);
        }
        String leaked = raw.toString();
        String safe = redacted.toString();

        assertThat(SecretRedactor.global().findLeaks(leaked)).as("the helper finds the leak").contains("secret:db-password");
        assertThat(SecretRedactor.global().findLeaks(safe)).isEmpty();
        assertThat(SecretRedactor.findLeaks(safe, List.of(password))).isEmpty();
        assertThat(safe).contains("connecting with password [REDACTED:secret:db-password]")
                .contains("param form [REDACTED:secret:db-password]")
                .contains("IllegalStateException: bad password [REDACTED:secret:db-password]");
    }

    @Test
    void installOnRootLoggerWrapsEachRootHandlerOnce() {
        Logger root = Logger.getLogger("");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StreamHandler h = new StreamHandler(out, new LogSetup.OneLine("test"));
        root.addHandler(h);
        try {
            SecretRedactor.installOnRootLogger();
            java.util.logging.Formatter wrapped = h.getFormatter();
            SecretRedactor.installOnRootLogger();
            assertThat(h.getFormatter()).as("idempotent").isSameAs(wrapped);
            String secret = SecretRedactor.global().register("root-test", "root-secret-value");
            Logger.getLogger("some.component").warning("value is " + secret);
            h.flush();
            assertThat(out.toString()).contains("value is [REDACTED:root-test]").doesNotContain(secret);
        } finally {
            root.removeHandler(h);
        }
    }

    @Test
    void filterRewritesMessageAndParametersAndShortValuesAreNotRegistered() {
        SecretRedactor r = new SecretRedactor();
        r.register("token", "s.abcdefgh");
        r.register("pin", "1234");
        var rec = new java.util.logging.LogRecord(Level.INFO, "token={0} pin=1234");
        rec.setParameters(new Object[] {"s.abcdefgh"});
        assertThat(r.filter(null).isLoggable(rec)).isTrue();
        assertThat(rec.getParameters()).containsExactly("[REDACTED:token]");
        assertThat(r.redact("x s.abcdefgh y 1234")).isEqualTo("x [REDACTED:token] y 1234");
        r.unregister("s.abcdefgh");
        assertThat(r.redact("s.abcdefgh")).isEqualTo("s.abcdefgh");
    }
}
