package io.paymentledger.ledger.grpc;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.ledger.write.WriteCommand;
import io.paymentledger.telemetry.Telemetry;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Submits writes and, for traced calls, turns the writer's stages into spans under the call's span:
 * {@code ledger.queue_wait} (queued until its chunk is applied), {@code ledger.apply} (rules in memory) and
 * {@code ledger.commit} (the batch's COPY, journal and COMMIT, including PostgreSQL's wait for the synchronous
 * quorum). A batch carries many calls: each traced call gets the commit span of its own batch.
 * With tracing off, {@link #submit} is {@link BatchWriter#submit} and the writer reports nothing.
 */
public final class WriteTracing implements BatchWriter.Stages {

    private static final AttributeKey<Long> BATCH_CALLS = AttributeKey.longKey("ledger.batch.calls");

    private final BatchWriter writer;
    private final Telemetry telemetry;
    /** Traced commands in the writer, by identity (commands are records: equal content is not the same call). */
    private final Map<WriteCommand, Traced> traced = Collections.synchronizedMap(new IdentityHashMap<>());

    private static final class Traced {
        final Span span;
        final long queuedNanos;
        long applyStartNanos;
        long applyEndNanos;

        Traced(Span span, long queuedNanos) {
            this.span = span;
            this.queuedNanos = queuedNanos;
        }
    }

    public WriteTracing(BatchWriter writer, Telemetry telemetry) {
        this.writer = writer;
        this.telemetry = telemetry;
        if (telemetry.enabled()) {
            writer.stages(this);
        }
    }

    /** Queues {@code cmd} for the writer; {@code result} is the command's own future. */
    public void submit(CallContext ctx, WriteCommand cmd, CompletableFuture<?> result) {
        if (ctx.span().isRecording()) {
            traced.put(cmd, new Traced(ctx.span(), System.nanoTime()));
            // Whatever happens to it (answered, refused, failed), it is forgotten once answered.
            result.whenComplete((r, e) -> traced.remove(cmd));
        }
        writer.submit(cmd);
    }

    @Override
    public void applied(List<WriteCommand> commands, long startNanos, long endNanos) {
        if (traced.isEmpty()) {
            return;
        }
        for (WriteCommand c : commands) {
            Traced t = traced.get(c);
            if (t != null) {
                t.applyStartNanos = startNanos;
                t.applyEndNanos = endNanos;
            }
        }
    }

    @Override
    public void committed(List<WriteCommand> commands, long startNanos, long endNanos) {
        if (traced.isEmpty()) {
            return;
        }
        Attributes batch = Attributes.of(BATCH_CALLS, (long) commands.size());
        for (WriteCommand c : commands) {
            Traced t = traced.remove(c);
            if (t == null || t.applyStartNanos == 0) {
                continue;
            }
            telemetry.stage(t.span, "ledger.queue_wait", t.queuedNanos, t.applyStartNanos, Attributes.empty());
            telemetry.stage(t.span, "ledger.apply", t.applyStartNanos, t.applyEndNanos, Attributes.empty());
            telemetry.stage(t.span, "ledger.commit", startNanos, endNanos, batch);
        }
    }
}
