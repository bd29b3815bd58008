package io.cqlnio.spi;

import io.cqlnio.frame.CqlFrameCodec;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The contract's own behaviour: provider lookup by name and config validation. */
class SpiTest {

    @Test
    void nioIsFoundByName() {
        assertTrue(Transports.names().contains("nio"), Transports.names().toString());
        try (Transport t = Transports.create("nio", TransportConfig.defaults())) {
            assertTrue(t.getClass().getName().startsWith("io.cqlnio.nio."));
        }
    }

    @Test
    void unknownNameListsWhatWasFound() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Transports.create("carrier-pigeon", TransportConfig.defaults()));
        assertTrue(e.getMessage().contains("carrier-pigeon") && e.getMessage().contains("nio"), e.getMessage());
    }

    @Test
    void defaults() {
        TransportConfig c = TransportConfig.defaults();
        assertEquals(1, c.loops());
        assertEquals(Duration.ofSeconds(5), c.connectTimeout());
        assertTrue(c.tcpNoDelay());
        assertEquals(256 * 1024 * 1024, c.maxFrameLength());
        assertEquals(1024, c.maxBuffersPerWrite());
        assertEquals(CqlFrameCodec.INSTANCE, c.frameCodec());
        assertEquals(c, c.toBuilder().build());
    }

    @Test
    void invalidValuesNameTheSetting() {
        assertNames("loops", () -> TransportConfig.builder().loops(0).build());
        assertNames("connectTimeout", () -> TransportConfig.builder().connectTimeout(Duration.ZERO).build());
        assertNames("sendBufferSize", () -> TransportConfig.builder().sendBufferSize(-1).build());
        assertNames("receiveBufferSize", () -> TransportConfig.builder().receiveBufferSize(-1).build());
        assertNames("maxFrameLength", () -> TransportConfig.builder().maxFrameLength(0).build());
        assertNames("writeLowWatermark", () -> TransportConfig.builder().writeHighWatermark(10).writeLowWatermark(11).build());
        assertNames("maxBuffersPerWrite", () -> TransportConfig.builder().maxBuffersPerWrite(1025).build());
        assertNames("maxBytesPerWrite", () -> TransportConfig.builder().maxBytesPerWrite(0).build());
        assertNames("frameCodec", () -> TransportConfig.builder().frameCodec(null).build());
        assertNames("readBufferSize", () -> TransportConfig.builder().readBufferSize(8).build());
    }

    private static void assertNames(String setting, Runnable build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::run);
        assertTrue(e.getMessage().startsWith(setting + " = "), e.getMessage());
    }
}
