package io.paymentledger.security.logging;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Filter;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Masks known secret values in java.util.logging output. Secrets are registered by value with a label
 * ({@code register("db-password", pw)}); every formatted line then shows {@code [REDACTED:db-password]}
 * instead, including messages, parameters and stack traces.
 * <p>
 * The secret stores of this module register every value they hand out with {@link #global()}; call
 * {@link #installOnRootLogger()} after {@code LogSetup.install(...)} to apply it to the console output.
 * Values shorter than {@link #MIN_LENGTH} characters are not registered (they would mask ordinary text).
 */
public final class SecretRedactor {

    public static final int MIN_LENGTH = 6;
    private static final SecretRedactor GLOBAL = new SecretRedactor();

    private final Map<String, String> labelsBySecret = new ConcurrentHashMap<>();
    private volatile List<Map.Entry<String, String>> ordered = List.of();

    /** The process-wide instance the secret stores register with. */
    public static SecretRedactor global() {
        return GLOBAL;
    }

    /** Registers a secret value; returns it unchanged so it can wrap an expression. */
    public String register(String label, String secret) {
        Objects.requireNonNull(label, "label");
        if (secret == null || secret.length() < MIN_LENGTH) {
            return secret;
        }
        if (!label.equals(labelsBySecret.put(secret, label))) {
            reorder();
        }
        return secret;
    }

    public void unregister(String secret) {
        if (secret != null && labelsBySecret.remove(secret) != null) {
            reorder();
        }
    }

    private synchronized void reorder() {
        List<Map.Entry<String, String>> list = new ArrayList<>(labelsBySecret.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), e.getValue())).toList());
        list.sort(Comparator.comparingInt((Map.Entry<String, String> e) -> e.getKey().length()).reversed());
        ordered = List.copyOf(list);
    }

    /** {@code text} with every registered secret replaced by {@code [REDACTED:<label>]}. */
    public String redact(String text) {
        if (text == null || text.isEmpty()) {
            return text;
        }
        String out = text;
        for (Map.Entry<String, String> e : ordered) {
            if (out.contains(e.getKey())) {
                out = out.replace(e.getKey(), "[REDACTED:" + e.getValue() + "]");
            }
        }
        return out;
    }

    /** A formatter that formats with {@code delegate}, then redacts the whole line (stack trace included). */
    public Formatter wrap(Formatter delegate) {
        return new Redacting(this, Objects.requireNonNull(delegate, "delegate"));
    }

    private static final class Redacting extends Formatter {
        private final SecretRedactor redactor;
        private final Formatter delegate;

        Redacting(SecretRedactor redactor, Formatter delegate) {
            this.redactor = redactor;
            this.delegate = delegate;
        }

        @Override
        public String format(LogRecord r) {
            return redactor.redact(delegate.format(r));
        }

        @Override
        public String getHead(Handler h) {
            return redactor.redact(delegate.getHead(h));
        }

        @Override
        public String getTail(Handler h) {
            return redactor.redact(delegate.getTail(h));
        }
    }

    /**
     * A filter that rewrites a record's message and parameters in place before any formatter sees it (for
     * handlers whose formatter cannot be wrapped). Throwables are not rewritten: prefer {@link #wrap}.
     */
    public Filter filter(Filter next) {
        return r -> {
            r.setMessage(redact(r.getMessage()));
            Object[] params = r.getParameters();
            if (params != null) {
                Object[] copy = new Object[params.length];
                for (int i = 0; i < params.length; i++) {
                    copy[i] = params[i] instanceof String s ? redact(s) : params[i] == null ? null : redact(String.valueOf(params[i]));
                }
                r.setParameters(copy);
            }
            return next == null || next.isLoggable(r);
        };
    }

    /** Wraps the formatter of every handler on the root logger with {@link #global()}. Idempotent. */
    public static void installOnRootLogger() {
        for (Handler h : Logger.getLogger("").getHandlers()) {
            Formatter f = h.getFormatter();
            if (f != null && !(f instanceof Redacting)) {
                h.setFormatter(GLOBAL.wrap(f));
            }
        }
    }

    /**
     * Test helper: the labels of registered secrets that occur in {@code capturedOutput} (empty = no leak).
     * Returns labels, never values, so an assertion message does not itself leak.
     */
    public List<String> findLeaks(String capturedOutput) {
        List<String> leaks = new ArrayList<>();
        if (capturedOutput == null) {
            return leaks;
        }
        for (Map.Entry<String, String> e : ordered) {
            if (capturedOutput.contains(e.getKey())) {
                leaks.add(e.getValue());
            }
        }
        return leaks;
    }

    /** Test helper: which of {@code secrets} (given explicitly, registered or not) occur in {@code capturedOutput}, by index. */
    public static List<Integer> findLeaks(String capturedOutput, List<String> secrets) {
        List<Integer> found = new ArrayList<>();
        for (int i = 0; i < secrets.size(); i++) {
            if (capturedOutput != null && secrets.get(i) != null && capturedOutput.contains(secrets.get(i))) {
                found.add(i);
            }
        }
        return found;
    }
}
