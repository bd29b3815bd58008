package io.cqlnio.e2e;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClosedLoopTest {

    private final ScheduledExecutorService responder = Executors.newScheduledThreadPool(2);

    @AfterEach
    void stop() {
        responder.shutdownNow();
    }

    @Test
    void keepsExactlyTheBoundInFlightAndEveryIssuedRequestEnds() throws Exception {
        AtomicInteger now = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        Issuer issuer = (key, done) -> {
            most.accumulateAndGet(now.incrementAndGet(), Math::max);
            responder.schedule(() -> {
                now.decrementAndGet();
                done.complete(null);
            }, 200, TimeUnit.MICROSECONDS);
        };
        Map<String, String> r = new ClosedLoop(issuer, Workload.W1, 8).run(50, 200, new WindowMeter(0));
        assertEquals(8, most.get(), "in flight at most");
        assertEquals("8", r.get("mostOutstanding"));
        assertEquals("0", r.get("failed"));
        assertEquals("true", r.get("drained"));
        assertEquals(r.get("issued"), r.get("succeeded"), "every issued request got a result");
        assertTrue(Long.parseLong(r.get("completed")) > 0, r.toString());
        assertTrue(Double.parseDouble(r.get("p50Us")) >= 200, r.toString());
        // The correction adds synthetic samples below each slow one, so it may move a percentile either way.
        assertTrue(Double.parseDouble(r.get("p999CorrectedUs")) > 0, r.toString());
    }

    @Test
    void aFailedRequestEndsItsSlotAndIsCounted() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Issuer issuer = (key, done) -> {
            int n = calls.incrementAndGet();
            responder.execute(() -> done.complete(n % 5 == 0 ? new IllegalStateException("no") : null));
        };
        Map<String, String> r = new ClosedLoop(issuer, Workload.W1, 4).run(0, 100, new WindowMeter(0));
        assertEquals("4", r.get("failed"), "each of the 4 slots ends on its first failure: " + r);
        assertEquals("true", r.get("drained"));
        assertEquals(Long.parseLong(r.get("issued")), Long.parseLong(r.get("succeeded")) + 4);
        assertTrue(r.get("firstFailure").contains("IllegalStateException"), r.get("firstFailure"));
    }
}
