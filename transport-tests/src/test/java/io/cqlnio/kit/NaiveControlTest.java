package io.cqlnio.kit;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.LoopbackPeer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kit's ordering check can fail: run exactly as in
 * {@link TransportKitTest#concurrentProducersFramesArriveWholeAndInOrderThroughShortWrites}, against the
 * {@code naive} control (it ignores the count a short write returns, as the origin story's driver did), the
 * peer sees a torn stream and the check says so. The kit excludes {@code naive} for this reason.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NaiveControlTest {

    @Test
    void theOrderingCheckCatchesTheNaiveControlTearingTheStream() throws Exception {
        OrderingCheck check = new OrderingCheck(8, 2_500, 4);
        try (LoopbackPeer peer = new LoopbackPeer(4096, true, LoopbackPeer.frames(check));
             Transport naive = Transports.create(Kit.NAIVE, TransportConfig.builder().sendBufferSize(4096)
                     .receiveBufferSize(4096).build())) {
            Connection c = naive.connect(peer.address(), new Recorder()).get(5, TimeUnit.SECONDS);
            check.start(c);
            Await.until(() -> c.stats().shortWrites() > 0 || !check.producing(),
                    "the naive control's first short write");
            peer.release();
            check.joinProducers(Kit.seconds(30));
            AssertionError caught = assertThrows(AssertionError.class,
                    () -> check.awaitAndAssert(c, Kit.seconds(30), peer.errors()));
            assertTrue(caught.getMessage().contains("invariant 1"), "failed for another reason: " + caught);
            assertTrue(c.stats().shortWrites() > 0, "no short write happened: " + c.stats());
            System.out.println("naive control, as expected: " + caught.getMessage() + " / "
                    + (caught.getCause() == null ? "" : caught.getCause().getMessage()) + "; " + c.stats());
        }
    }
}
