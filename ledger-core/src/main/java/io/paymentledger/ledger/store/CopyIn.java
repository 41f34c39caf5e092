package io.paymentledger.ledger.store;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.stream.Collectors;
import org.jooq.Field;
import org.jooq.Table;
import org.postgresql.PGConnection;

/**
 * Bulk insert with PostgreSQL's COPY (text format): the writer's way to add thousands of rows per batch in one
 * round trip. The statement is rendered from jOOQ's generated table and fields, so a schema change that
 * breaks it breaks the build, not production.
 *
 * @param <T> the row type
 */
public final class CopyIn<T> {

    private final String statement;
    private final List<Field<?>> fields;
    private final BiConsumer<T, Line> writer;

    /**
     * @param writer writes one row's values in the order of {@code fields}
     */
    public CopyIn(Table<?> table, List<Field<?>> fields, BiConsumer<T, Line> writer) {
        this.fields = List.copyOf(fields);
        this.writer = writer;
        this.statement = "COPY " + table.getName() + " ("
                + fields.stream().map(Field::getName).collect(Collectors.joining(", ")) + ") FROM STDIN";
    }

    public String statement() {
        return statement;
    }

    /** Copies the rows in; returns the number of rows PostgreSQL reports. */
    public long copy(Connection c, List<T> rows) throws SQLException {
        if (rows.isEmpty()) {
            return 0;
        }
        Line line = new Line(new StringBuilder(rows.size() * 256), fields.size());
        for (T row : rows) {
            line.start();
            writer.accept(row, line);
            line.end();
        }
        byte[] bytes = line.sb.toString().getBytes(StandardCharsets.UTF_8);
        try {
            return c.unwrap(PGConnection.class).getCopyAPI().copyIn(statement, new ByteArrayInputStream(bytes));
        } catch (IOException e) {
            throw new SQLException("COPY failed: " + e.getMessage(), "08006", e);
        }
    }

    /** One row of COPY text: tab-separated, \N for null, backslash escapes. */
    public static final class Line {
        private final StringBuilder sb;
        private final int width;
        private int column;

        Line(StringBuilder sb, int width) {
            this.sb = sb;
            this.width = width;
        }

        void start() {
            column = 0;
        }

        void end() {
            if (column != width) {
                throw new IllegalStateException("COPY row has " + column + " values, expected " + width);
            }
            sb.append('\n');
        }

        private void sep() {
            if (column++ > 0) {
                sb.append('\t');
            }
        }

        public Line add(long v) {
            sep();
            sb.append(v);
            return this;
        }

        public Line add(String v) {
            sep();
            if (v == null) {
                sb.append("\\N");
                return this;
            }
            for (int i = 0; i < v.length(); i++) {
                char ch = v.charAt(i);
                switch (ch) {
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> sb.append(ch);
                }
            }
            return this;
        }
    }
}
