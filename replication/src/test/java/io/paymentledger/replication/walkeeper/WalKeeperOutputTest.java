package io.paymentledger.replication.walkeeper;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How the keeper reads pg_receivewal's own words (lines as PostgreSQL 15's pg_receivewal prints them). */
class WalKeeperOutputTest {

    @Test
    void aTimelineThatForkedExactlyWhereTheKeeperResumesIsRecognised() {
        // The server answered "next timeline" instead of streaming: no message after the colon.
        assertThat(WalKeeper.timelineEndsWhereWeStart(
                "pg_receivewal: error: could not send replication command \"START_REPLICATION\": ")).isTrue();
    }

    @Test
    void otherFailuresOfTheSameCommandAreNot() {
        assertThat(WalKeeper.timelineEndsWhereWeStart("pg_receivewal: error: could not send replication command"
                + " \"START_REPLICATION\": ERROR:  replication slot \"walkeeper\" does not exist")).isFalse();
        assertThat(WalKeeper.timelineEndsWhereWeStart("pg_receivewal: error: disconnected")).isFalse();
    }
}
