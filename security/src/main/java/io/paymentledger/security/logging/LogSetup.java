package io.paymentledger.security.logging;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * One-line log format for every process of the ledger (java.util.logging, which Vert.x and Hazelcast use
 * too): {@code 2026-11-23T20:11:42.123Z INFO  [node-a] failover: region-b took leadership (epoch 7)}.
 */
public final class LogSetup {

    private LogSetup() {}

    /** Installs the format on the root logger; {@code process} names this process in every line. */
    public static void install(String process, Level level) {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler handler = new ConsoleHandler();
        handler.setLevel(level);
        handler.setFormatter(new OneLine(process));
        root.addHandler(handler);
        root.setLevel(level);
        // Hazelcast and Netty are chatty at INFO about things operators need not read.
        Logger.getLogger("com.hazelcast").setLevel(Level.WARNING);
        Logger.getLogger("io.netty").setLevel(Level.WARNING);
        Logger.getLogger("org.flywaydb").setLevel(Level.WARNING);
        Logger.getLogger("org.jooq").setLevel(Level.WARNING);
    }

    /** The formatter, usable on its own. */
    public static final class OneLine extends Formatter {
        private final String process;

        public OneLine(String process) {
            this.process = process;
        }

        @Override
        public String format(LogRecord r) {
            StringBuilder sb = new StringBuilder(160);
            sb.append(Instant.ofEpochMilli(r.getMillis())).append(' ');
            String level = r.getLevel() == Level.WARNING ? "WARN" : r.getLevel() == Level.SEVERE ? "ERROR" : r.getLevel().getName();
            sb.append(String.format("%-5s", level)).append(" [").append(process).append("] ");
            String logger = r.getLoggerName() == null ? "" : r.getLoggerName();
            sb.append(logger.substring(logger.lastIndexOf('.') + 1)).append(": ");
            sb.append(formatMessage(r)).append('\n');
            if (r.getThrown() != null) {
                StringWriter sw = new StringWriter();
                r.getThrown().printStackTrace(new PrintWriter(sw));
                sb.append(sw);
            }
            return sb.toString();
        }
    }
}
