package io.paymentledger.ledger.store;

import java.io.ByteArrayInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.stream.Collectors;
import org.jooq.DataType;
import org.jooq.Field;
import org.jooq.Table;
import org.jooq.impl.SQLDataType;
import org.postgresql.PGConnection;

/**
 * Bulk insert with PostgreSQL's COPY in its binary format: the writer's way to add thousands of rows per batch in
 * one round trip, with no text for the server to parse. The statement and the column types come from jOOQ's
 * generated table and fields, so a schema change that breaks it breaks the build, not production.
 *
 * @param <T> the row type
 */
public final class CopyIn<T> {

    /** How a column is encoded (PostgreSQL binary send formats). */
    private enum Kind { INT4, INT8, TEXT, JSONB }

    private static final byte[] SIGNATURE = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xff, '\r', '\n', 0};

    private final String statement;
    private final Kind[] kinds;
    private final BiConsumer<T, Line> writer;

    /**
     * @param writer writes one row's values in the order of {@code fields}
     */
    public CopyIn(Table<?> table, List<Field<?>> fields, BiConsumer<T, Line> writer) {
        this.kinds = fields.stream().map(CopyIn::kind).toArray(Kind[]::new);
        this.writer = writer;
        this.statement = "COPY " + table.getName() + " ("
                + fields.stream().map(Field::getName).collect(Collectors.joining(", ")) + ") FROM STDIN (FORMAT binary)";
    }

    private static Kind kind(Field<?> f) {
        DataType<?> t = f.getDataType().getSQLDataType();
        if (t.equals(SQLDataType.INTEGER)) {
            return Kind.INT4;
        }
        if (t.equals(SQLDataType.BIGINT)) {
            return Kind.INT8;
        }
        if (t.isString()) {
            return Kind.TEXT;
        }
        if (t.isJSON()) {
            return Kind.JSONB;
        }
        throw new IllegalArgumentException("COPY of column " + f.getName() + " (" + t + ") is not supported");
    }

    public String statement() {
        return statement;
    }

    /** Copies the rows in; returns the number of rows PostgreSQL reports. */
    public long copy(Connection c, List<T> rows) throws SQLException {
        if (rows.isEmpty()) {
            return 0;
        }
        Line line = new Line(kinds, rows.size() * 256);
        for (T row : rows) {
            line.start();
            writer.accept(row, line);
            line.end();
        }
        line.finish();
        try {
            return c.unwrap(PGConnection.class).getCopyAPI().copyIn(statement,
                    new ByteArrayInputStream(line.out.buffer(), 0, line.out.size()));
        } catch (IOException e) {
            throw new SQLException("COPY failed: " + e.getMessage(), "08006", e);
        }
    }

    /** One row of binary COPY: a field count, then each field as length + bytes (-1 for null). */
    public static final class Line {
        private final Kind[] kinds;
        private final Buffer out;
        private final DataOutputStream data;
        private int column;

        Line(Kind[] kinds, int initialBytes) {
            this.kinds = kinds;
            this.out = new Buffer(initialBytes);
            this.data = new DataOutputStream(out);
            try {
                data.write(SIGNATURE);
                data.writeInt(0); // flags
                data.writeInt(0); // header extension length
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        void start() {
            column = 0;
            try {
                data.writeShort(kinds.length);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        void end() {
            if (column != kinds.length) {
                throw new IllegalStateException("COPY row has " + column + " values, expected " + kinds.length);
            }
        }

        void finish() {
            try {
                data.writeShort(-1);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        public Line add(long v) {
            try {
                switch (kinds[column++]) {
                    case INT4 -> {
                        data.writeInt(4);
                        data.writeInt(Math.toIntExact(v));
                    }
                    case INT8 -> {
                        data.writeInt(8);
                        data.writeLong(v);
                    }
                    default -> throw new IllegalStateException("column " + (column - 1) + " is not a number");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }

        public Line add(String v) {
            try {
                Kind k = kinds[column++];
                if (v == null) {
                    data.writeInt(-1);
                    return this;
                }
                byte[] bytes = v.getBytes(StandardCharsets.UTF_8);
                switch (k) {
                    case TEXT -> {
                        data.writeInt(bytes.length);
                        data.write(bytes);
                    }
                    case JSONB -> {
                        data.writeInt(bytes.length + 1);
                        data.writeByte(1); // jsonb binary format version
                        data.write(bytes);
                    }
                    default -> throw new IllegalStateException("column " + (column - 1) + " is not text");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return this;
        }
    }

    /** A ByteArrayOutputStream whose buffer can be read without a copy. */
    private static final class Buffer extends java.io.ByteArrayOutputStream {
        Buffer(int size) {
            super(size);
        }

        byte[] buffer() {
            return buf;
        }
    }
}
