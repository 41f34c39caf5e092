package io.paymentledger.router.support;

import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.TestPostgres;
import io.vertx.core.http.HttpServerOptions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** A "region" for tests: its own throw-away PostgreSQL and a real ledger node whose leadership the test drives. */
public final class TestRegion implements AutoCloseable {

    public final String name;
    public final PgCluster postgres;
    public final LedgerNode node;
    public final SwitchableControl control;

    private TestRegion(String name, PgCluster postgres, LedgerNode node, SwitchableControl control) {
        this.name = name;
        this.postgres = postgres;
        this.node = node;
        this.control = control;
    }

    public static TestRegion start(String name) {
        PgCluster pg = TestPostgres.startPrimary("router-" + name, "ledger");
        SwitchableControl control = new SwitchableControl();
        LedgerNode node = LedgerNode.start(new LedgerNode.Config(name,
                new HttpServerOptions().setHost("127.0.0.1").setPort(0), TestLedger.database(pg), 8,
                BatchWriter.Config.defaults()), control, CallerResolver.TRUST_ALL_AS_OPERATOR);
        return new TestRegion(name, pg, node, control);
    }

    public int port() {
        return node.grpcPort();
    }

    public void lead(long epoch) {
        control.lead(epoch);
    }

    public void stepDown(String why) {
        control.stepDown(why);
    }

    public Connection sql() throws SQLException {
        return postgres.connect("ledger");
    }

    public long count(String sql) throws SQLException {
        try (Connection c = sql(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Override
    public void close() {
        try {
            node.close();
        } finally {
            TestPostgres.destroy(postgres);
        }
    }
}
