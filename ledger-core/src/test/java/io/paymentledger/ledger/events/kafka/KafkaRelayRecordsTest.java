package io.paymentledger.ledger.events.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventPayment;
import io.paymentledger.api.v1.EventType;
import io.paymentledger.api.v1.Transfer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What a record of the relay carries (decision 0008, "Records"), and which configurations it refuses. No broker. */
class KafkaRelayRecordsTest {

    private static final Event CAPTURE = Event.newBuilder().setId("cell-1:t:cap-1").setCursor("cell-1:AAAAAAAAAAAAAAAAAAAAAA")
            .setType(EventType.EVENT_TYPE_PAYMENT_CAPTURED).setTimestampNs(1_796_000_000_000_000_000L).setCell("cell-1")
            .setTransfer(Transfer.newBuilder().setId("cap-1").setDebitAccountId("payer").setCreditAccountId("shop").setAmount(250)
                    .setCurrency("EUR"))
            .setPayment(EventPayment.newBuilder().setPaymentId("pay-9").setAmount(250).setCurrency("EUR")).build();

    @Test
    void aValueIsTheApisEventAsProtobufOrItsProto3Json() throws Exception {
        assertThat(Event.parseFrom(KafkaRelay.value(KafkaRelay.Format.PROTOBUF, CAPTURE))).isEqualTo(CAPTURE);
        String json = new String(KafkaRelay.value(KafkaRelay.Format.JSON, CAPTURE), StandardCharsets.UTF_8);
        assertThat(json).contains("\"type\":\"EVENT_TYPE_PAYMENT_CAPTURED\"", "\"paymentId\":\"pay-9\"", "\"id\":\"cell-1:t:cap-1\"");
        Event.Builder back = Event.newBuilder();
        com.google.protobuf.util.JsonFormat.parser().merge(json, back);
        assertThat(back.build()).isEqualTo(CAPTURE);
    }

    @Test
    void aConfigurationOutsideItsBoundsIsRefusedWithTheReason() {
        assertThatThrownBy(() -> KafkaRelay.Config.of("", "t", 3, 1, KafkaRelay.Format.JSON)).hasMessageContaining("bootstrap");
        assertThatThrownBy(() -> KafkaRelay.Config.of("127.0.0.1:1", "no spaces", 3, 1, KafkaRelay.Format.JSON))
                .hasMessageContaining("topic");
        assertThatThrownBy(() -> KafkaRelay.Config.of("127.0.0.1:1", "t", 0, 1, KafkaRelay.Format.JSON)).hasMessageContaining("partitions");
        assertThatThrownBy(() -> KafkaRelay.Config.of("127.0.0.1:1", "t", 3, 0, KafkaRelay.Format.JSON)).hasMessageContaining("retention");
        assertThatThrownBy(() -> KafkaRelay.Config.of("127.0.0.1:1", "t", 3, 1, KafkaRelay.Format.JSON).withBatchEventsMax(1_001))
                .hasMessageContaining("events per Kafka transaction");
        assertThat(KafkaRelay.Config.of("127.0.0.1:1", "ledger.events", 3, 1, KafkaRelay.Format.JSON).cursorTopic())
                .isEqualTo("ledger.events.cursor");
        assertThat(KafkaRelay.transactionalId("cell-1")).isEqualTo("ledger-relay-cell-1");
    }
}
